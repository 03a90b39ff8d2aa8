"""Reading traffic files: CSV or JSON rows into a ``TrafficSet`` (docs/data-formats.md).

``parse_csv`` and ``parse_rows`` check every row; a file with any bad row raises ``TrafficError``
naming file, line and reason, and yields nothing. Besides the format, a row must be plausible:
bandwidth at most the policy's ceiling (a larger figure is almost always Mbit/s given as Gbit/s),
concurrency a whole number of tasks, and a time within the accepted dates (``accepted_dates``).

CSV is read a block of whole lines at a time (``parse_csv_blocks``; ``parse_csv`` and
``parse_csv_lines`` gather their text into blocks), each block column by column with NumPy, and
only three numbers per point are kept, so a large file takes a small multiple of its points in
memory, never its whole text. A block with anything the columns do not read by themselves
(quotes, a bad row) is read again row by row, so problems are found and worded as the row-by-row
reading, kept as ``fast=False``, words them. JSON rows are read a chunk at a time the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from chalicelib.domain.policy import DEFAULT_BANDWIDTH_CEILING_GBPS
from chalicelib.domain.traffic import (
    COLUMNS,
    DEFAULT_ACCEPTED_DATES,
    SCOPES_BY_METRIC,
    STEP_SECONDS,
    Series,
    TimeRange,
    TrafficError,
    TrafficSet,
)

# Problems kept word for word; past this a file is plainly not traffic, and the rest are counted.
MAX_KEPT_PROBLEMS = 1_000

# A row's time, metric, scope and value to check, or the reason it is bad already found while
# reading it (a str).
Row = tuple[Any, Any, Any, Any] | str


# Text read at a time: a block of whole lines becomes a few arrays, checked a column at a time.
BLOCK_CHARS = 1 << 20
JSON_CHUNK_ITEMS = 1 << 14
QUOTED_BATCH_ROWS = 1 << 14  # rows of a file with quotes, read by csv
# Every series a row may name, numbered: the column readers carry the number, not the names.
SERIES_KEYS = tuple(
    (metric, scope)
    for metric in sorted(SCOPES_BY_METRIC)
    for scope in sorted(SCOPES_BY_METRIC[metric])
)
_SERIES_NUMBERS = {key: number for number, key in enumerate(SERIES_KEYS)}
_IS_BANDWIDTH = np.array([metric == "bandwidth" for metric, _ in SERIES_KEYS])
# Times read by datetime are remembered by their text; past this many, all are forgotten.
_MAX_REMEMBERED_TIMES = 1 << 16


@dataclass(frozen=True)
class RowChecks:
    """What a row must be, besides well formed, to be believed."""

    bandwidth_ceiling_gbps: float
    dates: TimeRange
    # The dates as epoch seconds, computed once: they are checked on every row of large files.
    earliest: int = field(init=False)
    latest: int = field(init=False)

    def __post_init__(self) -> None:
        earliest, latest = self.dates.epochs
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "latest", latest)


def parse_csv(
    text: str,
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
    block_chars: int = BLOCK_CHARS,
) -> TrafficSet:
    """``fast`` and ``block_chars``: as for ``parse_csv_lines``."""
    if not fast:
        lines = io.StringIO(text)
        return parse_csv_lines(
            lines, source, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates, fast=False
        )
    return parse_csv_blocks(
        _text_blocks(text, block_chars),
        source,
        bandwidth_ceiling_gbps=bandwidth_ceiling_gbps,
        dates=dates,
    )


def parse_csv_lines(
    lines: Iterable[str],
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
    block_chars: int = BLOCK_CHARS,
) -> TrafficSet:
    """CSV read line by line (a file, a stream): nothing holds the whole text. The lines (or
    blocks of whole lines) are gathered into blocks of about ``block_chars`` characters for
    ``parse_csv_blocks``. ``fast=False`` reads row by row instead, every row through ``csv`` and
    ``_check_row``: about ten times slower, it is the reference the fast reading is tested on."""
    if fast:
        return parse_csv_blocks(
            _blocks_of_lines(lines, block_chars),
            source,
            bandwidth_ceiling_gbps=bandwidth_ceiling_gbps,
            dates=dates,
        )
    reading = _Reading(source, RowChecks(bandwidth_ceiling_gbps, dates))
    reading.add_rows(_csv_rows(lines, source, 1, header=True))
    return reading.result()


def parse_csv_blocks(
    blocks: Iterable[str],
    source: str = "<csv>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
) -> TrafficSet:
    """CSV given a block of whole lines at a time (only the last line may lack its end).

    A plain block (no quote, three commas on every line) is read a column at a time. A block
    that is not, or that holds a bad row, is read again row by row, so every problem is found
    and worded as the row-by-row reading words it. From a block with a quote on, ``csv`` reads
    the rest (a quoted field may span lines), its records checked as columns a batch at a time,
    a batch with a bad row row by row.
    """
    reading = _Reading(source, RowChecks(bandwidth_ceiling_gbps, dates))
    _read_csv(iter(blocks), reading)
    return reading.result()


def _read_csv(blocks: Iterator[str], reading: _Reading) -> None:
    source, lookups = reading.source, _Lookups(reading.checks)
    line = 1  # where the next block starts
    for block in blocks:
        if line == 1:
            end = block.find("\n") + 1 or len(block)
            if '"' in block[:end]:
                _read_quoted(_lines(chain([block], blocks)), 1, reading, lookups)
                return
            reading.add_rows(_csv_rows([block[:end]], source, 1, header=True))  # the header alone
            block, line = block[end:], 2
            if not block:
                continue
        if '"' in block:
            _read_quoted(_lines(chain([block], blocks)), line, reading, lookups)
            return
        found = _plain_block(block, line, lookups)
        if found is None:
            reading.add_rows(_csv_rows(_lines([block]), source, line))
            line += block.count("\n") + (not block.endswith("\n"))
        else:
            reading.add_points(found)
            line += len(found.rows)
    if line == 1:
        _check_header(None, source)  # not even a header


def _read_quoted(
    lines: Iterable[str], first_line: int, reading: _Reading, lookups: _Lookups
) -> None:
    """The rest of the file, ``first_line`` on, through ``csv``; its records are read as columns
    a batch at a time, a batch with a bad or blank row row by row."""
    reader = csv.reader(lines)
    line = first_line
    with _csv_errors(reader, reading.source, first_line):
        if line == 1:
            _check_header(next(reader, None), reading.source)
            line = 2
        while batch := list(islice(reader, QUOTED_BATCH_ROWS)):
            rows = range(line, line + len(batch))
            line += len(batch)
            found = None
            if set(map(len, batch)) == {len(COLUMNS)}:
                found = _read_columns(rows, tuple(zip(*batch, strict=True)), lookups)
            if found is not None:
                reading.add_points(found)
                continue
            kept = [
                (row, record) for row, record in zip(rows, batch, strict=True) if _filled(record)
            ]
            reading.add_rows((row, _row_of(record)) for row, record in kept)


def _csv_rows(
    lines: Iterable[str], source: str, first_line: int, *, header: bool = False
) -> Iterator[tuple[int, Row]]:
    """The rows ``csv`` reads in ``lines``, each with its line (the first is ``first_line``);
    blank ones skipped."""
    reader = csv.reader(lines)
    with _csv_errors(reader, source, first_line):
        if header:
            _check_header(next(reader, None), source)
        for line, record in enumerate(reader, start=first_line + 1 if header else first_line):
            if _filled(record):
                yield line, _row_of(record)


@contextmanager
def _csv_errors(reader: Any, source: str, first_line: int) -> Iterator[None]:
    """csv's errors as TrafficError, naming the line (``reader`` started on ``first_line``)."""
    try:
        yield
    except csv.Error as exc:  # e.g. a stray carriage return inside an unquoted field
        line = first_line - 1 + reader.line_num
        raise TrafficError([f"{source}:{line}: not valid CSV: {exc}"]) from None


