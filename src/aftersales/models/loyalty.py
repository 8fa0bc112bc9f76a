"""Coupon programs with conditional rules and rewards, coupons and their uses (CP-1).

Programs are configured on the sales side and read by the library; every record refuses
bad data when it is built (percent outside (0, 100], non-positive amounts, money in
another currency than the program's, a `max_usage` that is not a whole number above
zero…), so a program that exists is a program that can be evaluated.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    a_date,
    aware,
    bool_field,
    check_text,
    currency_code,
    decimal,
    enum_of,
    id_field,
    ids,
    money_of,
    optional,
    text,
    to_frozenset,
    to_tuple,
)
from aftersales.models.money import Money

__all__ = [
    "COUPON_CODE_ALPHABET",
    "COUPON_CODE_PREFIX",
    "Coupon",
    "CouponCodeGenerator",
    "CouponProgram",
    "CouponRequest",
    "CouponRule",
    "CouponState",
    "CouponUse",
    "ProgramTrigger",
    "ProgramType",
    "Redemption",
    "Reward",
    "RewardKind",
    "check_coupon_code",
    "coupon_state",
    "default_coupon_code",
    "effective_expiry",
]

#: Prefix of the default coupon codes (the reference product's format).
COUPON_CODE_PREFIX: Final = "044"
#: Characters of the random part of a default code: upper-case letters and digits without
#: the look-alikes `0 O 1 I L`, so a code read aloud or copied by hand stays right.
COUPON_CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_RANDOM_LENGTH: Final = 11
_CODE = re.compile(r"^\S{1,64}$")


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


def check_coupon_code(value: object, field: str = "code") -> str:
    """Validate a coupon code: text of 1 to 64 characters without spaces or control characters."""
    code = check_text(value, field, max_length=64)
    if not _CODE.match(code):
        raise InvalidInput(field, value, "a coupon code has no spaces or line breaks")
    return code


def _code_field(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_coupon_code(value, attribute.name)


def _texts(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for item in value:
        check_text(item, attribute.name)


def _percent_text(percent: Decimal) -> str:
    """`Decimal("10")` → `"10"`, `Decimal("12.50")` → `"12.5"`."""
    normal = percent.normalize()
    return f"{normal:f}"


@attrs.frozen(kw_only=True)
class CouponRule:
    """A condition an order must meet: minimum quantity and amount on the matching lines.

    The matching lines are every line when the rule has no product filter, else the lines
    whose product is one of `product_ids` or whose product category is one of
    `categories`. The minimum amount is compared tax included unless
    `amount_tax_included` is False (CP-3).
    """

    minimum_quantity: Decimal = attrs.field(
        default=Decimal(0), validator=decimal(minimum=Decimal(0))
    )
    minimum_amount: Money | None = attrs.field(
        default=None, validator=optional(money_of(non_negative=True))
    )
    amount_tax_included: bool = attrs.field(default=True, validator=bool_field)
    product_ids: frozenset[str] = attrs.field(
        converter=to_frozenset, factory=frozenset, validator=ids
    )
    categories: frozenset[str] = attrs.field(
        converter=to_frozenset, factory=frozenset, validator=_texts
    )

    @property
    def has_filter(self) -> bool:
        """True when only some products count for this rule."""
        return bool(self.product_ids or self.categories)

    def matches(self, product_id: str | None, category: str | None) -> bool:
        """Does a line of `product_id` (in `category`) count for this rule?"""
        if not self.has_filter:
            return True
        return (product_id is not None and product_id in self.product_ids) or (
            category is not None and category in self.categories
        )


@attrs.frozen(kw_only=True)
class Reward:
    """What a coupon grants.

    * PERCENTAGE: `percent` (0 < p <= 100) of the order, or of the lines of
      `product_ids` when given, optionally capped by `max_discount` (tax included);
    * FIXED_AMOUNT: `amount` off (tax included), never more than the order's total;
    * FREE_PRODUCT: `free_product_id` × `free_quantity` at 100 % discount.

    Using the reward once costs `required_points`. A field that does not belong to the
    kind (a percent on a fixed-amount reward, say) is refused rather than ignored.
    """

    kind: RewardKind = attrs.field(validator=enum_of(RewardKind))
    required_points: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))
    percent: Decimal | None = attrs.field(default=None)
    product_ids: frozenset[str] = attrs.field(
        converter=to_frozenset, factory=frozenset, validator=ids
    )
    max_discount: Money | None = attrs.field(
        default=None, validator=optional(money_of(positive=True))
    )
    amount: Money | None = attrs.field(default=None, validator=optional(money_of(positive=True)))
    free_product_id: str | None = attrs.field(default=None, validator=optional(id_field))
    free_quantity: Decimal = attrs.field(default=Decimal(1), validator=decimal(positive=True))

    def __attrs_post_init__(self) -> None:
        kind = self.kind
        if kind is RewardKind.PERCENTAGE:
            if self.percent is None:
                raise InvalidInput("percent", None, "a percentage reward needs a percent")
            decimal()(self, attrs.fields(Reward).percent, self.percent)
            if not Decimal(0) < self.percent <= Decimal(100):
                raise InvalidInput("percent", self.percent, "must be in (0, 100]")
        elif kind is RewardKind.FIXED_AMOUNT and self.amount is None:
            raise InvalidInput("amount", None, "a fixed-amount reward needs an amount")
        elif kind is RewardKind.FREE_PRODUCT and self.free_product_id is None:
            raise InvalidInput("free_product_id", None, "a free-product reward needs a product")
        foreign: dict[str, tuple[object, bool]] = {
            "percent": (self.percent, kind is not RewardKind.PERCENTAGE),
            "product_ids": (self.product_ids, kind is not RewardKind.PERCENTAGE),
            "max_discount": (self.max_discount, kind is not RewardKind.PERCENTAGE),
            "amount": (self.amount, kind is not RewardKind.FIXED_AMOUNT),
            "free_product_id": (self.free_product_id, kind is not RewardKind.FREE_PRODUCT),
        }
        for field, (value, wrong_kind) in foreign.items():
            if wrong_kind and value not in (None, frozenset()):
                raise InvalidInput(field, value, f"does not apply to a {kind.value} reward")
        if kind is not RewardKind.FREE_PRODUCT and self.free_quantity != 1:
            raise InvalidInput(
                "free_quantity", self.free_quantity, f"does not apply to a {kind.value} reward"
            )

    @property
    def currency(self) -> str | None:
        """The currency of the reward's money fields, if it has any."""
        money = self.amount or self.max_discount
        return money.currency if money else None

    def describe(self, free_product_name: str | None = None) -> str:
        """Human text of the reward, e.g. `10% on your order`."""
        if self.kind is RewardKind.PERCENTAGE:
            assert self.percent is not None
            scope = "selected products" if self.product_ids else "your order"
            cap = f" (up to {self.max_discount})" if self.max_discount else ""
            return f"{_percent_text(self.percent)}% on {scope}{cap}"
        if self.kind is RewardKind.FIXED_AMOUNT:
            return f"{self.amount} off your order"
        quantity = _percent_text(self.free_quantity)
        return f"{quantity} × {free_product_name or 'product'} free"


