"""Traffic files: CSV or JSON, optionally gzipped, parsed by the domain. CSV is read from its
stream (a file on disk, an S3 object body) a block of whole lines at a time, so memory follows
the points, not the text; JSON is read whole (json.loads needs it all)."""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypedDict

import numpy as np

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import DEFAULT_BANDWIDTH_CEILING_GBPS
from chalicelib.domain.traffic import DEFAULT_ACCEPTED_DATES, TimeRange, TrafficError, TrafficSet
from chalicelib.domain.traffic_parsing import parse_csv_blocks, parse_csv_lines, parse_json

READ_BYTES = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Limits(TypedDict):
    bandwidth_ceiling_gbps: float
    dates: TimeRange


def load_files(
    paths: Iterable[str | Path],
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
) -> TrafficSet:
    """Every file in turn; later files override earlier ones point by point."""
    result = TrafficSet()
    for path in paths:
        loaded = load_file(
            path, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates, fast=fast
        )
        result = result.merged_with(loaded)
    return result


def load_file(
    path: str | Path,
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
    read_bytes: int = READ_BYTES,
) -> TrafficSet:
    """``fast=False``: the domain's row-by-row reading (the reference the fast one is tested
    on). ``read_bytes``: how much is read, and then parsed, at a time."""
    path = Path(path)
    zipped = path.suffix == ".gz"
    kind = path.with_suffix("").suffix if zipped else path.suffix
    where = str(path)
    limits = _Limits(bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates)
    try:
        with path.open("rb") as raw:
            stream: Readable = gzip.GzipFile(fileobj=raw) if zipped else raw
            blocks = text_blocks(stream, where, read_bytes)
            if kind == ".json":
                return parse_json("".join(blocks), where, fast=fast, **limits)
            if fast:
                return parse_csv_blocks(blocks, where, **limits)
            return parse_csv_lines(_lines(blocks), where, fast=False, **limits)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise TrafficError([f"{path}: not a valid gzip file: {exc}"]) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}", field="traffic") from None


def text_blocks(stream: Readable, source: str, read_bytes: int = READ_BYTES) -> Iterator[str]:
    """The UTF-8 text of ``stream`` (a byte-order mark dropped) in blocks of whole lines, as
    read ``read_bytes`` at a time; only the last block may end without a line end."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    line = 1
    while True:
        block = stream.read(read_bytes)
        try:
            text = pending + decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            line += block[: max(exc.start, 0)].count(b"\n")
            raise TrafficError([f"{source}:{line}: not UTF-8 text"]) from None
        whole = text.rfind("\n") + 1
        if whole:
            yield text[:whole]
        line += _newlines(block)
        pending = text[whole:]
        if not block:
            break
    if pending:
        yield pending


def _newlines(data: bytes) -> int:
    """How many line ends ``data`` holds (NumPy counts a block five times faster than bytes)."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord("\n")))


def text_lines(stream: Readable, source: str) -> Iterator[str]:
    """The UTF-8 text of ``stream`` (a byte-order mark dropped), a line at a time with its end,
    read a block at a time."""
    return _lines(text_blocks(stream, source))


def _lines(blocks: Iterable[str]) -> Iterator[str]:
    for block in blocks:
        *whole, last = block.split("\n")
        for line in whole:
            yield line + "\n"
        if last:
            yield last
