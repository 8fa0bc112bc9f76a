"""Contract of the loyalty port: programs, coupons with unique codes, and their uses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import DuplicateKey, NotFound
from aftersales.models import (
    Coupon,
    CouponRule,
    CouponUse,
    Money,
    ProgramTrigger,
    ProgramType,
    Reward,
    RewardKind,
)

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["LoyaltyContract"]


def _coupon(kit: Kit, program_id: str, code: str, number: int = 1) -> Coupon:
    return Coupon(
        id=f"coupon-{number}",
        code=code,
        program_id=program_id,
        partner_id="partner-1",
        points=Decimal(1),
        created_at=kit.clock.now(),
        expires_on=date(2027, 1, 31),
        ticket_id="ticket-1",
    )


class LoyaltyContract(ContractBase):
    """`aftersales_loyalty_*`: codes are unique by a store constraint (CP-5)."""

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

    def test_coupons_are_found_by_id_and_exact_code(self, kit: Kit) -> None:
        program = kit.world.coupon_program(name="Apology")
        coupon = _coupon(kit, program.id, "AbC-123")
        kit.write(lambda h: h.create_coupon(coupon))
        assert kit.read(lambda h: h.get_coupon(coupon.id)) == coupon
        assert kit.read(lambda h: h.get_coupon(coupon.id, lock=True)) == coupon
        assert kit.read(lambda h: h.find_coupon("AbC-123")) == coupon
        assert kit.read(lambda h: h.find_coupon("AbC-123", lock=True)) == coupon
        assert kit.read(lambda h: h.find_coupon("abc-123")) is None
        assert kit.read(lambda h: h.find_coupon("AbC-12")) is None

    def test_a_taken_code_is_refused_and_nothing_is_stored(self, kit: Kit) -> None:
        """CP-5: a second coupon with the same code raises DuplicateKey naming the code."""
        program = kit.world.coupon_program(name="Apology")
        kit.write(lambda h: h.create_coupon(_coupon(kit, program.id, "SAME", 1)))
        with kit.unchanged(), pytest.raises(DuplicateKey, match="coupon code SAME"):
            kit.write(lambda h: h.create_coupon(_coupon(kit, program.id, "SAME", 2)))

    def test_the_unit_goes_on_after_a_taken_code(self, kit: Kit) -> None:
        """A service that draws a taken code tries another in the same unit of work."""
        program = kit.world.coupon_program(name="Apology")
        kit.write(lambda h: h.create_coupon(_coupon(kit, program.id, "TAKEN", 1)))
        with kit.unit() as uow:
            with pytest.raises(DuplicateKey):
                kit.hooks.create_coupon(_coupon(kit, program.id, "TAKEN", 2))
            kit.hooks.create_coupon(_coupon(kit, program.id, "FREE", 2))
            uow.commit()
        assert kit.read(lambda h: h.find_coupon("FREE")) == _coupon(kit, program.id, "FREE", 2)
        assert kit.read(lambda h: h.get_coupon("coupon-1")).code == "TAKEN"

    def test_saving_a_coupon_updates_its_points(self, kit: Kit) -> None:
        program = kit.world.coupon_program(name="Apology")
        coupon = _coupon(kit, program.id, "POINTS")
        kit.write(lambda h: h.create_coupon(coupon))
        spent = attrs.evolve(coupon, points=Decimal("0"))
        kit.write(lambda h: h.save_coupon(spent))
        assert kit.read(lambda h: h.find_coupon("POINTS")) == spent

    def test_uses_are_counted_per_program(self, kit: Kit) -> None:
        one = kit.world.coupon_program(name="One")
        two = kit.world.coupon_program(name="Two")
        assert kit.read(lambda h: h.count_uses(one.id)) == 0

        def use(h: object) -> None:
            for number, program in enumerate((one, one, two)):
                kit.hooks.add_use(
                    CouponUse(
                        id=f"use-{number}",
                        coupon_id="coupon-1",
                        program_id=program.id,
                        points=Decimal("1"),
                        used_at=kit.clock.now(),
                        order_reference=f"S0000{number}",
                    )
                )

        kit.write(use)
        assert kit.read(lambda h: (h.count_uses(one.id), h.count_uses(two.id))) == (2, 1)

    def test_concurrent_units_with_one_code_store_exactly_one(self, kit: Kit) -> None:
        """RL-3 / CP-5 under threads: one unit wins, the others get DuplicateKey."""
        kit.require(Capability.THREADS)
        program = kit.world.coupon_program(name="Apology")

        def create(i: int) -> str:
            try:
                kit.write(lambda h: h.create_coupon(_coupon(kit, program.id, "RACE", i)))
            except DuplicateKey:
                return "duplicate"
            return "created"

        outcomes = run_threads(4, create)
        assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
        assert kit.read(lambda h: h.find_coupon("RACE")) is not None
