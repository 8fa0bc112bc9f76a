"""Coupons through sale_promotion_coupon against a real Tryton database (in process)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from aftersales.errors import InvalidCoupon, InvalidInput
from aftersales_tryton import coupons
from aftersales_tryton.errors import TrytonRefused
from conftest import Tryton


@pytest.fixture(scope="module")
def program(tryton: Tryton) -> coupons.Program:
    return coupons.create_program(
        tryton.config, "Sorry: 10% off", formula="0.9 * unit_price", number_of_use=1
    )


@pytest.fixture(scope="module")
def shop(tryton: Tryton) -> tuple[int, int, int]:
    ana = tryton.world.customer("Ana")
    bob = tryton.world.customer("Bob")
    blender = tryton.world.product("Blender", Decimal("20.00"))
    return ana, bob, blender


def test_a_coupon_is_issued_evaluated_and_redeemed_once(
    tryton: Tryton, program: coupons.Program, shop: tuple[int, int, int]
) -> None:
    ana, bob, blender = shop
    assert program.number_of_use == 1 and not program.per_party
    issued = coupons.issue_coupon(
        tryton.config, program.coupon_id, "SORRY-0001", end_date=dt.date.today() + dt.timedelta(30)
    )
    assert issued.promotion_id == program.promotion_id and issued.start_date == dt.date.today()
    assert coupons.find_coupon(tryton.config, "SORRY-0001") == issued
    status = coupons.evaluate(tryton.config, "SORRY-0001", ana)
    assert status.active and status.uses == 0 and status.limit == 1

    sale = coupons.create_draft_sale(tryton.config, ana, [(blender, 5)])
    redeemed = coupons.redeem(tryton.config, "SORRY-0001", sale)
    assert redeemed.untaxed_before == Decimal("100.00")
    assert redeemed.untaxed_after == Decimal("90.00")  # Tryton applied the promotion
    assert redeemed.sale_state == "quotation"

    used = coupons.evaluate(tryton.config, "SORRY-0001", bob)
    assert not used.active and used.uses == 1  # used up, for everybody
    other = coupons.create_draft_sale(tryton.config, bob, [(blender, 1)])
    with pytest.raises(InvalidCoupon, match="used up"):
        coupons.redeem(tryton.config, "SORRY-0001", other)
    assert coupons.find_coupon(tryton.config, "SORRY-0001") == issued  # still found


def test_tryton_cannot_issue_a_coupon_that_has_already_expired(
    tryton: Tryton, program: coupons.Program
) -> None:
    yesterday = dt.date.today() - dt.timedelta(days=1)
    with pytest.raises(TrytonRefused, match="not allowed to modify"):
        coupons.issue_coupon(
            tryton.config,
            program.coupon_id,
            "SORRY-OLD",
            start_date=yesterday - dt.timedelta(days=10),
            end_date=yesterday,
        )
    assert coupons.find_coupon(tryton.config, "SORRY-OLD") is None


def test_tryton_refuses_a_number_twice_and_unknown_numbers_are_invalid(
    tryton: Tryton, program: coupons.Program, shop: tuple[int, int, int]
) -> None:
    ana, _, _ = shop
    coupons.issue_coupon(tryton.config, program.coupon_id, "SORRY-DUP")
    with pytest.raises(TrytonRefused):
        coupons.issue_coupon(tryton.config, program.coupon_id, "SORRY-DUP")
    with pytest.raises(InvalidCoupon, match="no such coupon"):
        coupons.evaluate(tryton.config, "NOPE", ana)
    with pytest.raises(InvalidInput, match="no padding"):
        coupons.issue_coupon(tryton.config, program.coupon_id, " SORRY-PAD")
    assert coupons.find_coupon(tryton.config, "SORRY-PAD") is None
