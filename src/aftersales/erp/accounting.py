"""The reference ERP's accounting: numbering, matching, settlement, credit notes, ids.

What an ERP does on its own when a helpdesk asks it to reverse an invoice — give the credit
note an id and, on posting, a number from its journal's series; take payments off a
reversed invoice; match the credit note with the invoice; work out residuals and payment
states (RF-4b) — lives here, once, over a `Ledger`.
`AccountingPort` serves the `aftersales_accounting_*` hooks from it: the memory
and the SQL backends both inherit it, so both behave the same.

The refund service never does any of this: it checks what a helpdesk may do, asks the port,
and records on the ticket what the port made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from aftersales.erp.ledger import Ledger
from aftersales.errors import BackendError
from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import (
    CreditMethod,
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Match,
    MatchKind,
    Money,
    Payment,
    PaymentState,
    Refundable,
    Reversal,
    ReversalResult,
    evolve,
)
from aftersales.models.queries import InvoiceQuery

__all__ = [
    "AccountingPort",
    "ReferenceAccounting",
    "credit_note_series",
    "format_number",
    "pay",
    "settle",
]

_FULL_METHODS = frozenset({CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE})

#: The journal of an invoice that names none.
DEFAULT_JOURNAL = "INV"


def credit_note_series(journal: str | None, day: date) -> str:
    """The series a posted credit note of `journal` dated `day` draws its number from:
    `R<journal>/<year>` (`RINV/2026` for the default journal), one per journal and year
    (G-8), so that refunds on other journals never wait for each other.

    Examples:
        >>> credit_note_series(None, date(2026, 11, 28)), credit_note_series("SHOP", date(2027, 1,
        ...     1))
        ('RINV/2026', 'RSHOP/2027')
    """
    return f"R{journal or DEFAULT_JOURNAL}/{day.year}"


def format_number(series: str, number: int) -> str:
    """`RINV/2026` and 1 → `RINV/2026/00001`."""
    return f"{series}/{number:05d}"


def settle(invoice: Invoice, matches: Sequence[Match]) -> Invoice:
    """`invoice` with the residual and payment state its `matches` give it (RF-4b).

    Nothing matched → NOT_PAID; something matched and a residual left → PARTIAL; residual 0
    with a payment among the matches → PAID; residual 0 with only credit notes (or credit
    notes and manual entries) → REVERSED. When neither changes, `invoice` itself is
    returned.

    Matches adding up to more than the total mean the store is inconsistent:
    [`BackendError`][aftersales.errors.BackendError].

    Examples:
        >>> from decimal import Decimal
        >>> from datetime import datetime, timezone
        >>> when = datetime(2026, 11, 28, tzinfo=timezone.utc)
        >>> line = InvoiceLine(description="x", quantity=Decimal(1),
        ...                    unit_price=Money.of("1000", "EUR"))
        >>> inv = Invoice(id="i", kind=InvoiceKind.INVOICE, customer_id="c", currency="EUR",
        ...               lines=[line], state=InvoiceState.POSTED, created_at=when)
        >>> def m(kind, amount):
        ...     return Match(id=f"{kind}-{amount}", invoice_id="i", kind=kind, counterpart_id="x",
        ...                  amount=Money.of(amount, "EUR"), created_at=when)
        >>> done = settle(inv, [m(MatchKind.CREDIT_NOTE, 500), m(MatchKind.PAYMENT, 400)])
        >>> done.payment_state.value, str(done.residual)
        ('partial', '100.00 EUR')
        >>> settle(inv, [m(MatchKind.CREDIT_NOTE, 500), m(MatchKind.CREDIT_NOTE,
        ...     500)]).payment_state
        <PaymentState.REVERSED: 'reversed'>
    """
    residual, state = _settlement(invoice, matches)
    if residual == invoice.residual and state is invoice.payment_state:
        return invoice
    return evolve(invoice, residual=residual, payment_state=state)


def _settlement(invoice: Invoice, matches: Sequence[Match]) -> tuple[Money, PaymentState]:
    """The residual and payment state `matches` give `invoice` (see `settle()`)."""
    total = invoice.total
    matched = Money.sum((m.amount for m in matches), invoice.currency)
    if matched > total:
        raise BackendError(
            f"invoice {invoice.number or invoice.id} is matched for {matched}, "
            f"more than its total {total}"
        )
    residual = total - matched
    if not matches:
        state = PaymentState.NOT_PAID
    elif not residual.is_zero():
        state = PaymentState.PARTIAL
    elif any(m.kind is MatchKind.PAYMENT for m in matches):
        state = PaymentState.PAID
    else:
        state = PaymentState.REVERSED
    return residual, state


def pay(
    invoice: Invoice, payments: Sequence[Payment], at: datetime, ids: Callable[[str], str] = new_id
) -> tuple[Invoice, tuple[Match, ...]]:
    """`invoice` settled by `payments` (each matched in full, at `at`), with the matches.

    The payments must add up to at most the invoice's residual; more is a
    [`BackendError`][aftersales.errors.BackendError] (see `settle()`).
    """
    matches = tuple(
        Match(
            id=ids("match"),
            invoice_id=invoice.id,
            kind=MatchKind.PAYMENT,
            counterpart_id=payment.id,
            amount=payment.amount,
            created_at=at,
        )
        for payment in payments
    )
    return settle(invoice, matches), matches


def _live(note: Invoice) -> bool:
    return note.state is not InvoiceState.CANCELLED


class ReferenceAccounting:
    """The reference ERP's accounting over `ledger`.

    `ids` makes a new record id from a kind (`"rinv"`, `"inv"`, `"match"`; default
    `new_id()`); `series` names the number series of a posted credit
    note from its journal and date (default `credit_note_series()`) and `number`
    formats a number of a series (default `format_number()`). An ERP that ids and
    numbers its documents in its own style is the same class with other functions.

    Each method does one operation of the accounting port; see the hooks of the same names
    in [`aftersales.hookspecs`][aftersales.hookspecs] for what they promise. They trust the refund
    service's checks (rights, states, caps) and only refuse what would corrupt the books.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        ids: Callable[[str], str] = new_id,
        series: Callable[[str | None, date], str] = credit_note_series,
        number: Callable[[str, int], str] = format_number,
    ) -> None:
        self.ledger = ledger
        self._ids = ids
        self._series = series
        self._number = number

    # -- reads ------------------------------------------------------------------------------

    def get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        return self.ledger.get_invoice(invoice_id, lock)

    def refundable_invoices(self, query: InvoiceQuery) -> list[Refundable]:
        found = self.ledger.find_invoices(
            evolve(query, kind=InvoiceKind.INVOICE, state=InvoiceState.POSTED)
        )
        if not found:
            return []
        credited = self._credited(found)
        return [
            Refundable(
                invoice=invoice, credited=credited.get(invoice.id) or Money.zero(invoice.currency)
            )
            for invoice in found
        ]

    def get_refundable(self, invoice_id: str, lock: bool) -> Refundable | None:
        invoice = self.ledger.get_invoice(invoice_id, lock)
        if invoice is None:
            return None
        credited = self._credited([invoice]).get(invoice.id)
        return Refundable(invoice=invoice, credited=credited or Money.zero(invoice.currency))

    def _credited(self, invoices: Sequence[Invoice]) -> dict[str, Money]:
        """What the live credit notes of `invoices` credit, by invoice id (one read)."""
        currency = {invoice.id: invoice.currency for invoice in invoices}
        sums: dict[str, Money] = {}
        for note in self.ledger.credit_notes(list(currency)):
            owner = note.reversed_invoice_id
            if owner is None or not _live(note) or note.kind is not InvoiceKind.CREDIT_NOTE:
                continue
            sums[owner] = sums.get(owner, Money.zero(currency[owner])) + note.total
        return sums

    def find_by_reference(self, reference: str) -> list[Invoice]:
        return list(self.ledger.find_by_reference(reference))

    # -- writes -----------------------------------------------------------------------------

    def reverse_invoice(self, reversal: Reversal) -> ReversalResult | None:
        invoice = self.ledger.get_invoice(reversal.invoice_id, True)
        if invoice is None:
            return None
        why = reversal.reason
        note = Invoice(
            id=self._ids("rinv"),
            kind=InvoiceKind.CREDIT_NOTE,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            lines=reversal.lines if reversal.lines is not None else invoice.lines,
            state=InvoiceState.DRAFT,
            created_at=reversal.at,
            invoice_date=reversal.reversal_date,
            post_on=None if reversal.post else reversal.post_on,
            sale_order_id=invoice.sale_order_id,
            reversed_invoice_id=invoice.id,
            credit_method=reversal.method,
            ticket_id=reversal.ticket_id,
            reference=f"Reversal of: {invoice.number or invoice.id}, {why}",
            reason=why,
            journal=reversal.journal if reversal.journal is not None else invoice.journal,
            operation_ref=reversal.reference,
        )
        new_invoice = None
        if reversal.method is CreditMethod.FULL_AND_REINVOICE:
            new_invoice = self.ledger.save_invoice(
                self._reinvoice(invoice, reversal.ticket_id, reversal.at, reversal.reference)
            )
        if not reversal.post:
            saved = self.ledger.save_invoice(note)
            zero = Money.zero(invoice.currency)
            return ReversalResult(
                credit_note=saved,
                new_invoice=new_invoice,
                invoice=invoice,
                customer_credit=zero,
                released=zero,
            )
        return evolve(self._post(note, invoice, reversal.at), new_invoice=new_invoice)

    def update_credit_note(
        self, credit_note_id: str, lines: Sequence[InvoiceLine], reference: str
    ) -> Invoice | None:
        note = self.ledger.get_invoice(credit_note_id, True)
        if note is None:
            return None
        self._require_draft(note)
        return self.ledger.save_invoice(evolve(note, lines=tuple(lines), operation_ref=reference))

    def post_credit_note(
        self, credit_note_id: str, at: datetime, reference: str
    ) -> ReversalResult | None:
        note = self.ledger.get_invoice(credit_note_id, True)
        if note is None:
            return None
        self._require_draft(note)
        invoice = (
            self.ledger.get_invoice(note.reversed_invoice_id, True)
            if note.reversed_invoice_id is not None
            else None
        )
        if invoice is None:
            raise BackendError(f"credit note {note.id} reverses no invoice of this ledger")
        return self._post(evolve(note, operation_ref=reference), invoice, at)

    def cancel_credit_note(self, credit_note_id: str, reference: str) -> Invoice | None:
        note = self.ledger.get_invoice(credit_note_id, True)
        if note is None:
            return None
        self._require_draft(note)
        return self.ledger.save_invoice(
            evolve(note, state=InvoiceState.CANCELLED, post_on=None, operation_ref=reference)
        )

    def create_invoice(self, draft: InvoiceDraft, reference: str) -> Invoice:
        return self.ledger.save_invoice(
            Invoice(
                id=self._ids("inv"),
                kind=InvoiceKind.INVOICE,
                customer_id=draft.customer_id,
                currency=draft.currency,
                lines=draft.lines,
                state=InvoiceState.DRAFT,
                created_at=draft.at,
                ticket_id=draft.ticket_id,
                reference=draft.reference,
                note=draft.note,
                operation_ref=reference,
            )
        )

    def cancel_invoice(self, invoice_id: str, reference: str) -> Invoice | None:
        invoice = self.ledger.get_invoice(invoice_id, True)
        if invoice is None:
            return None
        if invoice.state is not InvoiceState.DRAFT:
            raise BackendError(
                f"invoice {invoice.number or invoice.id} is {invoice.state.value}; "
                "only a draft invoice can be cancelled"
            )
        return self.ledger.save_invoice(
            evolve(invoice, state=InvoiceState.CANCELLED, operation_ref=reference)
        )

    # -- the ERP's own business ---------------------------------------------------------------

    @staticmethod
    def _require_draft(note: Invoice) -> None:
        if note.kind is not InvoiceKind.CREDIT_NOTE or note.state is not InvoiceState.DRAFT:
            raise BackendError(
                f"{note.number or note.id} is not a draft credit note ({note.state.value})"
            )

    def _post(self, note: Invoice, invoice: Invoice, at: datetime) -> ReversalResult:
        """Match the draft `note` with `invoice`, settle the invoice, then number and
        store the posted note (RF-4, RF-4a, RF-8).

        A FULL or FULL_AND_REINVOICE note first takes the invoice's payments off it (they
        become customer credit). The number is drawn last, after every other write, so that
        the series' row is held for as short a time as the unit allows.
        """
        currency = invoice.currency
        matches = list(self.ledger.matches(invoice.id))
        released = Money.zero(currency)
        released_from: list[str] = []
        if note.credit_method in _FULL_METHODS:
            payments = [m for m in matches if m.kind is MatchKind.PAYMENT]
            for match in payments:
                self.ledger.remove_match(match.id)
                released = released + match.amount
                released_from.append(match.counterpart_id)
            if payments:
                matches = [m for m in matches if m.kind is not MatchKind.PAYMENT]
        total = note.total
        residual, _state = _settlement(invoice, matches)
        applied = total if total <= residual else residual
        if not applied.is_zero():
            matches.append(
                self.ledger.add_match(
                    Match(
                        id=self._ids("match"),
                        invoice_id=invoice.id,
                        kind=MatchKind.CREDIT_NOTE,
                        counterpart_id=note.id,
                        amount=applied,
                        created_at=at,
                    )
                )
            )
        after = settle(invoice, matches)
        if after is not invoice:  # settle returns the invoice itself when nothing changed
            after = self.ledger.save_invoice(after)
        open_part = total - applied
        if open_part.is_zero():
            note_state = PaymentState.PAID
        elif applied.is_zero():
            note_state = PaymentState.NOT_PAID
        else:
            note_state = PaymentState.PARTIAL
        assert note.invoice_date is not None  # every credit note made here has its date
        series = self._series(note.journal, note.invoice_date)
        posted = self.ledger.save_invoice(
            evolve(
                note,
                state=InvoiceState.POSTED,
                number=self._number(series, self.ledger.next_number(series)),
                post_on=None,
                residual=open_part,
                payment_state=note_state,
            )
        )
        return ReversalResult(
            credit_note=posted,
            invoice=after,
            customer_credit=released + open_part,
            released=released,
            released_from=tuple(released_from),
        )

    def _reinvoice(
        self, invoice: Invoice, ticket_id: str | None, at: datetime, reference: str
    ) -> Invoice:
        """RF-4 FULL_AND_REINVOICE: a new draft copy (same customer, lines, currency; no
        dates; its number comes when it is posted)."""
        return Invoice(
            id=self._ids("inv"),
            kind=InvoiceKind.INVOICE,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            lines=invoice.lines,
            state=InvoiceState.DRAFT,
            created_at=at,
            sale_order_id=invoice.sale_order_id,
            ticket_id=ticket_id,
            journal=invoice.journal,
            reference=f"Replaces {invoice.number or invoice.id}",
            operation_ref=reference,
        )


