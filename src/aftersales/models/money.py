"""Money: a Decimal amount with an ISO 4217 currency, rounded to the currency's minor unit
(G-5).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

import attrs

from aftersales.errors import InvalidInput

__all__ = [
    "MAX_AMOUNT",
    "MAX_PLACES",
    "MINOR_UNITS",
    "Money",
    "check_currency",
    "check_number",
    "quantize",
    "to_decimal",
]

#: Minor units (decimal places) of the currencies the library knows. Extend it at start-up
#: with `MINOR_UNITS["XYZ"] = 2` for a currency not listed.
MINOR_UNITS: dict[str, int] = {
    "AED": 2,
    "ARS": 2,
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "COP": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PEN": 2,
    "PHP": 2,
    "PLN": 2,
    "RON": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "UAH": 2,
    "USD": 2,
    "UYU": 2,
    "VND": 0,
    "ZAR": 2,
}

#: Every number the library takes in -- an amount, a price, a quantity, a percentage, points
#: -- is smaller than this in magnitude; anything larger is almost certainly a mistake. The
#: bound is checked without any arithmetic (by the number's exponent), so that an
#: astronomic value is refused as [`InvalidInput`][aftersales.errors.InvalidInput] before `decimal`
#: could overflow.
MAX_AMOUNT: Final = Decimal("1e15")
#: Most decimal places of a number that is stored as given, not rounded (a quantity on an
#: invoice or order line, a tax percentage, a coupon rule's minimum quantity, points).
#: With the 15 digits `MAX_AMOUNT` allows before the point, such a number has at most
#: 28 digits: Decimal's default precision holds it exactly, and every backend stores it as
#: it is (PostgreSQL's `numeric` keeps at most 16,383 places). Amounts and the quantities
#: rounded to a unit of measure are rounded instead.
MAX_PLACES: Final = 13
_ZERO: Final = Decimal(0)
#: A number is in range when its adjusted exponent (the power of ten of its first digit) is
#: below this: `10**14 <= |x| < 10**15` has adjusted exponent 14.
_MAX_ADJUSTED: Final = MAX_AMOUNT.adjusted()
_MAX_INT: Final = 10**15
#: Longest string parsed as a number: far more than any number in range needs, short enough
#: that parsing never costs anything.
_MAX_NUMBER_TEXT: Final = 64
_TOO_LARGE: Final = f"must be smaller than {MAX_AMOUNT:,f} in magnitude"


def to_decimal(value: object, field: str, *, places: int | None = None) -> Decimal:
    """Return `value` as a finite Decimal, refusing floats, bools, NaN and Infinity.

    Integers and numeric strings are accepted; floats never are, because a float cannot
    hold most decimal amounts exactly. The magnitude must be below `MAX_AMOUNT`
    (checked before any conversion or arithmetic: a 5,000-digit int or `Decimal("1e999999")`
    is an [`InvalidInput`][aftersales.errors.InvalidInput], never a `decimal` or `ValueError`);
    with `places`, the number may have at most that many decimal places.

    Examples:
        >>> to_decimal("12.50", "quantity")
        Decimal('12.50')
        >>> try:
        ...     to_decimal(Decimal("1e1000000"), "quantity")
        ... except InvalidInput as refused:
        ...     print(refused.field, "-", refused.reason)
        quantity - must be smaller than 1,000,000,000,000,000 in magnitude
    """
    if isinstance(value, bool | float):
        raise InvalidInput(field, value, "use Decimal (or a string), never a float or bool")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        if not -_MAX_INT < value < _MAX_INT:  # before Decimal(value): quadratic in its digits
            raise InvalidInput(field, value, _TOO_LARGE)
        number = Decimal(value)
    elif isinstance(value, str):
        if len(value) > _MAX_NUMBER_TEXT:
            raise InvalidInput(field, value, "is too long to be a number")
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInput(field, value, "is not a decimal number") from None
    else:
        raise InvalidInput(field, value, f"expected a Decimal, got {type(value).__name__}")
    return check_number(number, field, value, places=places)


def check_number(
    number: Decimal, field: str, value: object = None, *, places: int | None = None
) -> Decimal:
    """Return `number` when it is finite, smaller than `MAX_AMOUNT` in magnitude and
    (with `places`) has at most `places` decimal places; else raise
    [`InvalidInput`][aftersales.errors.InvalidInput] naming `field` and showing `value` (default:
    `number`).

    No `decimal` context is involved (`abs()` or a comparison after rounding could
    overflow on `Decimal("1e1000000")`): only the number's exponent is looked at.
    """
    if not number.is_finite():
        raise InvalidInput(field, number if value is None else value, "must be a finite number")
    if number.adjusted() >= _MAX_ADJUSTED:
        raise InvalidInput(field, number if value is None else value, _TOO_LARGE)
    if places is not None:
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            raise InvalidInput(
                field,
                number if value is None else value,
                f"has more than {places} decimal places; round it first",
            )
    return number


def check_currency(code: object, field: str = "currency") -> str:
    """Return `code` when it is a known ISO 4217 code, else raise
    [`InvalidInput`][aftersales.errors.InvalidInput].
    """
    if not isinstance(code, str) or code not in MINOR_UNITS:
        raise InvalidInput(field, code, "is not a known ISO 4217 currency code")
    return code


#: `places` → `Decimal(1).scaleb(-places)`, the quantum to round to (built once each).
_QUANTA: dict[int, Decimal] = {}


def _quantum(places: int) -> Decimal:
    quantum = _QUANTA.get(places)
    if quantum is None:
        quantum = _QUANTA[places] = Decimal(1).scaleb(-places)
    return quantum


def quantize(amount: Decimal, places: int, field: str = "amount") -> Decimal:
    """Round `amount` to `places` decimal places, half up (G-5).

    An amount that is not finite or not smaller than `MAX_AMOUNT` in magnitude is an
    [`InvalidInput`][aftersales.errors.InvalidInput] naming `field` (rounding it would raise
    `decimal.InvalidOperation` once it has more digits than the context's precision).
    """
    if not amount.is_finite() or (amount and amount.adjusted() >= _MAX_ADJUSTED):
        check_number(amount, field)
    return amount.quantize(_quantum(places), rounding=ROUND_HALF_UP)


def _rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to `currency`'s minor unit, never a negative zero."""
    rounded = amount.quantize(_quantum(MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded


def _check_currency(_inst: Any, _attribute: attrs.Attribute[Any], value: Any) -> None:
    check_currency(value)


def _amount(value: object) -> Decimal:
    return to_decimal(value, "amount")


@attrs.frozen(kw_only=True, order=False)
class Money:
    """An amount of one currency, always rounded to the currency's minor unit.

    Examples:
        >>> Money(amount=Decimal("10.005"), currency="EUR")
        Money(amount=Decimal('10.01'), currency='EUR')
        >>> Money.of("3.5", "JPY").amount
        Decimal('4')
    """

    amount: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(validator=_check_currency)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "amount", _rounded(self.amount, self.currency))

    @classmethod
    def _exact(cls, amount: Decimal, currency: str) -> Money:
        """Money from a Decimal and a currency that is already known to be valid (the
        result of arithmetic on Money): the same record as `Money(...)`, built without
        converting and validating again. An amount out of range still raises."""
        if not (amount.is_finite() and -MAX_AMOUNT < amount < MAX_AMOUNT):
            return cls(amount=amount, currency=currency)  # raises InvalidInput as usual
        return _made(_rounded(amount, currency), currency)

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        """Build Money from a Decimal, an int or a numeric string."""
        return cls(amount=amount, currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in `currency`."""
        zero = _ZEROS.get(currency)
        if zero is None:
            zero = _ZEROS[currency] = cls._exact(_ZERO, check_currency(currency))
        return zero

    @classmethod
    def sum(cls, items: Iterable[Money], currency: str) -> Money:
        """Add up `items`; every item must be in `currency`."""
        total = cls.zero(currency)
        for item in items:
            total = total + item
        return total

    @property
    def places(self) -> int:
        """Decimal places of the currency's minor unit."""
        return MINOR_UNITS[self.currency]

    def is_zero(self) -> bool:
        return not self.amount

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidInput("currency", other.currency, f"cannot be mixed with {self.currency}")
        return other

    # Sums and differences of two amounts of one currency are exact (both are rounded to
    # its minor unit), so the fast paths below only check the range.

    def __add__(self, other: Money) -> Money:
        if type(other) is Money and other.currency == self.currency:
            amount = self.amount + other.amount
            if -MAX_AMOUNT < amount < MAX_AMOUNT:
                return _made(amount, self.currency)
        return Money._exact(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if type(other) is Money and other.currency == self.currency:
            amount = self.amount - other.amount
            if -MAX_AMOUNT < amount < MAX_AMOUNT:
                return _made(amount, self.currency)
        return Money._exact(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money._exact(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money._exact(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        number = to_decimal(factor, "factor")
        return Money._exact(self.amount * number, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        if type(other) is Money and other.currency == self.currency:
            return self.amount < other.amount
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        if type(other) is Money and other.currency == self.currency:
            return self.amount <= other.amount
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        if type(other) is Money and other.currency == self.currency:
            return self.amount > other.amount
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        if type(other) is Money and other.currency == self.currency:
            return self.amount >= other.amount
        return self.amount >= self._same(other).amount

    def __str__(self) -> str:
        return f"{self.amount:,f} {self.currency}"


_new = object.__new__
_set = object.__setattr__
#: Zero of each currency, made once (Money is immutable).
_ZEROS: dict[str, Money] = {}


def _made(amount: Decimal, currency: str) -> Money:
    """A Money record for an amount already rounded to `currency` and within range."""
    money: Money = _new(Money)
    _set(money, "amount", amount)
    _set(money, "currency", currency)
    return money
