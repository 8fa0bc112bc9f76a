"""An order to evaluate a coupon against: lines of product, quantity, price and taxes (CP-3)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    currency_code,
    decimal,
    id_field,
    money_of,
    optional,
    text,
    to_tuple,
)
from aftersales.models.money import Money
from aftersales.models.products import LineAmounts, Product, Tax, compute_line, line_amount

__all__ = ["Order", "OrderLine"]


@attrs.frozen(kw_only=True)
class OrderLine:
    """One line of an order: `quantity` × `unit_price` with `taxes` (G-8).

    `category` is the product's category, used by rules that filter on categories.
    """

    quantity: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))
    unit_price: Money = attrs.field(validator=money_of(non_negative=True))
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=to_tuple, validator=line_amount)
    product_id: str | None = attrs.field(default=None, validator=optional(id_field))
    category: str | None = attrs.field(default=None, validator=optional(text()))
    description: str = attrs.field(default="", validator=text(required=False))

    @classmethod
    def of(
        cls, product: Product, quantity: Decimal | int, unit_price: Decimal | None = None
    ) -> OrderLine:
        """A line of `product` at its price (or `unit_price`) with its taxes."""
        price = (
            product.price if unit_price is None else Money.of(unit_price, product.price.currency)
        )
        return cls(
            quantity=Decimal(quantity) if isinstance(quantity, int) else quantity,
            unit_price=price,
            taxes=product.taxes,
            product_id=product.id,
            category=product.category,
            description=product.name,
        )

    @property
    def amounts(self) -> LineAmounts:
        """Untaxed, tax and total of the line, rounded per line."""
        return compute_line(self.quantity, self.unit_price, self.taxes)


def _check_lines(order: Any, _a: attrs.Attribute[Any], lines: tuple[Any, ...]) -> None:
    for line in lines:
        if not isinstance(line, OrderLine):
            raise InvalidInput("lines", line, "expected OrderLine records")
        if line.unit_price.currency != order.currency:
            raise InvalidInput("lines.unit_price", line.unit_price, f"must be in {order.currency}")


@attrs.frozen(kw_only=True)
class Order:
    """A sale order (or cart) in one currency; totals are the sum of the rounded lines."""

    currency: str = attrs.field(validator=currency_code)
    lines: tuple[OrderLine, ...] = attrs.field(converter=to_tuple, validator=_check_lines)
    reference: str = attrs.field(default="", validator=text(max_length=256, required=False))

    @classmethod
    def of(cls, *lines: OrderLine, reference: str = "") -> Order:
        """An order of `lines`, in their currency."""
        if not lines:
            raise InvalidInput(
                "lines", lines, "an order needs at least one line to infer its currency"
            )
        return cls(currency=lines[0].unit_price.currency, lines=lines, reference=reference)

    @property
    def amounts(self) -> LineAmounts:
        """Untaxed, tax and total of the whole order."""
        return LineAmounts.sum((line.amounts for line in self.lines), self.currency)
