"""The reference ERP's loyalty: coupons issued and redeemed by the ERP.

What an ERP does when a helpdesk asks it for a coupon — give the coupon an id, keep its code
unique across all coupons, record a use and spend the coupon's points, keep the reference of
the call that wrote it — lives here, once, over a small `CouponStore` (a per-concern
protocol like the project's `TaskStore`). `LoyaltyPort` serves the `aftersales_loyalty_*`
hooks from it; the memory and the SQL backends both inherit it, so both behave the same.

The coupon service never makes a coupon id: it checks what a helpdesk may do (rights, the
programs offered, the refusals of CP-9 under the coupon's and the program's locks), chooses
the code (`Config.coupon_code_generator`), asks the port, and records on the ticket what the
port made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from aftersales.errors import BackendError
from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import (
    Coupon,
    CouponProgram,
    CouponRequest,
    CouponUse,
    Redemption,
    evolve,
)

__all__ = ["CouponStore", "LoyaltyPort", "ReferenceLoyalty"]


class CouponStore(Protocol):
    """Coupon programs, coupons and their uses, as stored by one backend. Every call acts
    inside the current unit of work, as the hooks do."""

    def list_programs(self) -> Sequence[CouponProgram]:
        """Every program, in a stable order (the order they were stored)."""

    def get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        """The program `program_id`, or `None`; `lock` holds it until the unit ends."""

    def get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        """The coupon `coupon_id`, or `None`; `lock` holds it until the unit ends."""

    def find_coupon(self, code: str, lock: bool) -> Coupon | None:
        """The coupon whose code is exactly `code`, or `None`; `lock` as `get_coupon`."""

    def insert_coupon(self, coupon: Coupon) -> Coupon:
        """Insert the new `coupon`; return it. Raise
        [`DuplicateKey`][aftersales.errors.DuplicateKey] (`"coupon code"`) when another coupon
        holds `coupon.code`, enforced by the store (a unique constraint), and leave the unit
        usable (a savepoint on SQL stores)."""

    def save_coupon(self, coupon: Coupon) -> Coupon:
        """Update the stored `coupon` (by id); return it."""

    def add_use(self, use: CouponUse) -> CouponUse:
        """Insert the new `use`; return it."""

    def count_uses(self, program_id: str) -> int:
        """How many uses of coupons of `program_id` are stored."""

    def coupons_by_reference(self, reference: str) -> Sequence[Coupon]:
        """The coupons whose `operation_ref` is `reference`, in the order they were stored."""


class ReferenceLoyalty:
    """The reference ERP's loyalty over `store`.

    `ids` makes a new record id from a kind (`"coupon"`, `"use"`; default `new_id()`): an
    ERP that ids its coupons in its own style is the same class with another function. The
    methods trust the coupon service's checks (rights, CP-2, CP-9).
    """

    def __init__(self, store: CouponStore, *, ids: Callable[[str], str] = new_id) -> None:
        self.store = store
        self._ids = ids

    def list_programs(self) -> list[CouponProgram]:
        return list(self.store.list_programs())

    def get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        return self.store.get_program(program_id, lock)

    def get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        return self.store.get_coupon(coupon_id, lock)

    def find_coupon(self, code: str, lock: bool) -> Coupon | None:
        return self.store.find_coupon(code, lock)

    def count_uses(self, program_id: str) -> int:
        return self.store.count_uses(program_id)

    def issue_coupon(self, request: CouponRequest) -> Coupon:
        return self.store.insert_coupon(
            Coupon(
                id=self._ids("coupon"),
                code=request.code,
                program_id=request.program_id,
                partner_id=request.partner_id,
                points=request.points,
                created_at=request.at,
                expires_on=request.expires_on,
                ticket_id=request.ticket_id,
                operation_ref=request.reference,
            )
        )

    def redeem(
        self, coupon_id: str, points: Decimal, order_reference: str, at: datetime, reference: str
    ) -> Redemption | None:
        coupon = self.store.get_coupon(coupon_id, True)
        if coupon is None:
            return None
        if points > coupon.points:
            raise BackendError(
                f"coupon {coupon.code} has {coupon.points:f} points left, not the {points:f} "
                "a use spends"
            )
        use = self.store.add_use(
            CouponUse(
                id=self._ids("use"),
                coupon_id=coupon.id,
                program_id=coupon.program_id,
                points=points,
                used_at=at,
                order_reference=order_reference,
                operation_ref=reference,
            )
        )
        spent = evolve(coupon, points=coupon.points - points, operation_ref=reference)
        return Redemption(use=use, coupon=self.store.save_coupon(spent))

    def find_by_reference(self, reference: str) -> list[Coupon]:
        return list(self.store.coupons_by_reference(reference))


class LoyaltyPort:
    """Serves the loyalty port (`aftersales_loyalty_*`) from `self.loyalty`.

    A backend inherits it and sets `loyalty` to a `ReferenceLoyalty` over its `CouponStore`.
    """

    loyalty: ReferenceLoyalty

    @hookimpl
    def aftersales_loyalty_list_programs(self) -> list[CouponProgram]:
        return self.loyalty.list_programs()

    @hookimpl
    def aftersales_loyalty_get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        return self.loyalty.get_program(program_id, lock)

    @hookimpl
    def aftersales_loyalty_get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        return self.loyalty.get_coupon(coupon_id, lock)

    @hookimpl
    def aftersales_loyalty_find_coupon(self, code: str, lock: bool) -> Coupon | None:
        return self.loyalty.find_coupon(code, lock)

    @hookimpl
    def aftersales_loyalty_count_uses(self, program_id: str) -> int:
        return self.loyalty.count_uses(program_id)

    @hookimpl
    def aftersales_loyalty_issue_coupon(self, request: CouponRequest) -> Coupon:
        return self.loyalty.issue_coupon(request)

    @hookimpl
    def aftersales_loyalty_redeem(
        self, coupon_id: str, points: Decimal, order_reference: str, at: datetime, reference: str
    ) -> Redemption | None:
        return self.loyalty.redeem(coupon_id, points, order_reference, at, reference)

    @hookimpl
    def aftersales_loyalty_find_by_reference(self, reference: str) -> list[Coupon]:
        return self.loyalty.find_by_reference(reference)
