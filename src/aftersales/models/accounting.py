"""Invoices, credit notes, payments and the matches (reconciliations) between them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import (
    MAX_TEXT,
    a_date,
    aware,
    currency_code,
    decimal,
    enum_of,
    id_field,
    money_of,
    optional,
    shared_decimal,
    text,
    to_tuple,
)
from aftersales.models.money import Money
from aftersales.models.products import LineAmounts, Tax, compute_line, line_amount

__all__ = [
    "CreditMethod",
    "Invoice",
    "InvoiceDraft",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceState",
    "Match",
    "MatchKind",
    "Payment",
    "PaymentState",
    "Refundable",
    "Reversal",
    "ReversalResult",
]


class InvoiceKind(StrEnum):
    """A customer invoice or a credit note (out_invoice / out_refund)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceState(StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    CANCELLED = "cancelled"


class PaymentState(StrEnum):
    """How much of an invoice is settled, derived from its matches (RF-4b)."""

    NOT_PAID = "not_paid"
    PARTIAL = "partial"
    PAID = "paid"
    REVERSED = "reversed"


class CreditMethod(StrEnum):
    """How a credit note reverses an invoice (RF-4)."""

    PARTIAL = "partial"
    FULL = "full"
    FULL_AND_REINVOICE = "full_and_reinvoice"


class MatchKind(StrEnum):
    """What settles part of an invoice."""

    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"
    MANUAL = "manual"


@attrs.frozen(kw_only=True)
class InvoiceLine:
    """One line of an invoice or credit note. Amounts are computed, never stored."""

    description: str = attrs.field(validator=text())
    quantity: Decimal = attrs.field(converter=shared_decimal, validator=decimal())
    unit_price: Money = attrs.field(validator=money_of())
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=to_tuple, validator=line_amount)
    product_id: str | None = attrs.field(default=None, validator=optional(id_field))

    @property
    def amounts(self) -> LineAmounts:
        """The line's amounts, derived from its values: a stored line keeps none (recent
        lines keep theirs in `_RECENT_LINES`)."""
        return _RECENT_LINES.get(self, _compute_line)


K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """Values derived from recent immutable records, by identity: holding the record keeps
    its id from being reused while its value is kept; forgets everything when full, so a
    history of 100,000 records read once holds none of their derived values."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: dict[int, tuple[K, V]] = {}

    def get(self, record: K, derive: Callable[[K], V]) -> V:
        kept = self._kept.get(id(record))
        if kept is not None and kept[0] is record:
            return kept[1]
        value = derive(record)
        if len(self._kept) >= self._size:
            self._kept.clear()
        self._kept[id(record)] = (record, value)
        return value


def _compute_line(line: InvoiceLine) -> LineAmounts:
    return _amounts_of(line.quantity, line.unit_price, line.taxes)


@functools.lru_cache(maxsize=4096)
def _amounts_of(quantity: Decimal, unit_price: Money, taxes: tuple[Tax, ...]) -> LineAmounts:
    """`compute_line()` by value: lines repeat a few quantities, prices and taxes, and their
    amounts depend on nothing else (equal values round to the same amounts)."""
    return compute_line(quantity, unit_price, taxes)


_RECENT_LINES: _Recent[InvoiceLine, LineAmounts] = _Recent(4096)
#: Totals of recent tuples of lines (a credit note copying an invoice's lines, a draft
#: evolved into a posted invoice share the tuple, and so its totals).
_RECENT_TOTALS: _Recent[tuple[InvoiceLine, ...], LineAmounts] = _Recent(1024)


def _check_lines(
    invoice: Any, _a: attrs.Attribute[tuple[InvoiceLine, ...]], lines: tuple[InvoiceLine, ...]
) -> None:
    for line in lines:
        if not isinstance(line, InvoiceLine):
            raise InvalidInput("lines", line, "expected InvoiceLine records")
        if line.unit_price.currency != invoice.currency:
            raise InvalidInput(
                "lines.unit_price", line.unit_price, f"must be in {invoice.currency}"
            )


def _line_totals(lines: tuple[InvoiceLine, ...], currency: str) -> LineAmounts:
    """`LineAmounts.sum` of the lines' amounts (the lines' currency is the invoice's)."""
    if not lines:
        return LineAmounts.zero(currency)
    return _RECENT_TOTALS.get(lines, _sum_lines)


def _sum_lines(lines: tuple[InvoiceLine, ...]) -> LineAmounts:
    return LineAmounts.sum((line.amounts for line in lines), lines[0].unit_price.currency)


