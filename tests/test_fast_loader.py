"""The fast traffic loader (issue 12, item 1) against the row-by-row one it replaced: for any
input and any block size, the same series bit for bit, or the same error word for word. And it
holds a block of text at a time, never the whole file."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.traffic_files import load_file, text_blocks
from chalicelib.domain import traffic_parsing as traffic
from chalicelib.domain.traffic import TimeRange, TrafficSet
from chalicelib.domain.traffic_parsing import (
    MAX_KEPT_PROBLEMS,
    SERIES_KEYS,
    parse_csv,
    parse_csv_lines,
    parse_json,
    parse_rows,
)

REPO = Path(__file__).resolve().parent.parent
HEADER = "time,metric,scope,value"
GOOD = "2026-03-09T00:00:00+08:00,bandwidth,CN,12.5"
BLOCK_SIZES = (1, 7, 60, 1 << 20)  # characters: a block a line, a few lines, all in one
READ_SIZES = (1, 5, 64, 1 << 20)  # bytes read from a file at a time
ALMOST_A_DAY = dt.timedelta(hours=23, minutes=59)  # the widest UTC offset
# Every date datetime reads, so that the reading of times is tried across the whole calendar.
ALL_DATES = TimeRange(
    dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 55, tzinfo=dt.UTC)
)


def outcome(parse: Callable[..., TrafficSet], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """What a parse gives: every series (key, dtypes, bytes of times and values, in order), or
    the error (type, message, problems)."""
    try:
        result = parse(*args, **kwargs)
    except Exception as exc:
        return ("raised", type(exc), str(exc), getattr(exc, "problems", None))
    return (
        "loaded",
        [
            (key, s.metric, s.scope, s.times.dtype.str, s.times.tobytes(), s.values.dtype.str,
             s.values.tobytes())
            for key, s in result.series.items()
        ],
    )  # fmt: skip


def csv_of(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def agree_on_csv(text: str, sizes: tuple[int, ...] = BLOCK_SIZES, **limits: Any) -> tuple:
    """The fast parsers, at every block size, give what the row-by-row one gives; returns it."""
    expected = outcome(parse_csv, text, "f.csv", fast=False, **limits)
    assert outcome(parse_csv_lines, io.StringIO(text), "f.csv", fast=False, **limits) == expected
    for size in sizes:
        assert outcome(parse_csv, text, "f.csv", block_chars=size, **limits) == expected, size
        lines = io.StringIO(text)
        assert outcome(parse_csv_lines, lines, "f.csv", block_chars=size, **limits) == expected
    return expected


def agree_on_file(path: Path, sizes: tuple[int, ...] = READ_SIZES) -> tuple:
    for size in sizes:
        expected = outcome(load_file, path, fast=False, read_bytes=size)
        assert outcome(load_file, path, read_bytes=size) == expected, size
    return expected


def agree_on_json(data: Any, chunk: int, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setattr(traffic, "JSON_CHUNK_ITEMS", chunk)
    expected = outcome(parse_rows, data, "f.json", fast=False)
    assert outcome(parse_rows, data, "f.json") == expected
    return expected


# -- the files we ship and test with ------------------------------------------------------------


def traffic_files() -> list[Path]:
    found = []
    for folder in (REPO / "tests" / "fixtures", REPO / "examples"):
        for pattern in ("*.csv", "*.csv.gz", "*.json", "*.json.gz"):
            found += folder.rglob(pattern)
    return sorted(found)


def test_there_are_traffic_files_to_compare_on() -> None:
    assert len(traffic_files()) >= 5


@pytest.mark.parametrize("path", traffic_files(), ids=lambda p: p.name)
def test_the_loaders_agree_on_every_traffic_file_in_the_repository(path: Path) -> None:
    assert agree_on_file(path, sizes=(4096, 1 << 20))[0] == "loaded"


@pytest.mark.parametrize("path", traffic_files(), ids=lambda p: p.name)
def test_the_loaders_agree_on_each_example_file_spoilt(path: Path, tmp_path: Path) -> None:
    """The example with one row broken in its middle block, and one row repeated at its end."""
    text = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    lines = text.decode().splitlines(keepends=True)
    middle = len(lines) // 2
    spoilt = [*lines[:middle], lines[middle].replace(",", ";", 1), *lines[middle + 1 :], lines[3]]
    bad = tmp_path / path.name.removesuffix(".gz")
    bad.write_text("".join(spoilt))
    assert agree_on_file(bad, sizes=(4096, 1 << 20))[0] == "raised"


# -- hand-written files ---------------------------------------------------------------------------

BAD_ROWS = [
    "2026-03-09T00:05:00+08:00,bandwidth,CN",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1,extra",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1,",
    "2026-03-09T00:05:00,bandwidth,CN,1",
    "2026-03-09,bandwidth,CN,1",
    "09/03/2026 00:05,bandwidth,CN,1",
    "tomorrow,bandwidth,CN,1",
    "2026-03-09T00:02:00+08:00,bandwidth,CN,1",
    "2026-03-09T00:05:30+08:00,bandwidth,CN,1",
    "2026-03-09T00:05:00.5+08:00,bandwidth,CN,1",
    "2026-13-09T00:05:00+08:00,bandwidth,CN,1",
    "2026-02-29T00:05:00+08:00,bandwidth,CN,1",  # 2026 is no leap year
    "2026-04-31T00:05:00+08:00,bandwidth,CN,1",
    "2026-03-00T00:05:00+08:00,bandwidth,CN,1",
    "2026-03-09T24:00:00+08:00,bandwidth,CN,1",
    "2026-03-09T00:60:00+08:00,bandwidth,CN,1",
    "2026-03-09T00:05:60+08:00,bandwidth,CN,1",
    "2026-03-09T00:05:00+24:00,bandwidth,CN,1",
    "2026-03-09T00:05:00*08:00,bandwidth,CN,1",
    "2026-03-09T00:05:00z,bandwidth,CN,1",
    "0000-03-09T00:05:00+08:00,bandwidth,CN,1",
    "1999-12-31T23:55:00+08:00,bandwidth,CN,1",
    "2100-01-01T00:00:00+00:00,bandwidth,CN,1",
    "9999-12-31T00:00:00+08:00,bandwidth,CN,1",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,nan",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,NaN",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,inf",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,-Infinity",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1e400",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,-0.5",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,-1",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,12 Gbps",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,.",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1.2.3",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,0x10",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1_000",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,10_0.5",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,25000",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,20000.000000001",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1234567890123456",
    "2026-03-09T00:05:00+08:00,concurrency,recording,12.5",
    "2026-03-09T00:05:00+08:00,concurrency,recording,0.001",
    "2026-03-09T00:05:00+08:00,concurrency,recording,1e-3",
    "2026-03-09T00:05:00+08:00,latency,CN,1",
    "2026-03-09T00:05:00+08:00,Bandwidth,CN,1",
    "2026-03-09T00:05:00+08:00,concurrency,CN,1",
    "2026-03-09T00:05:00+08:00,bandwidth,transcoding,1",
    "2026-03-09T00:05:00+08:00,bandwidth,US,1",
    "2026-03-09T00:05:00+08:00,bandwidth,cn,1",
    "2026-03-09T00:05:00+08:00,bandwidth,CN1,1",
    "2026-03-09T00:05:00+08:00,bandwidth,C,1",
    "2026-03-09T00:05:00+08:00,concurrency,vas-total,1",
    "2026-03-09T00:05:00+08:00,concurrenxy,snapshot,1",  # wrong only in a name's middle
    "2026-03-09T00:05:00+08:00,concurrenCy,transcoding,1",
    "2026-03-09T00:05:00+08:00,bandwidth,CN\x00\x00\x00\x00,1",
    "2026-03-09T00:05:00+08:00,bandwidth\x00,CN,1",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1\x00",
    "2026-03-09T00:05:00+08:00,bandwidth\r,CN,1",
    "2026-03-09T00:05:00+08:00,band,width,CN",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,AP1,1",
    "2026-03-09T00:05:00+08:00,,CN,1",
    "2026-03-09T00:05:00+08:00;bandwidth;CN;1",
    ",bandwidth,CN,1",
    "2026-03-09T00:00:00+08:00,bandwidth,CN,99",  # GOOD's point again
    "2026-03-08T16:00:00Z,bandwidth,CN,99",  # and again, in UTC
]

# Spelt otherwise than the column reader reads by itself, and good all the same.
ODD_GOOD_ROWS = [
    " 2026-03-09T00:05:00+08:00 , bandwidth , CN , 7 ",
    "\t2026-03-09T00:05:00+08:00\t,\tbandwidth\t,\tCN\t,\t7\t",
    "\u30002026-03-09T00:05:00+08:00,\u00a0bandwidth,CN\u2028,\u3000 7",
    "2026-03-09T00:05:00Z,bandwidth,AP1,7",
    "2026-03-09t00:05:00+08:00,bandwidth,CN,7",
    "2026-03-09 00:05:00+08:00,bandwidth,CN,7",
    "2026-03-09T00:05+08:00,bandwidth,CN,7",
    "2026-03-09T00:05:00.000+08:00,bandwidth,CN,7",
    "2026-03-09T00:05:00.000000+08:00,bandwidth,CN,7",
    "20260309T000500+0800,bandwidth,CN,7",
    "2026-03-09T00:05:00-00:00,bandwidth,CN,7",
    "2026-03-09T01:50:00+01:45,bandwidth,CN,7",
    "2026-03-08T13:50:00-10:15,bandwidth,CN,7",
    "2026-03-09T01:05:00+08:60,bandwidth,CN,7",  # datetime reads 60 minutes as an hour
    "2026-03-09T00:05:00+08:00,bandwidth,CN,+7",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,7.",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,.7",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,007.700",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,7e0",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,-0",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,0.1234567890123456789",
    "2026-03-09T00:05:00+08:00,concurrency,snapshot,123456789012345",
    "2026-03-09T00:05:00+08:00,concurrency,snapshot,1234567890123456",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1234.56789012345",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1234.567890123456",
    "2026-03-09X00:05:00+08:00,bandwidth,CN,1",  # datetime takes any one separator
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1\r",  # csv reads \r\n as a line end
    "2026-03-09T00:05:00+08:00,bandwidth,CN,1\r\r",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,0.000000000000001",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,١٢",
    "2026-03-09T00:05:00+08:00,bandwidth,CN,20000",
    "2026-03-09T00:05:00+08:00,concurrency,snapshot,1e3",
    "2026-03-09T00:05:00+08:00,concurrency,snapshot,12.000",
]


@pytest.mark.parametrize("row", BAD_ROWS)
def test_the_loaders_agree_on_each_kind_of_bad_row(row: str) -> None:
    text = csv_of(GOOD, row)
    assert agree_on_csv(text)[0] == "raised"


@pytest.mark.parametrize("row", BAD_ROWS)
def test_a_bad_row_in_a_later_block_is_named_by_its_line(row: str) -> None:
    """Good rows fill the first blocks; the bad one comes late, then good rows again."""
    start = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    good = [
        f"{(start + dt.timedelta(minutes=5 * k)).isoformat()},bandwidth,EU,{k}.5" for k in range(40)
    ]
    text = csv_of(GOOD, *good[:30], row, *good[30:])
    expected = agree_on_csv(text, sizes=(1, 50, 300, 1000))
    assert expected[0] == "raised"
    assert ":33: " in expected[2]


@pytest.mark.parametrize("row", ODD_GOOD_ROWS)
def test_the_loaders_agree_on_good_rows_spelt_otherwise(row: str) -> None:
    text = csv_of(GOOD, row, "2026-03-09T00:10:00+08:00,bandwidth,CN,3")
    assert agree_on_csv(text)[0] == "loaded"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "\n\n",
        HEADER,
        HEADER + "\n",
        HEADER + "\n\n",
        HEADER + "\r\n",
        HEADER + "\n" + GOOD,  # no line end at the end
        HEADER + "\n" + GOOD + "\r",
        HEADER + "\n" + GOOD + "\n\n\n",
        "\ufeff" + HEADER + "\n" + GOOD + "\n",  # a byte-order mark in text: a wrong header
        " time , metric , scope , value \n" + GOOD + "\n",
        "time,metric,scope\n" + GOOD + "\n",
        "time,scope,metric,value\n" + GOOD + "\n",
        "Time,Metric,Scope,Value\n" + GOOD + "\n",
        '"time","metric","scope","value"\n' + GOOD + "\n",
        '"time,metric",scope,value\n' + GOOD + "\n",
        '"time\n",metric,scope,value\n' + GOOD + "\n",
        "time,metric,scope,value\r0\n" + GOOD + "\n",
        "\r0",
        csv_of(GOOD).rstrip("\n") + "\r0\n",
        csv_of(
            GOOD,
            "",
            "   ",
            ",,,",
            " , , , ",
            "\t",
            ",,",
            "2026-03-09T00:05:00+08:00,bandwidth,CN,2",
        ),
        csv_of(GOOD).replace("\n", "\r\n"),
        # Two commas on one line, four on the next: three a line on average.
        csv_of(
            GOOD,
            "2026-03-09T00:05:00+08:00,bandwidth,CN",
            "7,2026-03-09T00:10:00+08:00,bandwidth,CN,7",
        ),
        csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,2").replace("\n", "\r\n", 1),
        csv_of(GOOD, "\r\n", "2026-03-09T00:05:00+08:00,bandwidth,CN,2\r"),
        csv_of('"2026-03-09T00:00:00+08:00","bandwidth","CN","12.5"'),
        csv_of(
            GOOD,
            '"2026-03-09T00:05:00+08:00",bandwidth,CN,"1"',
            "2026-03-09T00:10:00+08:00,bandwidth,CN,x",
        ),
        csv_of(
            GOOD,
            '2026-03-09T00:05:00+08:00,bandwidth,CN,"1\n2"',
            "2026-03-09T00:10:00+08:00,bandwidth,CN,x",
        ),
        csv_of(
            GOOD,
            '2026-03-09T00:05:00+08:00,"band\nwidth",CN,1',
            "2026-03-09T00:10:00+08:00,bandwidth,CN,-1",
        ),
        csv_of(GOOD, '"2026-03-09T00:05:00+08:00,bandwidth,CN,1'),  # a quote never closed
        csv_of(GOOD, 'x"y,bandwidth,CN,1', "2026-03-09T00:10:00+08:00,bandwidth,CN,2"),
        csv_of(GOOD, '2026-03-09T00:05:00+08:00,bandwidth,CN,"1""2"'),
        csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,1\udc80"),  # a lone surrogate
        csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,1\u2029", "x"),
    ],
)
def test_the_loaders_agree_on_odd_files(text: str) -> None:
    agree_on_csv(text)


def test_the_loaders_agree_on_lines_given_one_by_one_without_their_ends() -> None:
    lines = [HEADER, "", GOOD, '"2026-03-09T00:05:00+08:00","bandwidth","CN",', "1", ""]
    expected = outcome(parse_csv_lines, lines, "f.csv", fast=False)
    for size in BLOCK_SIZES:
        assert outcome(parse_csv_lines, lines, "f.csv", block_chars=size) == expected
    lines = [HEADER + "\n", "", GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,x\n"]
    assert outcome(parse_csv_lines, lines, "f.csv") == outcome(
        parse_csv_lines, lines, "f.csv", fast=False
    )
    assert outcome(parse_csv_lines, [""], "f.csv") == outcome(
        parse_csv_lines, [""], "f.csv", fast=False
    )


def test_a_field_longer_than_csv_reads_is_refused_as_csv_refuses_it() -> None:
    text = csv_of(GOOD, "2026-03-09T00:05:00+08:00" + " " * 60 + ",bandwidth,CN,1")
    limit = csv.field_size_limit(50)
    try:
        assert "field larger than field limit" in agree_on_csv(text)[2]
    finally:
        csv.field_size_limit(limit)
    assert agree_on_csv(text)[0] == "loaded"


def test_duplicates_across_blocks_name_the_first_line() -> None:
    rows = [
        f"2026-03-09T{h:02d}:{m:02d}:00+08:00,bandwidth,AP2,{h}"
        for h in range(3)
        for m in range(0, 60, 5)
    ]  # lines 2 to 37
    text = csv_of(*rows, "2026-03-08T16:00:00Z,bandwidth,AP2,1", rows[5], rows[0], rows[0])
    expected = agree_on_csv(text, sizes=(1, 40, 200, 1 << 20))
    assert expected[3] == [
        "f.csv:38: duplicate point, first given at f.csv:2",
        "f.csv:39: duplicate point, first given at f.csv:7",
        "f.csv:40: duplicate point, first given at f.csv:2",
        "f.csv:41: duplicate point, first given at f.csv:2",
    ]


def test_more_problems_than_are_kept_are_counted_alike() -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rows = []
    for k in range(2 * MAX_KEPT_PROBLEMS + 300):
        moment = (start + dt.timedelta(minutes=5 * k)).isoformat()
        rows.append(f"{moment},bandwidth,CN,{'x' if k % 2 else k}")
        if k % 3 == 0:
            rows.append(f"{moment},bandwidth,CN,{k}")  # a duplicate of a good row, or not
    expected = agree_on_csv(csv_of(*rows), sizes=(500, 5000, 1 << 20))
    assert expected[0] == "raised"
    assert len(expected[3]) == MAX_KEPT_PROBLEMS
    assert expected[2].endswith(" more")


# -- files on disk -------------------------------------------------------------------------------

FILE_BYTES = [
    b"",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf" + csv_of(GOOD).encode(),
    ("\ufefftime, metric ,scope,value\r\n\r\n 2026-03-09T01:30:00+09:30 , bandwidth , CN , 7 "
     "\r\n,,,\r\n").encode(),
    csv_of(GOOD).encode() + "2026-03-09T00:05:00+08:00,bandwidth,CN,1 µ\n".encode("latin-1"),
    csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,1 µ").encode("latin-1"),
    csv_of(GOOD, *[GOOD.replace("00:00:00", f"00:{m:02d}:00") for m in range(5, 60, 5)]).encode()
    + b"\xff\n" + csv_of(GOOD).encode(),
    csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,1\u3000").encode(),
    csv_of(GOOD, "2026-03-09T00:05:00+08:00,bandwidth,CN,\u00b2").encode(),
    csv_of(GOOD, '"2026-03-09T00:05:00+08:00",bandwidth,CN,"1', "2").encode(),
    csv_of(GOOD, GOOD).encode(),
]  # fmt: skip


@pytest.mark.parametrize("name", ["f.csv", "f.csv.gz"])
@pytest.mark.parametrize("raw", FILE_BYTES)
def test_the_loaders_agree_on_files(raw: bytes, name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    agree_on_file(path)


def test_text_blocks_are_whole_lines_and_the_text_whole() -> None:
    text = "a,b\nccc\n\ndd\ne"
    for size in (1, 2, 3, 100):
        blocks = list(text_blocks(io.BytesIO(text.encode()), "f", size))
        assert "".join(blocks) == text
        assert all(block.endswith("\n") for block in blocks[:-1])
        assert "" not in blocks


# -- JSON ----------------------------------------------------------------------------------------


def _item(minute: int = 0, **changes: Any) -> dict[str, Any]:
    item = {"time": f"2026-03-09T00:{minute:02d}:00+08:00", "metric": "bandwidth",
            "scope": "CN", "value": 3}  # fmt: skip
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


BAD_ITEMS = [
    {**_item(), "unit": "Gbit/s"},
    _item(value=None),
    {"value": 1},
    _item(time="2026-03-09T00:05:00"),
    _item(time=1773014700),
    _item(time=["2026-03-09T00:05:00+08:00"]),
    _item(time="2026-03-09T00:07:00+08:00"),
    _item(time="9999-03-09T00:05:00+08:00"),
    _item(value="NaN"),
    _item(value=float("inf")),
    _item(value=-3),
    _item(value="three"),
    _item(value=True),
    _item(value=[1]),
    _item(value={"v": 1}),
    _item(value="1_000"),
    _item(value=25000),
    _item(metric="bytes"),
    _item(metric=None, scope=None, value=None, time=None),
    _item(metric=["bandwidth"]),
    _item(scope={"CN": 1}),
    _item(metric=1),
    _item(metric="concurrency", scope="CN"),
    _item(metric="concurrency", scope="snapshot", value=2.25),
    _item(5),  # a duplicate of the item at 00:05
    _item(value=10**400),  # too large for a float: "not a finite number"
    _item(time="soon", value=10**400),  # and here reports the time first
    [1, 2],
    "row",
    None,
]


@pytest.mark.parametrize("item", BAD_ITEMS, ids=repr)
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_the_loaders_agree_on_each_kind_of_bad_json_item(
    item: Any, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [_item(m) for m in range(0, 30, 5)] + [item] + [_item(m) for m in range(30, 60, 5)]
    assert agree_on_json(data, chunk, monkeypatch)[0] == "raised"
    assert agree_on_json({"points": data}, chunk, monkeypatch)[0] == "raised"


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_the_loaders_agree_on_good_json_and_odd_spellings(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [
        _item(0, value=1.5),
        _item(5, value="2.5"),
        _item(10, value=" 7 ", metric=" bandwidth ", scope="CN "),
        _item(15, value=-0.0),
        _item(20, metric="concurrency", scope="recording", value="1e3"),
        _item(25, metric="concurrency", scope="recording", value=12.0),
        _item(30, time="2026-03-08T16:30:00Z", scope="EU"),
        _item(35, value=10**20 // 10**16),
    ]
    assert agree_on_json(data, chunk, monkeypatch)[0] == "loaded"
    assert agree_on_json([], chunk, monkeypatch)[0] == "raised"
    text = json.dumps(data)
    assert outcome(parse_json, text, "f.json") == outcome(parse_json, text, "f.json", fast=False)


def test_the_loaders_agree_on_many_bad_json_items(monkeypatch: pytest.MonkeyPatch) -> None:
    data = [_item(m % 60, value=-m) for m in range(0, 1500 * 5, 5)]
    expected = agree_on_json(data, 100, monkeypatch)
    assert len(expected[3]) == MAX_KEPT_PROBLEMS


@pytest.mark.parametrize("name", ["f.json", "f.json.gz"])
def test_the_loaders_agree_on_json_files(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    raw = json.dumps([_item(0), _item(5, value="x"), _item(0)]).encode()
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    assert agree_on_file(path)[0] == "raised"


# -- generated files ------------------------------------------------------------------------------

_OFFSETS = ["+08:00", "Z", "-05:00", "+05:45", "+00:00", "-00:00", "+23:59", "-12:30"]


@st.composite
def time_texts(draw: st.DrawFn, years: tuple[int, int] = (2025, 2027)) -> str:
    """A time as files spell it: mostly on 5-minute boundaries in the usual form, sometimes not."""
    day = draw(st.dates(dt.date(years[0], 1, 1), dt.date(years[1], 12, 31)))
    minutes = draw(
        st.one_of(st.integers(0, 24 * 12 - 1).map(lambda k: 5 * k), st.integers(0, 1439))
    )
    offset = draw(st.sampled_from(_OFFSETS))
    hours, minute = divmod(minutes, 60)
    text = f"{day.isoformat()}T{hours:02d}:{minute:02d}:00{offset}"
    return draw(
        st.sampled_from([text, text, text, text.replace("T", " "), text.replace(":00+", "+", 1),
                         text.replace(":00", ":00.000", 1), text[:19], text.lower(), text[:-1]])
    )  # fmt: skip


def value_texts() -> st.SearchStrategy[str]:
    plain = st.floats(0, 30_000, allow_nan=False).map(lambda v: f"{v:.2f}")
    return st.one_of(
        plain,
        plain,
        st.integers(0, 99_999).map(str),
        st.floats(0, 30_000, allow_nan=False).map(repr),
        st.floats(allow_nan=True).map(repr),
        st.decimals(0, 10**16, places=4, allow_nan=False).map(str),
        st.sampled_from(["", ".", "5.", ".5", "1e3", "1_000", "-1", "-0", " 7 ", "1.2.3", "x"]),
    )


@st.composite
def csv_lines(draw: st.DrawFn, years: tuple[int, int] = (2025, 2027)) -> str:
    metric, scope = draw(
        st.one_of(st.sampled_from(SERIES_KEYS), st.sampled_from(SERIES_KEYS[:2]),
                  st.sampled_from([("bandwidth", "US"), ("latency", "CN"), ("Bandwidth", "CN")]))
    )  # fmt: skip
    fields = [draw(time_texts(years)), metric, scope, draw(value_texts())]
    line = ",".join(fields)
    spoil = draw(
        st.sampled_from(["none"] * 12 + ["spaces", "comma", "quote", "cr", "text", "blank"])
    )
    if spoil == "spaces":
        line = ",".join(f" {f}\t" for f in fields)
    elif spoil == "comma":
        line = line.replace(",", "", 1) if draw(st.booleans()) else line + ","
    elif spoil == "quote":
        line = ",".join(f'"{f}"' for f in fields) if draw(st.booleans()) else '"' + line
    elif spoil == "cr":
        line = line.replace(",", "\r,", 1)
    elif spoil == "text":
        line = draw(st.text(max_size=30))
    elif spoil == "blank":
        line = draw(st.sampled_from(["", " ", ",,,", " , ,\t, "]))
    return line


@settings(deadline=None, max_examples=300)
@given(
    st.lists(csv_lines(), max_size=40),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(1, 400),
)
def test_the_loaders_agree_on_generated_files(lines: list[str], end: str, size: int) -> None:
    text = end.join([HEADER, *lines]) + end
    agree_on_csv(text, sizes=(size,))


@st.composite
def good_files(draw: st.DrawFn) -> str:
    """Good rows only, each series' times distinct, spelt in any way datetime and float read."""
    points = draw(
        st.lists(st.tuples(st.integers(0, 20_000), st.sampled_from(SERIES_KEYS)),
                 unique=True, min_size=1, max_size=300)
    )  # fmt: skip
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rows = []
    for k, (metric, scope) in points:
        east = dt.timezone(dt.timedelta(minutes=draw(st.sampled_from([0, 480, -300, 345]))))
        stamp = (start + dt.timedelta(minutes=5 * k)).astimezone(east).isoformat()
        stamp = draw(st.sampled_from([stamp] * 8 + [stamp.replace("+00:00", "Z"), f" {stamp}"]))
        tasks = draw(st.integers(0, 10**6))
        amount = draw(st.floats(0, 20_000))
        value = draw(
            st.sampled_from([str(tasks), f"{tasks}.0", f"{tasks:e}"])
            if metric == "concurrency"
            else st.sampled_from(
                [f"{amount:.2f}", repr(amount), f"{amount:.4f}", str(tasks % 20_000)]
            )
        )
        rows.append(f"{stamp},{metric},{scope},{value}")
    return csv_of(*rows)


