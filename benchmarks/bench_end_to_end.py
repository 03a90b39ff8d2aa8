"""End to end: `burst-assurance plan` against short pyarrow, Polars and pandas scripts.

Each contender runs as its own process, so start-up and imports count, and reads the same CSV
files (docs/data-formats.md#traffic-csv) into checked daily peaks:

- floor: pyarrow.csv reads, NumPy checks and lays the points on local days, daily peaks by one
  reduction; what an expert writes, the least any tool needs;
- polars (POLARS_MAX_THREADS=1) and pandas: the same, idiomatic;
- plan: `burst-assurance plan --traffic FILES --now NOW --format json`, the real CLI (no events
  file), which does all that and then the rules and the plan.

Every contender runs on one thread, as ours does. The checks are the loader's: the header, each
row's types, a known metric and a scope allowed for it, a time with an offset on a 5-minute
boundary within the accepted dates, a finite non-negative value (bandwidth under the ceiling,
concurrency a whole number), no point given twice in a file; later files override earlier ones
point by point. Before timing, each contender must refuse a file for each of these faults, and
the baselines' daily peaks must equal the generator's, or the benchmark stops.

Two sizes: small is 10 series (7 billing areas, 3 services) x 92 days of 5-minute points in one
file (265k rows); large is ten weekly revisions of that forecast, ten files of the same window
(2.65M rows), the last of which wins everywhere. Times are the best of --repeat runs, wall clock
from spawn to exit; peak RSS is each child's own ru_maxrss (from wait4), the most over its runs.

    python benchmarks/bench_end_to_end.py [--repeat N] [--check] [--sizes small,large]

--check exits 1 when plan misses a target (FLOOR_WITHIN, FASTER_THAN_PANDAS, MAX_RSS_MB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# -- what the loader accepts (chalicelib.domain.traffic, policy defaults) ----------------------

COLUMNS = ["time", "metric", "scope", "value"]
AREAS = ("CN", "AP1", "AP2", "AP3", "MEAA", "SA", "EU")
SERVICES = ("transcoding", "recording", "snapshot")
SCOPES = AREAS + SERVICES  # a series' code is its index here: scope names never repeat
ZONE = ZoneInfo("Asia/Shanghai")
UTC_OFFSET = 8 * 3600  # Asia/Shanghai has kept +08:00, without daylight saving, since 1991
STEP = 300
POINTS_PER_DAY = 86_400 // STEP
CEILING_GBPS = 20_000.0
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=ZONE)  # policy.ingestion.earliest
YEARS_AHEAD = 2  # policy.ingestion.years_ahead

# -- the workload ------------------------------------------------------------------------------

NOW = "2026-11-23T09:00:00+08:00"
FIRST_DAY = dt.date(2026, 11, 1)
DAYS = 92  # November to January
REVISIONS = 10
SEED = 12


@dataclass(frozen=True)
class Size:
    name: str
    files: int  # the last `files` revisions, oldest first


SIZES = {"small": Size("small", 1), "large": Size("large", REVISIONS)}

# Targets for plan: time against the floor at each size, faster than pandas on the small one,
# and peak RSS on the large one.
FLOOR_WITHIN = {"small": 3.0, "large": 4.0}
FASTER_THAN_PANDAS = ("small",)
MAX_RSS_MB = {"large": 400.0}


def local_times() -> list[str]:
    start = dt.datetime.combine(FIRST_DAY, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    step = dt.timedelta(seconds=STEP)
    return [(start + i * step).isoformat() for i in range(DAYS * POINTS_PER_DAY)]


def revision_values(seed: int = SEED) -> Any:
    """(revision, series, point) int64: hundredths of a Gbit/s for the areas, tasks for the
    services. Usual traffic stays under every threshold; a few days burst (rules a, b and c)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    hours = np.arange(POINTS_PER_DAY) / 12
    shape = (
        0.3 + 0.7 * np.exp(-(((hours - 21) / 2.5) ** 2)) + 0.3 * np.exp(-(((hours - 12) / 3) ** 2))
    )
    levels = np.array([70.0, 25, 12, 8, 5, 4, 15, 3000, 1500, 800])
    base = (
        levels[:, None, None] * shape[None, None, :] * rng.uniform(0.9, 1.1, (len(SCOPES), DAYS, 1))
    )
    base[SCOPES.index("AP1"), 61:] *= 2.2  # January over 40 Gbit/s: charged bandwidth grows
    base[SCOPES.index("CN"), 41, 240:264] += 260  # 12 December: the daily peak jumps
    base[SCOPES.index("transcoding"), 60, 240:252] += 11_000  # 31 December: a surge
    revisions = base.reshape(len(SCOPES), -1) * rng.uniform(0.97, 1.03, (REVISIONS, len(SCOPES), 1))
    revisions *= rng.normal(1, 0.01, revisions.shape)
    cents = np.rint(revisions * 100).astype(np.int64)
    tasks = np.rint(revisions).astype(np.int64)
    return np.where(np.array([s in AREAS for s in SCOPES])[None, :, None], cents, tasks)


