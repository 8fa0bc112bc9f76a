"""Contract of the loyalty port: programs, coupons the ERP issues with unique codes, and
the uses it records."""

from __future__ import annotations

import weakref
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales.errors import BackendError, DuplicateKey, NotFound
from aftersales.models import (
    Coupon,
    CouponRequest,
    CouponRule,
    Money,
    ProgramTrigger,
    ProgramType,
    Reward,
    RewardKind,
)

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["LoyaltyContract"]


_PARTNERS: weakref.WeakKeyDictionary[Kit, str] = weakref.WeakKeyDictionary()


def _partner(kit: Kit) -> str:
    """The id of the test's customer, made once in the kit's world (an ERP redeems a
    coupon for a customer it knows)."""
    if kit not in _PARTNERS:
        _PARTNERS[kit] = kit.world.customer(name="Ana Pérez").id
    return _PARTNERS[kit]


def _request(
    kit: Kit, program_id: str, code: str, reference: str = "op-issue", **details: Any
) -> CouponRequest:
    """A request for a coupon of `program_id` under `code`, for the test's customer from
    ticket-1."""
    fields: dict[str, Any] = {
        "points": Decimal(1),
        "expires_on": date(2027, 1, 31),
        "ticket_id": "ticket-1",
        **details,
    }
    return CouponRequest(
        program_id=program_id,
        partner_id=_partner(kit),
        code=code,
        at=kit.clock.now(),
        reference=reference,
        **fields,
    )


def _issued(kit: Kit, request: CouponRequest) -> Coupon:
    return kit.write(lambda h: h.issue_coupon(request))