@settings(deadline=None, max_examples=150)
@given(good_files(), st.integers(30, 5000))
def test_the_loaders_agree_on_generated_good_files(text: str, size: int) -> None:
    assert agree_on_csv(text, sizes=(size,))[0] == "loaded"


@settings(deadline=None, max_examples=150)
@given(good_files(), st.lists(st.tuples(st.integers(1, 300), csv_lines()), max_size=4))
def test_the_loaders_agree_on_good_files_with_a_few_rows_spoilt(
    text: str, spoilt: list[tuple[int, str]]
) -> None:
    lines = text.splitlines()
    for where, line in spoilt:
        lines.insert(min(where, len(lines)), line)
    agree_on_csv("\n".join(lines) + "\n", sizes=(200, 3000))


def quoted(text: str) -> str:
    """Each field of each line in quotes, as some exports write."""
    return "".join(",".join(f'"{f}"' for f in line.split(",")) + "\n" for line in text.splitlines())


@settings(deadline=None, max_examples=100)
@given(
    good_files(),
    st.lists(st.tuples(st.integers(1, 300), csv_lines()), max_size=3),
    st.integers(1, 50),
)
def test_the_loaders_agree_on_quoted_files(
    text: str, spoilt: list[tuple[int, str]], batch: int
) -> None:
    lines = quoted(text).splitlines()
    for where, line in spoilt:
        lines.insert(min(where, len(lines)), line)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(traffic, "QUOTED_BATCH_ROWS", batch)
        agree_on_csv("\n".join(lines) + "\n", sizes=(200, 1 << 20))