def _value_texts(scope: str, row: Any) -> list[str]:
    if scope in AREAS:
        return [f"{c // 100}.{c % 100:02d}" for c in row.tolist()]
    return [str(t) for t in row.tolist()]


def write_revision(path: Path, values: Any, times: list[str]) -> None:
    """One revision as CSV, series after series, each in time order."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for code, scope in enumerate(SCOPES):
            prefix = f",{_metric(scope)},{scope},"
            texts = _value_texts(scope, values[code])
            out.writelines(f"{t}{prefix}{v}\n" for t, v in zip(times, texts, strict=True))


def expected_peaks(values: Any) -> dict[str, float]:
    """The daily peaks of the last revision, from the integers written (c / 100 is the double
    nearest the decimal text, as a CSV reader parses it)."""
    last = values[-1].reshape(len(SCOPES), DAYS, POINTS_PER_DAY).max(axis=-1)
    result = {}
    for code, scope in enumerate(SCOPES):
        divisor = 100 if scope in AREAS else 1
        for day in range(DAYS):
            label = (FIRST_DAY + dt.timedelta(days=day)).isoformat()
            result[_key(_metric(scope), scope, label)] = int(last[code, day]) / divisor
    return result


def _metric(scope: str) -> str:
    return "bandwidth" if scope in AREAS else "concurrency"


def _key(metric: str, scope: str, day: str) -> str:
    return f"{metric}/{scope}/{day}"


# Each file holds one fault in an otherwise good file; every contender must refuse every one.
GOOD_ROWS = [
    "2026-11-01T00:00:00+08:00,bandwidth,CN,10.5",
    "2026-11-01T00:05:00+08:00,bandwidth,CN,11.25",
    "2026-11-01T00:00:00+08:00,concurrency,recording,300",
]
FAULTS = {
    "no UTC offset": "2026-11-01T00:10:00,bandwidth,CN,1",
    "not a time": "yesterday,bandwidth,CN,1",
    "off the 5-minute grid": "2026-11-01T00:12:00+08:00,bandwidth,CN,1",
    "before the accepted dates": "1999-12-31T00:00:00+08:00,bandwidth,CN,1",
    "after the accepted dates": "2031-01-01T00:00:00+08:00,bandwidth,CN,1",
    "unknown metric": "2026-11-01T00:10:00+08:00,latency,CN,1",
    "scope not of its metric": "2026-11-01T00:10:00+08:00,bandwidth,recording,1",
    "not a number": "2026-11-01T00:10:00+08:00,bandwidth,CN,lots",
    "missing value": "2026-11-01T00:10:00+08:00,bandwidth,CN,",
    "not finite": "2026-11-01T00:10:00+08:00,bandwidth,CN,nan",
    "negative": "2026-11-01T00:10:00+08:00,bandwidth,CN,-1",
    "over the bandwidth ceiling": "2026-11-01T00:10:00+08:00,bandwidth,CN,25000",
    "a fraction of a task": "2026-11-01T00:10:00+08:00,concurrency,recording,12.5",
    "duplicate point": "2026-11-01T00:05:00+08:00,bandwidth,CN,3",
    "a missing column": "2026-11-01T00:10:00+08:00,bandwidth,CN",
}


def write_faults(folder: Path) -> dict[str, Path]:
    files = {"good": _write(folder / "good.csv", ",".join(COLUMNS), GOOD_ROWS)}
    for i, (fault, row) in enumerate(FAULTS.items()):
        files[fault] = _write(folder / f"fault-{i:02d}.csv", ",".join(COLUMNS), [*GOOD_ROWS, row])
    files["wrong header"] = _write(folder / "fault-header.csv", "time,metric,area,value", GOOD_ROWS)
    return files


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# -- the baselines (each runs in a child process, importing only its own library) --------------


class Refused(Exception):
    """A file the checks refuse."""


@dataclass(frozen=True)
class Limits:
    earliest: int  # epoch seconds, inclusive
    latest: int  # exclusive

    @classmethod
    def at(cls, now: str) -> Limits:
        moment = dt.datetime.fromisoformat(now)
        latest = moment.replace(year=moment.year + YEARS_AHEAD)  # the data never has 29 February
        return cls(int(EARLIEST.timestamp()), math.ceil(latest.timestamp()))


def _refuse_rows(path: str, bad: Any, check: str) -> None:
    """Raise Refused naming the first bad row's line when any row is bad."""
    import numpy as np

    rows = np.flatnonzero(bad)
    if rows.size:
        raise Refused(f"{path}:{int(rows[0]) + 2}: {check} ({rows.size} rows)")