class AccountingPort:
    """Serves the accounting port (`aftersales_accounting_*`) from `self.accounting`.

    A backend inherits it and sets `accounting` to a `ReferenceAccounting` over its
    `Ledger`.
    """

    accounting: ReferenceAccounting

    @hookimpl
    def aftersales_accounting_get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        return self.accounting.get_invoice(invoice_id, lock)

    @hookimpl
    def aftersales_accounting_get_refundable(
        self, invoice_id: str, lock: bool
    ) -> Refundable | None:
        return self.accounting.get_refundable(invoice_id, lock)

    @hookimpl
    def aftersales_accounting_refundable_invoices(self, query: InvoiceQuery) -> list[Refundable]:
        return self.accounting.refundable_invoices(query)

    @hookimpl
    def aftersales_accounting_reverse_invoice(self, reversal: Reversal) -> ReversalResult | None:
        return self.accounting.reverse_invoice(reversal)

    @hookimpl
    def aftersales_accounting_update_credit_note(
        self, credit_note_id: str, lines: Sequence[InvoiceLine], reference: str
    ) -> Invoice | None:
        return self.accounting.update_credit_note(credit_note_id, lines, reference)

    @hookimpl
    def aftersales_accounting_post_credit_note(
        self, credit_note_id: str, at: datetime, reference: str
    ) -> ReversalResult | None:
        return self.accounting.post_credit_note(credit_note_id, at, reference)

    @hookimpl
    def aftersales_accounting_cancel_credit_note(
        self, credit_note_id: str, reference: str
    ) -> Invoice | None:
        return self.accounting.cancel_credit_note(credit_note_id, reference)

    @hookimpl
    def aftersales_accounting_create_invoice(self, draft: InvoiceDraft, reference: str) -> Invoice:
        return self.accounting.create_invoice(draft, reference)

    @hookimpl
    def aftersales_accounting_cancel_invoice(
        self, invoice_id: str, reference: str
    ) -> Invoice | None:
        return self.accounting.cancel_invoice(invoice_id, reference)

    @hookimpl
    def aftersales_accounting_find_by_reference(self, reference: str) -> list[Invoice]:
        return self.accounting.find_by_reference(reference)
