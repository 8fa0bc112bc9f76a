"""Customer invoices and credit notes: post, credit (``account.invoice.credit``), copy.

Tryton numbers an invoice when it is posted and computes its amounts; this module only
reads them back. A reference the caller sets (``reference``, a field Tryton neither copies
nor fills on a credit note) finds a document again (:func:`find_by_reference`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
from proteus import Model, Wizard

from aftersales.errors import InvalidInput, InvalidState
from aftersales_tryton._values import (
    a_positive_quantity,
    an_id,
    decimal,
    load,
    optional_id,
    record_id,
)
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated
from aftersales_tryton.userwarnings import call_acknowledging, warning_name

__all__ = [
    "Credit",
    "Invoice",
    "InvoiceLine",
    "cancel_invoice",
    "copy_as_draft",
    "create_customer_invoice",
    "credit_invoice",
    "credit_notes_of",
    "find_by_reference",
    "post_invoice",
    "read_invoice",
    "set_line_quantities",
]

INVOICE = "account.invoice"
LINE = "account.invoice.line"


@attrs.frozen
class InvoiceLine:
    """An invoice line as Tryton holds it (a credit note's quantities are negative)."""

    id: int
    product_id: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    #: The line of the invoice this line credits (``origin``), on a credit note.
    credited_line_id: int | None


@attrs.frozen
class Invoice:
    """A customer invoice or credit note: Tryton's id, number, state and amounts."""

    id: int
    number: str | None
    state: str
    party_id: int
    invoice_date: dt.date | None
    currency: str
    untaxed_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    amount_to_pay: Decimal
    reference: str | None
    lines: tuple[InvoiceLine, ...]

    @property
    def is_credit_note(self) -> bool:
        """Tryton's own test: a customer invoice whose total is negative."""
        return self.total_amount < 0


@attrs.frozen
class Credit:
    """What ``account.invoice.credit`` made: the credit note, and the invoice after it."""

    credit_note: Invoice
    invoice: Invoice


def _origin_id(origin: Any) -> int | None:
    if origin is None or getattr(origin, "__class__", None) is None:
        return None
    if origin.__class__.__name__ != LINE:
        return None
    return record_id(origin)


def _read(record: Any) -> Invoice:
    return Invoice(
        id=record_id(record),
        number=record.number or None,
        state=str(record.state),
        party_id=record_id(record.party),
        invoice_date=record.invoice_date,
        currency=str(record.currency.code),
        untaxed_amount=decimal(record.untaxed_amount),
        tax_amount=decimal(record.tax_amount),
        total_amount=decimal(record.total_amount),
        amount_to_pay=decimal(record.amount_to_pay),
        reference=record.reference or None,
        lines=tuple(
            InvoiceLine(
                id=record_id(line),
                product_id=optional_id(line.product),
                description=str(line.description or ""),
                quantity=decimal(line.quantity),
                unit_price=decimal(line.unit_price),
                amount=decimal(line.amount),
                credited_line_id=_origin_id(line.origin),
            )
            for line in record.lines
            if line.type == "line"
        ),
    )


def read_invoice(config: Config, invoice_id: int) -> Invoice:
    """The invoice (or credit note) ``invoice_id`` as Tryton has it now."""
    return _read(load(config, INVOICE, invoice_id, "invoice"))


def _a_reference(reference: str | None) -> str | None:
    if reference is None:
        return None
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 200:
        raise InvalidInput("reference", reference, "a non-empty string of at most 200 chars")
    return reference


def create_customer_invoice(
    config: Config,
    party_id: int,
    lines: Sequence[tuple[int, Decimal | int]],
    *,
    invoice_date: dt.date | None = None,
    reference: str | None = None,
) -> Invoice:
    """A draft customer invoice for ``party_id`` with ``(product id, quantity)`` lines at the
    products' list prices (taxes from the products' category)."""
    if not lines:
        raise InvalidInput("lines", lines, "an invoice needs at least one line")
    checked = [
        (an_id("product id", product), a_positive_quantity("quantity", quantity))
        for product, quantity in lines
    ]
    reference = _a_reference(reference)
    party = load(config, "party.party", party_id, "party")
    products = [load(config, "product.product", product, "product") for product, _ in checked]
    with translated("create a customer invoice"):
        invoice = Model.get(INVOICE, config=config)(type="out")
        invoice.party = party
        invoice.invoice_date = invoice_date
        invoice.reference = reference
        for product, (_, quantity) in zip(products, checked, strict=True):
            line = invoice.lines.new()
            line.product = product
            line.quantity = quantity  # a Float field in Tryton; proteus converts
            line.unit_price = decimal(product.list_price_used)
        invoice.save()
    return _read(invoice)


def post_invoice(config: Config, invoice_id: int, *, acknowledge: Iterable[str] = ()) -> Invoice:
    """Post ``invoice_id`` (Tryton numbers it and writes its move); the posted invoice.

    ``acknowledge`` names the kinds of Tryton warnings about this invoice to accept (for
    example ``"invoice_date_future"``); any other warning raises
    :class:`~aftersales_tryton.errors.TrytonWarning`.
    """
    invoice = load(config, INVOICE, invoice_id, "invoice")
    if invoice.state not in ("draft", "validated"):
        raise InvalidState(f"invoice {invoice_id} is {invoice.state}, not a draft: cannot post")
    accepted = [warning_name(kind, [(INVOICE, invoice_id)]) for kind in acknowledge]
    call_acknowledging(
        config,
        lambda: invoice.click("post"),
        operation=f"post invoice {invoice_id}",
        accepted=accepted,
    )
    return read_invoice(config, invoice_id)


def credit_invoice(
    config: Config,
    invoice_id: int,
    *,
    with_refund: bool,
    invoice_date: dt.date | None = None,
    reference: str | None = None,
) -> Credit:
    """Credit ``invoice_id`` through Tryton's ``account.invoice.credit`` wizard.

    Without refund the credit note is a draft crediting every line in full (adjust it with
    :func:`set_line_quantities`, then :func:`post_invoice`). With refund (only for a posted
    invoice without payments, as Tryton allows) the credit note is posted at once and the
    invoice cancelled against it. ``reference`` is written on the credit note.

    The wizard cannot carry the reference: it is written by a second call right after, so a
    crash in between leaves a credit note without it; :func:`credit_notes_of` finds it.
    """
    reference = _a_reference(reference)
    invoice = load(config, INVOICE, invoice_id, "invoice")
    if invoice.type != "out":
        raise InvalidInput("invoice_id", invoice_id, "only customer invoices are credited here")
    if invoice.state not in ("posted", "paid"):
        raise InvalidState(f"invoice {invoice_id} is {invoice.state}: only a posted invoice")
    with translated(f"credit invoice {invoice_id}"):
        wizard = Wizard("account.invoice.credit", [invoice], config=config)
        if with_refund and not wizard.form.with_refund_allowed:
            raise InvalidState(f"Tryton allows no refund on invoice {invoice_id}")
        wizard.form.with_refund = with_refund
        wizard.form.invoice_date = invoice_date
        wizard.execute("credit")
        (credit_notes,) = wizard.actions
        (credit_note,) = credit_notes
        if reference is not None:
            credit_note.reference = reference
            credit_note.save()
    return Credit(
        credit_note=read_invoice(config, record_id(credit_note)),
        invoice=read_invoice(config, invoice_id),
    )


def set_line_quantities(
    config: Config, credit_note_id: int, quantities: Mapping[int, Decimal | int]
) -> Invoice:
    """Set the quantities credited by a draft credit note: ``{credit note line id: units}``
    (positive units; the line's quantity becomes their negative). A line not named is
    removed. Tryton does not cap them: the caller does."""
    checked = {
        an_id("line id", line): a_positive_quantity("quantity", q) for line, q in quantities.items()
    }
    if not checked:
        raise InvalidInput("quantities", quantities, "keep at least one line")
    note = load(config, INVOICE, credit_note_id, "credit note")
    if note.state != "draft":
        raise InvalidState(f"credit note {credit_note_id} is {note.state}, not a draft")
    known = {record_id(line) for line in note.lines if line.type == "line"}
    unknown = sorted(set(checked) - known)
    if unknown:
        raise InvalidInput("quantities", unknown, f"not lines of credit note {credit_note_id}")
    with translated(f"change credit note {credit_note_id}"):
        for line in list(note.lines):
            if line.type != "line":
                continue
            if record_id(line) in checked:
                line.quantity = -checked[record_id(line)]
            else:
                note.lines.remove(line)
        note.save()
    return read_invoice(config, credit_note_id)


def cancel_invoice(config: Config, invoice_id: int) -> Invoice:
    """Cancel a draft invoice or credit note (Tryton keeps it, in state ``cancelled``)."""
    invoice = load(config, INVOICE, invoice_id, "invoice")
    if invoice.state not in ("draft", "validated"):
        raise InvalidState(f"invoice {invoice_id} is {invoice.state}: only a draft is cancelled")
    with translated(f"cancel invoice {invoice_id}"):
        invoice.click("cancel")
    return read_invoice(config, invoice_id)


def copy_as_draft(config: Config, invoice_id: int, *, reference: str | None = None) -> Invoice:
    """Tryton's copy of ``invoice_id``: a new draft (no number, no date) — the re-invoice of
    a full refund. ``reference`` is written on the copy."""
    reference = _a_reference(reference)
    invoice = load(config, INVOICE, invoice_id, "invoice")
    with translated(f"copy invoice {invoice_id}"):
        (copy,) = invoice.duplicate(default={"reference": reference})
    return _read(copy)


def credit_notes_of(config: Config, invoice_id: int) -> tuple[Invoice, ...]:
    """The credit notes (any state) with a line crediting a line of ``invoice_id``, oldest
    first: what is already credited, and a credit note that lost its reference."""
    invoice = load(config, INVOICE, invoice_id, "invoice")
    origins = [f"{LINE},{record_id(line)}" for line in invoice.lines]
    if not origins:
        return ()
    with translated(f"find the credit notes of invoice {invoice_id}"):
        found = Model.get(INVOICE, config=config).find(
            [("type", "=", "out"), ("lines.origin", "in", origins)], order=[("id", "ASC")]
        )
    return tuple(_read(record) for record in found)


def find_by_reference(config: Config, reference: str) -> tuple[Invoice, ...]:
    """The customer invoices and credit notes whose ``reference`` is exactly ``reference``
    (oldest first)."""
    checked = _a_reference(reference)
    with translated("find invoices by reference"):
        found = Model.get(INVOICE, config=config).find(
            [("type", "=", "out"), ("reference", "=", checked)], order=[("id", "ASC")]
        )
    return tuple(_read(record) for record in found)