def _filled(record: list[str]) -> bool:
    return bool("".join(record).strip())


def _row_of(record: list[str]) -> Row:
    if len(record) != len(COLUMNS):
        return f"expected {len(COLUMNS)} columns, got {len(record)}"
    return record[0], record[1], record[2], record[3]


def _check_header(header: list[str] | None, source: str) -> None:
    if header is None:
        raise TrafficError([f"{source}: empty file; expected the header {','.join(COLUMNS)}"])
    if [h.strip() for h in header] != list(COLUMNS):
        raise TrafficError(
            [f"{source}:1: header must be {','.join(COLUMNS)}, got {','.join(header)}"]
        )


def _text_blocks(text: str, size: int) -> Iterator[str]:
    """``text`` in blocks of whole lines, each ``size`` characters or up to a line more."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + size - 1) + 1 or len(text)
        yield text[start:end]
        start = end


def _blocks_of_lines(lines: Iterable[str], size: int) -> Iterator[str]:
    gathered: list[str] = []
    length = 0
    for line in lines:
        if not line.endswith("\n"):  # csv reads it as a whole line: a block of its own
            if gathered:
                yield "".join(gathered)
                gathered, length = [], 0
            yield line
            continue
        gathered.append(line)
        length += len(line)
        if length >= size:
            yield "".join(gathered)
            gathered, length = [], 0
    if gathered:
        yield "".join(gathered)


def _lines(blocks: Iterable[str]) -> Iterator[str]:
    """The blocks' lines with their ends, as a file gives them to ``csv``."""
    for block in blocks:
        *whole, last = block.split("\n")
        for line in whole:
            yield line + "\n"
        if last or not whole:
            yield last


