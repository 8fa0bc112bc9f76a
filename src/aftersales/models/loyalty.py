"""Coupon programs with conditional rules and rewards, coupons and their uses (CP-1)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    a_date,
    aware,
    bool_field,
    decimal,
    enum_of,
    id_field,
    money_of,
    optional,
    text,
    to_frozenset,
    to_tuple,
)
from aftersales.models.money import Money, check_currency

__all__ = [
    "Coupon",
    "CouponProgram",
    "CouponRule",
    "CouponState",
    "CouponUse",
    "ProgramTrigger",
    "ProgramType",
    "Reward",
    "RewardKind",
]


class ProgramType(StrEnum):
    COUPONS = "coupons"
    PROMOTION = "promotion"
    GIFT_CARD = "gift_card"
    LOYALTY = "loyalty"


class ProgramTrigger(StrEnum):
    """A program applies automatically or when a code is entered."""

    AUTO = "auto"
    CODE = "code"


class RewardKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_PRODUCT = "free_product"


class CouponState(StrEnum):
    """A coupon's state as shown on the ticket (CP-10)."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"


@attrs.frozen(kw_only=True)
class CouponRule:
    """A condition an order must meet: minimum quantity and amount on matching lines.

    ``product_ids`` (empty: every product) restricts which lines count. The minimum amount
    is compared tax included unless ``amount_tax_included`` is False.
    """

    minimum_quantity: Decimal = attrs.field(
        default=Decimal(0), validator=decimal(minimum=Decimal(0))
    )
    minimum_amount: Money | None = attrs.field(
        default=None, validator=optional(money_of(non_negative=True))
    )
    amount_tax_included: bool = attrs.field(default=True, validator=bool_field)
    product_ids: frozenset[str] = attrs.field(converter=to_frozenset, factory=frozenset)


@attrs.frozen(kw_only=True)
class Reward:
    """What a coupon grants.

    * PERCENTAGE: ``percent`` (0 < p <= 100) of the order, or of the lines of
      ``product_ids`` when given, optionally capped by ``max_discount`` (tax included);
    * FIXED_AMOUNT: ``amount`` off, never more than the order's total;
    * FREE_PRODUCT: ``free_product_id`` × ``free_quantity`` at 100 % discount.

    Using the reward once costs ``required_points``.
    """

    kind: RewardKind = attrs.field(validator=enum_of(RewardKind))
    required_points: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))
    percent: Decimal | None = attrs.field(default=None)
    product_ids: frozenset[str] = attrs.field(converter=to_frozenset, factory=frozenset)
    max_discount: Money | None = attrs.field(
        default=None, validator=optional(money_of(positive=True))
    )
    amount: Money | None = attrs.field(default=None, validator=optional(money_of(positive=True)))
    free_product_id: str | None = attrs.field(default=None, validator=optional(id_field))
    free_quantity: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))

    def __attrs_post_init__(self) -> None:
        if self.kind is RewardKind.PERCENTAGE:
            if self.percent is None:
                raise InvalidInput("percent", None, "a percentage reward needs a percent")
            decimal(minimum=None)(self, attrs.fields(Reward).percent, self.percent)
            if not Decimal(0) < self.percent <= Decimal(100):
                raise InvalidInput("percent", self.percent, "must be in (0, 100]")
        elif self.kind is RewardKind.FIXED_AMOUNT and self.amount is None:
            raise InvalidInput("amount", None, "a fixed-amount reward needs an amount")
        elif self.kind is RewardKind.FREE_PRODUCT and self.free_product_id is None:
            raise InvalidInput("free_product_id", None, "a free-product reward needs a product")

    def describe(self) -> str:
        """Human text of the reward, e.g. ``10% on your order``."""
        if self.kind is RewardKind.PERCENTAGE:
            scope = "specific products" if self.product_ids else "your order"
            cap = f" (up to {self.max_discount})" if self.max_discount else ""
            return f"{self.percent:f}% on {scope}{cap}"
        if self.kind is RewardKind.FIXED_AMOUNT:
            return f"{self.amount} off your order"
        return f"{self.free_quantity:f} free product(s)"


@attrs.frozen(kw_only=True)
class CouponProgram:
    """A coupon program configured on the sales side and read by the library (CP-1).

    ``code`` is the program's own trigger code, if it has one; coupon codes never equal it.
    """

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    currency: str = attrs.field(validator=lambda _i, _a, v: check_currency(v))
    rewards: tuple[Reward, ...] = attrs.field(converter=to_tuple)
    rules: tuple[CouponRule, ...] = attrs.field(default=(), converter=to_tuple)
    active: bool = attrs.field(default=True, validator=bool_field)
    program_type: ProgramType = attrs.field(
        default=ProgramType.COUPONS, validator=enum_of(ProgramType)
    )
    trigger: ProgramTrigger = attrs.field(
        default=ProgramTrigger.CODE, validator=enum_of(ProgramTrigger)
    )
    date_to: date | None = attrs.field(default=None, validator=optional(a_date))
    max_usage: int | None = attrs.field(default=None)
    code: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))

    @rewards.validator
    def _check_rewards(self, _a: attrs.Attribute[object], value: tuple[Reward, ...]) -> None:
        if not value:
            raise InvalidInput("rewards", value, "a program needs at least one reward")

    @max_usage.validator
    def _check_max_usage(self, _a: attrs.Attribute[object], value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise InvalidInput("max_usage", value, "must be a whole number greater than zero")

    @property
    def reward(self) -> Reward:
        """The program's (first) reward, the one a generated coupon pays for."""
        return self.rewards[0]


@attrs.frozen(kw_only=True)
class Coupon:
    """A coupon of a program, for a customer, with a unique code and points to spend."""

    id: str = attrs.field(validator=id_field)
    code: str = attrs.field(validator=text(max_length=64))
    program_id: str = attrs.field(validator=id_field)
    partner_id: str = attrs.field(validator=id_field)
    points: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))
    created_at: datetime = attrs.field(validator=aware)
    expires_on: date | None = attrs.field(default=None, validator=optional(a_date))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))


@attrs.frozen(kw_only=True)
class CouponUse:
    """One redemption of a coupon."""

    id: str = attrs.field(validator=id_field)
    coupon_id: str = attrs.field(validator=id_field)
    program_id: str = attrs.field(validator=id_field)
    points: Decimal = attrs.field(validator=decimal(positive=True))
    used_at: datetime = attrs.field(validator=aware)
    order_reference: str = attrs.field(default="", validator=text(max_length=256, required=False))
