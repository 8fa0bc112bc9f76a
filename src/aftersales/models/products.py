"""Products, taxes and the per-line amount computation of G-8."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

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
from aftersales.models.money import MAX_AMOUNT, Money, _made, quantize

__all__ = ["LineAmounts", "Product", "ProductKind", "Tax", "compute_line", "round_quantity"]

_NO_TAX = Decimal(0)


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
        """Add up ``items`` (each in ``currency``): the same as ``zero + a + b + …``.

        The amounts are added as Decimals (exact: they are rounded to the currency), each
        partial sum checked against the range of Money; anything unusual (another
        currency, an amount out of range) is left to Money's own arithmetic, which
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
                break
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


def compute_line(quantity: Decimal, unit_price: Money, taxes: tuple[Tax, ...]) -> LineAmounts:
    """Amounts of ``quantity`` × ``unit_price`` with ``taxes``, rounded per line (G-8).

    Taxes excluded from the price are added on top; taxes included in the price are taken
    out of it. Several taxes on a line are summed, not compounded.
    """
    currency = unit_price.currency
    places = unit_price.places
    gross = quantity * unit_price.amount
    included = excluded = _NO_TAX
    for tax_ in taxes:
        if tax_.price_include:
            included += tax_.percent
        else:
            excluded += tax_.percent
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
    """Round a quantity to a unit of measure's precision (RT-6); refuses non-Decimals."""
    if isinstance(quantity, bool) or not isinstance(quantity, Decimal | int):
        raise InvalidInput(field, quantity, "expected a Decimal quantity")
    number = Decimal(quantity)
    if not number.is_finite():
        raise InvalidInput(field, quantity, "must be a finite number")
    if abs(number) >= MAX_AMOUNT:
        raise InvalidInput(field, quantity, f"must be smaller than {MAX_AMOUNT:,f} in magnitude")
    return quantize(number, digits)


@attrs.frozen(kw_only=True)
class Product:
    """A product that can be invoiced, delivered, returned or repaired.

    ``uom_digits`` is the number of decimal places of its unit of measure (0 for units).
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