def floor_peaks(paths: Sequence[str], limits: Limits) -> dict[str, float]:
    import numpy as np
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    files = [_floor_read(path, limits) for path in paths]
    first_day = min(int(slots.min()) for _, slots, _ in files) // POINTS_PER_DAY
    days = max(int(slots.max()) for _, slots, _ in files) // POINTS_PER_DAY - first_day + 1
    grid = np.full(len(SCOPES) * days * POINTS_PER_DAY, np.nan)
    for codes, slots, values in files:  # in order: a later revision overwrites an earlier one
        grid[codes * (days * POINTS_PER_DAY) + slots - first_day * POINTS_PER_DAY] = values
    peaks = np.fmax.reduce(grid.reshape(len(SCOPES), days, POINTS_PER_DAY), axis=-1)
    day0 = dt.date(1970, 1, 1) + dt.timedelta(days=first_day)
    codes, days_with_data = np.nonzero(~np.isnan(peaks))
    return {
        _key(_metric(SCOPES[c]), SCOPES[c], (day0 + dt.timedelta(days=d)).isoformat()): peak
        for c, d, peak in zip(
            codes.tolist(),
            days_with_data.tolist(),
            peaks[codes, days_with_data].tolist(),
            strict=True,
        )
    }


def _floor_read(path: str, limits: Limits) -> tuple[Any, Any, Any]:
    """(series code, local 5-minute slot since the epoch, value) of each row, all checked."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pv

    words = pa.dictionary(pa.int32(), pa.string())
    types = {"time": pa.timestamp("s", tz="UTC"), "metric": words, "scope": words}
    table = pv.read_csv(  # a time without an offset or off the seconds, a non-number: refused here
        path,
        read_options=pv.ReadOptions(use_threads=False),
        convert_options=pv.ConvertOptions(column_types={**types, "value": pa.float64()}),
    )
    if table.column_names != COLUMNS:
        raise Refused(f"{path}:1: header must be {','.join(COLUMNS)}")
    if any(column.null_count for column in table.columns):
        raise Refused(f"{path}: a field is missing or not a number")
    epoch = _numbers(table["time"].chunks, np.int64)
    value = _numbers(table["value"].chunks, np.float64)
    metric = _codes(table["metric"], ("bandwidth", "concurrency"))
    codes = _codes(table["scope"], SCOPES)
    bandwidth = metric == 0
    service = (metric == 1) & (codes >= len(AREAS))
    known = (codes >= 0) & np.where(bandwidth, codes < len(AREAS), service)
    _refuse_rows(path, ~known, "unknown metric or scope")
    _refuse_rows(path, epoch % STEP != 0, "not on a 5-minute boundary")
    _refuse_rows(path, (epoch < limits.earliest) | (epoch >= limits.latest), "outside the dates")
    _refuse_rows(path, ~np.isfinite(value) | (value < 0), "not a finite non-negative number")
    _refuse_rows(path, bandwidth & (value > CEILING_GBPS), "bandwidth above the ceiling")
    _refuse_rows(path, ~bandwidth & (value != np.floor(value)), "not a whole number of tasks")
    slots = (epoch + UTC_OFFSET) // STEP
    span = int(slots.max()) - int(slots.min()) + 1
    point = codes * span + slots - int(slots.min())  # dense: a bincount finds repeats, no sort
    _refuse_rows(path, np.bincount(point)[point] > 1, "duplicate point")
    return codes, slots, value


def _numbers(chunks: list[Any], dtype: Any) -> Any:
    """Arrow arrays without nulls as one NumPy array, straight from its buffers: pyarrow's
    to_numpy() imports pandas when it is installed (0.3 s here)."""
    import numpy as np

    size = np.dtype(dtype).itemsize
    return np.concatenate(
        [np.frombuffer(c.buffers()[1], dtype, len(c), c.offset * size) for c in chunks]
    )


def _codes(column: Any, names: tuple[str, ...]) -> Any:
    """Each row's index in ``names``, -1 for any other text (the column read as a dictionary:
    each chunk's few distinct words are looked up, not every row's)."""
    import numpy as np

    parts = []
    for chunk in column.chunks:
        words = chunk.dictionary.to_pylist()
        lookup = np.array([names.index(w) if w in names else -1 for w in words], np.int64)
        parts.append(lookup[_numbers([chunk.indices], np.int32)])
    return np.concatenate(parts)


def polars_peaks(paths: Sequence[str], limits: Limits) -> dict[str, float]:
    import polars as pl

    points = pl.concat([_polars_read(path, limits) for path in paths])
    points = points.unique(["metric", "scope", "time"], keep="last")  # the latest revision wins
    day = pl.col("time").dt.convert_time_zone(ZONE.key).dt.date().alias("day")
    peaks = points.group_by("metric", "scope", day).agg(pl.col("value").max())
    return {_key(m, s, d.isoformat()): v for m, s, d, v in peaks.iter_rows()}


def _polars_read(path: str, limits: Limits) -> Any:
    import polars as pl

    # Enums: a word outside them is refused as the file is read
    words = {"metric": pl.Enum(["bandwidth", "concurrency"]), "scope": pl.Enum(SCOPES)}
    frame = pl.read_csv(path, schema_overrides={"time": pl.String, **words, "value": pl.Float64})
    if frame.columns != COLUMNS:
        raise Refused(f"{path}:1: header must be {','.join(COLUMNS)}")
    at, metric, scope, value = (pl.col(c) for c in COLUMNS)
    # strict: a time without an offset, or not a time, raises
    frame = frame.with_columns(at.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=True))
    earliest, latest = (
        dt.datetime.fromtimestamp(t, dt.UTC) for t in (limits.earliest, limits.latest)
    )
    bandwidth = metric == "bandwidth"
    checks = {
        "unknown metric or scope": ~pl.when(bandwidth)
        .then(scope.is_in(AREAS))
        .otherwise((metric == "concurrency") & scope.is_in(SERVICES)),
        "not on a 5-minute boundary": at.dt.truncate("5m") != at,
        "outside the dates": ~at.is_between(earliest, latest, closed="left"),
        "not a finite non-negative number": ~value.is_finite() | (value < 0),
        "bandwidth above the ceiling": bandwidth & (value > CEILING_GBPS),
        "not a whole number of tasks": ~bandwidth & (value != value.floor()),
    }
    found = frame.select(**{c: e.fill_null(True).arg_true().first() for c, e in checks.items()})
    for check, row in found.row(0, named=True).items():
        if row is not None:
            raise Refused(f"{path}:{row + 2}: {check}")
    repeated = frame.select("metric", "scope", "time").is_duplicated().arg_true()
    if repeated.len():
        raise Refused(f"{path}:{repeated[0] + 2}: duplicate point")
    return frame


def pandas_peaks(paths: Sequence[str], limits: Limits) -> dict[str, float]:
    import pandas as pd

    points = pd.concat([_pandas_read(path, limits) for path in paths], ignore_index=True)
    points = points.drop_duplicates(["metric", "scope", "time"], keep="last")  # latest wins
    day = points["time"].dt.tz_convert(ZONE.key).dt.normalize().rename("day")
    peaks = points.groupby(["metric", "scope", day], observed=True)["value"].max()
    return {_key(m, s, f"{d:%Y-%m-%d}"): float(v) for (m, s, d), v in peaks.items()}


def _pandas_read(path: str, limits: Limits) -> Any:
    import numpy as np
    import pandas as pd

    # Categories: a word outside them is read as missing
    words = {"metric": pd.CategoricalDtype(["bandwidth", "concurrency"])}
    words["scope"] = pd.CategoricalDtype(SCOPES)
    frame = pd.read_csv(path, dtype={**words, "value": "float64"})
    if list(frame.columns) != COLUMNS:
        raise Refused(f"{path}:1: header must be {','.join(COLUMNS)}")
    # a time without an offset, or not a time, raises
    at = pd.to_datetime(frame["time"], format="%Y-%m-%dT%H:%M:%S%z", utc=True)
    frame["time"] = at
    metric, scope, value = frame["metric"], frame["scope"], frame["value"]
    bandwidth = metric.eq("bandwidth")
    earliest, latest = (
        pd.Timestamp(t, unit="s", tz="UTC") for t in (limits.earliest, limits.latest)
    )
    checks = {
        "unknown metric or scope": ~scope.isin(AREAS).where(
            bandwidth, metric.eq("concurrency") & scope.isin(SERVICES)
        ),
        "not on a 5-minute boundary": at.isna() | (at.dt.floor("5min") != at),
        "outside the dates": ~at.between(earliest, latest, inclusive="left"),
        "not a finite non-negative number": ~np.isfinite(value) | (value < 0),
        "bandwidth above the ceiling": bandwidth & (value > CEILING_GBPS),
        "not a whole number of tasks": ~bandwidth & (value % 1 != 0),
        "duplicate point": frame.duplicated(["metric", "scope", "time"]),
    }
    for check, bad in checks.items():
        _refuse_rows(path, bad.to_numpy(dtype=bool), check)
    return frame


BASELINES: dict[str, Callable[[Sequence[str], Limits], dict[str, float]]] = {
    "floor": floor_peaks,
    "polars": polars_peaks,
    "pandas": pandas_peaks,
}


def run_child(name: str, now: str, out: str, paths: Sequence[str], refusals: bool) -> int:
    """Daily peaks of ``paths`` as JSON into ``out``; with ``refusals``, each path on its own,
    and for each the reason it was refused, or null when it was accepted."""
    limits, peaks = Limits.at(now), BASELINES[name]
    if not refusals:
        Path(out).write_text(json.dumps(peaks(paths, limits)), encoding="utf-8")
        return 0
    verdicts: dict[str, str | None] = {}
    for path in paths:
        try:
            peaks([path], limits)
            verdicts[path] = None
        except Exception as exc:  # whatever the library raises on a bad file
            verdicts[path] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    Path(out).write_text(json.dumps(verdicts), encoding="utf-8")
    return 0


# -- running and measuring ---------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    name: str
    argv: Callable[[list[Path], Path], list[str]]  # (input files, output file) -> command
    env: dict[str, str]


def contenders(cli: list[str]) -> list[Contender]:
    def baseline(name: str) -> Callable[[list[Path], Path], list[str]]:
        script = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--now", NOW]
        return lambda files, out: [*script, "--out", str(out), *map(str, files)]

    def plan(files: list[Path], out: Path) -> list[str]:
        return [*cli, "plan", "--traffic", *map(str, files), "--now", NOW, "--format", "json"]

    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}
    return [
        Contender("floor", baseline("floor"), one_thread),
        Contender("polars", baseline("polars"), {**one_thread, "POLARS_MAX_THREADS": "1"}),
        Contender("pandas", baseline("pandas"), one_thread),
        Contender("plan", plan, one_thread),
    ]


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mb: float
    stdout: str


# Starts the command and reports its wall time and peak RSS. A child's ru_maxrss starts from the
# peak of the process it was forked from (the kernel carries the old memory's high-water mark
# across exec), so the contenders are forked from this small process, not from the benchmark,
# whose generated data would count in every one of them.
WRAPPER = """
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
began = time.perf_counter()
pid = os.posix_spawnp(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(f"{time.perf_counter() - began} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def spawn(command: list[str], env: dict[str, str], folder: Path) -> tuple[int, Run, str]:
    """Run ``command`` to its end: exit code, wall time and peak RSS (its own), its output and
    the tail of its errors."""
    out, err, report = folder / "stdout", folder / "stderr", folder / "usage"
    wrapped = [sys.executable, "-I", "-S", "-c", WRAPPER, str(report), *command]
    report.unlink(missing_ok=True)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        done = subprocess.run(wrapped, stdout=stdout, stderr=stderr, env=env, check=False)
    errors = err.read_text(encoding="utf-8")[-2000:]
    if not report.exists():  # the command could not be started
        return done.returncode or 1, Run(math.nan, math.nan, ""), errors
    seconds, rss_kib = report.read_text(encoding="utf-8").split()
    return done.returncode, Run(float(seconds), int(rss_kib) / 1024, out.read_text("utf-8")), errors


def run_once(who: Contender, files: list[Path], folder: Path) -> Run:
    result = folder / f"{who.name}.json"
    code, run, errors = spawn(who.argv(files, result), who.env, folder)
    if code:
        raise SystemExit(f"{who.name} failed with exit code {code}:\n{errors}")
    if result.exists():
        return Run(run.seconds, run.rss_mb, result.read_text(encoding="utf-8"))
    return run


def check_refusals(everyone: list[Contender], faults: dict[str, Path], folder: Path) -> None:
    """Every contender accepts the good file and refuses each faulty one, or the benchmark
    stops: a baseline that skipped a check would be timed for less work."""
    for who in everyone:
        if who.name == "plan":
            verdicts = {
                name: spawn(who.argv([path], folder / "x"), who.env, folder)[0]
                for name, path in faults.items()
            }
            accepted = {name for name, code in verdicts.items() if code == 0}
        else:
            out = folder / f"{who.name}-refusals.json"
            argv = [*who.argv(list(faults.values()), out), "--refusals"]
            code, _, errors = spawn(argv, who.env, folder)
            if code:
                raise SystemExit(f"{who.name} failed on the faulty files:\n{errors}")
            by_path = json.loads(out.read_text(encoding="utf-8"))
            accepted = {name for name, path in faults.items() if by_path[str(path)] is None}
        wrong = sorted(accepted ^ {"good"})
        if wrong:
            raise SystemExit(f"{who.name} accepts or refuses wrongly: {', '.join(wrong)}")


def same_peaks(name: str, found: dict[str, float], expected: dict[str, float]) -> None:
    if found.keys() != expected.keys():
        differ = sorted(found.keys() ^ expected.keys())
        raise SystemExit(f"{name}: daily peaks for other days than expected: {differ[:5]}")
    wrong = [k for k, v in expected.items() if not math.isclose(found[k], v, rel_tol=1e-12)]
    if wrong:
        k = wrong[0]
        raise SystemExit(
            f"{name}: {len(wrong)} daily peaks differ, e.g. {k}: {found[k]} not {expected[k]}"
        )


# Bursts the workload holds: plan must find at least these (a sign it really read the files).
PLANTED = (
    "monthly-charged-bandwidth/AP1/2027-01",
    "daily-peak-jump/CN/2026-12-12",
    "vas-concurrency/transcoding/2026-12-31",
)


def planned(output: str) -> int:
    ids = {request["id"] for request in json.loads(output)["requests"]}
    missing = [i for i in PLANTED if i not in ids]
    if missing:
        raise SystemExit(f"plan did not find the planted bursts {missing}")
    return len(ids)


@dataclass
class Measured:
    size: str
    rows: int
    runs: dict[str, list[Run]]
    requests: int = 0

    def best(self, name: str) -> float:
        return min(run.seconds for run in self.runs[name])

    def rss(self, name: str) -> float:
        return max(run.rss_mb for run in self.runs[name])


def measure(
    size: str, files: list[Path], everyone: list[Contender], repeat: int, folder: Path,
    expected: dict[str, float],
) -> Measured:  # fmt: skip
    measured = Measured(size, len(files) * len(SCOPES) * DAYS * POINTS_PER_DAY, {})
    for attempt in range(repeat):
        for who in everyone:  # in turn, so that a slow spell of the machine hits all alike
            run = run_once(who, files, folder)
            measured.runs.setdefault(who.name, []).append(run)
            if attempt == 0 and who.name == "plan":
                measured.requests = planned(run.stdout)
            elif attempt == 0:
                same_peaks(who.name, json.loads(run.stdout), expected)
    return measured


def verdicts(m: Measured) -> list[tuple[str, bool]]:
    plan, floor = m.best("plan"), m.best("floor")
    found = [(f"plan <= {FLOOR_WITHIN[m.size]:g}x floor", plan <= FLOOR_WITHIN[m.size] * floor)]
    if m.size in FASTER_THAN_PANDAS:
        found.append(("plan faster than pandas", plan < m.best("pandas")))
    if m.size in MAX_RSS_MB:
        found.append(
            (f"plan peak RSS <= {MAX_RSS_MB[m.size]:g} MB", m.rss("plan") <= MAX_RSS_MB[m.size])
        )
    return found


def render(results: list[Measured], repeat: int) -> str:
    header = f"{'size':6} {'rows':>10} {'contender':10} {'time':>8} {'/ floor':>8} {'peak RSS':>9}"
    lines = [
        f"best of {repeat} runs, each its own process on one thread; RSS: the child's ru_maxrss",
        header,
        "-" * len(header),
    ]
    for m in results:
        for name in m.runs:
            lines.append(
                f"{m.size:6} {m.rows:>10,} {name:10} {m.best(name):>6.2f} s "
                f"{m.best(name) / m.best('floor'):>7.2f}x {m.rss(name):>6.0f} MB"
            )
        met = [f"{what}: {'met' if ok else 'MISSED'}" for what, ok in verdicts(m)]
        lines.append(f"{'':6} plan found {m.requests} requests; {'; '.join(met)}")
    return "\n".join(lines)


def generate(folder: Path, sizes: list[str]) -> tuple[dict[str, list[Path]], dict[str, float]]:
    """The revisions as CSV files (only the last unless a size needs them all), and the daily
    peaks of the last."""
    values, times = revision_values(), local_times()
    needed = max(SIZES[s].files for s in sizes)
    paths = [folder / f"revision-{r + 1:02d}.csv" for r in range(REVISIONS)]
    for r in range(REVISIONS - needed, REVISIONS):
        write_revision(paths[r], values[r], times)
    files = {s: paths[REVISIONS - SIZES[s].files :] for s in sizes}
    return files, expected_peaks(values)


def default_cli() -> list[str]:
    return [str(Path(sys.executable).with_name("burst-assurance"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best kept)")
    parser.add_argument("--check", action="store_true", help="exit 1 when plan misses a target")
    parser.add_argument("--sizes", default="small,large", help="small (265k rows), large (2.65M)")
    parser.add_argument(
        "--cli", type=shlex.split, default=default_cli(), help="default: burst-assurance here"
    )
    parser.add_argument("--child", choices=sorted(BASELINES), help=argparse.SUPPRESS)
    parser.add_argument("--now", default=NOW, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--refusals", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.now, args.out, args.files, args.refusals)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = set(sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown sizes {sorted(unknown)}; choose from {sorted(SIZES)}")
    if not shutil.which(args.cli[0]):
        parser.error(f"no {args.cli[0]}: install the project (make) or give --cli")
    everyone = contenders(args.cli)
    with tempfile.TemporaryDirectory(prefix="bench-end-to-end-") as tmp:
        folder = Path(tmp)
        check_refusals(everyone, write_faults(folder), folder)
        files, expected = generate(folder, sizes)
        results = [measure(s, files[s], everyone, args.repeat, folder, expected) for s in sizes]
    print(render(results, args.repeat))
    missed = [what for m in results for what, ok in verdicts(m) if not ok]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
