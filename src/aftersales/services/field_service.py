"""Field-service tasks from a ticket (field-service.md)."""

from __future__ import annotations

from aftersales.services._base import ServiceBase

__all__ = ["FieldServiceService"]


class FieldServiceService(ServiceBase):
    """Field-service tasks from a ticket (field-service.md)."""