class LoyaltyContract(ContractBase):
    """`aftersales_loyalty_*`: the ERP issues coupons (its ids) under codes unique by a store
    constraint (CP-5) and records their uses."""

    def test_programs_round_trip_in_a_stable_order(self, kit: Kit) -> None:
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        first = kit.world.coupon_program(
            name="10% apology",
            reward=Reward(
                kind=RewardKind.PERCENTAGE,
                percent=Decimal("10"),
                max_discount=Money(amount=Decimal("25.00"), currency="EUR"),
                product_ids=frozenset({kettle.id}),
            ),
            rules=[
                CouponRule(
                    minimum_quantity=Decimal(2),
                    minimum_amount=Money(amount=Decimal("50.00"), currency="EUR"),
                    amount_tax_included=False,
                    product_ids=frozenset({kettle.id}),
                ),
                CouponRule(
                    minimum_quantity=Decimal("0.5"),
                    categories=frozenset({"Small appliances", "Kitchen / Kettles"}),
                ),
            ],
            date_to=date(2027, 6, 30),
            max_usage=100,
            code="SORRY",
        )
        second = kit.world.coupon_program(
            name="Free kettle",
            reward=Reward(kind=RewardKind.FREE_PRODUCT, free_product_id=kettle.id),
            active=False,
            program_type=ProgramType.PROMOTION,
            trigger=ProgramTrigger.AUTO,
        )
        assert kit.read(lambda h: list(h.list_programs())) == [first, second]
        assert kit.read(lambda h: h.get_program(first.id)) == first
        assert kit.read(lambda h: h.get_program(second.id, lock=True)) == second
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_program("program-missing"))

    def test_an_issued_coupon_is_what_was_asked_with_the_erps_id(self, kit: Kit) -> None:
        """The ERP makes the coupon and its id; it keeps the fields asked and the reference."""
        program = kit.world.coupon_program(name="Apology")
        request = _request(kit, program.id, "AbC-123", points=Decimal("2.5"))
        coupon = _issued(kit, request)
        assert coupon.id
        assert (coupon.code, coupon.program_id, coupon.partner_id, coupon.points) == (
            "AbC-123",
            program.id,
            _partner(kit),
            Decimal("2.5"),
        )
        assert (coupon.created_at, coupon.expires_on, coupon.ticket_id) == (
            request.at,
            date(2027, 1, 31),
            "ticket-1",
        )
        assert coupon.operation_ref == "op-issue"
        other = _issued(kit, _request(kit, program.id, "OTHER", expires_on=None, ticket_id=None))
        assert other.id != coupon.id
        assert (other.expires_on, other.ticket_id) == (None, None)

    def test_coupons_are_found_by_id_and_exact_code(self, kit: Kit) -> None:
        program = kit.world.coupon_program(name="Apology")
        coupon = _issued(kit, _request(kit, program.id, "AbC-123"))
        assert kit.read(lambda h: h.get_coupon(coupon.id)) == coupon
        assert kit.read(lambda h: h.get_coupon(coupon.id, lock=True)) == coupon
        assert kit.read(lambda h: h.find_coupon("AbC-123")) == coupon
        assert kit.read(lambda h: h.find_coupon("AbC-123", lock=True)) == coupon
        assert kit.read(lambda h: h.find_coupon("abc-123")) is None
        assert kit.read(lambda h: h.find_coupon("AbC-12")) is None
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_coupon("coupon-missing"))

    def test_a_taken_code_is_refused_and_nothing_is_stored(self, kit: Kit) -> None:
        """CP-5: a second coupon with the same code raises DuplicateKey naming the code."""
        program = kit.world.coupon_program(name="Apology")
        _issued(kit, _request(kit, program.id, "SAME", "op-1"))
        with kit.unchanged(), pytest.raises(DuplicateKey, match="coupon code SAME"):
            _issued(kit, _request(kit, program.id, "SAME", "op-2"))

    def test_the_unit_goes_on_after_a_taken_code(self, kit: Kit) -> None:
        """A service that draws a taken code asks again in the same unit of work."""
        program = kit.world.coupon_program(name="Apology")
        taken = _issued(kit, _request(kit, program.id, "TAKEN", "op-1"))
        with kit.unit() as uow:
            with pytest.raises(DuplicateKey):
                kit.hooks.issue_coupon(_request(kit, program.id, "TAKEN", "op-2"))
            free = kit.hooks.issue_coupon(_request(kit, program.id, "FREE", "op-2"))
            uow.commit()
        assert kit.read(lambda h: h.find_coupon("FREE")) == free
        assert kit.read(lambda h: h.get_coupon(taken.id)) == taken
        assert kit.read(lambda h: list(h.find_coupons_by_reference("op-2"))) == [free]

    def test_a_redemption_records_the_use_and_spends_the_points(self, kit: Kit) -> None:
        """The ERP answers with what it stored: the use (its id, the reference) and the
        coupon with the points spent and the reference of the redemption."""
        program = kit.world.coupon_program(name="Apology")
        coupon = _issued(kit, _request(kit, program.id, "SPEND", points=Decimal(3)))
        at = kit.clock.now()
        made = kit.write(lambda h: h.redeem(coupon.id, Decimal(2), "S00042", at, "op-redeem"))
        assert made.use.id
        assert (made.use.coupon_id, made.use.program_id, made.use.points) == (
            coupon.id,
            program.id,
            Decimal(2),
        )
        assert (made.use.used_at, made.use.order_reference, made.use.operation_ref) == (
            at,
            "S00042",
            "op-redeem",
        )
        assert made.coupon == attrs.evolve(coupon, points=Decimal(1), operation_ref="op-redeem")
        assert kit.read(lambda h: h.get_coupon(coupon.id)) == made.coupon
        again = kit.write(lambda h: h.redeem(coupon.id, Decimal(1), "", at, "op-again"))
        assert again.use.id != made.use.id
        assert again.coupon.points == Decimal(0)

    def test_a_redemption_of_more_points_than_left_changes_nothing(self, kit: Kit) -> None:
        program = kit.world.coupon_program(name="Apology")
        coupon = _issued(kit, _request(kit, program.id, "SHORT"))
        at = kit.clock.now()
        with kit.unchanged(), pytest.raises(BackendError, match="SHORT"):
            kit.write(lambda h: h.redeem(coupon.id, Decimal(2), "", at, "op-short"))
        with kit.unchanged(), pytest.raises(NotFound):
            kit.write(lambda h: h.redeem("coupon-missing", Decimal(1), "", at, "op-x"))

    def test_uses_are_counted_per_program(self, kit: Kit) -> None:
        one = kit.world.coupon_program(name="One")
        two = kit.world.coupon_program(name="Two")
        assert kit.read(lambda h: h.count_uses(one.id)) == 0
        coupons = [
            _issued(kit, _request(kit, program.id, f"USE-{number}", points=Decimal(5)))
            for number, program in enumerate((one, two))
        ]
        at = kit.clock.now()

        def use(h: object) -> None:
            for number, coupon in enumerate((coupons[0], coupons[0], coupons[1])):
                kit.hooks.redeem(coupon.id, Decimal(1), f"S0000{number}", at, f"op-{number}")

        kit.write(use)
        assert kit.read(lambda h: (h.count_uses(one.id), h.count_uses(two.id))) == (2, 1)

    def test_find_by_reference(self, kit: Kit) -> None:
        """Every write keeps its call's reference; the port finds the coupons by it."""
        program = kit.world.coupon_program(name="Apology")
        first = _issued(kit, _request(kit, program.id, "REF-1", "op-1"))
        second = _issued(kit, _request(kit, program.id, "REF-2", "op-1"))
        third = _issued(kit, _request(kit, program.id, "REF-3", "op-2"))
        found = kit.read(lambda h: list(h.find_coupons_by_reference("op-1")))
        assert found == [first, second]
        assert kit.read(lambda h: list(h.find_coupons_by_reference("op-none"))) == []
        at = kit.clock.now()
        kit.write(lambda h: h.redeem(third.id, Decimal(1), "", at, "op-3"))
        found = kit.read(lambda h: list(h.find_coupons_by_reference("op-3")))
        assert [c.id for c in found] == [third.id]

    def test_concurrent_units_with_one_code_store_exactly_one(self, kit: Kit) -> None:
        """RL-3 / CP-5 under threads: one unit wins, the others get DuplicateKey."""
        kit.require(Capability.THREADS)
        program = kit.world.coupon_program(name="Apology")
        _partner(kit)  # the customer is made once, before the threads

        def issue(i: int) -> str:
            try:
                _issued(kit, _request(kit, program.id, "RACE", f"op-{i}"))
            except DuplicateKey:
                return "duplicate"
            return "issued"

        outcomes = run_threads(4, issue)
        assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "issued"]
        assert kit.read(lambda h: h.find_coupon("RACE")) is not None