def parse_json(
    text: str,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
) -> TrafficSet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrafficError([f"{source}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    return parse_rows(
        data, source, bandwidth_ceiling_gbps=bandwidth_ceiling_gbps, dates=dates, fast=fast
    )


def parse_rows(
    data: Any,
    source: str = "<json>",
    *,
    bandwidth_ceiling_gbps: float = DEFAULT_BANDWIDTH_CEILING_GBPS,
    dates: TimeRange = DEFAULT_ACCEPTED_DATES,
    fast: bool = True,
) -> TrafficSet:
    """JSON rows: a list of {time, metric, scope, value} objects, or {"points": [...]}. Read a
    chunk of items at a time as columns, a chunk with a bad item (every chunk, with
    ``fast=False``) item by item."""
    if isinstance(data, dict) and set(data) == {"points"}:
        data = data["points"]
    if not isinstance(data, list):
        raise TrafficError([f"{source}: expected a list of points or an object with 'points'"])
    reading = _Reading(source, RowChecks(bandwidth_ceiling_gbps, dates), "{}: item {}")
    lookups = _Lookups(reading.checks)
    for start in range(0, len(data), JSON_CHUNK_ITEMS):
        items = data[start : start + JSON_CHUNK_ITEMS]
        found = _json_columns(items, start, lookups) if fast else None
        if found is None:
            reading.add_rows((index, _json_row(item)) for index, item in enumerate(items, start))
        else:
            reading.add_points(found)
    return reading.result()


def _json_columns(items: list[Any], first: int, lookups: _Lookups) -> _Found | None:
    """The items as columns, or None unless every one is a good point."""
    if set(map(type, items)) != {dict} or set(map(len, items)) != {len(COLUMNS)}:
        return None
    try:
        fields = tuple(list(map(itemgetter(column), items)) for column in COLUMNS)
    except KeyError:
        return None
    return _read_columns(range(first, first + len(items)), fields, lookups)


def _read_columns(
    rows: Sequence[int], fields: tuple[Sequence[Any], ...], lookups: _Lookups
) -> _Found | None:
    """Rows given as columns of raw fields (time, metric, scope, value), read as _check_row
    reads them; None unless every row is good."""
    raw_times, metrics, scopes, raw_values = fields
    values = _values(raw_values)
    if values is None:
        return None
    times, series = lookups.times(raw_times), lookups.series(metrics, scopes)
    if times is None or series is None:
        return None
    found = _Found(series, times, values, np.array(rows))
    return found if _plausible(found, lookups.checks) else None


def _values(raw: Sequence[Any]) -> np.ndarray | None:
    """The values as ``_parse_value`` reads them; None if any is bad."""
    kinds = set(map(type, raw))
    try:
        if kinds <= {int, float} or (kinds == {str} and "_" not in "".join(raw)):
            values = np.array(list(map(float, raw)), dtype=np.float64)
        else:  # a bool, a digit separator, ...: each as _parse_value reads it
            values = np.array([_parse_value(value) for value in raw], dtype=np.float64)
    except (ValueError, OverflowError):  # an int too large for a float: left to the rows
        return None
    return values if (np.isfinite(values) & (values >= 0)).all() else None


class _Found(NamedTuple):
    """Rows read as columns, every field good: each row's series (its number in SERIES_KEYS),
    epoch seconds, value and row number."""

    series: np.ndarray
    times: np.ndarray
    values: np.ndarray
    rows: np.ndarray


def _plausible(found: _Found, checks: RowChecks) -> bool:
    """``_check_row``'s checks of a value against its metric."""
    bandwidth = _IS_BANDWIDTH[found.series]
    tasks = found.values[~bandwidth]
    return bool(
        (found.values[bandwidth] <= checks.bandwidth_ceiling_gbps).all()
        and (np.floor(tasks) == tasks).all()
    )


class _Lookups:
    """Times and series read as ``_check_row`` reads them, each good one remembered by its
    text: a file names few distinct ones, each many times."""

    def __init__(self, checks: RowChecks) -> None:
        self.checks = checks
        self.known_times: dict[str, int] = {}
        self.known_series: dict[tuple[str, str], int] = {}

    def times(self, raw: Sequence[Any]) -> np.ndarray | None:
        """Epoch seconds; None unless each is a time on a 5-minute boundary within the dates."""
        try:
            epochs = list(map(self.known_times.get, raw))
        except TypeError:  # unhashable: not a time
            return None
        if None in epochs:
            epochs = list(map(self.time, raw))
            if None in epochs:
                return None
        return np.array(epochs, dtype=np.int64)

    def time(self, raw: Any) -> int | None:
        """One row's: epoch seconds, or None."""
        if type(raw) is not str:
            return None
        epoch = self.known_times.get(raw)
        if epoch is None:
            try:
                epoch = parse_point_time(raw)
            except (ValueError, OverflowError):
                return None
            if not self.checks.earliest <= epoch < self.checks.latest:
                return None
            if len(self.known_times) >= _MAX_REMEMBERED_TIMES:
                self.known_times.clear()
            self.known_times[raw] = epoch
        return epoch

    def series(self, metrics: Sequence[Any], scopes: Sequence[Any]) -> np.ndarray | None:
        """Each row's series number in SERIES_KEYS; None unless each names one."""
        pairs = list(zip(metrics, scopes, strict=True))
        try:
            numbers = list(map(self.known_series.get, pairs))
        except TypeError:  # unhashable: not a name
            return None
        if None in numbers:
            unknown = {pair for pair, number in zip(pairs, numbers, strict=True) if number is None}
            for pair in unknown:
                number = _series_number(*pair)
                if number is None:
                    return None
                self.known_series[pair] = number
            numbers = list(map(self.known_series.get, pairs))
        return np.array(numbers, dtype=np.int8)


def _series_number(metric: Any, scope: Any) -> int | None:
    """The number in SERIES_KEYS of the series so named; None if there is none."""
    if type(metric) is not str or type(scope) is not str:
        return None
    return _SERIES_NUMBERS.get((metric.strip(), scope.strip()))


class _Points:
    """One series' points as read: time, value and the row each came from (24 bytes a point)."""

    def __init__(self) -> None:
        self.times = array("q")
        self.values = array("d")
        self.rows = array("q")

    def add(self, epoch: int, value: float, row: int) -> None:
        self.times.append(epoch)
        self.values.append(value)
        self.rows.append(row)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.times, dtype=np.int64),
            np.frombuffer(self.values, dtype=np.float64),
            np.frombuffer(self.rows, dtype=np.int64),
        )