@settings(deadline=None, max_examples=150)
@given(
    st.lists(
        st.tuples(st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)),
                  st.timedeltas(-ALMOST_A_DAY, ALMOST_A_DAY),
                  st.sampled_from(SERIES_KEYS)),
        min_size=1, max_size=60,
    ),
    st.integers(1, 2000),
)  # fmt: skip
def test_the_loaders_agree_on_times_all_through_the_calendar(
    points: list[tuple[dt.datetime, dt.timedelta, tuple[str, str]]], size: int
) -> None:
    """Any date and any offset, on the minute and often on a 5-minute boundary: read as
    datetime reads them, within ``ALL_DATES``."""
    rows = []
    for moment, east, (metric, scope) in points:
        local = moment.replace(second=0, microsecond=0, minute=moment.minute // 5 * 5)
        offset = dt.timedelta(minutes=east // dt.timedelta(minutes=1))
        stamp = local.replace(tzinfo=dt.timezone(offset)).isoformat()
        rows.append(f"{stamp},{metric},{scope},{moment.microsecond % 97}")
    agree_on_csv(csv_of(*rows), sizes=(size,), dates=ALL_DATES)


@settings(deadline=None, max_examples=100)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(SERIES_KEYS[:3]), value_texts()), max_size=40
    ),
    st.integers(1, 5),
)
def test_the_loaders_agree_on_generated_json(
    items: list[tuple[int, tuple[str, str], str]], chunk: int
) -> None:
    data: list[Any] = [
        {"time": f"2026-03-09T{k // 12:02d}:{k % 12 * 5:02d}:00+08:00", "metric": metric,
         "scope": scope, "value": float(value) if value.replace(".", "", 1).isdigit() else value}
        for k, (metric, scope), value in items
    ]  # fmt: skip
    with pytest.MonkeyPatch.context() as monkeypatch:
        agree_on_json(data, chunk, monkeypatch)


