"""Traffic files: CSV or JSON, optionally gzipped, parsed by the domain. CSV is read line by line
from its stream (a file on disk, an S3 object body), so memory follows the points, not the text;
JSON is read whole (json.loads needs it all)."""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from chalicelib.domain.errors import InputError
from chalicelib.domain.traffic import (
    DEFAULT_ACCEPTED_DATES,
    DEFAULT_BANDWIDTH_CEILING_GBPS,
    TimeRange,
    TrafficError,
    TrafficSet,
    parse_csv_lines,
    parse_json,
)

READ_BYTES = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def load_files(
    paths: Iterable[str | Path],
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    """Every file in turn; later files override earlier ones point by point."""
    result = TrafficSet()
    for path in paths:
        loaded = load_file(path, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates)
        result = result.merged_with(loaded)
    return result


def load_file(
    path: str | Path,
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    path = Path(path)
    zipped = path.suffix == ".gz"
    kind = path.with_suffix("").suffix if zipped else path.suffix
    try:
        with path.open("rb") as raw:
            stream: Readable = gzip.GzipFile(fileobj=raw) if zipped else raw
            if kind == ".json":
                text = "".join(text_lines(stream, str(path)))
                return parse_json(
                    text, str(path), bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates
                )
            return parse_csv_lines(
                text_lines(stream, str(path)),
                str(path),
                bandwidth_ceiling_gbps=bandwidth_ceiling_gbps,
                dates=dates,
            )
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise TrafficError([f"{path}: not a valid gzip file: {exc}"]) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}", field="traffic") from None


def text_lines(stream: Readable, source: str) -> Iterator[str]:
    """The UTF-8 text of ``stream`` (a byte-order mark dropped), a line at a time with its end,
    read a block at a time."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    line = 1
    while True:
        block = stream.read(READ_BYTES)
        try:
            text = pending + decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            line += block[: max(exc.start, 0)].count(b"\n")
            raise TrafficError([f"{source}:{line}: not UTF-8 text"]) from None
        *complete, pending = text.split("\n")
        for done in complete:
            yield done + "\n"
        line += len(complete)
        if not block:
            break
    if pending:
        yield pending
