"""The latest plan applied, as both stores keep it: the moment it was made, in microseconds
since the epoch (an integer compares exactly, whatever the offset the moment was given in)."""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# DynamoDB keeps the marker as an item of the requests table, under an id no request can have
# (request ids start with a rule name); list_requests leaves it out.
LATEST_PLAN_ID = "#latest-plan"


def plan_moment(planned_at: dt.datetime) -> int:
    return (planned_at - EPOCH) // dt.timedelta(microseconds=1)