class _Problems:
    """Problems by row, the first MAX_KEPT_PROBLEMS of them word for word."""

    def __init__(self, where: Callable[[int], str]) -> None:
        self.where = where
        self.kept: list[tuple[int, str]] = []
        self.uncounted = 0

    def add(self, row: int, reason: str) -> None:
        if len(self.kept) < MAX_KEPT_PROBLEMS:
            self.kept.append((row, f"{self.where(row)}: {reason}"))
        else:
            self.uncounted += 1

    def raise_any(self) -> None:
        if self.kept:
            self.kept.sort(key=lambda problem: problem[0])
            raise TrafficError([text for _, text in self.kept], self.uncounted)


class _Reading:
    """A parse under way: each series' points in chunks in the order of their rows (the series
    in the order of their first good rows), and the problems found."""

    def __init__(self, source: str, checks: RowChecks, where: str = "{}:{}") -> None:
        """``where`` names a row from the source and the row's number."""
        self.source = source
        self.checks = checks
        self.where: Callable[[int], str] = lambda row: where.format(source, row)
        self.problems = _Problems(self.where)
        self.chunks: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def add_rows(self, rows: Iterable[tuple[int, Row]]) -> None:
        """Rows checked one by one, each bad one kept as a problem."""
        found: dict[tuple[str, str], _Points] = {}
        for row_number, row in rows:
            if isinstance(row, str):
                self.problems.add(row_number, row)
                continue
            try:
                metric, scope, epoch, value = _check_row(row, self.checks)
            except ValueError as exc:
                self.problems.add(row_number, str(exc))
                continue
            points = found.get((metric, scope))
            if points is None:
                points = found[(metric, scope)] = _Points()
                self.chunks.setdefault((metric, scope), [])
            points.add(epoch, value, row_number)
        for key, points in found.items():
            self.chunks[key].append(points.arrays())

    def add_points(self, found: _Found) -> None:
        """Rows read as columns, all good."""
        counts = np.bincount(found.series, minlength=len(SERIES_KEYS))
        numbers = np.flatnonzero(counts)
        new = [n for n in numbers.tolist() if SERIES_KEYS[n] not in self.chunks]
        for number in sorted(new, key=lambda n: int(np.argmax(found.series == n))):
            self.chunks[SERIES_KEYS[number]] = []  # in the order of their first rows
        if len(numbers) == 1:
            self.chunks[SERIES_KEYS[int(numbers[0])]].append(found[1:])
            return
        # Each series' rows copied out, so that the block's columns can go as soon as read.
        order = np.argsort(found.series, kind="stable")
        ends = np.cumsum(counts[numbers])
        spans = zip(numbers.tolist(), (ends - counts[numbers]).tolist(), ends.tolist(), strict=True)
        for number, start, end in spans:
            rows = order[start:end]
            chunk = (found.times[rows], found.values[rows], found.rows[rows])
            self.chunks[SERIES_KEYS[number]].append(chunk)

    def result(self) -> TrafficSet:
        """The series, each sorted by time; or every problem found."""
        result = TrafficSet()
        for key in list(self.chunks):
            chunks = self.chunks.pop(key)  # the chunks go as their series is made
            times, values = (np.concatenate([chunk[k] for chunk in chunks]) for k in (0, 1))
            if not (times[1:] > times[:-1]).all():
                rows = np.concatenate([chunk[2] for chunk in chunks])
                order = np.argsort(times, kind="stable")  # equal times keep their rows' order
                times, values = times[order], values[order]
                self._duplicates(times, rows[order])
            result.series[key] = Series(*key, times, values)
        self.problems.raise_any()
        if not result.series:
            raise TrafficError([f"{self.source}: no data points"])
        return result

    def _duplicates(self, times: np.ndarray, rows: np.ndarray) -> None:
        repeats = np.flatnonzero(times[1:] == times[:-1]) + 1
        for index in repeats.tolist():
            first = index - 1
            while first > 0 and times[first - 1] == times[index]:
                first -= 1
            duplicate, original = int(rows[index]), int(rows[first])
            self.problems.add(duplicate, f"duplicate point, first given at {self.where(original)}")


