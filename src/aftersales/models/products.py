"""Products, taxes and the per-line amount computation of G-8."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    bool_field,
    decimal,
    enum_of,
    id_field,
    money_of,
    text,
    to_tuple,
)
from aftersales.models.money import MAX_AMOUNT, Money, _made, check_number, quantize, to_decimal

__all__ = [
    "LineAmounts",
    "Product",
    "ProductKind",
    "Quantity",
    "Tax",
    "check_line",
    "compute_line",
    "line_amount",
    "round_quantity",
]

_NO_TAX = Decimal(0)
#: A line's amount, times 100 (its gross times `100 + excluded percent`), must stay below.
_LINE_LIMIT = MAX_AMOUNT * 100
_MAX_DIGITS = MAX_AMOUNT.adjusted()
_TOTAL_LIMIT = f"smaller than {MAX_AMOUNT:,f} in magnitude"


class ProductKind(StrEnum):
    """What a product is: stock is tracked for storable products only."""

    STORABLE = "storable"
    CONSUMABLE = "consumable"
    SERVICE = "service"


@attrs.frozen(kw_only=True)
class Tax:
    """A percentage tax, excluded from (default) or included in the unit price."""

    name: str = attrs.field(validator=text())
    percent: Decimal = attrs.field(validator=decimal(minimum=Decimal(0), maximum=Decimal(100)))
    price_include: bool = attrs.field(default=False, validator=bool_field)


@attrs.frozen(kw_only=True)
class LineAmounts:
    """Untaxed, tax and total amounts of one line (or a sum of lines)."""

    untaxed: Money
    tax: Money
    total: Money

    @classmethod
    def zero(cls, currency: str) -> LineAmounts:
        zero = Money.zero(currency)
        return cls(untaxed=zero, tax=zero, total=zero)

    @classmethod
    def sum(cls, items: Iterable[LineAmounts], currency: str) -> LineAmounts:
        """Add up `items` (each in `currency`): the same as `zero + a + b + …`.

        The amounts are added as Decimals (exact: they are rounded to the currency), each
        partial sum checked against the range of Money: a sum out of range is an
        [`InvalidInput`][aftersales.errors.InvalidInput] naming `lines`. Anything else unusual
        (another currency, a record that is not Money) is left to Money's own arithmetic, which
        raises as it always does.
        """
        items = tuple(items)
        zero = Money.zero(currency)
        untaxed = tax = total = zero.amount
        for item in items:
            u, t, a = item.untaxed, item.tax, item.total
            if not (
                type(u) is type(t) is type(a) is Money
                and u.currency == t.currency == a.currency == currency
            ):
                break
            untaxed, tax, total = untaxed + u.amount, tax + t.amount, total + a.amount
            if not (
                -MAX_AMOUNT < untaxed < MAX_AMOUNT
                and -MAX_AMOUNT < tax < MAX_AMOUNT
                and -MAX_AMOUNT < total < MAX_AMOUNT
            ):
                raise InvalidInput(
                    "lines",
                    f"{len(items)} lines",
                    f"add up to more than a total may be ({_TOTAL_LIMIT})",
                )
        else:
            return cls(
                untaxed=_made(untaxed, currency),
                tax=_made(tax, currency),
                total=_made(total, currency),
            )
        result = cls(untaxed=zero, tax=zero, total=zero)
        for item in items:
            result = result + item
        return result

    def __add__(self, other: LineAmounts) -> LineAmounts:
        return LineAmounts(
            untaxed=self.untaxed + other.untaxed,
            tax=self.tax + other.tax,
            total=self.total + other.total,
        )

    def __neg__(self) -> LineAmounts:
        return LineAmounts(untaxed=-self.untaxed, tax=-self.tax, total=-self.total)


def _percents(taxes: Iterable[Tax]) -> tuple[Decimal, Decimal]:
    """The percentages included in the price and excluded from it, summed."""
    included = excluded = _NO_TAX
    for tax_ in taxes:
        if not isinstance(tax_, Tax):
            raise InvalidInput("taxes", tax_, "expected Tax records")
        if tax_.price_include:
            included += tax_.percent
        else:
            excluded += tax_.percent
    return included, excluded


def _check_gross(quantity: Decimal, unit_price: Money, excluded: Decimal, field: str) -> Decimal:
    """`quantity` × the unit price, when the line's amount (with the taxes excluded from
    the price on top) is smaller than `MAX_AMOUNT` in
    magnitude; else [`InvalidInput`][aftersales.errors.InvalidInput] naming `field`.

    The quantity is checked first, by its exponent, so the product cannot overflow (two
    numbers below 10**15 multiply to less than 10**30: the context rounds it, no more).
    """
    if not quantity.is_finite() or quantity.adjusted() >= _MAX_DIGITS:
        check_number(quantity, field)
    gross = quantity * unit_price.amount
    if abs(gross) * (100 + excluded) < _LINE_LIMIT:
        return gross
    amount = gross * (100 + excluded) / 100
    raise InvalidInput(
        field,
        quantity,
        f"× {unit_price} makes a line of {amount:.6E} {unit_price.currency}: "
        f"a line's amount must be smaller than {MAX_AMOUNT:,f}",
    )


def check_line(
    quantity: Decimal, unit_price: Money, taxes: Iterable[Tax] = (), field: str = "quantity"
) -> None:
    """Refuse a line whose amount is out of range, as `compute_line()` would: the
    records of lines call it when they are built, so that a line of `1e14` × `1e14` is
    refused where it is made, not when its amounts are first needed."""
    _check_gross(quantity, unit_price, _percents(taxes)[1], field)


def line_amount(inst: Any, _attribute: attrs.Attribute[Any], _value: Any) -> None:
    """attrs validator for a line record with `quantity`, `unit_price` and `taxes`
    (put it on `taxes`: it looks at all three): the taxes are `Tax` records and the
    line's amount is in range (see `check_line()`). A line without a unit price yet (a
    repair line priced from its product later) is checked once it has one."""
    taxes = inst.taxes or ()
    for tax_ in taxes:
        if type(tax_) is not Tax:
            raise InvalidInput("taxes", tax_, "expected Tax records")
    price, quantity = inst.unit_price, inst.quantity
    if type(price) is not Money or type(quantity) is not Decimal:
        return  # refused by the fields' own validators (or not priced yet)
    # |quantity × price| < 10**(a + b + 2), at most 10**12 with up to nine taxes of 100 %.
    if quantity.adjusted() + price.amount.adjusted() < 10 and len(taxes) <= 9:
        return
    check_line(quantity, price, taxes)


def compute_line(
    quantity: Decimal, unit_price: Money, taxes: tuple[Tax, ...], field: str = "quantity"
) -> LineAmounts:
    """Amounts of `quantity` × `unit_price` with `taxes`, rounded per line (G-8).

    Taxes excluded from the price are added on top; taxes included in the price are taken
    out of it. Several taxes on a line are summed, not compounded. A line whose amount
    would be `MAX_AMOUNT` or more in magnitude is an
    [`InvalidInput`][aftersales.errors.InvalidInput] naming `field` (rounding it would raise a
    `decimal` error).
    """
    currency = unit_price.currency
    places = unit_price.places
    included, excluded = _percents(taxes)
    gross = _check_gross(quantity, unit_price, excluded, field)
    untaxed = (
        quantize(gross / (1 + included / 100), places) if included else quantize(gross, places)
    )
    tax_included = quantize(gross, places) - untaxed if included else _NO_TAX
    tax_excluded = quantize(untaxed * excluded / 100, places)
    tax = tax_included + tax_excluded
    exact = Money._exact
    return LineAmounts(
        untaxed=exact(untaxed, currency),
        tax=exact(tax, currency),
        total=exact(untaxed + tax, currency),
    )


def round_quantity(quantity: object, digits: int, field: str = "quantity") -> Decimal:
    """Round a quantity to a unit of measure's precision (RT-6); refuses non-Decimals.

    A quantity that is not finite or not smaller than
    `MAX_AMOUNT` in magnitude is refused before it is
    converted or rounded.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, Decimal | int):
        raise InvalidInput(field, quantity, "expected a Decimal quantity")
    return quantize(to_decimal(quantity, field), digits, field)


@attrs.frozen(kw_only=True)
class Quantity:
    """A quantity of a product with its unit of measure, as
    [`QuantityExceeded`][aftersales.errors.QuantityExceeded] carries it for a return.

    Examples:
        >>> Quantity(quantity=Decimal("3"), uom="Units")
        Quantity(quantity=Decimal('3'), uom='Units')
    """

    quantity: Decimal
    uom: str

    def __str__(self) -> str:
        return f"{self.quantity:f} {self.uom}"


@attrs.frozen(kw_only=True)
class Product:
    """A product that can be invoiced, delivered, returned or repaired.

    `uom_digits` is the number of decimal places of its unit of measure (0 for units).
    """

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    kind: ProductKind = attrs.field(default=ProductKind.STORABLE, validator=enum_of(ProductKind))
    price: Money = attrs.field(validator=money_of(non_negative=True))
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=to_tuple)
    uom: str = attrs.field(default="Units", validator=text())
    uom_digits: int = attrs.field(default=0)
    category: str | None = None

    @uom_digits.validator
    def _check_digits(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
            raise InvalidInput("uom_digits", value, "must be an integer from 0 to 6")
