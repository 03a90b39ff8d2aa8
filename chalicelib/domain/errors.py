"""Errors that cross layers. Each one carries a message fit to show the user as it is."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user: a file, a flag, an API body. ``field`` names the part at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(LookupError):
    """The thing asked for does not exist."""


class Conflict(RuntimeError):
    """A conditional write lost: someone changed the record since it was read."""


class Refused(Conflict):
    """The record's state does not allow the change (already decided, already filed). Also a
    409 to a client, but final: re-reading and trying again cannot help."""


class StalePlan(Refused):
    """A plan made earlier than one already applied: its changes would undo newer ones."""


class PreconditionFailed(Refused):
    """The caller's copy (its ETag) is not the stored one any more: nothing was changed."""


class KeyReused(InputError):
    """An idempotency key sent again with a different request."""
