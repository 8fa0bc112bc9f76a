"""Coupons from a ticket (coupons.md)."""

from __future__ import annotations

from aftersales.services._base import ServiceBase

__all__ = ["CouponService"]


class CouponService(ServiceBase):
    """Coupons from a ticket (coupons.md)."""