# -- speed and memory ----------------------------------------------------------------------------


def forecast_csv(
    points_per_series: int, spell: Callable[[dt.datetime], str] = dt.datetime.isoformat
) -> Iterator[str]:
    """Ten series at 5-minute points from 2026-03-01 (+08:00), interleaved, as exports write."""
    start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    yield HEADER + "\n"
    for k in range(points_per_series):
        moment = spell(start + dt.timedelta(minutes=5 * k))
        yield "".join(
            f"{moment},{metric},{scope},{k % 997 + 0.25 if metric == 'bandwidth' else k % 5000}\n"
            for metric, scope in SERIES_KEYS
        )


def east_west_and_z(moment: dt.datetime) -> str:
    """+08:00, -05:00 or Z, by turns."""
    turn = moment.minute // 5 % 3
    if turn == 2:
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return moment.astimezone(dt.timezone(dt.timedelta(hours=-5 if turn else 8))).isoformat()


def test_a_plain_file_is_read_as_columns_not_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offsets east and west, Z, CRLF line ends: all read by NumPy, none by datetime."""
    text = "".join(forecast_csv(3000, east_west_and_z)).replace("\n", "\r\n")
    assert "Z," in text
    assert "-05:00," in text
    expected = parse_csv(text, fast=False)
    called: list[object] = []
    monkeypatch.setattr(traffic, "_check_row", lambda *args: called.append(args))
    monkeypatch.setattr(traffic, "parse_point_time", lambda *args: called.append(args))
    loaded = parse_csv(text, block_chars=1 << 16)
    assert called == []
    assert sum(len(s.times) for s in loaded.series.values()) == 3000 * len(SERIES_KEYS)
    assert outcome(lambda: loaded) == outcome(lambda: expected)


def test_a_quoted_file_is_read_as_columns_too(monkeypatch: pytest.MonkeyPatch) -> None:
    text = quoted("".join(forecast_csv(300)))
    checked: list[object] = []
    monkeypatch.setattr(traffic, "_check_row", lambda row, checks: checked.append(row))
    monkeypatch.setattr(traffic, "QUOTED_BATCH_ROWS", 100)
    loaded = parse_csv(text)
    assert sum(len(s.times) for s in loaded.series.values()) == 300 * len(SERIES_KEYS)
    assert checked == []


def test_the_last_eight_bytes_of_a_series_name_tell_it_apart() -> None:
    """The column reader looks a series up by the last eight bytes of "metric,scope"."""
    names = [f"{metric},{scope}" for metric, scope in SERIES_KEYS]
    assert all(8 <= len(name) <= 24 for name in names)
    assert len({name[-8:] for name in names}) == len(names)


def test_a_big_file_is_never_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.writelines(forecast_csv(12_000))
    size = path.stat().st_size
    points = 12_000 * len(SERIES_KEYS)
    tracemalloc.start()
    try:
        loaded = load_file(path, read_bytes=1 << 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(len(s.times) for s in loaded.series.values()) == points
    # The text is 47 bytes a point; what is held is 24 bytes a point (time, value, row) and
    # a block or two.
    assert peak < 30 * points + 16 * (1 << 16), (peak, size)
    assert peak < 0.7 * size
