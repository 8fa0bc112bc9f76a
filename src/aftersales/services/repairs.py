"""Repair orders from a ticket (repairs.md)."""

from __future__ import annotations

from aftersales.services._base import ServiceBase

__all__ = ["RepairService"]


class RepairService(ServiceBase):
    """Repair orders from a ticket (repairs.md)."""
