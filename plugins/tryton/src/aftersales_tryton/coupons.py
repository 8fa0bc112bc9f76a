"""Coupons through ``sale_promotion_coupon``: programs, coupon numbers, evaluation, redemption.

In Tryton a program is a ``sale.promotion`` (its ``formula`` computes the discounted unit
price) with a ``sale.promotion.coupon`` (how many uses a number allows, counted per party
or not); what a customer types is a ``sale.promotion.coupon.number``. Tryton does not make
up numbers: the caller gives one (and finds the coupon again by it). A number is used by
attaching it to a sale: Tryton counts the sales that carry it, deactivates the number when
the count reaches the limit, and applies the promotion when the sale is quoted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import attrs
from proteus import Model

from aftersales.errors import InvalidCoupon, InvalidInput, InvalidState
from aftersales_tryton._values import a_positive_quantity, an_id, decimal, load, record_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated

__all__ = [
    "CouponNumber",
    "CouponStatus",
    "Program",
    "Redemption",
    "create_draft_sale",
    "create_program",
    "evaluate",
    "find_coupon",
    "issue_coupon",
    "redeem",
]

NUMBER = "sale.promotion.coupon.number"


@attrs.frozen
class Program:
    """A promotion with one coupon rule (Tryton ids of both)."""

    promotion_id: int
    coupon_id: int
    name: str
    formula: str
    #: Uses a number allows (0: no limit), counted per party when ``per_party``.
    number_of_use: int
    per_party: bool


@attrs.frozen
class CouponNumber:
    """A coupon number issued on a program."""

    id: int
    number: str
    coupon_id: int
    promotion_id: int
    start_date: dt.date | None
    end_date: dt.date | None


@attrs.frozen
class CouponStatus:
    """What Tryton says of a number for a customer today."""

    number: CouponNumber
    #: Tryton's own answer: usable by this party now (dates and uses).
    active: bool
    #: Sales that carry the number (all parties), and the limit (0: none).
    uses: int
    limit: int
    per_party: bool


@attrs.frozen
class Redemption:
    """A sale quoted with the coupon: its untaxed amount before and after."""

    sale_id: int
    sale_state: str
    untaxed_before: Decimal
    untaxed_after: Decimal


def create_program(
    config: Config,
    name: str,
    *,
    formula: str,
    number_of_use: int = 1,
    per_party: bool = False,
) -> Program:
    """A promotion ``name`` (``formula``, e.g. ``"0.9 * unit_price"``) with a coupon rule."""
    if not name.strip():
        raise InvalidInput("name", name, "a program needs a name")
    if isinstance(number_of_use, bool) or not isinstance(number_of_use, int) or number_of_use < 0:
        raise InvalidInput("number_of_use", number_of_use, "an int >= 0 (0: no limit)")
    with translated("create a coupon program"):
        promotion = Model.get("sale.promotion", config=config)(name=name, formula=formula)
        coupon = promotion.coupons.new()
        coupon.number_of_use = number_of_use
        coupon.per_party = per_party
        promotion.save()
        (coupon,) = promotion.coupons
    return Program(
        promotion_id=record_id(promotion),
        coupon_id=record_id(coupon),
        name=str(promotion.name),
        formula=str(promotion.formula),
        number_of_use=int(coupon.number_of_use),
        per_party=bool(coupon.per_party),
    )


def _number(record: object) -> CouponNumber:
    return CouponNumber(
        id=record_id(record),
        number=str(record.number),  # type: ignore[attr-defined]
        coupon_id=record_id(record.coupon),  # type: ignore[attr-defined]
        promotion_id=record_id(record.coupon.promotion),  # type: ignore[attr-defined]
        start_date=record.start_date,  # type: ignore[attr-defined]
        end_date=record.end_date,  # type: ignore[attr-defined]
    )


def _a_code(number: object) -> str:
    if not isinstance(number, str) or not number.strip() or number != number.strip():
        raise InvalidInput("number", number, "a coupon number: a non-empty string, no padding")
    return number


def issue_coupon(
    config: Config,
    coupon_id: int,
    number: str,
    *,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
) -> CouponNumber:
    """Issue ``number`` on the coupon rule ``coupon_id``, valid from ``start_date`` (today)
    to ``end_date`` (open). Tryton refuses a number already valid on overlapping dates, and
    one that has already expired (an inactive record's fields are read-only in Tryton)."""
    code = _a_code(number)
    if start_date and end_date and end_date < start_date:
        raise InvalidInput("end_date", end_date, "ends before it starts")
    coupon = load(config, "sale.promotion.coupon", coupon_id, "coupon rule")
    with translated(f"issue coupon number {code}"):
        record = Model.get(NUMBER, config=config)(coupon=coupon, number=code)
        if start_date is not None:
            record.start_date = start_date
        record.end_date = end_date
        record.save()
    return _number(record)


def find_coupon(config: Config, number: str) -> CouponNumber | None:
    """The coupon number ``number`` (used up or not), or None."""
    code = _a_code(number)
    # A used-up or expired number is inactive; active_test=False finds it all the same.
    with translated(f"find coupon number {code}"), config.set_context(active_test=False):
        found = Model.get(NUMBER, config=config).find(
            [("number", "=", code)], order=[("id", "DESC")], limit=1
        )
    return _number(found[0]) if found else None


def evaluate(config: Config, number: str, party_id: int) -> CouponStatus:
    """Whether ``party_id`` may use ``number`` now, with Tryton's use count."""
    found = find_coupon(config, number)
    if found is None:
        raise InvalidCoupon(number, "Tryton has no such coupon number")
    an_id("party id", party_id)
    number_model = Model.get(NUMBER, config=config)
    with translated(f"evaluate coupon number {number}"), config.set_context(party=party_id):
        active = bool(number_model.find([("id", "=", found.id)]))
    with translated(f"count the uses of coupon number {number}"):
        uses = Model.get("sale.sale", config=config).find([("coupons", "=", found.id)])
        coupon = Model.get("sale.promotion.coupon", config=config)(found.coupon_id)
    return CouponStatus(
        number=found,
        active=active,
        uses=len(uses),
        limit=int(coupon.number_of_use),
        per_party=bool(coupon.per_party),
    )


def create_draft_sale(
    config: Config, party_id: int, lines: Sequence[tuple[int, Decimal | int]]
) -> int:
    """A draft sale to ``party_id`` of ``(product id, quantity)`` lines; its id."""
    if not lines:
        raise InvalidInput("lines", lines, "a sale needs at least one line")
    checked = [(an_id("product id", p), a_positive_quantity("quantity", q)) for p, q in lines]
    party = load(config, "party.party", party_id, "party")
    with translated("create a sale"):
        sale = Model.get("sale.sale", config=config)()
        sale.party = party
        for product, quantity in checked:
            line = sale.lines.new()
            line.product = Model.get("product.product", config=config)(product)
            line.quantity = quantity  # a Float field in Tryton; proteus converts
        sale.save()
    return record_id(sale)


def redeem(config: Config, number: str, sale_id: int) -> Redemption:
    """Use ``number`` on the draft sale ``sale_id``: attach it and quote the sale (Tryton
    applies the promotion and counts the use)."""
    status = None
    sale = load(config, "sale.sale", sale_id, "sale")
    if sale.state != "draft":
        raise InvalidState(f"sale {sale_id} is {sale.state}: a coupon is added to a draft sale")
    status = evaluate(config, number, record_id(sale.party))
    if not status.active:
        raise InvalidCoupon(number, "used up or out of its dates for this customer in Tryton")
    before = decimal(sale.untaxed_amount)
    with translated(f"redeem coupon number {number}"):
        sale.coupons.append(Model.get(NUMBER, config=config)(status.number.id))
        sale.save()
        sale.click("quote")
    sale = load(config, "sale.sale", sale_id, "sale")
    return Redemption(
        sale_id=sale_id,
        sale_state=str(sale.state),
        untaxed_before=before,
        untaxed_after=decimal(sale.untaxed_amount),
    )
