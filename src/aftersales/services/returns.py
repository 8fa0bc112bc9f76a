"""Returns from a ticket (returns.md)."""

from __future__ import annotations

from aftersales.services._base import ServiceBase

__all__ = ["ReturnService"]


class ReturnService(ServiceBase):
    """Returns from a ticket (returns.md)."""