@attrs.frozen(kw_only=True)
class Invoice:
    """A customer invoice or credit note.

    `residual` and `payment_state` follow from the matches against it (RF-4b); they are
    kept on the record and updated by the ERP (the reference ERP:
    `aftersales.erp.settle()`).
    `reversed_invoice_id` is set on credit notes; `ticket_id` when made from a ticket.
    `post_on` is the future date a draft credit note will be posted on (RF-6).
    `credit_method` is the method a credit note was made with (RF-4): a FULL credit note
    kept in draft by a future reversal date still reconciles as FULL when it is posted.
    `id`, `number`, `residual` and `payment_state` are the ERP's (G-8): the library
    reads them, never makes them. `operation_ref` is the reference of the library's call
    that made the document (see `aftersales_accounting_find_by_reference`); `None` for a
    document the ERP made on its own.
    """

    id: str = attrs.field(validator=id_field)
    kind: InvoiceKind = attrs.field(validator=enum_of(InvoiceKind))
    customer_id: str = attrs.field(validator=id_field)
    currency: str = attrs.field(validator=currency_code)
    lines: tuple[InvoiceLine, ...] = attrs.field(converter=to_tuple, validator=_check_lines)
    state: InvoiceState = attrs.field(validator=enum_of(InvoiceState))
    created_at: datetime = attrs.field(validator=aware)
    payment_state: PaymentState = attrs.field(
        default=PaymentState.NOT_PAID, validator=enum_of(PaymentState)
    )
    residual: Money = attrs.field(validator=money_of(non_negative=True))
    number: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))
    invoice_date: date | None = attrs.field(default=None, validator=optional(a_date))
    post_on: date | None = attrs.field(default=None, validator=optional(a_date))
    sale_order_id: str | None = attrs.field(default=None, validator=optional(id_field))
    reversed_invoice_id: str | None = attrs.field(default=None, validator=optional(id_field))
    credit_method: CreditMethod | None = attrs.field(
        default=None, validator=optional(enum_of(CreditMethod))
    )
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    reference: str = attrs.field(default="", validator=text(max_length=1024, required=False))
    reason: str = attrs.field(default="", validator=text(max_length=1024, required=False))
    journal: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))
    note: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))

    @residual.default
    def _residual_default(self) -> Money:
        return (
            self.amounts.total if self.state is InvoiceState.POSTED else Money.zero(self.currency)
        )

    @property
    def amounts(self) -> LineAmounts:
        """Totals of the lines: the sum of per-line rounded amounts (G-8).

        Derived, never stored on the record (100,000 invoices in the memory backend would
        hold as many totals): recent tuples of lines keep their sum (`_line_totals()`), so
        the records made from one that keep its very lines (a credit note copying an
        invoice, a draft evolved into a posted one) reuse it."""
        return _line_totals(self.lines, self.currency)

    @property
    def total(self) -> Money:
        return self.amounts.total

    @property
    def product_ids(self) -> frozenset[str]:
        """The products of the lines (derived, not stored)."""
        return frozenset(line.product_id for line in self.lines if line.product_id)


@attrs.frozen(kw_only=True)
class Payment:
    """A customer payment; whatever of it is not matched is an outstanding credit."""

    id: str = attrs.field(validator=id_field)
    customer_id: str = attrs.field(validator=id_field)
    amount: Money = attrs.field(validator=money_of(positive=True))
    paid_at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(default="", validator=text(max_length=256, required=False))


@attrs.frozen(kw_only=True)
class Match:
    """A reconciliation: `amount` of `invoice_id` settled by a payment or credit note."""

    id: str = attrs.field(validator=id_field)
    invoice_id: str = attrs.field(validator=id_field)
    kind: MatchKind = attrs.field(validator=enum_of(MatchKind))
    counterpart_id: str = attrs.field(validator=id_field)
    amount: Money = attrs.field(validator=money_of(positive=True))
    created_at: datetime = attrs.field(validator=aware)


@attrs.frozen(kw_only=True)
class Refundable:
    """A posted customer invoice and what its live credit notes already credit.

    `credited` is the sum of the totals of the invoice's credit notes that are draft or
    posted (not cancelled), in the invoice's currency: what the refund service's cap (RF-7)
    is checked against.
    """

    invoice: Invoice
    credited: Money

    @property
    def left_to_credit(self) -> Money:
        """What more credit notes may still credit on the invoice."""
        return self.invoice.total - self.credited


@attrs.frozen(kw_only=True)
class Reversal:
    """What the refund service asks the ERP to do: reverse `invoice_id` with `method`.

    `post` tells whether the credit note is posted (and reconciled) at once; when not, it
    stays a draft, with `post_on` the future date it is scheduled for (RF-6), if any.
    `reversal_date` is the credit note's date. `lines` (PARTIAL only) are the credit
    note's own lines; `None` copies the invoice's. `journal` `None` is the invoice's
    journal. `reason` is the agent's text; the ERP writes the credit note's reference
    from it (RF-10). `at` is the
    library's time of the call (an ERP may stamp its own). `reference` identifies the
    call (see `aftersales_accounting_find_by_reference`).
    """

    invoice_id: str = attrs.field(validator=id_field)
    method: CreditMethod = attrs.field(validator=enum_of(CreditMethod))
    reversal_date: date = attrs.field(validator=a_date)
    reason: str = attrs.field(validator=text(max_length=1024))
    journal: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))
    lines: tuple[InvoiceLine, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(to_tuple)
    )
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    post: bool = False
    post_on: date | None = attrs.field(default=None, validator=optional(a_date))
    at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(validator=text(max_length=64))


@attrs.frozen(kw_only=True)
class ReversalResult:
    """What the ERP made when it reversed an invoice or posted a credit note.

    `credit_note` as stored (draft or posted, with the ERP's id and number);
    `new_invoice` the draft copy a FULL_AND_REINVOICE made (else `None`); `invoice`
    the reversed invoice after the call (its residual and payment state as the ERP settled
    them); `customer_credit` what the call left open to the customer (payments taken off
    the invoice plus what of the credit note the residual could not absorb; zero for a
    draft). `released` is the part of that credit that payments taken off the invoice
    make (RF-4a), `released_from` the ids of those payments.
    """

    credit_note: Invoice
    new_invoice: Invoice | None = None
    invoice: Invoice
    customer_credit: Money
    released: Money
    released_from: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)


@attrs.frozen(kw_only=True)
class InvoiceDraft:
    """A customer invoice the library asks the ERP to create as a draft (a repair's, RP-9).

    The ERP gives it its id (and its number when it is posted, by the ERP's users).
    """

    customer_id: str = attrs.field(validator=id_field)
    currency: str = attrs.field(validator=currency_code)
    lines: tuple[InvoiceLine, ...] = attrs.field(converter=to_tuple)
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    reference: str = attrs.field(default="", validator=text(max_length=1024, required=False))
    note: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    at: datetime = attrs.field(validator=aware)
