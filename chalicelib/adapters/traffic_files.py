"""Traffic files on disk: CSV or JSON, optionally gzipped, read whole and parsed by the domain."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

from chalicelib.domain.errors import InputError
from chalicelib.domain.traffic import (
    DEFAULT_BANDWIDTH_CEILING_GBPS,
    TrafficError,
    TrafficSet,
    parse_csv,
    parse_json,
)


def load_files(
    paths: Iterable[str | Path],
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
) -> TrafficSet:
    """Every file in turn; later files override earlier ones point by point."""
    result = TrafficSet()
    for path in paths:
        result = result.merged_with(load_file(path, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps))
    return result


def load_file(
    path: str | Path, *, bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS
) -> TrafficSet:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}", field="traffic") from None
    path_kind = path.with_suffix("").suffix if path.suffix == ".gz" else path.suffix
    try:
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise TrafficError([f"{path}: not a valid gzip file: {exc}"]) from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TrafficError([f"{path}:{line}: not UTF-8 text"]) from None
    parse = parse_json if path_kind == ".json" else parse_csv
    return parse(text, source=str(path), bandwidth_ceiling_gbps=bandwidth_ceiling_gbps)
