"""The loyalty port served by Tryton: programs, coupons and uses of ``sale_promotion_coupon``.

[`TrytonLoyalty`][aftersales_tryton.loyalty.TrytonLoyalty] implements the
``aftersales_loyalty_*`` hooks over a proteus configuration. How the library's records are
kept in Tryton:

* a **program** is a ``sale.promotion`` (`id`, `name`, `currency`, `active`, `date_to` =
  `end_date`) whose `formula` is ``unit_price * <1 - percent / 100>`` (its one percentage
  reward, on the lines of its `products` when it has some) and whose `amount`,
  `untaxed_amount`, `quantity` (in units) are its one rule; a program triggered by a code
  has one ``sale.promotion.coupon`` (type COUPONS), one without is applied by Tryton to
  every sale (type PROMOTION, trigger AUTO). What Tryton has no field for (`max_usage`, a
  reward's `required_points` other than 1) is an ``ir.note`` on the promotion;
* a **coupon** is a ``sale.promotion.coupon.number`` of that coupon rule: `id`, `code` =
  `number`, `expires_on` = `end_date`, no start date (so Tryton's constraint that a number
  is not valid twice on overlapping dates makes a code unique across all coupons, CP-5);
  the partner (a Tryton party), the points issued, the time and ticket of the request and
  the operation reference are an ``ir.note`` on the number;
* a **use** is a draft ``sale.sale`` of the coupon's party carrying the number (what Tryton
  counts as a use of a number): `id` = the sale's, `order_reference` = its `reference`, the
  points spent, the time and the operation reference in its `comment`. A coupon's points
  are the points issued less those of its sales; its `operation_ref` is the last sale's
  (the issue's before any). A sale Tryton cancels loses its numbers: the use is gone.

The notes and comments hold ``after-sales <key>: <value>`` lines, as the accounting port
does. A promotion whose formula is not a percentage of the unit price, and a number with no
note (made in Tryton's client), are not the library's: they are left out of what the port
reads. Tryton holds no lock between calls (`lock=True` is not held) and its numbers are
made with no limit of uses: the library's points limit a coupon and the coupon service
checks `max_usage`; a redemption counts again after its sale and takes it back when a
concurrent one took the last use or point (docs/tryton.md says what holds the cap).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from proteus import Model

from aftersales.errors import BackendError, DuplicateKey, InvalidCoupon, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    Coupon,
    CouponProgram,
    CouponRequest,
    CouponRule,
    CouponUse,
    Money,
    ProgramTrigger,
    ProgramType,
    Redemption,
    Reward,
    RewardKind,
)
from aftersales.services.coupons import CODE_EXPIRED, COUPON_USED
from aftersales_tryton._values import decimal, record_id
from aftersales_tryton.accounting import _comment, _meta, _tryton_id
from aftersales_tryton.connection import Config, for_this_thread
from aftersales_tryton.errors import TrytonRefused, translated

__all__ = ["TrytonLoyalty", "create_program"]

PROMOTION = "sale.promotion"
RULE = "sale.promotion.coupon"
NUMBER = "sale.promotion.coupon.number"
NOTE = "ir.note"
SALE = "sale.sale"
_FORMULA = re.compile(
    r"^\s*(?:unit_price\s*\*\s*(?P<after>\d+(?:\.\d+)?)|(?P<before>\d+(?:\.\d+)?)\s*\*\s*unit_price)\s*$"
)
_HUNDRED = Decimal(100)


def _formula(percent: Decimal) -> str:
    return f"unit_price * {(_HUNDRED - percent) / _HUNDRED:f}"


def _percent(formula: str) -> Decimal | None:
    """The percentage off the unit price `formula` gives, or None when it is not one."""
    found = _FORMULA.match(formula or "")
    if found is None:
        return None
    factor = Decimal(found.group("after") or found.group("before"))
    percent = (Decimal(1) - factor) * _HUNDRED
    return percent.normalize() if Decimal(0) < percent <= _HUNDRED else None


def _like(value: str) -> str:
    """A LIKE pattern finding the ``after-sales operation: value`` line."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%after-sales operation: {escaped}%"


