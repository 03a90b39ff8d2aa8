"""The one retry loop for conditional writes that lose a race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib.domain.errors import Conflict, Refused

MAX_ATTEMPTS = 8

T = TypeVar("T")


def retry_on_conflict(attempt: Callable[[], T], what: str, attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``attempt`` until it finishes without raising Conflict. Each attempt must re-read
    what it writes, so that a retry decides on fresh data. A Refused change is final."""
    for _ in range(attempts):
        try:
            return attempt()
        except Refused:
            raise
        except Conflict:
            continue
    raise Conflict(f"gave up after {attempts} attempts: {what} kept changing underneath")
