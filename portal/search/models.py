"""Transitional: the outbox's events live in portal.outbox (until the leads store imports it)."""

from portal.outbox import IndexEvent

__all__ = ["IndexEvent"]