def _refuse(field: str, value: object, why: str) -> InvalidInput:
    return InvalidInput(field, value, f"Tryton cannot keep it: {why}")


def _checked_shape(program: CouponProgram) -> tuple[Reward, CouponRule | None]:
    """The one reward and the (at most one) rule of `program`, refusing what a Tryton
    promotion cannot express."""
    if len(program.rewards) != 1:
        raise _refuse("rewards", program.rewards, "a promotion has one formula, so one reward")
    (reward,) = program.rewards
    if reward.kind is not RewardKind.PERCENTAGE:
        raise _refuse(
            "rewards.kind",
            reward.kind.value,
            "a promotion's formula changes unit prices; it cannot take an amount off the order "
            "nor add a free product",
        )
    if reward.max_discount is not None:
        raise _refuse("rewards.max_discount", reward.max_discount, "a formula has no cap")
    if program.code is not None:
        raise _refuse("code", program.code, "a promotion has no code of its own, only numbers")
    expected = {
        ProgramTrigger.CODE: ProgramType.COUPONS,
        ProgramTrigger.AUTO: ProgramType.PROMOTION,
    }
    if expected[program.trigger] is not program.program_type:
        raise _refuse(
            "program_type",
            program.program_type.value,
            "a promotion with a coupon rule is of type coupons (trigger code), one without "
            "of type promotion (trigger auto)",
        )
    if len(program.rules) > 1:
        raise _refuse("rules", program.rules, "a promotion has one condition")
    rule = program.rules[0] if program.rules else None
    if rule is None:
        return reward, None
    if rule.categories:
        raise _refuse(
            "rules.categories", sorted(rule.categories), "Tryton discounts only those lines"
        )
    if rule.product_ids and rule.product_ids != reward.product_ids:
        raise _refuse(
            "rules.product_ids",
            sorted(rule.product_ids),
            "a promotion's products are both what its condition counts and what it discounts",
        )
    if reward.product_ids and not rule.product_ids and rule.minimum_quantity:
        raise _refuse(
            "rules.minimum_quantity",
            rule.minimum_quantity,
            "a promotion counts the quantity of its products only",
        )
    if rule.minimum_amount is not None and reward.product_ids:
        raise _refuse(
            "rules.minimum_amount",
            rule.minimum_amount,
            "a promotion compares the whole sale's amount, not its products' lines",
        )
    return reward, rule


def create_program(config: Config, program: CouponProgram) -> CouponProgram:
    """Make `program` in Tryton (its `id` is not used: Tryton gives one); the program as
    Tryton keeps it. What a promotion cannot express is refused with `InvalidInput`."""
    reward, rule = _checked_shape(program)
    currencies = Model.get("currency.currency", config=config).find(
        [("code", "=", program.currency)], limit=1
    )
    if not currencies:
        raise InvalidInput("currency", program.currency, "Tryton has no such currency")
    products = [_tryton_id(p) for p in sorted(reward.product_ids)]
    if None in products:
        raise InvalidInput("product_ids", sorted(reward.product_ids), "not Tryton product ids")
    with translated(f"create promotion {program.name}"):
        promotion = Model.get(PROMOTION, config=config)(name=program.name)
        promotion.formula = _formula(reward.percent or Decimal(0))
        promotion.currency = currencies[0]
        promotion.end_date = program.date_to
        for product in products:
            promotion.products.append(Model.get("product.product", config=config)(product))
        if rule is not None:
            if rule.minimum_amount is not None:
                promotion.amount = rule.minimum_amount.amount
            promotion.untaxed_amount = not rule.amount_tax_included
            if rule.minimum_quantity:
                (unit,) = Model.get("product.uom", config=config).find([("name", "=", "Unit")])
                promotion.quantity = float(rule.minimum_quantity)
                promotion.unit = unit
        if program.trigger is ProgramTrigger.CODE:
            coupon_rule = promotion.coupons.new()
            coupon_rule.number_of_use = 0  # the library's points limit a coupon
        promotion.save()
        meta = {
            "max_usage": None if program.max_usage is None else str(program.max_usage),
            "required_points": None
            if reward.required_points == 1
            else f"{reward.required_points:f}",
        }
        if any(meta.values()):
            Model.get(NOTE, config=config)(resource=promotion, message=_comment(meta)).save()
        if not program.active:
            promotion.active = False
            promotion.save()
    made = _LoyaltyReader(config).programs([record_id(promotion)])
    return made[0]