def _json_row(item: Any) -> Row:
    if not isinstance(item, dict):
        return "expected an object with time, metric, scope and value"
    unknown = set(item) - set(COLUMNS)
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}"
    missing = [c for c in COLUMNS if c not in item]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    return item["time"], item["metric"], item["scope"], item["value"]


def _check_row(row: tuple[Any, Any, Any, Any], checks: RowChecks) -> tuple[str, str, int, float]:
    raw_time, raw_metric, raw_scope, raw_value = row
    metric = str(raw_metric).strip()
    if metric not in SCOPES_BY_METRIC:
        raise ValueError(f"unknown metric {metric!r}; expected bandwidth or concurrency")
    scope = str(raw_scope).strip()
    if scope not in SCOPES_BY_METRIC[metric]:
        allowed = ", ".join(sorted(SCOPES_BY_METRIC[metric]))
        raise ValueError(f"unknown scope {scope!r} for {metric}; expected one of {allowed}")
    epoch = parse_point_time(raw_time)
    if not checks.earliest <= epoch < checks.latest:
        raise ValueError(
            f"time {raw_time.strip()!r} is outside the accepted dates, {checks.dates} "
            "(ingestion.earliest, ingestion.years_ahead); is the year right?"
        )
    value = _parse_value(raw_value)
    ceiling = checks.bandwidth_ceiling_gbps
    if metric == "bandwidth" and value > ceiling:
        raise ValueError(
            f"bandwidth {value!r} Gbit/s is above the ceiling of "
            f"{_figure(ceiling)} Gbit/s (bandwidth_ceiling_gbps); "
            "was it given in Mbit/s?"
        )
    if metric == "concurrency" and not value.is_integer():
        raise ValueError(f"concurrency {value!r} is not a whole number of tasks")
    return metric, scope, epoch, value


