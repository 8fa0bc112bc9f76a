"""Evaluating a coupon against an order (CP-3): conditions, worked examples from the spec,
and the invariants of the discount (never below zero, caps, exact shares)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import InvalidCoupon, InvalidInput
from aftersales.models import (
    CouponProgram,
    CouponRule,
    LineAmounts,
    Money,
    Order,
    OrderLine,
    Reward,
    RewardKind,
    Tax,
)
from aftersales.serialization import dumps, loads
from aftersales.services.coupons import CODE_INVALID, COUPON_USED, CouponEvaluation
from aftersales.services.discounts import (
    NOTHING_TO_DISCOUNT,
    QUANTITIES_MISSING,
    FreeProduct,
    evaluate_program,
)
from aftersales.testing import Scenario, assert_unchanged

TAX15 = Tax(name="15%", percent=Decimal(15))
TAX21 = Tax(name="21%", percent=Decimal(21))
TAX10 = Tax(name="10%", percent=Decimal(10))
TAX21_INCL = Tax(name="21% incl", percent=Decimal(21), price_include=True)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def amounts(untaxed: str, tax: str, total: str, currency: str = "EUR") -> LineAmounts:
    return LineAmounts(
        untaxed=Money.of(untaxed, currency),
        tax=Money.of(tax, currency),
        total=Money.of(total, currency),
    )


def line(
    quantity: int | str,
    price: str,
    *taxes: Tax,
    product: str | None = None,
    category: str | None = None,
    currency: str = "EUR",
) -> OrderLine:
    return OrderLine(
        quantity=Decimal(quantity),
        unit_price=Money.of(price, currency),
        taxes=taxes,
        product_id=product,
        category=category,
    )


def program(reward: Reward, *rules: CouponRule, currency: str = "EUR") -> CouponProgram:
    return CouponProgram(
        id="program-1", name="Test", currency=currency, rewards=(reward,), rules=rules
    )


def percent(p: str, **kw: object) -> Reward:
    return Reward(kind=RewardKind.PERCENTAGE, percent=Decimal(p), **kw)  # type: ignore[arg-type]


# -- worked examples of the spec -------------------------------------------------------------------


def test_cp3_ten_percent_on_the_whole_order_per_tax_set() -> None:
    """10 % on 3 × 100.00 + 24 × 5.00, all 15 % excluded."""
    order = Order.of(line(3, "100.00", TAX15), line(24, "5.00", TAX15))

    result = evaluate_program(program(percent("10")), order)

    assert result.applies
    assert result.reason == ""
    assert result.order == amounts("420.00", "63.00", "483.00")
    assert result.discount == amounts("-42.00", "-6.30", "-48.30")
    assert result.order_after == amounts("378.00", "56.70", "434.70")
    (share,) = result.shares
    assert share.taxes == (TAX15,)
    assert share.base == result.order
    assert share.discount == result.discount


def test_cp3_a_cap_limits_the_discount_tax_included() -> None:
    """20 % of 2560.00 + 15 % tax capped at 200.00: −173.91 untaxed / −200.00 total."""
    order = Order.of(line(1, "2560.00", TAX15))
    result = evaluate_program(program(percent("20", max_discount=eur("200"))), order)
    assert result.discount == amounts("-173.91", "-26.09", "-200.00")
    assert result.order_after == amounts("2386.09", "357.91", "2744.00")


def test_cp3_a_cap_above_the_discount_changes_nothing() -> None:
    order = Order.of(line(3, "100.00", TAX15), line(24, "5.00", TAX15))
    result = evaluate_program(program(percent("10", max_discount=eur("48.30"))), order)
    assert result.discount == amounts("-42.00", "-6.30", "-48.30")


def test_cp3_a_fixed_amount_is_taken_off_tax_included() -> None:
    order = Order.of(line(3, "100.00", TAX15), line(24, "5.00", TAX15))
    fixed = Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur("50"))
    result = evaluate_program(program(fixed), order)
    assert result.discount == amounts("-43.48", "-6.52", "-50.00")


def test_cp3_a_fixed_amount_never_takes_the_order_below_zero() -> None:
    order = Order.of(line(3, "100.00", TAX15), line(24, "5.00", TAX15))
    fixed = Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur("1000"))
    result = evaluate_program(program(fixed), order)
    assert result.discount == amounts("-420.00", "-63.00", "-483.00")
    assert result.order_after == LineAmounts.zero("EUR")


def test_cp3_a_free_product_changes_no_total() -> None:
    order = Order.of(line(2, "49.95", TAX21, product="blender"))
    free = Reward(kind=RewardKind.FREE_PRODUCT, free_product_id="kettle", free_quantity=Decimal(1))
    result = evaluate_program(program(free), order)
    assert result.applies
    assert result.free_product == FreeProduct(product_id="kettle", quantity=Decimal(1))
    assert result.discount == LineAmounts.zero("EUR")
    assert result.order_after == result.order == amounts("99.90", "20.98", "120.88")
    assert result.shares == ()


def test_cp3_each_tax_set_gets_its_own_share_carrying_its_taxes() -> None:
    order = Order.of(
        line(2, "50.00", TAX21),
        line(1, "80.00", TAX10),
        line(1, "20.00", TAX21),
        line(1, "10.00"),  # no tax
    )
    result = evaluate_program(program(percent("10")), order)
    assert [(s.taxes, s.discount) for s in result.shares] == [
        ((TAX21,), amounts("-12.00", "-2.52", "-14.52")),
        ((TAX10,), amounts("-8.00", "-0.80", "-8.80")),
        ((), amounts("-1.00", "0.00", "-1.00")),
    ]
    assert result.discount == amounts("-21.00", "-3.32", "-24.32")


def test_cp3_lines_with_the_same_taxes_in_another_order_share_a_tax_set() -> None:
    order = Order.of(line(1, "100.00", TAX21, TAX10), line(1, "100.00", TAX10, TAX21))
    result = evaluate_program(program(percent("10")), order)
    assert len(result.shares) == 1
    assert result.discount == amounts("-20.00", "-6.20", "-26.20")


def test_cp3_a_cap_is_shared_between_tax_sets_in_proportion() -> None:
    order = Order.of(line(1, "1000.00", TAX21), line(1, "1000.00", TAX10))
    result = evaluate_program(program(percent("20", max_discount=eur("100"))), order)
    assert [s.discount for s in result.shares] == [
        amounts("-43.29", "-9.09", "-52.38"),
        amounts("-43.29", "-4.33", "-47.62"),
    ]
    assert result.discount.total == eur("-100.00")


def test_cp3_a_percentage_on_specific_products_discounts_only_their_lines() -> None:
    order = Order.of(
        line(3, "100.00", TAX15, product="blender"),
        line(24, "5.00", TAX15, product="kettle"),
    )
    result = evaluate_program(program(percent("10", product_ids={"kettle"})), order)
    assert result.discount == amounts("-12.00", "-1.80", "-13.80")
    (share,) = result.shares
    assert share.base == amounts("120.00", "18.00", "138.00")


def test_cp3_nothing_to_discount_when_the_products_are_not_on_the_order() -> None:
    order = Order.of(line(1, "100.00", TAX15, product="blender"))
    result = evaluate_program(program(percent("10", product_ids={"kettle"})), order)
    assert not result.applies
    assert result.reason == NOTHING_TO_DISCOUNT
    assert result.discount == LineAmounts.zero("EUR")
    assert result.order_after == result.order


def test_cp3_taxes_included_in_the_price_are_discounted_the_same_way() -> None:
    order = Order.of(line(1, "121.00", TAX21_INCL))
    assert order.amounts == amounts("100.00", "21.00", "121.00")
    result = evaluate_program(program(percent("10")), order)
    assert result.discount == amounts("-10.00", "-2.10", "-12.10")


def test_cp3_g5_amounts_follow_the_currency_minor_unit() -> None:
    order = Order.of(line(3, "999", TAX10, currency="JPY"))
    result = evaluate_program(program(percent("15"), currency="JPY"), order)
    assert result.discount == amounts("-450", "-45", "-495", currency="JPY")


def test_cp3_rl4_an_order_in_another_currency_is_refused() -> None:
    order = Order.of(line(1, "10.00", currency="USD"))
    with pytest.raises(InvalidInput, match="is in EUR") as caught:
        evaluate_program(program(percent("10")), order)
    assert caught.value.field == "order.currency"


# -- conditions ------------------------------------------------------------------------------------


def test_cp3_a_minimum_amount_is_compared_tax_included_by_default() -> None:
    """300.00 + 15 % tax = 345.00 ≥ 320.00, though 300.00 untaxed is not."""
    order = Order.of(line(3, "100.00", TAX15))
    included = CouponRule(minimum_amount=eur("320"))
    excluded = CouponRule(minimum_amount=eur("320"), amount_tax_included=False)
    assert evaluate_program(program(percent("10"), included), order).applies
    refused = evaluate_program(program(percent("10"), excluded), order)
    assert not refused.applies
    assert refused.reason == "a minimum of 320.00 must be purchased"
    assert refused.discount == LineAmounts.zero("EUR")


def test_cp3_the_minimum_amount_counts_only_the_matching_lines() -> None:
    order = Order.of(line(1, "300.00", product="blender"), line(1, "100.00", product="kettle"))
    rule = CouponRule(minimum_amount=eur("200"), product_ids={"kettle"})
    result = evaluate_program(program(percent("10"), rule), order)
    assert result.reason == "a minimum of 200.00 must be purchased"


def test_cp3_the_required_quantities_must_be_on_the_order() -> None:
    rule = CouponRule(minimum_quantity=Decimal(2), product_ids={"blender"})
    one = Order.of(line(1, "49.95", product="blender"), line(5, "20.00", product="kettle"))
    two = Order.of(line(2, "49.95", product="blender"))
    refused = evaluate_program(program(percent("10"), rule), one)
    assert (
        refused.reason
        == QUANTITIES_MISSING
        == "the required product quantities are not on the order"
    )
    assert evaluate_program(program(percent("10"), rule), two).applies


def test_cp3_when_amount_and_quantity_both_fail_the_amount_is_reported() -> None:
    """The reference checks the minimum amount first: 1 × 100.00 + 15 % misses both 320.00
    and 3 blenders, and the reason is the amount."""
    rule = CouponRule(
        minimum_amount=eur("320"), minimum_quantity=Decimal(3), product_ids={"blender"}
    )
    order = Order.of(line(1, "100.00", TAX15, product="blender"))
    refused = evaluate_program(program(percent("10"), rule), order)
    assert (refused.applies, refused.reason) == (False, "a minimum of 320.00 must be purchased")
    enough = Order.of(line(1, "400.00", TAX15, product="blender"))
    assert evaluate_program(program(percent("10"), rule), enough).reason == QUANTITIES_MISSING


def test_cp3_a_product_filter_needs_a_matching_line_even_without_a_minimum() -> None:
    rule = CouponRule(product_ids={"blender"})
    order = Order.of(line(5, "20.00", product="kettle"), line(0, "49.95", product="blender"))
    assert evaluate_program(program(percent("10"), rule), order).reason == QUANTITIES_MISSING


def test_cp3_rules_may_filter_on_product_categories() -> None:
    rule = CouponRule(minimum_quantity=Decimal(2), categories={"Kitchen"})
    order = Order.of(
        line(1, "49.95", product="blender", category="Kitchen"),
        line(1, "20.00", product="kettle", category="Kitchen"),
        line(9, "1.00", product="pen", category="Office"),
    )
    assert evaluate_program(program(percent("10"), rule), order).applies
    office = Order.of(line(9, "1.00", product="pen", category="Office"))
    assert evaluate_program(program(percent("10"), rule), office).reason == QUANTITIES_MISSING


def test_cp3_an_order_meeting_any_one_rule_qualifies() -> None:
    rules = (
        CouponRule(minimum_amount=eur("500")),
        CouponRule(minimum_quantity=Decimal(3), product_ids={"kettle"}),
    )
    order = Order.of(line(3, "20.00", product="kettle"))
    assert evaluate_program(program(percent("10"), *rules), order).applies


def test_cp3_when_no_rule_holds_the_message_names_the_smallest_minimum_missed() -> None:
    rules = (
        CouponRule(minimum_amount=eur("500")),
        CouponRule(minimum_amount=eur("320")),
        CouponRule(minimum_quantity=Decimal(3), product_ids={"kettle"}),
    )
    order = Order.of(line(1, "100.00"))
    assert (
        evaluate_program(program(percent("10"), *rules), order).reason
        == "a minimum of 320.00 must be purchased"
    )


def test_cp3_a_program_without_rules_applies_to_any_order() -> None:
    order = Order.of(line(1, "0.50"))
    assert evaluate_program(program(percent("10")), order).applies


def test_cp3_evaluations_round_trip_through_json() -> None:
    order = Order.of(line(1, "1000.00", TAX21), line(1, "1000.00", TAX10))
    result = evaluate_program(program(percent("20", max_discount=eur("100"))), order)
    assert loads(dumps(result), CouponEvaluation) == result


# -- through the service ---------------------------------------------------------------------------


def test_cp3_evaluate_a_code_against_an_order_without_using_it(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    info = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    order = Order.of(OrderLine.of(scenario.blender, 2), OrderLine.of(scenario.kettle, 1))
    with assert_unchanged(backend):
        result = app.coupons.evaluate(info.code, order, actor=agent)
    assert result.program_id == scenario.program.id
    assert result.order == amounts("119.90", "25.18", "145.08")
    assert result.discount == amounts("-11.99", "-2.52", "-14.51")
    app.coupons.redeem(info.code, actor=agent)
    with pytest.raises(InvalidCoupon, match=COUPON_USED):
        app.coupons.evaluate(info.code, order, actor=agent)


def test_cp3_evaluate_refuses_unknown_codes_and_non_orders(
    app: AfterSales, backend: MemoryBackend, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    order = Order.of(OrderLine.of(scenario.kettle, 1))
    with pytest.raises(InvalidCoupon, match=CODE_INVALID), assert_unchanged(backend):
        app.coupons.evaluate("044UNKNOWN", order, actor=agent)
    info = app.coupons.generate(scenario.ticket.id, scenario.program.id, actor=agent)
    with pytest.raises(InvalidInput, match="expected an Order"), assert_unchanged(backend):
        app.coupons.evaluate(info.code, [("kettle", 1)], actor=agent)  # type: ignore[arg-type]


def test_cp3_evaluate_reports_a_failed_condition(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    minimum = backend.builder(clock).coupon_program(
        name="From 320", rules=[CouponRule(minimum_amount=eur("320"))]
    )
    agent = scenario.actors.agent
    info = app.coupons.generate(scenario.ticket.id, minimum.id, actor=agent)
    order = Order.of(OrderLine.of(scenario.kettle, 1))
    result = app.coupons.evaluate(info.code, order, actor=agent)
    assert (result.applies, result.reason) == (False, "a minimum of 320.00 must be purchased")


# -- invariants ------------------------------------------------------------------------------------

TAX_SETS = [(), (TAX10,), (TAX21,), (TAX15,), (TAX21_INCL,), (TAX21, TAX10)]

lines = st.builds(
    lambda q, cents, taxes, product: OrderLine(
        quantity=Decimal(q),
        unit_price=Money.of(Decimal(cents) / 100, "EUR"),
        taxes=taxes,
        product_id=product,
    ),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=200_000),
    st.sampled_from(TAX_SETS),
    st.sampled_from(["a", "b", "c"]),
)
orders = st.lists(lines, min_size=1, max_size=8).map(lambda ls: Order.of(*ls))
percents = st.integers(min_value=1, max_value=10_000).map(lambda n: Decimal(n) / 100)
caps = st.one_of(
    st.none(), st.integers(min_value=1, max_value=500_000).map(lambda c: eur(str(Decimal(c) / 100)))
)
rewards = st.one_of(
    st.builds(
        lambda p, cap, only: percent(str(p), max_discount=cap, product_ids=only),
        percents,
        caps,
        st.sampled_from([frozenset(), frozenset({"a"}), frozenset({"b", "c"})]),
    ),
    st.builds(
        lambda cents: Reward(kind=RewardKind.FIXED_AMOUNT, amount=eur(str(Decimal(cents) / 100))),
        st.integers(min_value=1, max_value=1_000_000),
    ),
)


@settings(max_examples=300, deadline=None)
@given(order=orders, reward=rewards)
def test_cp3_property_a_discount_never_takes_anything_below_zero(
    order: Order, reward: Reward
) -> None:
    result = evaluate_program(program(reward), order)
    zero = Money.zero("EUR")
    assert result.order == order.amounts
    for part in (result.discount.untaxed, result.discount.tax, result.discount.total):
        assert part <= zero
    after = result.order_after
    assert after.untaxed >= zero
    assert after.tax >= zero
    assert after.total >= zero
    assert result.discount.total == result.discount.untaxed + result.discount.tax
    total = LineAmounts.zero("EUR")
    for share in result.shares:
        assert -share.discount.untaxed <= share.base.untaxed
        assert -share.discount.tax <= share.base.tax
        total = total + share.discount
    assert total == result.discount
    if not result.applies:
        assert result.reason == NOTHING_TO_DISCOUNT
        assert result.discount == LineAmounts.zero("EUR")


@settings(max_examples=200, deadline=None)
@given(order=orders, reward=rewards)
def test_cp3_property_caps_and_fixed_amounts_are_exact(order: Order, reward: Reward) -> None:
    result = evaluate_program(program(reward), order)
    if not result.applies:
        return
    granted = -result.discount.total
    if reward.kind is RewardKind.FIXED_AMOUNT:
        assert reward.amount is not None
        assert granted == min(reward.amount, order.amounts.total, key=lambda m: m.amount)
    elif reward.max_discount is not None:
        assert granted <= reward.max_discount


@settings(max_examples=200, deadline=None)
@given(order=orders, p=percents)
def test_cp3_property_an_uncapped_percentage_is_p_percent_of_each_tax_set(
    order: Order, p: Decimal
) -> None:
    result = evaluate_program(program(percent(str(p))), order)
    for share in result.shares:
        expected = Money(amount=share.base.untaxed.amount * p / 100, currency="EUR")
        assert -share.discount.untaxed == expected
    if p == 100:
        assert result.order_after.untaxed == Money.zero("EUR")