class _LoyaltyReader:
    """Reads Tryton's promotions, numbers and sales as the library's records."""

    def __init__(self, config: Config) -> None:
        self.config = for_this_thread(config)

    def find(self, model: str, domain: list[Any]) -> list[Any]:
        """The records of `model` matching `domain`, inactive ones too, oldest first."""
        with translated(f"read {model}"), self.config.set_context(active_test=False):
            return list(Model.get(model, config=self.config).find(domain, order=[("id", "ASC")]))

    def _notes(self, model: str, ids: Iterable[int]) -> dict[int, dict[str, str]]:
        resources = [f"{model},{i}" for i in ids]
        if not resources:
            return {}
        found: dict[int, dict[str, str]] = {}
        for note in self.find(NOTE, [("resource", "in", resources)]):
            meta, _text = _meta(note.message)
            if meta:
                found.setdefault(int(str(note.resource).rsplit(",", 1)[-1]), {}).update(meta)
        return found

    def programs(self, ids: Sequence[int] | None = None) -> list[CouponProgram]:
        domain: list[Any] = [] if ids is None else [("id", "in", list(ids))]
        promotions = self.find(PROMOTION, domain)
        notes = self._notes(PROMOTION, (record_id(p) for p in promotions))
        made = (self._program(p, notes.get(record_id(p), {})) for p in promotions)
        return [program for program in made if program is not None]

    def _program(self, promotion: Any, meta: dict[str, str]) -> CouponProgram | None:
        percent = _percent(str(promotion.formula))
        if percent is None:
            return None
        currency = str((promotion.currency or promotion.company.currency).code)
        products = frozenset(str(record_id(p)) for p in promotion.products)
        rules: tuple[CouponRule, ...] = ()
        if promotion.amount or promotion.quantity:
            rules = (
                CouponRule(
                    minimum_quantity=decimal(promotion.quantity),
                    minimum_amount=None
                    if not promotion.amount
                    else Money(amount=decimal(promotion.amount), currency=currency),
                    amount_tax_included=not promotion.untaxed_amount,
                    product_ids=products if promotion.quantity else frozenset(),
                ),
            )
        by_code = bool(promotion.coupons)
        return CouponProgram(
            id=str(record_id(promotion)),
            name=str(promotion.name),
            currency=currency,
            rewards=(
                Reward(
                    kind=RewardKind.PERCENTAGE,
                    percent=percent,
                    product_ids=products,
                    required_points=Decimal(meta.get("required_points", "1")),
                ),
            ),
            rules=rules,
            active=bool(promotion.active),
            program_type=ProgramType.COUPONS if by_code else ProgramType.PROMOTION,
            trigger=ProgramTrigger.CODE if by_code else ProgramTrigger.AUTO,
            date_to=promotion.end_date,
            max_usage=int(meta["max_usage"]) if "max_usage" in meta else None,
        )

    def coupons(self, domain: list[Any]) -> list[Coupon]:
        numbers = self.find(NUMBER, domain)
        notes = self._notes(NUMBER, (record_id(n) for n in numbers))
        uses = self.uses([record_id(n) for n in numbers])
        return [
            self._coupon(n, notes[record_id(n)], uses.get(record_id(n), []))
            for n in numbers
            if "partner" in notes.get(record_id(n), {})
        ]

    def uses(self, number_ids: Sequence[int]) -> dict[int, list[Any]]:
        """The sales carrying each number (oldest first), by number id."""
        found: dict[int, list[Any]] = {}
        if not number_ids:
            return found
        for sale in self.find(SALE, [("coupons", "in", list(number_ids))]):
            for number in sale.coupons:
                if record_id(number) in number_ids:
                    found.setdefault(record_id(number), []).append(sale)
        return found

    def points_left(self, number_id: int) -> Decimal:
        """The points issued on the number less those its sales spent (below zero when
        concurrent redemptions spent more than it had)."""
        meta = self._notes(NUMBER, [number_id]).get(number_id, {})
        return _points(meta, self.uses([number_id]).get(number_id, []))

    def count_uses(self, promotion_id: int) -> int:
        """The sales carrying a number of the promotion: Tryton's count of its uses."""
        return len(self.find(SALE, [("coupons.coupon.promotion", "=", promotion_id)]))

    @staticmethod
    def _coupon(number: Any, meta: dict[str, str], sales: Sequence[Any]) -> Coupon:
        spent = [_meta(sale.comment)[0] for sale in sales]
        # Below zero only if a take-back of a concurrent use never ran: read as used up.
        points = max(_points(meta, sales), Decimal(0))
        operation = spent[-1].get("operation") if spent else meta.get("operation")
        return Coupon(
            id=str(record_id(number)),
            code=str(number.number),
            program_id=str(record_id(number.coupon.promotion)),
            partner_id=meta["partner"],
            points=points,
            created_at=dt.datetime.fromisoformat(meta["at"]),
            expires_on=number.end_date,
            ticket_id=meta.get("ticket"),
            operation_ref=operation,
        )

    def use(self, sale: Any, coupon: Coupon) -> CouponUse:
        meta, _text = _meta(sale.comment)
        return CouponUse(
            id=str(record_id(sale)),
            coupon_id=coupon.id,
            program_id=coupon.program_id,
            points=Decimal(meta["points"]),
            used_at=dt.datetime.fromisoformat(meta["at"]),
            order_reference=str(sale.reference or ""),
            operation_ref=meta.get("operation"),
        )