def _check_rules(
    _inst: Any, _a: attrs.Attribute[tuple[CouponRule, ...]], value: tuple[CouponRule, ...]
) -> None:
    for rule in value:
        if not isinstance(rule, CouponRule):
            raise InvalidInput("rules", rule, "expected CouponRule records")


@attrs.frozen(kw_only=True)
class CouponProgram:
    """A coupon program configured on the sales side and read by the library (CP-1).

    `code` is the program's own trigger code, if it has one; coupon codes never equal it.
    `max_usage` limits how many times coupons of the program may be redeemed in all.
    """

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    currency: str = attrs.field(validator=currency_code)
    rewards: tuple[Reward, ...] = attrs.field(converter=to_tuple)
    rules: tuple[CouponRule, ...] = attrs.field(
        default=(), converter=to_tuple, validator=_check_rules
    )
    active: bool = attrs.field(default=True, validator=bool_field)
    program_type: ProgramType = attrs.field(
        default=ProgramType.COUPONS, validator=enum_of(ProgramType)
    )
    trigger: ProgramTrigger = attrs.field(
        default=ProgramTrigger.CODE, validator=enum_of(ProgramTrigger)
    )
    date_to: date | None = attrs.field(default=None, validator=optional(a_date))
    max_usage: int | None = attrs.field(default=None)
    code: str | None = attrs.field(default=None, validator=optional(_code_field))

    @rewards.validator
    def _check_rewards(self, _a: attrs.Attribute[object], value: tuple[Reward, ...]) -> None:
        if not value:
            raise InvalidInput("rewards", value, "a program needs at least one reward")
        for reward in value:
            if not isinstance(reward, Reward):
                raise InvalidInput("rewards", reward, "expected Reward records")

    @max_usage.validator
    def _check_max_usage(self, _a: attrs.Attribute[object], value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise InvalidInput("max_usage", value, "must be a whole number greater than zero")

    def __attrs_post_init__(self) -> None:
        for reward in self.rewards:
            for field in ("amount", "max_discount"):
                money: Money | None = getattr(reward, field)
                if money is not None and money.currency != self.currency:
                    raise InvalidInput(
                        f"rewards.{field}", money, f"must be in {self.currency}, as the program"
                    )
        for rule in self.rules:
            if rule.minimum_amount is not None and rule.minimum_amount.currency != self.currency:
                raise InvalidInput(
                    "rules.minimum_amount",
                    rule.minimum_amount,
                    f"must be in {self.currency}, as the program",
                )

    @property
    def reward(self) -> Reward:
        """The program's (first) reward, the one a generated coupon pays for."""
        return self.rewards[0]

    def has_ended(self, today: date) -> bool:
        """Archived, or its validity ended before `today` (CP-2, CP-9)."""
        return not self.active or (self.date_to is not None and self.date_to < today)

    def is_offered(self, today: date) -> bool:
        """Can a ticket offer it (CP-2): active, of type coupons, triggered by a code,
        not expired."""
        return (
            self.program_type is ProgramType.COUPONS
            and self.trigger is ProgramTrigger.CODE
            and not self.has_ended(today)
        )

    def limit_reached(self, uses: int) -> bool:
        """Has the usage limit been reached with `uses` redemptions?"""
        return self.max_usage is not None and uses >= self.max_usage


@attrs.frozen(kw_only=True)
class Coupon:
    """A coupon of a program, for a customer, with a unique code and points to spend.

    The ERP makes the coupon and its `id` (`aftersales_loyalty_issue_coupon`);
    `operation_ref` is the reference of the library's call that issued it or last redeemed
    it (`aftersales_loyalty_find_by_reference`), `None` for a coupon no call of the library
    wrote.
    """

    id: str = attrs.field(validator=id_field)
    code: str = attrs.field(validator=_code_field)
    program_id: str = attrs.field(validator=id_field)
    partner_id: str = attrs.field(validator=id_field)
    points: Decimal = attrs.field(validator=decimal(minimum=Decimal(0)))
    created_at: datetime = attrs.field(validator=aware)
    expires_on: date | None = attrs.field(default=None, validator=optional(a_date))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))

    def is_expired(self, today: date) -> bool:
        """Its own expiration date is before `today`."""
        return self.expires_on is not None and self.expires_on < today


