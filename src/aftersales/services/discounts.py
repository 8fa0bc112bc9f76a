"""Evaluating a coupon program against an order: conditions, then the discount (CP-3).

Pure functions over records;
[`CouponService.evaluate()`][aftersales.services.coupons.CouponService.evaluate] uses them after
checking that the coupon may be used. Amounts follow G-5 and G-8: every share is rounded to the
currency's minor unit, and a discount never takes an order, a tax set, or its tax below zero.

The discount is split per **tax set** of the discounted lines: each set gets its own share,
carrying those taxes, as the discount lines of an order would.

* A percentage takes `p %` of each set's untaxed amount, and the set's taxes on that.
  With `max_discount` (tax included) the total is capped, and the cap is shared between
  the sets in proportion to their uncapped discounts.
* A fixed amount (tax included) is at most the order's total, shared between the sets in
  proportion to their totals.
* A free product adds the product at 100 % discount: no total changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_FLOOR, Decimal

import attrs

from aftersales.arguments import a_record
from aftersales.errors import InvalidInput
from aftersales.formatting import show
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

__all__ = [
    "NOTHING_TO_DISCOUNT",
    "QUANTITIES_MISSING",
    "CouponEvaluation",
    "DiscountShare",
    "FreeProduct",
    "evaluate_program",
    "minimum_amount_message",
    "rules_failure",
]

#: Why a rule with a product filter or a minimum quantity failed (CP-3).
QUANTITIES_MISSING = "the required product quantities are not on the order"
#: Why a reward that applies has nothing to take off (no discounted line has an amount).
NOTHING_TO_DISCOUNT = "there is nothing to discount on the order"


def minimum_amount_message(minimum: Money) -> str:
    """`a minimum of 320.00 must be purchased` (CP-3)."""
    return f"a minimum of {minimum.amount:f} must be purchased"


@attrs.frozen(kw_only=True)
class DiscountShare:
    """The discount on the lines of one tax set: `base` is what those lines amount to,
    `discount` (negative) what the coupon takes off them."""

    taxes: tuple[Tax, ...]
    base: LineAmounts
    discount: LineAmounts


@attrs.frozen(kw_only=True)
class FreeProduct:
    """A product a free-product reward adds to the order at 100 % discount."""

    product_id: str
    quantity: Decimal


@attrs.frozen(kw_only=True)
class CouponEvaluation:
    """Whether a program's reward applies to an order and what it grants (CP-3).

    `reason` says which condition failed when `applies` is False. `discount` is
    negative (or zero) and is the sum of `shares`; `order_after` is the order's
    amounts with the discount.
    """

    program_id: str
    applies: bool
    reason: str = ""
    reward: Reward
    order: LineAmounts
    discount: LineAmounts
    shares: tuple[DiscountShare, ...] = ()
    free_product: FreeProduct | None = None

    @property
    def order_after(self) -> LineAmounts:
        """The order's untaxed, tax and total once the discount is taken off."""
        return self.order + self.discount


def evaluate_program(program: CouponProgram, order: Order) -> CouponEvaluation:
    """Evaluate `program`'s conditions and its (first) reward against `order`.

    Raises [`InvalidInput`][aftersales.errors.InvalidInput] when `order` is not an `Order` or is
    not in the program's currency.
    """
    a_record(order, Order, "order")
    if order.currency != program.currency:
        raise InvalidInput(
            "order.currency",
            order.currency,
            f"the program {show(program.name)} is in {program.currency}",
        )
    amounts = order.amounts
    zero = LineAmounts.zero(order.currency)
    reward = program.reward

    def refused(reason: str) -> CouponEvaluation:
        return CouponEvaluation(
            program_id=program.id,
            applies=False,
            reason=reason,
            reward=reward,
            order=amounts,
            discount=zero,
        )

    failure = rules_failure(program.rules, order)
    if failure:
        return refused(failure)
    if reward.kind is RewardKind.FREE_PRODUCT:
        assert reward.free_product_id is not None
        return CouponEvaluation(
            program_id=program.id,
            applies=True,
            reward=reward,
            order=amounts,
            discount=zero,
            free_product=FreeProduct(
                product_id=reward.free_product_id, quantity=reward.free_quantity
            ),
        )
    if reward.kind is RewardKind.PERCENTAGE:
        shares = _percentage(reward, order)
    else:
        shares = _fixed_amount(reward, order)
    if not shares:
        return refused(NOTHING_TO_DISCOUNT)
    discount = zero
    for share in shares:
        discount = discount + share.discount
    return CouponEvaluation(
        program_id=program.id,
        applies=True,
        reward=reward,
        order=amounts,
        discount=discount,
        shares=tuple(shares),
    )


# -- conditions ---------------------------------------------------------------------------