def _figure(number: float) -> str:
    """20000 rather than 20000.0 for a whole number; 99.5 as it is."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def parse_point_time(raw: Any) -> int:
    """UTC epoch seconds of an ISO 8601 time with an offset, on a 5-minute boundary."""
    if not isinstance(raw, str):
        raise ValueError(f"time must be an ISO 8601 string, got {raw!r}")
    text = raw.strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    epoch = moment.timestamp()
    if epoch % STEP_SECONDS:
        raise ValueError(f"time {text!r} is not on a 5-minute boundary")
    return int(epoch)


def _parse_value(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"value must be a number, got {raw!r}")
    if isinstance(raw, str) and "_" in raw:  # float() reads "1_000" as 1000: a typo, most likely
        raise ValueError(f"value {raw!r} has a digit separator; write plain digits like 1000")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"value {raw!r} is not a number") from None
    except OverflowError:  # a JSON integer past any float, e.g. 10**400
        raise ValueError(f"value {raw!r} is not a finite number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {raw!r} is not a finite number")
    if value < 0:
        raise ValueError(f"value {raw!r} is negative")
    return value


# -- a block of CSV as columns -------------------------------------------------------------------
#
# NumPy reads the common spellings over the block's bytes: a time like 2026-03-09T20:05:00+08:00
# (or ...Z), a series' exact names, a value of plain digits. A field spelt otherwise (spaces
# around it, another ISO 8601 form, an exponent) is read by the row reading's own functions, so
# a block read as columns yields what the row reading would.

# Around a block's bytes, so that fixed-width reads at a line's start or end stay inside.
_PAD = bytes(32)
_NEWLINE, _COMMA, _POINT, _COLON, _ZERO, _PLUS, _MINUS, _Z = (ord(c) for c in "\n,.:0+-Z")
# A time's bytes, a row per position; 0 stands for a digit.
_ISO_FORM = b"0000-00-00T00:00:00+00:00"
_ISO_WIDTH, _ISO_ZULU_WIDTH = len(_ISO_FORM), len("0000-00-00T00:00:00Z")
_ISO_POSITIONS = np.arange(_ISO_WIDTH)[:, None]
_DATE_DIGITS = [k for k in range(19) if _ISO_FORM[k] == _ZERO]
_DATE_MARKS = [k for k in range(19) if _ISO_FORM[k] != _ZERO]
_DATE_MARK_BYTES = np.frombuffer(_ISO_FORM, np.uint8)[_DATE_MARKS, None]
_OFFSET_DIGITS = [20, 21, 23, 24]
# Where each two-digit number starts: century, year, month, day, hour, minute, second, and the
# offset's hours and minutes.
_ISO_NUMBERS = np.array([0, 2, 5, 8, 11, 14, 17, 20, 23])
# By year (0 is no year) and by month (0 and 13 are none): what dates need, looked up.
_YEARS = np.arange(10_000, dtype=np.int32)
_LEAP_YEARS = (_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))
_BEFORE = _YEARS - 1
_YEAR_STARTS = 365 * _BEFORE + _BEFORE // 4 - _BEFORE // 100 + _BEFORE // 400 - 719_162
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0], dtype=np.int32)
_MONTH_STARTS = np.concatenate(([0], np.cumsum(_MONTH_DAYS[:-1]))).astype(np.int32)
# A value of at most this many digits is an exact integer as a double, as is 10**k up to 10**22,
# so digits / 10**decimals is the correctly rounded value, as float() gives.
_VALUE_DIGITS = 15
_VALUE_WIDTH = _VALUE_DIGITS + 1  # and a decimal point
_POWERS_OF_TEN = np.array([float(10**k) for k in range(_VALUE_DIGITS + 1)])


def _rows_of(raw: np.ndarray, width: int) -> np.ndarray:
    """Row i is raw[i : i + width] (a view: gathering rows copies ``width`` bytes each)."""
    shape = (len(raw) - width + 1, width)
    return np.lib.stride_tricks.as_strided(raw, shape, (1, 1), writeable=False)


def _words(raw: np.ndarray) -> np.ndarray:
    """words[i] is raw[i : i + 8] read as one integer (a view)."""
    return _rows_of(raw, 8).view("<u8")[:, 0]


def _name_words(name: bytes) -> tuple[int, int, int]:
    """A name's first eight bytes, its next eight (only if it is longer than 16) and its last
    eight: with its length, they pin down every byte of a name of 8 to 24 bytes."""
    middle = name[8:16] if len(name) > 16 else b""
    first, middle_word, last = (
        int.from_bytes(part, "little") for part in (name[:8], middle, name[-8:])
    )
    return first, middle_word, last


_SERIES_NAMES = [f"{metric},{scope}".encode() for metric, scope in SERIES_KEYS]
_NAME_LENGTHS = np.array([len(name) for name in _SERIES_NAMES])
_NAME_FIRST, _NAME_MIDDLE, _NAME_LAST = (
    np.array(words, dtype="<u8") for words in zip(*map(_name_words, _SERIES_NAMES), strict=True)
)
_NAME_MIDDLE_KEPT = np.where(_NAME_LENGTHS > 16, ~np.uint64(0), np.uint64(0)).astype("<u8")
# The last eight bytes tell the names apart (test_fast_loader checks); sorted, to look them up.
_BY_LAST_WORD = np.argsort(_NAME_LAST)
_LAST_WORDS = _NAME_LAST[_BY_LAST_WORD]


class _Lines(NamedTuple):
    """A block's bytes, padded, and each line's separators: it starts at ``starts``, has its
    three commas at ``commas`` and its newline at ``ends`` (offsets into ``data``)."""

    data: bytes
    raw: np.ndarray
    starts: np.ndarray
    commas: np.ndarray
    ends: np.ndarray

    def text(self, start: int, stop: int) -> str:
        return self.data[start:stop].decode("utf-8", "surrogatepass")


def _plain_block(block: str, first_line: int, lookups: _Lookups) -> _Found | None:
    """The block's rows as columns, or None unless every line is plain and every row good."""
    lines = _split_lines(block)
    if lines is None:
        return None
    series = _series_column(lines)
    if series is None:
        return None
    times = _time_column(lines, lookups)
    if times is None:
        return None
    values = _value_column(lines)
    if values is None:
        return None
    rows = np.arange(first_line, first_line + len(times), dtype=np.int64)
    found = _Found(series, times, values, rows)
    return found if _plausible(found, lookups.checks) else None