@attrs.frozen(kw_only=True)
class CouponUse:
    """One redemption of a coupon, as the ERP recorded it (its `id`); `operation_ref` is
    the reference of the library's call that redeemed it."""

    id: str = attrs.field(validator=id_field)
    coupon_id: str = attrs.field(validator=id_field)
    program_id: str = attrs.field(validator=id_field)
    points: Decimal = attrs.field(validator=decimal(positive=True))
    used_at: datetime = attrs.field(validator=aware)
    order_reference: str = attrs.field(default="", validator=text(max_length=256, required=False))
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))


@attrs.frozen(kw_only=True)
class CouponRequest:
    """What the coupon service asks the ERP to issue (`aftersales_loyalty_issue_coupon`): a
    coupon of `program_id` for `partner_id` with `points` to spend, under `code`.

    The ERP chooses the coupon's id; the code is the library's
    (`Config.coupon_code_generator`) and the ERP refuses a taken one with
    [`DuplicateKey`][aftersales.errors.DuplicateKey], the service then drawing another. `at`
    is the library's time of the call (an ERP may stamp its own) and `reference` identifies
    the call (see `aftersales_loyalty_find_by_reference`).
    """

    program_id: str = attrs.field(validator=id_field)
    partner_id: str = attrs.field(validator=id_field)
    code: str = attrs.field(validator=_code_field)
    points: Decimal = attrs.field(validator=decimal(positive=True))
    at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(validator=text(max_length=64))
    expires_on: date | None = attrs.field(default=None, validator=optional(a_date))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))


@attrs.frozen(kw_only=True)
class Redemption:
    """What the ERP stored for one use of a coupon (`aftersales_loyalty_redeem`): the use
    and the coupon after it, its points spent."""

    use: CouponUse
    coupon: Coupon


def effective_expiry(coupon: Coupon, program: CouponProgram) -> date | None:
    """The last day `coupon` can be used: its own expiration date or its program's end,
    whichever comes first (`None` when neither is set)."""
    days = [day for day in (coupon.expires_on, program.date_to) if day is not None]
    return min(days) if days else None


def coupon_state(coupon: Coupon, program: CouponProgram, today: date, uses: int) -> CouponState:
    """The state shown on the ticket (CP-10).

    USED when the coupon has not enough points left for one more use; EXPIRED when the
    coupon's own date passed, the program ended, or its usage limit (`uses` redemptions
    so far) was reached; VALID otherwise.
    """
    if coupon.points < program.reward.required_points:
        return CouponState.USED
    if coupon.is_expired(today) or program.has_ended(today) or program.limit_reached(uses):
        return CouponState.EXPIRED
    return CouponState.VALID


class CouponCodeGenerator(Protocol):
    """Makes a new coupon code for `program` (CP-5).

    Set one as `aftersales.Config.coupon_code_generator`. It must return a fresh code
    on every call (1-64 characters, no spaces): the library retries with a new code when
    the backend reports a collision, and never uses a program's own trigger code.
    """

    def __call__(self, program: CouponProgram) -> str: ...


def default_coupon_code(program: CouponProgram) -> str:
    """`044` + 11 characters drawn with `secrets` from `COUPON_CODE_ALPHABET`.

    About 54 bits of randomness: collisions are rare, and the backend's unique constraint
    catches the ones that happen.
    """
    del program  # the default format is the same for every program
    random_part = "".join(secrets.choice(COUPON_CODE_ALPHABET) for _ in range(_CODE_RANDOM_LENGTH))
    return COUPON_CODE_PREFIX + random_part
