"""Money (G-5): Decimal amounts with an ISO currency, rounded half up to the minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.errors import InvalidInput
from aftersales.models import Money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.005", "EUR", Decimal("10.01")),
        ("10.004", "EUR", Decimal("10.00")),
        ("2.5", "JPY", Decimal("3")),
        ("1.2345", "KWD", Decimal("1.235")),
        ("-0.004", "USD", Decimal("0.00")),
        (7, "EUR", Decimal("7.00")),
    ],
)
def test_g5_rounds_half_up_to_the_minor_unit(
    amount: object, currency: str, expected: Decimal
) -> None:
    money = Money.of(amount, currency)
    assert money.amount == expected
    assert money.amount.as_tuple().exponent == -Money.zero(currency).places


@pytest.mark.parametrize(
    "bad", [1.5, float("nan"), True, Decimal("NaN"), Decimal("Infinity"), "abc", None, [1]]
)
def test_money_refuses_floats_bools_nan_infinity_and_junk(bad: object) -> None:
    with pytest.raises(InvalidInput, match="amount"):
        Money.of(bad, "EUR")


def test_money_refuses_huge_amounts() -> None:
    with pytest.raises(InvalidInput, match="smaller than"):
        Money.of("1e20", "EUR")


@pytest.mark.parametrize("bad", ["eur", "XXX", "", None, 978])
def test_money_refuses_unknown_currencies(bad: object) -> None:
    with pytest.raises(InvalidInput, match="currency"):
        Money(amount=Decimal(1), currency=bad)  # type: ignore[arg-type]


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(InvalidInput, match="cannot be mixed with EUR"):
        Money.of(1, "EUR") + Money.of(1, "USD")
    with pytest.raises(InvalidInput):
        _ = Money.of(1, "EUR") < Money.of(1, "USD")


def test_money_arithmetic_and_text() -> None:
    a, b = Money.of("49.95", "EUR"), Money.of("0.05", "EUR")
    assert a + b == Money.of(50, "EUR")
    assert a - b == Money.of("49.90", "EUR")
    assert -a == Money.of("-49.95", "EUR")
    assert abs(-a) == a
    assert a * 2 == Money.of("99.90", "EUR")
    assert Money.sum([a, b, b], "EUR") == Money.of("50.05", "EUR")
    assert str(Money.of("1234.5", "EUR")) == "1,234.50 EUR"
    assert Money.zero("EUR").is_zero()
    with pytest.raises(InvalidInput):
        _ = a * 0.5  # type: ignore[operator]


amounts = st.decimals(
    min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=2
)


@given(amounts, amounts)
def test_addition_is_exact_for_two_place_amounts(x: Decimal, y: Decimal) -> None:
    assert (Money.of(x, "EUR") + Money.of(y, "EUR")).amount == x + y


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12))
def test_any_amount_is_rounded_to_at_most_one_half_unit(x: Decimal) -> None:
    money = Money.of(x, "EUR")
    assert abs(money.amount - x) <= Decimal("0.005")
