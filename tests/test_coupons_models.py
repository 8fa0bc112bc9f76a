"""The coupon records refuse bad data (CP-1, RL-4): programs, rules, rewards, coupons, orders,
email addresses, and the default code format (CP-5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales import Config
from aftersales.errors import InvalidInput
from aftersales.models import (
    Coupon,
    CouponProgram,
    CouponRule,
    CouponState,
    Money,
    Order,
    OrderLine,
    OutgoingEmail,
    Reward,
    RewardKind,
    Tax,
)
from aftersales.models.loyalty import (
    COUPON_CODE_ALPHABET,
    COUPON_CODE_PREFIX,
    coupon_state,
    default_coupon_code,
    effective_expiry,
)
from aftersales.models.mail import check_email_address, unique_addresses
from aftersales.serialization import dumps, loads

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
TODAY = NOW.date()


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def a_program(**kw: Any) -> CouponProgram:
    options: dict[str, Any] = {
        "id": "program-1",
        "name": "Apology",
        "currency": "EUR",
        "rewards": (Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(10)),),
    }
    options.update(kw)
    return CouponProgram(**options)


def a_coupon(**kw: Any) -> Coupon:
    options: dict[str, Any] = {
        "id": "coupon-1",
        "code": "044ABCDEFGHJKM",
        "program_id": "program-1",
        "partner_id": "partner-1",
        "points": Decimal(1),
        "created_at": NOW,
    }
    options.update(kw)
    return Coupon(**options)


# -- CP-1: rewards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [Decimal(0), Decimal("-5"), Decimal("100.01"), Decimal("NaN")])
def test_cp1_a_percent_must_be_in_0_to_100(value: Decimal) -> None:
    with pytest.raises(InvalidInput, match="percent"):
        Reward(kind=RewardKind.PERCENTAGE, percent=value)


def test_cp1_a_percent_of_100_is_allowed_and_floats_are_not() -> None:
    assert Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(100)).percent == 100
    with pytest.raises(InvalidInput, match="never a float"):
        Reward(kind=RewardKind.PERCENTAGE, percent=10.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="needs a percent"):
        Reward(kind=RewardKind.PERCENTAGE)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": RewardKind.FIXED_AMOUNT}, "amount"),
        ({"kind": RewardKind.FIXED_AMOUNT, "amount": eur("0")}, "amount"),
        ({"kind": RewardKind.FIXED_AMOUNT, "amount": eur("-5")}, "amount"),
        ({"kind": RewardKind.FIXED_AMOUNT, "amount": Decimal(5)}, "amount"),
        ({"kind": RewardKind.FREE_PRODUCT}, "free_product_id"),
        (
            {"kind": RewardKind.FREE_PRODUCT, "free_product_id": "p", "free_quantity": Decimal(0)},
            "free_quantity",
        ),
        (
            {"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "max_discount": eur("0")},
            "max_discount",
        ),
        (
            {"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "required_points": Decimal(0)},
            "required_points",
        ),
        ({"kind": "percentage", "percent": Decimal(5)}, "kind"),
        (
            {"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "product_ids": {"has space"}},
            "product_ids",
        ),
    ],
)
def test_cp1_rl4_rewards_refuse_bad_values(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Reward(**kw)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": RewardKind.FIXED_AMOUNT, "amount": eur("5"), "percent": Decimal(5)}, "percent"),
        (
            {"kind": RewardKind.FIXED_AMOUNT, "amount": eur("5"), "max_discount": eur("5")},
            "max_discount",
        ),
        ({"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "amount": eur("5")}, "amount"),
        (
            {"kind": RewardKind.FREE_PRODUCT, "free_product_id": "p", "product_ids": {"q"}},
            "product_ids",
        ),
        (
            {"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "free_product_id": "p"},
            "free_product_id",
        ),
        (
            {"kind": RewardKind.PERCENTAGE, "percent": Decimal(5), "free_quantity": Decimal(2)},
            "free_quantity",
        ),
    ],
)
def test_cp1_a_field_of_another_kind_of_reward_is_refused_not_ignored(
    kw: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match="does not apply to a") as caught:
        Reward(**kw)
    assert caught.value.field == field


def test_cp1_rewards_describe_themselves() -> None:
    assert Reward(kind=RewardKind.PERCENTAGE, percent=Decimal("12.50")).describe() == (
        "12.5% on your order"
    )
    capped = Reward(
        kind=RewardKind.PERCENTAGE,
        percent=Decimal(20),
        product_ids={"p"},
        max_discount=eur("200"),
    )
    assert capped.describe() == "20% on selected products (up to 200.00 EUR)"
    assert Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur("1234.5")).describe() == (
        "1,234.50 EUR off your order"
    )
    free = Reward(kind=RewardKind.FREE_PRODUCT, free_product_id="p", free_quantity=Decimal(3))
    assert free.describe("Kettle") == "3 × Kettle free"
    assert free.describe() == "3 × product free"


# -- CP-1: rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"minimum_quantity": Decimal(-1)}, "minimum_quantity"),
        ({"minimum_quantity": 2.0}, "minimum_quantity"),
        ({"minimum_amount": eur("-1")}, "minimum_amount"),
        ({"minimum_amount": Decimal(10)}, "minimum_amount"),
        ({"amount_tax_included": "yes"}, "amount_tax_included"),
        ({"product_ids": {"bad id"}}, "product_ids"),
        ({"categories": {""}}, "categories"),
        ({"product_ids": "blender"}, "value"),
    ],
)
def test_cp1_rl4_rules_refuse_bad_values(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        CouponRule(**kw)
    assert caught.value.field == field


def test_cp1_a_rule_matches_lines_by_product_or_category() -> None:
    everything = CouponRule()
    assert not everything.has_filter
    assert everything.matches(None, None)
    rule = CouponRule(product_ids={"blender"}, categories={"Kitchen"})
    assert rule.matches("blender", None)
    assert rule.matches("kettle", "Kitchen")
    assert not rule.matches("pen", "Office")
    assert not rule.matches(None, None)


# -- CP-1: programs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"max_usage": 0}, "max_usage"),
        ({"max_usage": -1}, "max_usage"),
        ({"max_usage": True}, "max_usage"),
        ({"max_usage": Decimal(3)}, "max_usage"),
        ({"rewards": ()}, "rewards"),
        ({"rewards": ("10%",)}, "rewards"),
        ({"rules": ({"minimum_quantity": 1},)}, "rules"),
        ({"currency": "XXX"}, "currency"),
        ({"name": "  "}, "name"),
        ({"date_to": NOW}, "date_to"),
        ({"code": "two words"}, "code"),
        ({"active": 1}, "active"),
        (
            {"rewards": (Reward(kind=RewardKind.FIXED_AMOUNT, amount=Money.of(5, "USD")),)},
            "rewards.amount",
        ),
        (
            {
                "rewards": (
                    Reward(
                        kind=RewardKind.PERCENTAGE,
                        percent=Decimal(5),
                        max_discount=Money.of(5, "USD"),
                    ),
                )
            },
            "rewards.max_discount",
        ),
        ({"rules": (CouponRule(minimum_amount=Money.of(5, "USD")),)}, "rules.minimum_amount"),
    ],
)
def test_cp1_rl4_programs_refuse_bad_values(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        a_program(**kw)
    assert caught.value.field == field


def test_cp1_the_generated_coupon_pays_for_the_first_reward() -> None:
    first = Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(5), required_points=Decimal(3))
    second = Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur("10"))
    assert a_program(rewards=(first, second)).reward is first


def test_cp1_programs_round_trip_through_json() -> None:
    program = a_program(
        rules=(CouponRule(minimum_amount=eur("320"), categories={"Kitchen"}),),
        rewards=(
            Reward(
                kind=RewardKind.PERCENTAGE,
                percent=Decimal(20),
                max_discount=eur("200"),
                product_ids={"p1", "p2"},
            ),
        ),
        date_to=date(2027, 1, 1),
        max_usage=10,
        code="WELCOME",
    )
    assert loads(dumps(program), CouponProgram) == program


def test_cp2_offered_means_active_coupons_code_and_not_ended() -> None:
    assert a_program().is_offered(TODAY)
    assert a_program(date_to=TODAY).is_offered(TODAY)
    assert not a_program(date_to=date(2026, 11, 27)).is_offered(TODAY)
    assert not a_program(active=False).is_offered(TODAY)


# -- coupons and their state -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "044 ABC"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"points": Decimal(-1)}, "points"),
        ({"created_at": datetime(2026, 11, 28)}, "created_at"),
        ({"expires_on": NOW}, "expires_on"),
    ],
)
def test_rl4_coupons_refuse_bad_values(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        a_coupon(**kw)
    assert caught.value.field == field


def test_cp10_the_state_of_a_coupon() -> None:
    program = a_program(max_usage=5, date_to=date(2026, 12, 31))
    valid = a_coupon(expires_on=date(2026, 12, 1))
    assert coupon_state(valid, program, TODAY, uses=0) is CouponState.VALID
    assert coupon_state(a_coupon(points=Decimal(0)), program, TODAY, 0) is CouponState.USED
    assert coupon_state(valid, program, date(2026, 12, 2), 0) is CouponState.EXPIRED
    assert coupon_state(valid, program, TODAY, uses=5) is CouponState.EXPIRED
    assert coupon_state(a_coupon(), program, date(2027, 1, 1), 0) is CouponState.EXPIRED
    assert effective_expiry(valid, program) == date(2026, 12, 1)
    assert effective_expiry(a_coupon(), program) == date(2026, 12, 31)
    assert effective_expiry(a_coupon(), a_program()) is None


# -- CP-5: the default code ------------------------------------------------------------------------


def test_cp5_default_code_format_and_source() -> None:
    code = default_coupon_code(a_program())
    assert re.fullmatch(rf"{COUPON_CODE_PREFIX}[{COUPON_CODE_ALPHABET}]{{11}}", code)
    assert not set("0O1IL") & set(COUPON_CODE_ALPHABET)
    assert Config().coupon_code_generator is default_coupon_code


def test_cp5_codes_come_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import secrets

    drawn: list[str] = []

    def choice(seq: str) -> str:
        drawn.append(seq)
        return seq[0]

    monkeypatch.setattr(secrets, "choice", choice)
    assert default_coupon_code(a_program()) == "044" + COUPON_CODE_ALPHABET[0] * 11
    assert drawn == [COUPON_CODE_ALPHABET] * 11


@pytest.mark.parametrize("attempts", [0, -1, True, 2.5])
def test_cp5_the_number_of_attempts_is_a_positive_whole_number(attempts: Any) -> None:
    with pytest.raises(InvalidInput, match="coupon_code_attempts"):
        Config(coupon_code_attempts=attempts)


# -- orders ----------------------------------------------------------------------------------------


def test_cp3_orders_refuse_bad_lines() -> None:
    with pytest.raises(InvalidInput, match="quantity"):
        OrderLine(quantity=Decimal(-1), unit_price=eur("1"))
    with pytest.raises(InvalidInput, match="unit_price"):
        OrderLine(quantity=Decimal(1), unit_price=eur("-1"))
    with pytest.raises(InvalidInput, match="taxes"):
        OrderLine(quantity=Decimal(1), unit_price=eur("1"), taxes=("21%",))
    with pytest.raises(InvalidInput, match="must be in EUR"):
        Order(
            currency="EUR", lines=(OrderLine(quantity=Decimal(1), unit_price=Money.of(1, "USD")),)
        )
    with pytest.raises(InvalidInput, match="expected OrderLine"):
        Order(currency="EUR", lines=("line",))
    with pytest.raises(InvalidInput, match="at least one line"):
        Order.of()


def test_cp3_an_order_line_of_a_product_takes_its_price_and_taxes() -> None:
    from aftersales.models import Product

    tax = Tax(name="21%", percent=Decimal(21))
    product = Product(id="p", name="Blender", price=eur("49.95"), taxes=(tax,), category="Kitchen")
    line = OrderLine.of(product, 2)
    assert (line.product_id, line.category, line.taxes, line.quantity) == (
        "p",
        "Kitchen",
        (tax,),
        Decimal(2),
    )
    assert OrderLine.of(product, 1, Decimal("40")).unit_price == eur("40")
    assert Order.of(line).amounts.total == eur("120.88")


# -- email addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  ana@example.com ", "ana@example.com"),
        ("Ana Pérez <ana@example.com>", "ana@example.com"),
        ("first.last+tag@mail.example.co.uk", "first.last+tag@mail.example.co.uk"),
        ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
    ],
)
def test_cp7_valid_addresses(value: str, address: str) -> None:
    assert check_email_address(value) == address


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "@example.com",
        "ana@",
        "ana@localhost",
        "ana..b@example.com",
        ".ana@example.com",
        "ana@-example.com",
        "ana@example.c",
        "ana@exa mple.com",
        "a@b.com\r\nBcc: c@d.com",
        "a@b.com\nX: y",
        "a@b.com\x00",
        "a@b.com\u2028",
        "<a@b.com>, <c@d.com>",
        "a@b.com; c@d.com",
        "Ana <ana@example.com",
        "ana@exämple.com",
        "x" * 300 + "@example.com",
    ],
)
def test_cp7_rl4_invalid_or_injected_addresses_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_email_address(value, "extra_recipients")
    assert caught.value.field == "extra_recipients"


@given(st.text(min_size=1, max_size=40))
def test_cp7_property_no_accepted_address_can_carry_a_header(value: str) -> None:
    try:
        address = check_email_address(value)
    except InvalidInput:
        return
    assert not set(address) & set("\r\n\x00,;<> ")
    assert address.count("@") == 1


def test_cp7_duplicates_are_removed_case_insensitively_keeping_the_first() -> None:
    assert unique_addresses(["A@x.com", "b@x.com", "a@X.COM", "b@x.com"]) == (
        "A@x.com",
        "b@x.com",
    )


def test_cp8_an_outgoing_email_only_holds_plain_valid_addresses() -> None:
    def email(recipients: tuple[str, ...], subject: str = "Hi") -> OutgoingEmail:
        return OutgoingEmail(
            id="mail-1",
            recipients=recipients,
            subject=subject,
            text_body="t",
            html_body="h",
            created_at=NOW,
        )

    assert email(("a@example.com",)).recipients == ("a@example.com",)
    for bad in [(), ("Ana <a@example.com>",), ("a@example.com\r\nBcc: b@example.com",)]:
        with pytest.raises(InvalidInput, match="recipients"):
            email(bad)
    with pytest.raises(InvalidInput, match="subject"):
        email(("a@example.com",), subject="Hi\r\nBcc: b@example.com")
    with pytest.raises(InvalidInput, match="at most 100"):
        email(tuple(f"r{n}@example.com" for n in range(101)))
