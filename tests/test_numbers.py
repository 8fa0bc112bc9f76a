"""RL-4 for numbers: every number the library takes in is bounded, and any number at all --
astronomic, NaN, Infinity, a 5,000-digit int, more decimal places than can be stored, a line
whose amount overflows -- is refused as an ``InvalidInput`` naming the field, with a short
message, before any ``decimal`` operation could raise; the store is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.errors import DomainError, InvalidInput
from aftersales.models import (
    InvoiceLine,
    Money,
    Order,
    OrderLine,
    PartAction,
    PartLine,
    Reward,
    Tax,
)
from aftersales.models.money import MAX_AMOUNT, MAX_PLACES, to_decimal
from aftersales.models.products import compute_line, round_quantity
from aftersales.testing import assert_unchanged
from tests.reliability.hostile import Targets, prepare_targets
from tests.reliability.setting import Setting
from tests.strategies import RECORDS, record_of, register, rewards

register()

#: Longest message an ``InvalidInput`` about one number may have.
SHORT = 300

#: Numbers at and beyond the edges: what a property test must try besides random ones.
EXTREMES: tuple[object, ...] = (
    Decimal("1e1000000"),
    Decimal("-1e1000000"),
    Decimal("1e-1000000"),
    Decimal("1E+999999999"),
    Decimal("NaN"),
    Decimal("-sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    Decimal("0E+1000000"),
    Decimal("-0"),
    Decimal("1e30"),
    MAX_AMOUNT,
    MAX_AMOUNT - Decimal("0.01"),
    -(MAX_AMOUNT - 1),
    Decimal("9e14"),
    Decimal("1e14"),
    Decimal("0." + "1" * 40),
    Decimal("1." + "1" * (MAX_PLACES + 1)),
    10**5000,
    -(10**5000),
    10**30,
    10**15,
    10**15 - 1,
    0,
    1,
)

numbers: st.SearchStrategy[object] = st.one_of(
    st.sampled_from(EXTREMES),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
)
#: Valid Money near the top of the range, to make lines and sums overflow.
large_money = st.builds(
    Money.of,
    st.sampled_from(
        [Decimal("9e14"), Decimal("1e14"), Decimal("999999999999999.99"), Decimal("0.01")]
    ),
    st.just("EUR"),
)


def refused_well(error: InvalidInput) -> None:
    """An ``InvalidInput`` names a field and stays short, however large the value."""
    assert error.field, error
    assert len(str(error)) < SHORT, str(error)[:SHORT]


def in_range(value: object) -> bool:
    """A finite number smaller than ``MAX_AMOUNT`` in magnitude: one that a business rule
    (not enough to return, nothing to credit) may refuse instead of the input checks."""
    if isinstance(value, Money):
        return True
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return False
    if isinstance(value, int):
        return -(10**15) < value < 10**15
    return value.is_finite() and value.adjusted() < MAX_AMOUNT.adjusted()


def _is_number(field: attrs.Attribute[Any]) -> bool:
    text = str(field.type)
    return any(name in text for name in ("Decimal", "Money", "int"))


NUMERIC_FIELDS = [
    (cls, field.name) for cls in RECORDS for field in attrs.fields(cls) if _is_number(field)
]


def _records(cls: type[Any]) -> st.SearchStrategy[Any]:
    return rewards if cls is Reward else record_of(cls)


@pytest.mark.parametrize(
    ("cls", "name"), NUMERIC_FIELDS, ids=[f"{c.__name__}.{n}" for c, n in NUMERIC_FIELDS]
)
def test_no_number_makes_a_record_raise_anything_but_invalid_input(
    cls: type[Any], name: str
) -> None:
    """Every public record, every field holding a number (Decimal, Money, int): any value
    is either accepted or an ``InvalidInput``, and so are the amounts the record computes."""

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(record=_records(cls), value=numbers | large_money)
    def check(record: Any, value: object) -> None:
        try:
            made = attrs.evolve(record, **{name: value})
            for computed in ("amounts", "total"):
                if hasattr(type(made), computed):
                    getattr(made, computed)
        except InvalidInput as error:
            refused_well(error)

    check()


@settings(max_examples=200, deadline=None)
@given(
    quantity=numbers,
    price=numbers,
    percents=st.lists(st.sampled_from([Decimal(0), Decimal("21"), Decimal(100)]), max_size=12),
    included=st.booleans(),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
    count=st.integers(min_value=1, max_value=40),
)
def test_lines_and_orders_of_any_numbers_are_made_or_refused_as_invalid_input(
    quantity: object,
    price: object,
    percents: list[Decimal],
    included: bool,
    currency: str,
    count: int,
) -> None:
    """The amounts of a line (quantity × price with taxes) and of an order (its lines
    summed) are in range, or the line or order is refused as an ``InvalidInput``."""
    taxes = [Tax(name=f"T{n}", percent=p, price_include=included) for n, p in enumerate(percents)]
    try:
        unit_price = Money.of(price, currency)
        line = OrderLine(quantity=quantity, unit_price=unit_price, taxes=taxes)  # type: ignore[arg-type]
        assert Order.of(*[line] * count).amounts.total.currency == currency
        compute_line(line.quantity, line.unit_price, line.taxes)
        InvoiceLine(description="x", quantity=quantity, unit_price=unit_price, taxes=taxes)  # type: ignore[arg-type]
        round_quantity(quantity, 3)
    except InvalidInput as error:
        refused_well(error)


# -- the service calls that take numbers ---------------------------------------------------------


@pytest.fixture
def targets(setting: Setting) -> Targets:
    return prepare_targets(setting)


def _service_calls(s: Setting, t: Targets) -> dict[str, Callable[[object], object]]:
    app, agent, sc = s.app, s.agent, s.scenario

    def return_of(value: object) -> object:
        return app.returns.create(t.ticket.id, t.delivery.id, {t.move_id: value}, actor=agent)  # type: ignore[dict-item]

    def repair_of(value: object) -> object:
        return app.repairs.create(t.ticket.id, quantity=value, actor=agent)  # type: ignore[arg-type]

    def repair_update(value: object) -> object:
        return app.repairs.update(t.repair_draft_id, quantity=value, actor=agent)  # type: ignore[arg-type]

    def repair_part(value: object) -> object:
        part = PartLine(action=PartAction.ADD, product_id=sc.kettle.id, quantity=value)  # type: ignore[arg-type]
        return app.repairs.create(t.ticket.id, parts=[part], actor=agent)

    def credit(value: object) -> object:
        line = InvoiceLine(description="x", quantity=value, unit_price=Money.of(1, "EUR"))  # type: ignore[arg-type]
        return app.refunds.reverse(t.ticket.id, t.invoice_id, lines=[line], actor=agent)

    def credit_price(value: object) -> object:
        price = Money.of(value, "EUR")
        line = InvoiceLine(description="x", quantity=Decimal("9e14"), unit_price=price)
        return app.refunds.reverse(t.ticket.id, t.invoice_id, lines=[line], actor=agent)

    def evaluate(value: object) -> object:
        line = OrderLine(quantity=value, unit_price=Money.of("9e14", "EUR"))  # type: ignore[arg-type]
        return app.coupons.evaluate(t.coupon.code, Order.of(line, line), actor=agent)

    return {
        "returns.create quantities": return_of,
        "repairs.create quantity": repair_of,
        "repairs.update quantity": repair_update,
        "repairs.create parts[0].quantity": repair_part,
        "refunds.reverse lines[0].quantity": credit,
        "refunds.reverse lines[0].unit_price": credit_price,
        "coupons.evaluate order": evaluate,
    }


CALL_NAMES = [
    "returns.create quantities",
    "repairs.create quantity",
    "repairs.update quantity",
    "repairs.create parts[0].quantity",
    "refunds.reverse lines[0].quantity",
    "refunds.reverse lines[0].unit_price",
    "coupons.evaluate order",
]


@pytest.mark.parametrize("call", CALL_NAMES)
def test_no_number_makes_a_service_call_raise_anything_but_invalid_input(
    setting: Setting, targets: Targets, call: str
) -> None:
    """Extreme numbers fed to each public call that takes one: ``InvalidInput`` (or, for
    the rare number in range, a result or a business rule's error), never a raw
    ``decimal`` error, and a refused call leaves the store as it was."""
    make = _service_calls(setting, targets)[call]

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value=st.sampled_from(EXTREMES) | numbers)
    def check(value: object) -> None:
        before = setting.snapshot()
        refused: DomainError | None = None
        try:
            make(value)
        except DomainError as error:
            refused = error
        if refused is None:
            return
        if isinstance(refused, InvalidInput):
            refused_well(refused)
        else:  # a business rule, for a number the checks let through
            assert in_range(value), f"{call}({value!r:.40}): {refused!r:.200}"
        assert setting.snapshot() == before, f"{call}({value!r:.40}) changed the store"

    check()


# -- the cases the adversarial run found -------------------------------------------------------


def test_an_astronomic_quantity_is_refused_before_any_decimal_operation(
    setting: Setting, targets: Targets
) -> None:
    """``Decimal("1e1000000")`` raised ``decimal.Overflow`` from ``abs()`` and from the
    rounding to the unit of measure."""
    huge = Decimal("1e1000000")
    with pytest.raises(InvalidInput, match="must be smaller than 1,000,000,000,000,000"):
        round_quantity(huge, 2)
    with pytest.raises(InvalidInput, match=r"^quantity="):
        to_decimal(huge, "quantity")
    with pytest.raises(InvalidInput) as error, assert_unchanged(setting.backend):
        setting.app.returns.create(
            targets.ticket.id, targets.delivery.id, {targets.move_id: huge}, actor=setting.agent
        )
    assert error.value.field == f"quantities[{targets.move_id}]"


def test_a_five_thousand_digit_int_is_refused_with_a_short_message() -> None:
    """``10**5000`` raised ``ValueError: Exceeds the limit (4300 digits)`` while the error
    message was being built."""
    with pytest.raises(InvalidInput) as error:
        to_decimal(10**5000, "quantity")
    assert "100000… (an int of about 5,001 digits)" in str(error.value)
    assert len(str(error.value)) < 120
    with pytest.raises(InvalidInput) as error:
        OrderLine(quantity=10**5000, unit_price=Money.of(1, "EUR"))  # type: ignore[arg-type]
    assert error.value.field == "quantity"


def test_a_line_whose_amount_overflows_is_refused_where_it_is_made() -> None:
    """A line of 1e14 × 1e14 raised ``decimal.InvalidOperation`` in ``compute_line``'s
    rounding, when its amounts were first needed."""
    price = Money.of("1e14", "EUR")
    with pytest.raises(InvalidInput, match="a line's amount must be smaller than") as error:
        OrderLine(quantity=Decimal("1e14"), unit_price=price)
    assert error.value.field == "quantity"
    with pytest.raises(InvalidInput):
        compute_line(Decimal("1e14"), price, ())
    # the taxes count: 6e14 is fine alone, not with 100 % on top
    OrderLine(quantity=Decimal(6), unit_price=Money.of("1e14", "EUR"))
    with pytest.raises(InvalidInput):
        OrderLine(
            quantity=Decimal(6),
            unit_price=Money.of("1e14", "EUR"),
            taxes=[Tax(name="VAT", percent=Decimal(100))],
        )


def test_an_order_whose_lines_add_up_beyond_the_range_is_invalid_input() -> None:
    line = OrderLine(quantity=Decimal(9), unit_price=Money.of("1e14", "EUR"))
    assert Order.of(line).amounts.total == Money.of("9e14", "EUR")
    with pytest.raises(InvalidInput, match="add up to more than a total may be") as error:
        _ = Order.of(line, line).amounts
    assert error.value.field == "lines"


@pytest.mark.parametrize(
    "make",
    [
        lambda q: OrderLine(quantity=q, unit_price=Money.of(1, "EUR")),
        lambda q: Tax(name="VAT", percent=q),
        lambda q: PartLine(action=PartAction.ADD, product_id="kettle", quantity=q),
    ],
    ids=["OrderLine.quantity", "Tax.percent", "PartLine.quantity"],
)
def test_a_number_stored_as_given_has_at_most_max_places_decimals(
    make: Callable[[Decimal], object],
) -> None:
    """A quantity or percentage is stored as given (not rounded): more places than
    ``MAX_PLACES`` could not be kept exactly, so they are refused, not cut."""
    make(Decimal("1." + "1" * MAX_PLACES))
    with pytest.raises(InvalidInput, match=f"has more than {MAX_PLACES} decimal places"):
        make(Decimal("1." + "1" * (MAX_PLACES + 1)))


def test_money_is_still_rounded_to_its_currency_not_refused() -> None:
    """G-5: an amount with more places than its currency has is rounded half up."""
    assert Money.of("10.005", "EUR").amount == Decimal("10.01")
    assert Money.of("0." + "5" * 40, "JPY").amount == Decimal(1)
