"""The latest plan applied, as both stores keep it: the moment it was made, in microseconds
since the epoch (an integer compares exactly, whatever the offset the moment was given in), and
the mark of the cycle that made it (chalicelib.workflows.ports.CycleMark), packed small."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import zlib

from chalicelib.workflows.ports import CycleMark

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# DynamoDB keeps the marker as an item of the requests table, under an id no request can have
# (request ids start with a rule name); list_requests leaves it out.
LATEST_PLAN_ID = "#latest-plan"
MARK_FORMAT = 1  # a mark packed otherwise is not read: the next cycle plans, and packs anew


def plan_moment(planned_at: dt.datetime) -> int:
    return (planned_at - EPOCH) // dt.timedelta(microseconds=1)


def moment_at(microseconds: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=microseconds)


def pack_mark(mark: CycleMark) -> bytes:
    """The burst ends as differences from one to the next: small numbers, which compress well."""
    ends = list(mark.ends)
    document = {
        "format": MARK_FORMAT,
        "planned_at": plan_moment(mark.planned_at),
        "inputs": mark.inputs,
        "steady_until": plan_moment(mark.steady_until) if mark.steady_until else None,
        "ends": [b - a for a, b in zip([0, *ends], ends, strict=False)],
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def unpack_mark(packed: bytes) -> CycleMark | None:
    document = json.loads(zlib.decompress(packed))
    if document.get("format") != MARK_FORMAT:
        return None
    steady_until = document["steady_until"]
    return CycleMark(
        planned_at=moment_at(document["planned_at"]),
        inputs=document["inputs"],
        steady_until=moment_at(steady_until) if steady_until is not None else None,
        ends=tuple(itertools.accumulate(document["ends"])),
    )
