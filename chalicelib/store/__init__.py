"""Where Burst Assurance keeps its state: events, tracked requests and their audit trail."""

from chalicelib.store.base import Store

__all__ = ["Store"]