def _points(meta: dict[str, str], sales: Sequence[Any]) -> Decimal:
    spent = (Decimal(_meta(sale.comment)[0].get("points", "0")) for sale in sales)
    return Decimal(meta.get("points", "0")) - sum(spent, Decimal(0))


class TrytonLoyalty:
    """The loyalty port (``aftersales_loyalty_*``) over the proteus `config`.

    `lock=True` is not held: Tryton commits every call on its own.
    """

    config: Config

    @property
    def _reader(self) -> _LoyaltyReader:
        return _LoyaltyReader(self.config)

    def _coupon(self, coupon_id: str) -> Coupon | None:
        tryton_id = _tryton_id(coupon_id)
        if tryton_id is None:
            return None
        found = self._reader.coupons([("id", "=", tryton_id)])
        return found[0] if found else None

    @hookimpl
    def aftersales_loyalty_list_programs(self) -> list[CouponProgram]:
        return self._reader.programs()

    @hookimpl
    def aftersales_loyalty_get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        tryton_id = _tryton_id(program_id)
        found = [] if tryton_id is None else self._reader.programs([tryton_id])
        return found[0] if found else None

    @hookimpl
    def aftersales_loyalty_get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        return self._coupon(coupon_id)

    @hookimpl
    def aftersales_loyalty_find_coupon(self, code: str, lock: bool) -> Coupon | None:
        # SQL "=" on Tryton's Char is exact (case-sensitive): the code as typed.
        found = [c for c in self._reader.coupons([("number", "=", code)]) if c.code == code]
        return found[0] if found else None

    @hookimpl
    def aftersales_loyalty_count_uses(self, program_id: str) -> int:
        tryton_id = _tryton_id(program_id)
        if tryton_id is None:
            return 0
        return self._reader.count_uses(tryton_id)

    @hookimpl
    def aftersales_loyalty_issue_coupon(self, request: CouponRequest) -> Coupon:
        promotion = _tryton_id(request.program_id)
        rules = (
            [] if promotion is None else self._reader.find(RULE, [("promotion", "=", promotion)])
        )
        if not rules:
            raise InvalidInput(
                "program_id", request.program_id, "not a Tryton promotion with a coupon rule"
            )
        party = _tryton_id(request.partner_id)
        if party is None or not self._reader.find("party.party", [("id", "=", party)]):
            raise InvalidInput(
                "partner_id", request.partner_id, "not a Tryton party (a use is a sale to it)"
            )
        number_model = Model.get(NUMBER, config=self.config)
        try:
            with translated(f"issue coupon number {request.code}"):
                number = number_model(coupon=rules[0], number=request.code)
                number.start_date = None  # valid since ever: one code, one number (CP-5)
                number.end_date = request.expires_on
                number.save()
        except TrytonRefused:
            if self._reader.find(NUMBER, [("number", "=", request.code)]):
                raise DuplicateKey("coupon code", request.code) from None
            raise
        meta = {
            "partner": request.partner_id,
            "points": f"{request.points:f}",
            "at": request.at.isoformat(),
            "ticket": request.ticket_id,
            "operation": request.reference,
        }
        with translated(f"note coupon number {request.code}"):
            Model.get(NOTE, config=self.config)(resource=number, message=_comment(meta)).save()
        made = self._coupon(str(record_id(number)))
        assert made is not None
        return made

    @hookimpl
    def aftersales_loyalty_redeem(
        self, coupon_id: str, points: Decimal, order_reference: str, at: dt.datetime, reference: str
    ) -> Redemption | None:
        coupon = self._coupon(coupon_id)
        if coupon is None:
            return None
        if points > coupon.points:
            raise BackendError(
                f"coupon {coupon.code} has {coupon.points:f} points left, not the {points:f} "
                "a use spends"
            )
        meta: dict[str, str | None] = {
            "operation": reference,
            "points": f"{points:f}",
            "at": at.isoformat(),
        }
        with translated(f"redeem coupon number {coupon.code}"):
            sale = Model.get(SALE, config=self.config)()
            sale.party = Model.get("party.party", config=self.config)(int(coupon.partner_id))
            sale.reference = order_reference or None
            sale.comment = _comment(meta)
            sale.coupons.append(Model.get(NUMBER, config=self.config)(int(coupon.id)))
            sale.save()
        self._take_back_over_the_limits(sale, coupon)
        after = self._coupon(coupon.id)
        assert after is not None
        return Redemption(use=self._reader.use(sale, after), coupon=after)

    def _take_back_over_the_limits(self, sale: Any, coupon: Coupon) -> None:
        """Delete the use `sale` just made and refuse it when, counted again after it,
        the coupon's points or its program's `max_usage` are exceeded.

        Tryton holds no lock between the service's count and the sale: two callers can both
        see one use left. Each counts again after its own sale is committed, so the last
        of them sees every use kept before it and takes its own back: the kept uses never
        pass the limits (callers that raced may both be refused, never both served).
        """
        reader = self._reader
        program = self.aftersales_loyalty_get_program(coupon.program_id, False)
        over_cap = (
            program is not None
            and program.max_usage is not None
            and reader.count_uses(int(program.id)) > program.max_usage
        )
        overspent = reader.points_left(int(coupon.id)) < 0
        if not (over_cap or overspent):
            return
        with translated(f"take back a use of coupon number {coupon.code}"):
            sale.delete()
        raise InvalidCoupon(coupon.code, CODE_EXPIRED if over_cap else COUPON_USED)

    @hookimpl
    def aftersales_loyalty_find_by_reference(self, reference: str) -> list[Coupon]:
        reader = self._reader
        issued = reader.find(
            NOTE, [("resource", "like", f"{NUMBER},%"), ("message", "like", _like(reference))]
        )
        redeemed = reader.find(SALE, [("comment", "like", _like(reference))])
        ids = {int(str(note.resource).rsplit(",", 1)[-1]) for note in issued}
        ids |= {record_id(number) for sale in redeemed for number in sale.coupons}
        if not ids:
            return []
        found = reader.coupons([("id", "in", sorted(ids))])
        return [coupon for coupon in found if coupon.operation_ref == reference]