def _split_lines(block: str) -> _Lines | None:
    """The block's lines; None unless each has three commas, no carriage return but at its
    end, and no more characters than csv takes in a field: csv would read other lines
    otherwise, or refuse them."""
    data = block.encode("utf-8", "surrogatepass")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    data = _PAD + data + (b"" if data.endswith(b"\n") else b"\n") + _PAD
    raw = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(raw == _NEWLINE)
    commas = np.flatnonzero(raw == _COMMA)
    if len(commas) != 3 * len(ends):
        return None
    commas = commas.reshape(-1, 3)
    starts = np.concatenate(([len(_PAD)], ends[:-1] + 1))
    # Three commas a line on average, and so on every line when each line's three lie within it.
    if (commas[:, 0] < starts).any() or (commas[:, 2] > ends).any():
        return None
    if (ends - starts).max() > csv.field_size_limit():
        return None
    return _Lines(data, raw, starts, commas, ends)


def _unread(read: np.ndarray, first: np.ndarray, stop: np.ndarray) -> Iterator[tuple[int, ...]]:
    """Each row left unread, and where its field lies."""
    rows = np.flatnonzero(~read)
    return zip(rows.tolist(), first[rows].tolist(), stop[rows].tolist(), strict=True)


def _series_column(lines: _Lines) -> np.ndarray | None:
    """Each row's series number; None if a row names no series."""
    first, stop = lines.commas[:, 0] + 1, lines.commas[:, 2]  # "metric,scope"
    words = _words(lines.raw)
    last = words[stop - 8]
    numbers = _BY_LAST_WORD[np.searchsorted(_LAST_WORDS, last).clip(max=len(_LAST_WORDS) - 1)]
    named = (stop - first == _NAME_LENGTHS[numbers]) & (last == _NAME_LAST[numbers])
    named &= words[first] == _NAME_FIRST[numbers]
    named &= (words[first + 8] & _NAME_MIDDLE_KEPT[numbers]) == _NAME_MIDDLE[numbers]
    for row, start, end in _unread(named, first, stop):
        metric, _, scope = lines.text(start, end).partition(",")
        number = _series_number(metric, scope)
        if number is None:
            return None
        numbers[row] = number
    return numbers


