"""A holidays.China that does not yet know a year's published arrangement, for testing the
estimated calendar against history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from unittest import mock

from holidays.countries.china import China

from chalicelib.domain import workdays
from chalicelib.domain.workdays import YearTable, estimated_year


class UnpublishedChina(China):
    """holidays.China as it reads for a year before the State Council's notice is out:
    statutory days and the library's observed-day rule only, no substituted or extra days."""

    def _add_special_holidays(
        self, mapping_names: Iterable[str], *, observed: bool = False
    ) -> None:
        return None


def _estimate_before_publication(year: int, windows: dict[str, tuple[int, int]]) -> YearTable:
    with mock.patch.object(workdays, "_china", return_value=UnpublishedChina):
        return estimated_year(year, windows)


@contextlib.contextmanager
def before_publication() -> Iterator[None]:
    """Estimated years are built as if their arrangement were unknown to holidays.China.

    For a historical year the library knows the real arrangement and would hand it to the
    estimate as its "guess"; this hides it, so the estimate rests on the windows alone."""
    with mock.patch.object(workdays, "estimated_year", _estimate_before_publication):
        yield