def rules_failure(rules: Sequence[CouponRule], order: Order) -> str:
    """`""` when the order meets one of `rules` (or there are none), else why not.

    A rule holds when all its conditions hold on its matching lines. They are checked in
    the reference's order: the minimum amount first (tax included unless the rule says
    otherwise), then at least one matching line when it filters products and the minimum
    quantity; a rule's failure is the first condition it fails. When no rule holds, the
    message names the smallest minimum amount among the rules that failed on it; when none
    did, it says the product quantities are missing.
    """
    if not rules:
        return ""
    short_of: list[Money] = []
    for rule in rules:
        lines = [
            line
            for line in order.lines
            if line.quantity > 0 and rule.matches(line.product_id, line.category)
        ]
        if rule.minimum_amount is not None:
            matched = _sum(order.currency, (line.amounts for line in lines))
            compared = matched.total if rule.amount_tax_included else matched.untaxed
            if compared < rule.minimum_amount:
                short_of.append(rule.minimum_amount)
                continue
        quantity = sum((line.quantity for line in lines), Decimal(0))
        if (rule.has_filter and not lines) or quantity < rule.minimum_quantity:
            continue
        return ""
    if short_of:
        return minimum_amount_message(min(short_of, key=lambda m: m.amount))
    return QUANTITIES_MISSING


# -- rewards ------------------------------------------------------------------------------


def _tax_key(tax: Tax) -> tuple[str, Decimal, bool]:
    return (tax.name, tax.percent, tax.price_include)


def _rate(taxes: tuple[Tax, ...]) -> Decimal:
    # Several taxes on a line are summed, not compounded (as in compute_line).
    return sum((t.percent for t in taxes), Decimal(0))


def _sum(currency: str, items: Iterable[LineAmounts]) -> LineAmounts:
    total = LineAmounts.zero(currency)
    for item in items:
        total = total + item
    return total


def _by_tax_set(
    lines: Iterable[OrderLine], currency: str
) -> list[tuple[tuple[Tax, ...], LineAmounts]]:
    """The lines' amounts per tax set, in the order the sets first appear; empty sets
    (lines without any amount) are left out."""
    groups: dict[tuple[Tax, ...], LineAmounts] = {}
    for line in lines:
        taxes = tuple(sorted(line.taxes, key=_tax_key))
        groups[taxes] = groups.get(taxes, LineAmounts.zero(currency)) + line.amounts
    return [(taxes, base) for taxes, base in groups.items() if base.total.amount > 0]


def _share(taxes: tuple[Tax, ...], base: LineAmounts, total: Money) -> DiscountShare:
    """A share worth `total` (tax included, at most `base.total`) of one tax set."""
    currency = total.currency
    untaxed = Money(amount=total.amount / (1 + _rate(taxes) / 100), currency=currency)
    untaxed = min(untaxed, base.untaxed, key=lambda m: m.amount)
    tax = total - untaxed
    if tax > base.tax:  # per-line rounding left the set less tax than the share's
        tax = base.tax
        untaxed = total - tax
    return DiscountShare(
        taxes=taxes,
        base=base,
        discount=-LineAmounts(untaxed=untaxed, tax=tax, total=untaxed + tax),
    )


def _split(target: Money, weights: Sequence[Decimal]) -> list[Money]:
    """`target` shared in proportion to `weights` (largest remainder, to the minor
    unit): the parts add up to `target` exactly and none exceeds its exact share
    rounded up."""
    unit = Decimal(1).scaleb(-target.places)
    whole = sum(weights, Decimal(0))
    exact = [target.amount * weight / whole for weight in weights]
    parts = [(value / unit).to_integral_value(rounding=ROUND_FLOOR) * unit for value in exact]
    left = int(((target.amount - sum(parts, Decimal(0))) / unit).to_integral_value())
    by_remainder = sorted(range(len(parts)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[:left]:
        parts[i] += unit
    return [Money(amount=part, currency=target.currency) for part in parts]


def _spread(
    groups: Sequence[tuple[tuple[Tax, ...], LineAmounts]],
    target: Money,
    weights: Sequence[Decimal],
) -> list[DiscountShare]:
    totals = _split(target, weights)
    return [_share(taxes, base, total) for (taxes, base), total in zip(groups, totals, strict=True)]


def _percentage(reward: Reward, order: Order) -> list[DiscountShare]:
    assert reward.percent is not None
    lines = [
        line
        for line in order.lines
        if not reward.product_ids or line.product_id in reward.product_ids
    ]
    groups = _by_tax_set(lines, order.currency)
    shares: list[DiscountShare] = []
    for taxes, base in groups:
        untaxed = base.untaxed * (reward.percent / 100)
        tax = min(untaxed * (_rate(taxes) / 100), base.tax, key=lambda m: m.amount)
        shares.append(
            DiscountShare(
                taxes=taxes,
                base=base,
                discount=-LineAmounts(untaxed=untaxed, tax=tax, total=untaxed + tax),
            )
        )
    cap = reward.max_discount
    uncapped = sum((-share.discount.total.amount for share in shares), Decimal(0))
    if cap is not None and uncapped > cap.amount:
        return _spread(groups, cap, [-share.discount.total.amount for share in shares])
    return shares


def _fixed_amount(reward: Reward, order: Order) -> list[DiscountShare]:
    assert reward.amount is not None
    groups = _by_tax_set(order.lines, order.currency)
    if not groups:
        return []
    order_total = _sum(order.currency, (base for _taxes, base in groups)).total
    target = min(reward.amount, order_total, key=lambda m: m.amount)
    return _spread(groups, target, [base.total.amount for _taxes, base in groups])