def _time_column(lines: _Lines, lookups: _Lookups) -> np.ndarray | None:
    """Each row's epoch seconds; None if a row's time is bad."""
    first, stop = lines.starts, lines.commas[:, 0]
    epochs, read = _iso_epochs(lines.raw[first + _ISO_POSITIONS], stop - first)
    for row, start, end in _unread(read, first, stop):
        epoch = lookups.time(lines.text(start, end))
        if epoch is None:
            return None
        epochs[row] = epoch
    checks = lookups.checks
    if (epochs % STEP_SECONDS).any():
        return None
    if epochs.min() < checks.earliest or epochs.max() >= checks.latest:
        return None
    return epochs


def _iso_epochs(chars: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of times spelt as _ISO_FORM, or with Z for the offset, as datetime reads
    them; and which rows are spelt so, and valid. ``chars``: the first 25 bytes of each row's
    time, a row per position; ``length``: each time's length."""
    digit = chars - np.uint8(_ZERO)  # wraps: a non-digit is over 9
    sign = chars[19]
    read = (digit[_DATE_DIGITS] <= 9).all(axis=0)
    read &= (chars[_DATE_MARKS] == _DATE_MARK_BYTES).all(axis=0)
    zulu = (length == _ISO_ZULU_WIDTH) & (sign == _Z)
    offset = (length == _ISO_WIDTH) & ((sign == _PLUS) | (sign == _MINUS))
    offset &= (digit[_OFFSET_DIGITS] <= 9).all(axis=0) & (chars[22] == _COLON)
    read &= zulu | offset
    numbers = digit[_ISO_NUMBERS].astype(np.int32) * 10 + digit[_ISO_NUMBERS + 1]
    numbers[7:, zulu] = 0
    century, year, month, day, hour, minute, second, east_hours, east_minutes = numbers
    days, valid = _days_since_epoch(century * 100 + year, month, day)
    read &= valid & (hour <= 23) & (minute <= 59) & (second <= 59)
    read &= (east_hours <= 23) & (east_minutes <= 59)
    east = (east_hours * 60 + east_minutes) * 60
    seconds = (hour * 60 + minute) * 60 + second - np.where(sign == _MINUS, -east, east)
    return days.astype(np.int64) * 86400 + seconds, read


def _days_since_epoch(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Days from 1970-01-01 to each date (proleptic Gregorian), and which dates are valid."""
    year, month = year.clip(0, len(_YEAR_STARTS) - 1), month.clip(0, len(_MONTH_STARTS) - 1)
    leap = _LEAP_YEARS[year]
    last = _MONTH_DAYS[month] + (leap & (month == 2))
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)
    return _YEAR_STARTS[year] + _MONTH_STARTS[month] + (leap & (month > 2)) + day - 1, valid


def _value_column(lines: _Lines) -> np.ndarray | None:
    """Each row's value; None if a row's value is bad."""
    first, stop = lines.commas[:, 2] + 1, lines.ends
    values, read = _decimals(lines.raw, stop, stop - first)
    for row, start, end in _unread(read, first, stop):
        try:
            values[row] = _parse_value(lines.text(start, end))
        except ValueError:
            return None
    return values


def _decimals(
    raw: np.ndarray, stop: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Values spelt as plain decimals (digits, at most one point), each ending before ``stop``
    and ``length`` bytes long; and which rows are spelt so."""
    read = (length >= 1) & (length <= _VALUE_WIDTH)
    back = np.arange(int(length[read].max(initial=0)), 0, -1)[:, None]
    chars = raw[stop - back]  # a row per position, left to right
    live = back <= length
    digit = chars - np.uint8(_ZERO)  # wraps: a non-digit is over 9
    is_digit = live & (digit <= 9)
    is_point = live & (chars == _POINT)
    digits = is_digit.sum(axis=0)
    read &= (is_digit | is_point | ~live).all(axis=0) & (is_point.sum(axis=0) <= 1)
    read &= (digits >= 1) & (digits <= _VALUE_DIGITS)
    point = (is_point * back).sum(axis=0)  # how far back the point is; 0 if none
    decimals = np.maximum(point - 1, 0)
    scale, add = np.where(is_digit, np.uint8(10), np.uint8(1)), np.where(is_digit, digit, 0)
    mantissa = np.zeros(len(length), np.int64)
    for position in range(len(back)):
        mantissa = mantissa * scale[position] + add[position]
    return mantissa / _POWERS_OF_TEN[np.minimum(decimals, _VALUE_DIGITS)], read
