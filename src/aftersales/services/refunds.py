"""Credit notes from a ticket (refunds.md)."""

from __future__ import annotations

from aftersales.services._base import ServiceBase

__all__ = ["RefundService"]


class RefundService(ServiceBase):
    """Credit notes from a ticket (refunds.md)."""
