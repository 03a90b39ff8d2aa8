"""The clock. Entry points read it here and pass ``now`` inwards; nothing deeper reads it."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
