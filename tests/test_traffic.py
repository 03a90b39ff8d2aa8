"""Traffic parsing (docs/data-formats.md#traffic-csv): every bad row is named, and nothing is
half-loaded."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
from builders import UTC, csv_text, epoch, local, series_from
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.traffic_files import load_file, load_files
from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import DEFAULT_BANDWIDTH_CEILING_GBPS
from chalicelib.domain.traffic import (
    MAX_REPORTED_ERRORS,
    Series,
    TrafficError,
    TrafficSet,
    overlay,
    sparse_series,
)
from chalicelib.domain.traffic_parsing import parse_csv, parse_json, parse_rows

# 2026-03-09 00:00 in Shanghai is 2026-03-08 16:00 UTC.
MIDNIGHT = int(dt.datetime(2026, 3, 8, 16, 0, tzinfo=UTC).timestamp())
GOOD = ("2026-03-09T00:00:00+08:00", "bandwidth", "CN", "12.5")


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "time": "2026-03-09T00:05:00+08:00",
        "metric": "bandwidth",
        "scope": "CN",
        "value": 3,
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def problems_of(excinfo: pytest.ExceptionInfo[TrafficError]) -> list[str]:
    return excinfo.value.problems


# -- valid input -------------------------------------------------------------------------------


def test_csv_loads_sorted_numpy_series_per_metric_and_scope() -> None:
    text = csv_text(
        ("2026-03-09T00:10:00+08:00", "bandwidth", "CN", "30"),
        ("2026-03-08T16:00:00Z", "bandwidth", "CN", "10"),  # the same instant as 00:00+08:00
        ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", "20.25"),
        ("2026-03-09T00:00:00+08:00", "bandwidth", "AP1", "1e1"),
        ("2026-03-09T00:00:00+08:00", "concurrency", "transcoding", "9000"),
    )
    result = parse_csv(text, source="t.csv")

    assert sorted(result.series) == [
        ("bandwidth", "AP1"),
        ("bandwidth", "CN"),
        ("concurrency", "transcoding"),
    ]
    cn = result.series[("bandwidth", "CN")]
    assert cn.times.dtype == np.int64
    assert cn.values.dtype == np.float64
    assert cn.times.tolist() == [MIDNIGHT, MIDNIGHT + 300, MIDNIGHT + 600]
    assert cn.values.tolist() == [10.0, 20.25, 30.0]
    assert cn.unit == "Gbit/s"
    assert result.series[("bandwidth", "AP1")].values.tolist() == [10.0]
    assert result.series[("concurrency", "transcoding")].unit == "tasks"
    assert [s.scope for s in result.of_metric("bandwidth")] == ["AP1", "CN"]
    assert len(result) == 3


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_csv_file_tolerates_bom_spaces_blank_lines_and_other_offsets(
    tmp_path: Path, name: str
) -> None:
    # As Excel saves "CSV UTF-8": a byte order mark, CRLF line ends.
    text = (
        "\ufefftime, metric ,scope,value\r\n"
        "\r\n"
        " 2026-03-09T01:30:00+09:30 , bandwidth , CN , 7 \r\n"  # 2026-03-09 00:00 CST
        ",,,\r\n"
    )
    raw = text.encode()
    assert raw.startswith(b"\xef\xbb\xbftime,")
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)

    result = load_file(path)
    assert list(result.series) == [("bandwidth", "CN")]
    cn = result.series[("bandwidth", "CN")]
    assert cn.times.tolist() == [MIDNIGHT]
    assert cn.values.tolist() == [7.0]


def test_json_rows_as_a_list_or_an_object_with_points() -> None:
    rows = [
        {"time": "2026-03-09T00:05:00+08:00", "metric": "bandwidth", "scope": "EU", "value": 2},
        {"time": "2026-03-09T00:00:00+08:00", "metric": "bandwidth", "scope": "EU", "value": 1.5},
    ]
    for data in (rows, {"points": rows}):
        eu = parse_rows(data, source="t.json").series[("bandwidth", "EU")]
        assert eu.times.tolist() == [MIDNIGHT, MIDNIGHT + 300]
        assert eu.values.tolist() == [1.5, 2.0]
    assert parse_json(json.dumps(rows)).series.keys() == {("bandwidth", "EU")}


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.json", "t.json.gz"])
def test_load_file_reads_csv_json_and_their_gzip(tmp_path: Path, name: str) -> None:
    if ".json" in name:
        text = json.dumps([dict(zip(("time", "metric", "scope", "value"), GOOD, strict=True))])
    else:
        text = csv_text(GOOD)
    raw = text.encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)

    cn = load_file(path).series[("bandwidth", "CN")]
    assert cn.times.tolist() == [MIDNIGHT]
    assert cn.values.tolist() == [12.5]


def test_later_files_override_earlier_ones_point_by_point(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    old.write_text(
        csv_text(
            ("2026-03-09T00:00:00+08:00", "bandwidth", "CN", 1),
            ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", 2),
            ("2026-03-09T00:00:00+08:00", "bandwidth", "AP1", 5),
        )
    )
    new = tmp_path / "new.json.gz"
    new_points = [
        _row(time="2026-03-09T00:05:00+08:00", value=20),
        _row(time="2026-03-09T00:10:00+08:00", value=30),
        _row(time="2026-03-09T00:00:00+08:00", metric="concurrency", scope="recording", value=4),
    ]
    new.write_bytes(gzip.compress(json.dumps(new_points).encode()))

    merged = load_files([old, new])
    cn = merged.series[("bandwidth", "CN")]
    assert cn.times.tolist() == [MIDNIGHT, MIDNIGHT + 300, MIDNIGHT + 600]
    assert cn.values.tolist() == [1.0, 20.0, 30.0]
    assert merged.series[("bandwidth", "AP1")].values.tolist() == [5.0]
    assert merged.series[("concurrency", "recording")].values.tolist() == [4.0]

    reversed_order = load_files([new, old]).series[("bandwidth", "CN")]
    assert reversed_order.values.tolist() == [1.0, 2.0, 30.0]
    assert len(load_files([])) == 0


def test_series_covers_is_half_open() -> None:
    s = series_from("bandwidth", "CN", {local(2026, 3, 9, 10): 1.0, local(2026, 3, 9, 10, 5): 2.0})
    assert s.covers(local(2026, 3, 9, 10, 5), local(2026, 3, 9, 10, 10))
    assert s.covers(local(2026, 3, 9, 9), local(2026, 3, 9, 10, 0, 1))
    assert s.covers(local(2026, 3, 9, 2, 0).astimezone(UTC), local(2026, 3, 9, 23).astimezone(UTC))
    assert not s.covers(local(2026, 3, 9, 9, 55), local(2026, 3, 9, 10))  # end is excluded
    assert not s.covers(local(2026, 3, 9, 10, 10), local(2026, 3, 9, 12))
    assert not s.covers(local(2026, 3, 9, 10, 6), local(2026, 3, 9, 10, 9))


# -- bad CSV rows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2026-03-09T00:05:00+08:00,bandwidth,CN", "expected 4 columns, got 3"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,1,extra", "expected 4 columns, got 5"),
        ("2026-03-09T00:05:00,bandwidth,CN,1", "time '2026-03-09T00:05:00' has no UTC offset"),
        ("2026-03-09,bandwidth,CN,1", "time '2026-03-09' has no UTC offset"),
        ("09/03/2026 00:05,bandwidth,CN,1", "time '09/03/2026 00:05' is not ISO 8601"),
        ("tomorrow,bandwidth,CN,1", "time 'tomorrow' is not ISO 8601"),
        (
            "2026-03-09T00:02:00+08:00,bandwidth,CN,1",
            "time '2026-03-09T00:02:00+08:00' is not on a 5-minute boundary",
        ),
        (
            "2026-03-09T00:05:30+08:00,bandwidth,CN,1",
            "time '2026-03-09T00:05:30+08:00' is not on a 5-minute boundary",
        ),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,nan", "value 'nan' is not a finite number"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,NaN", "value 'NaN' is not a finite number"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,inf", "value 'inf' is not a finite number"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,-Infinity", "not a finite number"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,-0.5", "value '-0.5' is negative"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,12 Gbps", "value '12 Gbps' is not a number"),
        ("2026-03-09T00:05:00+08:00,bandwidth,CN,", "value '' is not a number"),
        (
            "2026-03-09T00:05:00+08:00,latency,CN,1",
            "unknown metric 'latency'; expected bandwidth or concurrency",
        ),
        (
            "2026-03-09T00:05:00+08:00,concurrency,CN,1",
            "unknown scope 'CN' for concurrency; expected one of recording, snapshot, transcoding",
        ),
        ("2026-03-09T00:05:00+08:00,bandwidth,transcoding,1", "unknown scope 'transcoding'"),
        ("2026-03-09T00:05:00+08:00,bandwidth,US,1", "unknown scope 'US' for bandwidth"),
        ("2026-03-09T00:05:00+08:00,bandwidth,vas-total,1", "unknown scope 'vas-total'"),
    ],
)
def test_a_bad_csv_row_is_rejected_naming_source_line_and_reason(line: str, reason: str) -> None:
    text = csv_text(GOOD, line)  # header on line 1, good row on 2, the bad one on 3
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="day.csv")
    [problem] = problems_of(excinfo)
    assert problem.startswith("day.csv:3: ")
    assert reason in problem
    assert str(excinfo.value) == problem
    assert isinstance(excinfo.value, InputError)


@pytest.mark.parametrize(
    "header",
    ["time,metric,scope", "time,scope,metric,value", "Time,Metric,Scope,Value", "a,b,c,d"],
)
def test_a_wrong_header_is_rejected_on_line_1(header: str) -> None:
    text = header + "\n" + ",".join(GOOD) + "\n"
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="day.csv")
    assert problems_of(excinfo) == [
        f"day.csv:1: header must be time,metric,scope,value, got {header}"
    ]


def test_a_duplicate_point_names_the_line_that_first_gave_it() -> None:
    text = csv_text(
        GOOD,
        ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", 1),
        ("2026-03-08T16:00:00+00:00", "bandwidth", "CN", 99),  # GOOD's instant, written in UTC
        ("2026-03-09T00:00:00+08:00", "bandwidth", "AP1", 1),  # another scope: not a duplicate
    )
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="day.csv")
    assert problems_of(excinfo) == ["day.csv:4: duplicate point, first given at day.csv:2"]


def test_an_empty_file_and_a_file_without_rows_are_rejected() -> None:
    with pytest.raises(TrafficError) as excinfo:
        parse_csv("", source="empty.csv")
    assert problems_of(excinfo) == [
        "empty.csv: empty file; expected the header time,metric,scope,value"
    ]
    with pytest.raises(TrafficError) as excinfo:
        parse_csv("time,metric,scope,value\n\n", source="header.csv")
    assert problems_of(excinfo) == ["header.csv: no data points"]


@pytest.mark.parametrize("text", ["\r0", csv_text(GOOD).rstrip("\n") + "\r0\n"])
def test_a_stray_carriage_return_is_an_input_error_not_a_crash(text: str) -> None:
    # Found by test_fuzz_api: the body '\r0' made POST /forecasts answer 500.
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="upload")
    [problem] = problems_of(excinfo)
    assert problem.startswith("upload:")
    assert "not valid CSV: new-line character seen in unquoted field" in problem


def test_every_bad_row_is_reported_and_nothing_is_returned() -> None:
    text = csv_text(
        GOOD,  # line 2
        ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", -1),  # 3
        ("2026-03-09T00:10:00+08:00", "bandwidth", "CN", 1),  # 4
        "",  # 5, blank: skipped but counted
        ("2026-03-09T00:15:00", "bandwidth", "CN", 1),  # 6
        ("2026-03-09T00:20:00+08:00", "bandwidth", "XX", 1),  # 7
    )
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="day.csv")
    assert problems_of(excinfo) == [
        "day.csv:3: value '-1' is negative",
        "day.csv:6: time '2026-03-09T00:15:00' has no UTC offset",
        "day.csv:7: unknown scope 'XX' for bandwidth; expected one of AP1, AP2, AP3, CN, EU, "
        "MEAA, SA",
    ]
    assert str(excinfo.value) == "; ".join(problems_of(excinfo))


def test_the_message_lists_the_first_problems_and_counts_the_rest() -> None:
    bad = [(f"2026-03-09T00:{m:02d}:00+08:00", "bandwidth", "CN", "x") for m in range(0, 60, 5)]
    text = csv_text(*bad, *[(t.replace("00:", "01:", 1), *rest) for t, *rest in bad])
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="day.csv")
    assert len(problems_of(excinfo)) == 24
    assert str(excinfo.value).endswith(f"; and {24 - MAX_REPORTED_ERRORS} more")
    assert str(excinfo.value).count("is not a number") == MAX_REPORTED_ERRORS


def test_a_bad_second_file_fails_the_whole_load(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(csv_text(GOOD))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(("2026-03-09T00:05:00+08:00", "bandwidth", "CN", "inf")))
    with pytest.raises(TrafficError) as excinfo:
        load_files([good, bad])
    assert problems_of(excinfo) == [f"{bad}:2: value 'inf' is not a finite number"]


# -- bad JSON rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**_row(), "unit": "Gbit/s"}, "unknown field(s) unit"),
        ({**_row(), "_columns": 1}, "unknown field(s) _columns"),
        ({"time": "2026-03-09T00:05:00+08:00", "metric": "bandwidth", "scope": "CN"},
         "missing field(s) value"),
        ({"value": 1}, "missing field(s) time, metric, scope"),
        (_row(time="2026-03-09T00:05:00"), "has no UTC offset"),
        (_row(time="not a time"), "time 'not a time' is not ISO 8601"),
        (_row(time=1773014700), "time must be an ISO 8601 string, got 1773014700"),
        (_row(time="2026-03-09T00:07:00+08:00"), "not on a 5-minute boundary"),
        (_row(value="NaN"), "value 'NaN' is not a finite number"),
        (_row(value=-3), "value -3 is negative"),
        (_row(value="three"), "value 'three' is not a number"),
        (_row(value=True), "value must be a number, got True"),
        (_row(value=[1]), "value [1] is not a number"),
        (_row(metric="bytes"), "unknown metric 'bytes'"),
        (_row(metric="concurrency", scope="CN"), "unknown scope 'CN' for concurrency"),
        (_row(metric="concurrency", scope="vas-total"), "unknown scope 'vas-total'"),
        ([1, 2], "expected an object with time, metric, scope and value"),
        ("row", "expected an object with time, metric, scope and value"),
    ],
)  # fmt: skip
def test_a_bad_json_item_is_rejected_naming_source_item_and_reason(
    item: object, reason: str
) -> None:
    good = _row(time="2026-03-09T00:00:00+08:00")
    with pytest.raises(TrafficError) as excinfo:
        parse_rows([good, item], source="day.json")
    [problem] = problems_of(excinfo)
    assert problem.startswith("day.json: item 1: ")
    assert reason in problem


def test_json_nan_literal_is_rejected() -> None:
    text = '[{"time": "2026-03-09T00:00:00+08:00", "metric": "bandwidth", "scope": "CN", '
    text += '"value": NaN}]'
    with pytest.raises(TrafficError) as excinfo:
        parse_json(text, source="day.json")
    assert problems_of(excinfo) == ["day.json: item 0: value nan is not a finite number"]


def test_json_duplicates_and_several_bad_items() -> None:
    data = [
        _row(),
        _row(value=-1),
        _row(),
        _row(scope="Mars"),
    ]
    with pytest.raises(TrafficError) as excinfo:
        parse_rows(data, source="day.json")
    assert problems_of(excinfo)[0] == "day.json: item 1: value -1 is negative"
    assert (
        problems_of(excinfo)[1]
        == "day.json: item 2: duplicate point, first given at day.json: item 0"
    )
    assert problems_of(excinfo)[2].startswith(
        "day.json: item 3: unknown scope 'Mars' for bandwidth"
    )
    assert len(problems_of(excinfo)) == 3


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "day.json: no data points"),
        ('{"points": []}', "day.json: no data points"),
        ('{"rows": []}', "day.json: expected a list of points or an object with 'points'"),
        ("42", "day.json: expected a list of points or an object with 'points'"),
        ('[\n  {"time": 1,\n}', "day.json:3: not valid JSON: Expecting property name"),
        ("", "day.json:1: not valid JSON: Expecting value"),
    ],
)
def test_json_documents_that_hold_no_points_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(TrafficError) as excinfo:
        parse_json(text, source="day.json")
    [reported] = problems_of(excinfo)
    assert reported.startswith(problem)


# -- bad files ---------------------------------------------------------------------------------


def test_unreadable_corrupt_and_non_utf8_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.csv: cannot read"):
        load_file(tmp_path / "missing.csv")

    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(b"this is not gzip")
    with pytest.raises(TrafficError, match=r"corrupt\.csv\.gz: not a valid gzip file"):
        load_file(corrupt)

    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(gzip.compress(csv_text(GOOD).encode())[:-12])
    with pytest.raises(TrafficError, match=r"truncated\.csv\.gz: not a valid gzip file"):
        load_file(truncated)

    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        csv_text(GOOD).encode() + "2026-03-09T00:05:00+08:00,bandwidth,CN,1 µ\n".encode("latin-1")
    )
    with pytest.raises(TrafficError) as excinfo:
        load_file(latin)
    assert problems_of(excinfo) == [f"{latin}:3: not UTF-8 text"]

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(TrafficError, match=r"empty\.csv: empty file"):
        load_file(empty)

    empty_json = tmp_path / "empty.json"
    empty_json.write_bytes(b"")
    with pytest.raises(TrafficError, match=r"empty\.json:1: not valid JSON"):
        load_file(empty_json)


# -- properties --------------------------------------------------------------------------------

_VALUES = st.floats(
    min_value=0, max_value=DEFAULT_BANDWIDTH_CEILING_GBPS, allow_nan=False, allow_infinity=False
)


_OFFSETS = {  # how a row writes its offset, and the offset
    "+08:00": dt.timedelta(hours=8),
    "Z": dt.timedelta(0),
    "-05:00": dt.timedelta(hours=-5),
    "+05:45": dt.timedelta(hours=5, minutes=45),
}


@settings(deadline=None, max_examples=60)
@given(
    st.dictionaries(
        st.integers(0, 3000),
        st.tuples(_VALUES, st.sampled_from(sorted(_OFFSETS))),
        min_size=2,
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_csv_round_trips_points_in_any_order_and_offset(
    by_step: dict[int, tuple[float, str]], rnd: random.Random
) -> None:
    """Each row in an offset of its own, the rows shuffled: the series comes back in time order,
    each point at its instant. A parser that took one offset for the whole file, or ordered the
    rows by their text, would not give these times."""
    start = local(2026, 3, 1)
    rows = []
    for k, (value, offset) in by_step.items():
        wall = (start + dt.timedelta(minutes=5 * k)).astimezone(dt.timezone(_OFFSETS[offset]))
        rows.append(
            (wall.replace(tzinfo=None).isoformat() + offset, "bandwidth", "SA", repr(value))
        )
    rnd.shuffle(rows)
    result = parse_csv(csv_text(*rows))
    assert list(result.series) == [("bandwidth", "SA")]
    sa = result.series[("bandwidth", "SA")]
    expected = sorted(by_step.items())
    assert sa.times.tolist() == [epoch(start) + 300 * k for k, _ in expected]
    assert sa.values.tolist() == [value for _, (value, _) in expected]


# -- plausibility: the bandwidth ceiling, whole task counts, sparse series ---------------------

MBITS = "upload:{line}: bandwidth {value} Gbit/s is above the ceiling of {ceiling} Gbit/s "
MBITS += "(bandwidth_ceiling_gbps); was it given in Mbit/s?"


def test_bandwidth_above_the_ceiling_is_refused_with_a_hint_about_mbits() -> None:
    assert DEFAULT_BANDWIDTH_CEILING_GBPS == 20_000
    text = csv_text(
        GOOD,
        ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", "20000"),  # at the ceiling: kept
        ("2026-03-09T00:10:00+08:00", "bandwidth", "CN", "25000"),
        ("2026-03-09T00:15:00+08:00", "bandwidth", "AP1", "3.2e4"),
        ("2026-03-09T00:15:00+08:00", "concurrency", "transcoding", "25000"),  # tasks: no ceiling
    )
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="upload")
    assert problems_of(excinfo) == [
        MBITS.format(line=4, value="25000.0", ceiling="20000"),
        MBITS.format(line=5, value="32000.0", ceiling="20000"),
    ]
    assert parse_csv(csv_text(GOOD, text.splitlines()[2], text.splitlines()[5]))


def test_the_ceiling_is_a_parameter_of_every_parser() -> None:
    text = csv_text(GOOD, ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", "150"))
    assert parse_csv(text, source="upload")  # under the default ceiling
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="upload", bandwidth_ceiling_gbps=100)
    assert problems_of(excinfo) == [MBITS.format(line=3, value="150.0", ceiling="100")]

    rows = [_row(time="2026-03-09T00:00:00+08:00"), _row(value=150)]
    for parse in (
        lambda c: parse_rows(rows, source="day.json", bandwidth_ceiling_gbps=c),
        lambda c: parse_json(json.dumps(rows), source="day.json", bandwidth_ceiling_gbps=c),
    ):
        assert parse(150.0)
        with pytest.raises(TrafficError) as excinfo:
            parse(99.5)
        assert problems_of(excinfo) == [
            "day.json: item 1: bandwidth 150.0 Gbit/s is above the ceiling of 99.5 Gbit/s "
            "(bandwidth_ceiling_gbps); was it given in Mbit/s?"
        ]


@pytest.mark.parametrize("name", ["t.csv", "t.json.gz"])
def test_load_file_and_load_files_pass_the_ceiling_on(tmp_path: Path, name: str) -> None:
    high = ("2026-03-09T00:00:00+08:00", "bandwidth", "CN", "500")
    if ".json" in name:
        text = json.dumps([dict(zip(("time", "metric", "scope", "value"), high, strict=True))])
    else:
        text = csv_text(high)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    assert load_file(path)
    assert load_files([path])
    for load in (load_file, lambda p, **kw: load_files([p], **kw)):
        with pytest.raises(TrafficError, match=r"above the ceiling of 400 Gbit/s") as excinfo:
            load(path, bandwidth_ceiling_gbps=400)
        assert problems_of(excinfo)[0].startswith(f"{path}")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12.5", "concurrency 12.5 is not a whole number of tasks"),
        ("0.001", "concurrency 0.001 is not a whole number of tasks"),
        ("1e-3", "concurrency 0.001 is not a whole number of tasks"),
        ("-3", "value '-3' is negative"),
        ("-0.5", "value '-0.5' is negative"),
    ],
)
def test_concurrency_must_be_a_whole_number_of_tasks(value: str, reason: str) -> None:
    good = ("2026-03-09T00:00:00+08:00", "concurrency", "recording", "12")
    text = csv_text(good, ("2026-03-09T00:05:00+08:00", "concurrency", "recording", value))
    with pytest.raises(TrafficError) as excinfo:
        parse_csv(text, source="vas.csv")
    assert problems_of(excinfo) == [f"vas.csv:3: {reason}"]


def test_whole_concurrency_in_any_notation_and_fractional_bandwidth_load() -> None:
    rows = [
        _row(metric="concurrency", scope="snapshot", value=12.0),
        _row(metric="concurrency", scope="snapshot", value="1e3", time="2026-03-09T00:10:00Z"),
        _row(metric="concurrency", scope="snapshot", value=0, time="2026-03-09T00:15:00Z"),
        _row(value=12.5),  # bandwidth may be fractional
    ]
    result = parse_rows(rows)
    assert result.series[("concurrency", "snapshot")].values.tolist() == [12.0, 1000.0, 0.0]
    with pytest.raises(TrafficError) as excinfo:
        parse_rows([_row(metric="concurrency", scope="snapshot", value=2.25)], source="v.json")
    assert problems_of(excinfo) == [
        "v.json: item 0: concurrency 2.25 is not a whole number of tasks"
    ]


def _hourly_csv(scope: str, hours: int) -> list[tuple[object, ...]]:
    start = local(2026, 3, 9)
    return [
        ((start + dt.timedelta(hours=h)).isoformat(), "bandwidth", scope, 10 + h)
        for h in range(hours)
    ]


def test_an_hourly_series_loads_and_is_listed_as_sparse() -> None:
    five_minutes = [
        ((local(2026, 3, 9) + dt.timedelta(minutes=5 * k)).isoformat(), "bandwidth", "CN", 1)
        for k in range(48)
        if k not in (7, 8, 9, 20, 30, 31)  # a few gaps do not make a series sparse
    ]
    vas = [  # one point: too few to judge
        ("2026-03-09T00:00:00+08:00", "concurrency", "transcoding", 5),
    ]
    traffic = parse_csv(csv_text(*_hourly_csv("EU", 24), *five_minutes, *vas))
    assert traffic.series[("bandwidth", "EU")].values.tolist()[:2] == [10.0, 11.0]
    assert sparse_series(traffic) == [("bandwidth", "EU", 3600)]


def test_sparse_series_judges_the_typical_gap_per_series() -> None:
    start = local(2026, 3, 9)

    def at(*minutes: int) -> dict[dt.datetime, float]:
        return {start + dt.timedelta(minutes=m): 1.0 for m in minutes}

    traffic = TrafficSet(
        {
            ("bandwidth", "AP2"): series_from("bandwidth", "AP2", at(0, 60)),  # two points
            ("bandwidth", "SA"): series_from("bandwidth", "SA", at(0, 15, 30, 45, 60)),
            ("bandwidth", "CN"): series_from("bandwidth", "CN", at(0, 5, 10, 15, 600, 1200)),
            ("bandwidth", "EU"): series_from("bandwidth", "EU", at(0, 5, 10, 70, 130)),
            ("concurrency", "recording"): series_from("concurrency", "recording", at(0, 1440)),
            ("concurrency", "snapshot"): series_from("concurrency", "snapshot", at(30)),
        }
    )
    # CN: 5-minute points with two long gaps; EU: as many 1-hour gaps as 5-minute ones.
    assert sparse_series(traffic) == [
        ("bandwidth", "AP2", 3600),
        ("bandwidth", "EU", 1950),
        ("bandwidth", "SA", 900),
        ("concurrency", "recording", 86400),
    ]
    assert sparse_series(TrafficSet()) == []


# -- plausibility at each entry point -----------------------------------------------------------

LOW_CEILING = "bandwidth_ceiling_gbps = 100\n"
HIGH_ROW = ("2026-03-09T00:00:00+08:00", "bandwidth", "CN", "150")


def _policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(LOW_CEILING)
    return path


def test_the_cli_plan_refuses_bandwidth_above_the_policy_ceiling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.entry import cli

    traffic = tmp_path / "high.csv"
    traffic.write_text(csv_text(HIGH_ROW))
    now = ["--now", "2026-03-01T09:00:00+08:00", "--format", "json"]
    assert cli.main(["plan", "--traffic", str(traffic), *now]) == 0
    capsys.readouterr()
    args = ["plan", "--traffic", str(traffic), "--policy", str(_policy_file(tmp_path)), *now]
    assert cli.main(args) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err == (
        f"burst-assurance: error: {traffic}:2: bandwidth 150.0 Gbit/s is above the ceiling "
        "of 100 Gbit/s (bandwidth_ceiling_gbps); was it given in Mbit/s?\n"
    )


def test_the_file_traffic_source_uses_the_policy_ceiling(tmp_path: Path) -> None:
    from chalicelib.config.bootstrap import build_runtime
    from chalicelib.config.settings import Settings

    traffic = tmp_path / "high.csv"
    traffic.write_text(csv_text(HIGH_ROW))
    settings = Settings(data_dir=tmp_path / "data", traffic=(str(traffic),))
    assert build_runtime(settings).source.load()
    strict = build_runtime(settings.model_copy(update={"policy_file": _policy_file(tmp_path)}))
    assert strict.policy.bandwidth_ceiling_gbps == 100
    with pytest.raises(TrafficError, match=r"high\.csv:2: .* above the ceiling of 100 Gbit/s"):
        strict.source.load()


class _S3:
    """Just what ingest_object asks of an S3 client."""

    def __init__(self, body: bytes) -> None:
        self.data = body

    def head_object(self, Bucket: str, Key: str) -> dict[str, int]:
        return {"ContentLength": len(self.data)}

    def get_object(self, Bucket: str, Key: str) -> dict[str, object]:
        import io

        return {"Body": io.BytesIO(self.data)}


def test_the_s3_drop_uses_the_policy_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from chalicelib.adapters import aws
    from chalicelib.config import bootstrap
    from chalicelib.entry import schedules

    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BURST_ASSURANCE_POLICY_FILE", str(_policy_file(tmp_path)))
    monkeypatch.setattr(aws, "client", lambda service: _S3(csv_text(HIGH_ROW).encode()))
    bootstrap.reset()
    try:
        result = schedules.forecast_drop("bucket", "forecasts/high.csv", logging.getLogger("t"))
    finally:
        bootstrap.reset()
    assert result == {
        "stored": False,
        "reason": "s3://bucket/forecasts/high.csv:2: bandwidth 150.0 Gbit/s is above the "
        "ceiling of 100 Gbit/s (bandwidth_ceiling_gbps); was it given in Mbit/s?",
    }


def test_the_api_upload_uses_the_policy_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalice.test import Client

    import app as application
    from chalicelib.config import bootstrap

    monkeypatch.setenv("BURST_ASSURANCE_API_TOKEN", "token")
    monkeypatch.setenv("BURST_ASSURANCE_TRAFFIC_SOURCE", "store")
    monkeypatch.setenv("BURST_ASSURANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BURST_ASSURANCE_POLICY_FILE", str(_policy_file(tmp_path)))
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text('{"version": "2.0", "app_name": "t"}')
    bootstrap.reset()
    auth = {"Authorization": "Bearer token"}
    try:
        with Client(application.app, project_dir=str(tmp_path)) as client:
            csv_response = client.http.post(
                "/forecasts",
                headers={**auth, "Content-Type": "text/csv"},
                body=csv_text(
                    GOOD,
                    ("2026-03-09T00:05:00+08:00", "bandwidth", "CN", 25),
                    ("2026-03-09T00:10:00+08:00", "bandwidth", "CN", 150),
                ).encode(),
            )
            json_response = client.http.post(
                "/forecasts",
                headers={**auth, "Content-Type": "application/json"},
                body=json.dumps([_row(value=150)]).encode(),
            )
    finally:
        bootstrap.reset()
    assert csv_response.status_code == 400
    assert json.loads(csv_response.body)["error"]["message"] == (
        "upload:4: bandwidth 150.0 Gbit/s is above the ceiling of 100 Gbit/s "
        "(bandwidth_ceiling_gbps); was it given in Mbit/s?"
    )
    assert json_response.status_code == 400
    assert (
        "upload: item 0: bandwidth 150.0 Gbit/s"
        in json.loads(json_response.body)["error"]["message"]
    )


@pytest.mark.parametrize("value", ["1_000", "10_0.5"])
def test_a_digit_separator_is_refused_not_read_as_a_number(value: str) -> None:
    with pytest.raises(TrafficError) as excinfo:
        parse_rows([_row(value=value)], source="f.json")
    assert problems_of(excinfo) == [
        f"f.json: item 0: value {value!r} has a digit separator; write plain digits like 1000"
    ]


def test_a_json_integer_past_any_float_is_refused_as_not_finite() -> None:
    # float(10**400) raises OverflowError, which used to escape as a 500.
    with pytest.raises(TrafficError, match=r"item 0: value 1000+ is not a finite number"):
        parse_rows([_row(value=10**400)], "upload")


_STEPS = st.sets(st.integers(0, 60), max_size=40).map(sorted)


@given(_STEPS, _STEPS)
def test_overlay_keeps_every_point_and_the_newer_value_where_both_have_one(
    old_steps: list[int], new_steps: list[int]
) -> None:
    def series(steps: list[int], value: float) -> Series:
        times = np.array(steps, dtype=np.int64) * 300
        return Series("bandwidth", "CN", times, np.full(len(steps), value) + times / 1e6)

    old, new = series(old_steps, 1.0), series(new_steps, 2.0)
    expected = dict(zip(old.times.tolist(), old.values.tolist(), strict=True))
    expected.update(zip(new.times.tolist(), new.values.tolist(), strict=True))
    merged = overlay(old, new)
    assert merged.times.tolist() == sorted(expected)
    assert merged.values.tolist() == [expected[t] for t in sorted(expected)]
