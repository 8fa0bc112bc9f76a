"""Credit notes from a ticket (refunds.md, RF-1 … RF-12): `app.refunds`.

The flow follows the reference product's "Refund" button on a ticket:

1. [`RefundService.invoices_to_refund()`][RefundService.invoices_to_refund] lists the customer's
   posted invoices (RF-2);
2. [`RefundService.credit_methods()`][RefundService.credit_methods] says which methods an invoice
   allows (RF-5);
3. [`RefundService.reverse()`][RefundService.reverse] creates the credit note (RF-4, RF-6, RF-8,
   RF-10, RF-11);
4. a PARTIAL credit note is edited with
   [`RefundService.update_draft()`][RefundService.update_draft] (RF-9) and posted with
   [`RefundService.confirm()`][RefundService.confirm] (RF-8), or dropped with
   [`RefundService.cancel()`][RefundService.cancel].

Every amount is [`Money`][aftersales.models.money.Money]. An invoice's residual and payment state
always follow from the matches against it (RF-4b), and the credit notes against one invoice,
posted or draft, never add up to more than the invoice (RF-7, checked under a lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

import attrs

from aftersales.access import Action
from aftersales.arguments import a_day, a_text, an_enum, an_id, invoice_lines
from aftersales.errors import (
    BackendError,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    MethodNotAllowed,
    QuantityExceeded,
)
from aftersales.ids import new_id
from aftersales.models import (
    Actor,
    CreditMethod,
    DocumentKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Match,
    MatchKind,
    Money,
    Partner,
    PaymentState,
    Service,
    Ticket,
    evolve,
)
from aftersales.models._records import assemble
from aftersales.models.queries import InvoiceQuery
from aftersales.serialization import converter
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["ALL_METHODS", "RefundResult", "RefundService", "settle"]

#: The methods offered while an invoice has something left to pay (RF-5).
ALL_METHODS: tuple[CreditMethod, ...] = (
    CreditMethod.PARTIAL,
    CreditMethod.FULL,
    CreditMethod.FULL_AND_REINVOICE,
)
_FULL_METHODS = frozenset({CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE})
_MAX_REASON = 512


@attrs.frozen(kw_only=True)
class RefundResult:
    """What [`RefundService.reverse()`][RefundService.reverse] or
    [`RefundService.confirm()`][RefundService.confirm] did.

    `credit_note` is the credit note as stored (draft or posted); `new_invoice` the draft
    copy made by FULL_AND_REINVOICE (else `None`); `invoice` the reversed invoice after
    the call, with its residual and payment state. `customer_credit` is the outstanding
    credit the call gave the customer: payments taken off the invoice by a FULL reversal
    (RF-4a) plus any part of the posted credit note that the invoice's residual could not
    absorb (e.g. a refund of an invoice already paid). It is zero while the credit note is
    a draft.
    """

    credit_note: Invoice
    new_invoice: Invoice | None = None
    invoice: Invoice
    customer_credit: Money


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
    """The residual and payment state `matches` give `invoice` (see
    [`settle()`][aftersales.services.refunds.settle]).
    """
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


class RefundService(ServiceBase):
    """Credit notes from a ticket: `app.refunds` (refunds.md).

    Every call needs the helpdesk user and billing groups (AC-2); calls on a ticket also
    need the team to have refunds on (ST-1) and the ticket to be visible (AC-3).
    """

    # -- reads ------------------------------------------------------------------------------

    def invoices_to_refund(
        self, ticket_id: str, *, actor: Actor, sale_order_id: str | None = None
    ) -> tuple[Invoice, ...]:
        """The posted invoices the ticket's customer may get a credit note for, newest first.

        RF-2: invoices (not credit notes) of the customer or any contact of the same
        commercial entity; only those of `sale_order_id` (or else the ticket's sale order)
        when one is named (an order of another customer raises
        [`InvalidInput`][aftersales.errors.InvalidInput]); only those with a line of the ticket's
        product when the team also has returns on. Invoices with nothing left to credit — reversed,
        or whose credit notes already add up to their total — are left out.

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            sale_order_id: Only the invoices of this sale order (default: the ticket's sale order,
                if any).

        Returns:
            The posted customer invoices that still have something to credit, newest first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: The ticket has no customer (RF-1).
            InvalidInput: `sale_order_id` is an order of another customer, or an argument has the
                wrong shape.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> tuple[Invoice, ...]:
            ctx = self._guard.ticket(actor, Action.REFUND, ticket_id, Service.REFUNDS)
            if sale_order_id is not None:
                an_id(sale_order_id, "sale_order_id")
            ticket = ctx.ticket
            customer = self._customer(ticket)
            order_id = sale_order_id or ticket.sale_order_id
            if order_id is not None:
                order = self._hooks.get_sale_order(order_id)
                if sale_order_id is not None and not self._guard.same_entity(
                    order.customer_id, customer.id
                ):
                    raise InvalidInput(
                        "sale_order_id",
                        sale_order_id,
                        f"{order.name} is not an order of the ticket's customer ({customer.name})",
                    )
                order_id = order.id
            product_id = ticket.product_id if ctx.team.has(Service.RETURNS) else None
            contacts = self._hooks.list_contacts(customer.commercial_entity_id)
            found = self._hooks.find_invoices(
                InvoiceQuery(
                    customer_ids=frozenset(p.id for p in contacts) | {customer.id},
                    kind=InvoiceKind.INVOICE,
                    state=InvoiceState.POSTED,
                    sale_order_id=order_id,
                    product_id=product_id,
                )
            )
            return tuple(
                invoice
                for invoice in found
                if invoice.payment_state is not PaymentState.REVERSED
                and not self._left_to_credit(invoice).is_zero()
            )

        return self._rt.call(actor, Action.REFUND, work, writes=False)

    def credit_methods(
        self, ticket_id: str, invoice_id: str, *, actor: Actor
    ) -> tuple[CreditMethod, ...]:
        """The methods the UI may offer for refunding `invoice_id` from the ticket (RF-5).

        All three while the invoice has something left to pay; only PARTIAL when its
        residual is zero (paid, or already reversed). PARTIAL always comes first: it is the
        default. The ticket and invoice are checked as
        [`reverse()`][aftersales.services.refunds.RefundService.reverse] checks them.

        Args:
            ticket_id: The ticket the call is made from.
            invoice_id: The invoice to refund.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The credit methods allowed, PARTIAL first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no invoice `invoice_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: The ticket has no customer, or the invoice is another customer's
                (RF-1, RF-3).
            InvalidState: The invoice is not posted (RF-3).
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> tuple[CreditMethod, ...]:
            ctx = self._guard.ticket(actor, Action.REFUND, ticket_id, Service.REFUNDS)
            an_id(invoice_id, "invoice_id")
            return _methods_for(self._refundable(ctx.ticket, invoice_id, lock=False))

        return self._rt.call(actor, Action.REFUND, work, writes=False)

    def credit_notes(self, ticket_id: str, *, actor: Actor) -> tuple[Invoice, ...]:
        """The credit notes created from the ticket, oldest first (RF-11).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The credit notes linked to the ticket, oldest first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> tuple[Invoice, ...]:
            self._guard.ticket(actor, Action.REFUND, ticket_id, Service.REFUNDS)
            return tuple(
                self._hooks.get_invoice(link.document_id)
                for link in self._hooks.list_links(ticket_id)
                if link.kind is DocumentKind.CREDIT_NOTE
            )

        return self._rt.call(actor, Action.REFUND, work, writes=False)

    # -- reverse ----------------------------------------------------------------------------

    def reverse(
        self,
        ticket_id: str,
        invoice_id: str,
        *,
        method: CreditMethod | str = CreditMethod.PARTIAL,
        reason: str | None = None,
        reversal_date: date | None = None,
        journal: str | None = None,
        lines: Sequence[InvoiceLine] | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> RefundResult:
        """Create a credit note for `invoice_id` from the ticket (RF-4, RF-6, RF-8).

        * PARTIAL (the default): a **draft** copy of the invoice's lines, to edit with
          [`update_draft()`][update_draft] and post with
          [`confirm()`][aftersales.services.refunds.RefundService.confirm]. `lines` (PARTIAL only)
          creates the draft with those lines instead, e.g. to credit part of an invoice that
          already has a credit note.
        * FULL: the credit note is **posted** and **matched** with the invoice at once; the
          invoice's payments are taken off it and become customer credit (RF-4a); the
          invoice ends REVERSED with residual 0.
        * FULL_AND_REINVOICE: as FULL, plus a new **draft invoice** copying the original.

        `reason` defaults to `"Ticket #<ref>"`; `reversal_date` to today. A future
        `reversal_date` keeps the credit note in draft, with nothing matched, whatever the
        method: [`confirm()`][aftersales.services.refunds.RefundService.confirm] posts it from that
        date on. `journal` defaults to the invoice's.

        Raises [`InvalidOperation`][aftersales.errors.InvalidOperation] when the ticket has no
        customer (RF-1), the invoice belongs to another customer (RF-3) or the method is not
        allowed (RF-5); [`InvalidState`][aftersales.errors.InvalidState] when the invoice is not
        posted (RF-3); [`QuantityExceeded`][aftersales.errors.QuantityExceeded] when the credit
        notes would exceed the invoice (RF-7).

        Args:
            ticket_id: The ticket the call is made from.
            invoice_id: The posted invoice to credit.
            method: PARTIAL, FULL or FULL_AND_REINVOICE (a `CreditMethod` or its value).
            reason: Why, on the credit note's reference (default `Ticket #<ref>`).
            reversal_date: The credit note's date (default: today); a future date keeps it in draft
                (RF-6).
            journal: The journal to use (default: the invoice's).
            lines: PARTIAL only: the draft's lines instead of a copy of the invoice's.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The credit note, the new draft invoice (FULL_AND_REINVOICE), the invoice after the call
            and the customer credit made.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no invoice `invoice_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: The ticket has no customer (RF-1), the invoice is another customer's
                (RF-3), or the method is not allowed for it (RF-5).
            InvalidState: The invoice is not posted (RF-3).
            QuantityExceeded: The credit notes would credit more than the invoice (RF-7).
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> RefundResult:
            ctx = self._guard.ticket(actor, Action.REFUND, ticket_id, Service.REFUNDS)
            an_id(invoice_id, "invoice_id")
            chosen = an_enum(method, CreditMethod, "method")
            if reason is not None:
                a_text(reason, "reason", max_length=_MAX_REASON)
            if reversal_date is not None:
                a_day(reversal_date, "reversal_date")
            if journal is not None:
                a_text(journal, "journal", max_length=64)
            edited = invoice_lines(lines, "lines") if lines is not None else None
            if edited is not None and chosen is not CreditMethod.PARTIAL:
                raise InvalidInput(
                    "lines",
                    lines,
                    f"only a PARTIAL credit note takes its own lines; {chosen.value} copies "
                    "the invoice's",
                )
            args: dict[str, Any] = {
                "ticket_id": ticket_id,
                "invoice_id": invoice_id,
                "method": chosen.value,
                "reason": reason,
                "reversal_date": reversal_date,
                "journal": journal,
                "lines": None if edited is None else [converter.unstructure(x) for x in edited],
            }
            done = uow.replay(idempotency_key, "refunds.reverse", args, RefundResult)
            if done is not None:
                return done
            ticket = ctx.ticket
            invoice = self._refundable(ticket, invoice_id, lock=True)
            if chosen not in _methods_for(invoice):
                raise MethodNotAllowed(
                    f"invoice {invoice.number} has nothing left to pay (payment state "
                    f"{invoice.payment_state.value}), so {chosen.value} is not allowed; "
                    f"the allowed method is {CreditMethod.PARTIAL.value}",
                    method=chosen.value,
                    allowed=[m.value for m in _methods_for(invoice)],
                    kind="invoice",
                    id=invoice.id,
                )
            today = uow.now.date()
            day = reversal_date or today
            if invoice.invoice_date is not None and day < invoice.invoice_date:
                raise InvalidInput(
                    "reversal_date",
                    day,
                    f"is before the date of invoice {invoice.number} ({invoice.invoice_date})",
                )
            if edited is not None:
                self._check_line_data(edited, invoice.currency)
            why = reason if reason is not None else f"Ticket #{ticket.ref}"
            note_id = new_id("rinv")

            def credit_note(**state: Any) -> Invoice:
                # Every value comes from the invoice, the ticket or the checked arguments.
                return assemble(
                    Invoice,
                    id=note_id,
                    kind=InvoiceKind.CREDIT_NOTE,
                    customer_id=invoice.customer_id,
                    currency=invoice.currency,
                    lines=edited if edited is not None else invoice.lines,
                    created_at=uow.now,
                    invoice_date=day,
                    sale_order_id=invoice.sale_order_id,
                    reversed_invoice_id=invoice.id,
                    credit_method=chosen,
                    ticket_id=ticket.id,
                    reference=f"Reversal of: {invoice.number or invoice.id}, {why}",
                    reason=why,
                    journal=journal if journal is not None else invoice.journal,
                    **state,
                )

            credit = Money.zero(invoice.currency)
            if chosen is CreditMethod.PARTIAL or day > today:
                draft = credit_note(state=InvoiceState.DRAFT, post_on=day if day > today else None)
                # The very lines of the invoice total what the invoice does.
                amount = draft.total if edited is not None else invoice.total
                self._check_cap(invoice, amount)
                note = self._hooks.save_invoice(draft)
                after = invoice
            else:  # FULL and FULL_AND_REINVOICE post at once: the note copies the invoice
                amount = invoice.total
                self._check_cap(invoice, amount)
                posting = self._reconcile(
                    uow,
                    invoice,
                    note_id,
                    amount,
                    chosen,
                    day,
                    ticket.id,
                    actor,
                    idempotency_key,
                )
                note = self._hooks.save_invoice(
                    credit_note(
                        state=InvoiceState.POSTED,
                        number=posting.number,
                        residual=posting.open_part,
                        payment_state=posting.note_state,
                    )
                )
                after = self._save_settled(invoice, posting.matches)
                credit = posting.credit
            self._link(
                uow,
                ticket,
                actor,
                DocumentKind.CREDIT_NOTE,
                note.id,
                _created_body(note, amount, invoice, credit),
                idempotency_key,
            )
            new_invoice = None
            if chosen is CreditMethod.FULL_AND_REINVOICE:
                new_invoice = self._hooks.save_invoice(_reinvoice(invoice, ticket, uow))
                self._link(
                    uow,
                    ticket,
                    actor,
                    DocumentKind.INVOICE,
                    new_invoice.id,
                    f"Invoice created: draft copy of {invoice.number} for "
                    f"{new_invoice.total}, to replace it (its number comes on posting)",
                    idempotency_key,
                )
            return RefundResult(
                credit_note=note, new_invoice=new_invoice, invoice=after, customer_credit=credit
            )

        return self._rt.call(actor, Action.REFUND, work, writes=True)

    # -- draft credit notes -----------------------------------------------------------------

    def update_draft(
        self,
        credit_note_id: str,
        *,
        lines: Sequence[InvoiceLine],
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> Invoice:
        """Replace the lines of a draft credit note (RF-4 PARTIAL, RF-9).

        Lines are positive amounts in the credit note's currency; the new total, with the
        invoice's other credit notes, must stay within the invoice (RF-7). Editing a posted
        or cancelled credit note raises [`InvalidState`][aftersales.errors.InvalidState].

        Args:
            credit_note_id: A credit note made from a ticket.
            lines: The new lines, positive amounts in the credit note's currency.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The draft credit note with its new lines.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no credit note `credit_note_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: `credit_note_id` is a customer invoice, not a credit note.
            InvalidState: The credit note is posted or cancelled (RF-9).
            QuantityExceeded: The new total would credit more than the invoice (RF-7).
            InvalidInput: A line is not positive, in another currency, or has the wrong shape.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> Invoice:
            self._guarded_note(actor, credit_note_id)
            edited = invoice_lines(lines, "lines")
            args = {
                "credit_note_id": credit_note_id,
                "lines": [converter.unstructure(x) for x in edited],
            }
            done = uow.replay(idempotency_key, "refunds.update_draft", args, Invoice)
            if done is not None:
                return done
            note = self._hooks.get_invoice(credit_note_id, lock=True)
            self._check_draft(note, "edited")
            self._check_line_data(edited, note.currency)
            invoice = self._reversed_invoice(note)
            updated = evolve(note, lines=edited)
            self._check_cap(invoice, updated.total, exclude=note.id)
            saved = self._hooks.save_invoice(updated)
            self._changed(
                uow,
                note.ticket_id,
                actor,
                DocumentKind.CREDIT_NOTE,
                note.id,
                "updated",
                f"Refund updated: draft credit note for {invoice.number} now credits "
                f"{saved.total} (was {note.total})",
                idempotency_key,
            )
            return saved

        return self._rt.call(actor, Action.REFUND, work, writes=True)

    def confirm(
        self, credit_note_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RefundResult:
        """Post a draft credit note and match it with its invoice (RF-8).

        The credit note gets its number (`RINV/<year>/<n>`) and reduces the invoice's
        residual by its total, as far as the residual goes; what the residual cannot absorb
        stays open on the credit note as customer credit. A credit note made with FULL or
        FULL_AND_REINVOICE (kept in draft by a future date) reconciles as FULL (RF-4a).
        Posting an already posted credit note raises
        [`InvalidState`][aftersales.errors.InvalidState], as does posting one before the date it is
        scheduled for (RF-6).

        Args:
            credit_note_id: A credit note made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The posted credit note, the invoice after it and the customer credit made.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no credit note `credit_note_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: `credit_note_id` is a customer invoice, not a credit note.
            InvalidState: The credit note is not a draft, is dated in the future (RF-6, RF-8), or
                its invoice is no longer posted.
            QuantityExceeded: It would credit more than the invoice (RF-7).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> RefundResult:
            self._guarded_note(actor, credit_note_id)
            args = {"credit_note_id": credit_note_id}
            done = uow.replay(idempotency_key, "refunds.confirm", args, RefundResult)
            if done is not None:
                return done
            note = self._hooks.get_invoice(credit_note_id, lock=True)
            self._check_draft(note, "posted")
            if note.post_on is not None and note.post_on > uow.now.date():
                raise InvalidState(
                    f"the credit note for this refund is scheduled to post on "
                    f"{note.post_on.isoformat()}; it cannot be posted before that date"
                )
            invoice = self._reversed_invoice(note)
            if invoice.state is not InvoiceState.POSTED:
                raise InvalidState(
                    f"invoice {invoice.number or invoice.id} is {invoice.state.value}; "
                    "only a credit note of a posted invoice can be posted"
                )
            self._check_cap(invoice, note.total, exclude=note.id)
            posted, after, credit = self._post(uow, note, invoice, actor, idempotency_key)
            body = f"Refund posted: {posted.number} of {posted.total} for {invoice.number}"
            if not credit.is_zero():
                body += f"; customer credit {credit}"
            self._changed(
                uow,
                note.ticket_id,
                actor,
                DocumentKind.CREDIT_NOTE,
                note.id,
                "posted",
                body,
                idempotency_key,
            )
            return RefundResult(
                credit_note=posted, new_invoice=None, invoice=after, customer_credit=credit
            )

        return self._rt.call(actor, Action.REFUND, work, writes=True)

    def cancel(
        self, credit_note_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Invoice:
        """Cancel a draft credit note; it no longer counts against the invoice (RF-7, RF-11).

        A posted credit note cannot be cancelled
        ([`InvalidState`][aftersales.errors.InvalidState]): it is an accounting entry; reverse it
        in the accounting application instead.

        Args:
            credit_note_id: A credit note made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The credit note, cancelled.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no credit note `credit_note_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: `credit_note_id` is a customer invoice, not a credit note.
            InvalidState: The credit note is posted or already cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> Invoice:
            self._guarded_note(actor, credit_note_id)
            args = {"credit_note_id": credit_note_id}
            done = uow.replay(idempotency_key, "refunds.cancel", args, Invoice)
            if done is not None:
                return done
            note = self._hooks.get_invoice(credit_note_id, lock=True)
            self._check_draft(note, "cancelled")
            invoice = self._reversed_invoice(note)
            cancelled = self._hooks.save_invoice(
                evolve(note, state=InvoiceState.CANCELLED, post_on=None)
            )
            self._changed(
                uow,
                note.ticket_id,
                actor,
                DocumentKind.CREDIT_NOTE,
                note.id,
                "cancelled",
                f"Refund cancelled: draft credit note of {note.total} for {invoice.number}",
                idempotency_key,
            )
            return cancelled

        return self._rt.call(actor, Action.REFUND, work, writes=True)

    # -- helpers ----------------------------------------------------------------------------

    def _customer(self, ticket: Ticket) -> Partner:
        """RF-1: the ticket's customer, or
        [`InvalidOperation`][aftersales.errors.InvalidOperation].
        """
        if ticket.customer_id is None:
            raise InvalidOperation(
                f"the ticket has no customer (ticket #{ticket.ref}); "
                "set one before refunding an invoice"
            )
        return self._hooks.get_partner(ticket.customer_id)

    def _refundable(self, ticket: Ticket, invoice_id: str, *, lock: bool) -> Invoice:
        """The invoice, if the ticket may refund it: the ticket has a customer (RF-1), the
        invoice is a posted customer invoice (RF-3) of the same commercial entity."""
        customer = self._customer(ticket)
        invoice = self._hooks.get_invoice(invoice_id, lock=lock)
        self._check_refundable(invoice)
        if not self._guard.same_entity(invoice.customer_id, customer.id):
            raise InvalidOperation(
                f"invoice {invoice.number} belongs to another customer than the ticket's "
                f"({customer.name}); it cannot be refunded from ticket #{ticket.ref}"
            )
        return invoice

    @staticmethod
    def _check_refundable(invoice: Invoice) -> None:
        """RF-3: only posted customer invoices can be refunded."""
        if invoice.kind is not InvoiceKind.INVOICE:
            raise InvalidOperation(
                f"{invoice.number or invoice.id} is a credit note; "
                "only customer invoices can be refunded"
            )
        if invoice.state is not InvoiceState.POSTED:
            raise InvalidState(
                f"only posted invoices can be refunded; invoice "
                f"{invoice.number or invoice.id} is {invoice.state.value}"
            )

    def _check_line_data(self, lines: Sequence[InvoiceLine], currency: str) -> None:
        """What a line needs from the store: its currency and its product (G-7)."""
        for index, line in enumerate(lines):
            if line.unit_price.currency != currency:
                raise InvalidInput(
                    f"lines[{index}].unit_price",
                    line.unit_price,
                    f"must be in {currency}, the invoice's currency",
                )
            if line.product_id is not None:
                self._hooks.get_product(line.product_id)

    def _live_credit_notes(self, invoice_id: str, exclude: str | None = None) -> list[Invoice]:
        return [
            note
            for note in self._hooks.list_credit_notes(invoice_id)
            if note.state is not InvoiceState.CANCELLED and note.id != exclude
        ]

    def _left_to_credit(self, invoice: Invoice, exclude: str | None = None) -> Money:
        credited = Money.sum(
            (n.total for n in self._live_credit_notes(invoice.id, exclude)), invoice.currency
        )
        return invoice.total - credited

    def _check_cap(self, invoice: Invoice, amount: Money, exclude: str | None = None) -> None:
        """RF-7: posted and draft credit notes never add up to more than the invoice.

        The caller holds the invoice locked (`get_invoice(lock=True)`), so two units of
        work cannot both pass this check on the same invoice (RL-3).
        """
        if amount.is_zero():
            raise InvalidOperation(
                f"invoice {invoice.number or invoice.id} totals {invoice.total}; "
                "a credit note of zero is not allowed"
            )
        available = self._left_to_credit(invoice, exclude)
        if amount > available:
            raise QuantityExceeded(
                f"credit on invoice {invoice.number or invoice.id} (invoiced {invoice.total}, "
                f"already in credit notes {invoice.total - available})",
                amount,
                available,
            )

    def _guarded_note(self, actor: Actor, credit_note_id: str) -> Invoice:
        """The credit note, after its ticket's guard; not locked, so that the call claims
        its idempotency key before it locks anything."""
        note = self._hooks.get_invoice(an_id(credit_note_id, "credit_note_id"))
        if note.kind is not InvoiceKind.CREDIT_NOTE:
            raise InvalidOperation(
                f"{note.number or note.id} is a customer invoice, not a credit note"
            )
        if note.ticket_id is not None:
            self._guard.ticket(actor, Action.REFUND, note.ticket_id, Service.REFUNDS)
        return note

    @staticmethod
    def _check_draft(note: Invoice, doing: str) -> None:
        """RF-8, RF-9: only a draft credit note can be edited, posted or cancelled."""
        if note.state is InvoiceState.POSTED:
            raise InvalidState(
                f"credit note {note.number} is already posted; a posted credit note cannot "
                f"be {doing}"
            )
        if note.state is InvoiceState.CANCELLED:
            raise InvalidState(f"this credit note is cancelled; it cannot be {doing}")

    def _reversed_invoice(self, note: Invoice) -> Invoice:
        if note.reversed_invoice_id is None:
            raise InvalidOperation(
                f"credit note {note.number or note.id} does not reverse an invoice"
            )
        return self._hooks.get_invoice(note.reversed_invoice_id, lock=True)

    def _reconcile(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        note_id: str,
        total: Money,
        method: CreditMethod | None,
        day: date,
        ticket_id: str | None,
        actor: Actor,
        key: str | None,
    ) -> _Posting:
        """Match a credit note of `total` with `invoice` and number it (RF-4, RF-4a, RF-8).

        A FULL or FULL_AND_REINVOICE `method` first takes the invoice's payments off it
        (they become customer credit). The caller stores the posted credit note, then the
        invoice settled by the returned matches (`_save_settled()`).
        """
        currency = invoice.currency
        matches = list(self._hooks.list_matches(invoice.id))
        released = Money.zero(currency)
        if method in _FULL_METHODS:
            payments = [m for m in matches if m.kind is MatchKind.PAYMENT]
            for match in payments:
                self._hooks.remove_match(match.id)
                released = released + match.amount
            if payments:
                matches = [m for m in matches if m.kind is not MatchKind.PAYMENT]
                self._audit(
                    uow,
                    actor,
                    "invoice payments unmatched",
                    ticket_id=ticket_id,
                    documents=(invoice.id, *(m.counterpart_id for m in payments)),
                    key=key,
                    detail=f"{released} paid on {invoice.number} is now customer credit",
                )
        residual, _state = _settlement(invoice, matches)
        applied = total if total <= residual else residual
        if not applied.is_zero():
            matches.append(
                self._hooks.add_match(
                    assemble(
                        Match,
                        id=new_id("match"),
                        invoice_id=invoice.id,
                        kind=MatchKind.CREDIT_NOTE,
                        counterpart_id=note_id,
                        amount=applied,
                        created_at=uow.now,
                    )
                )
            )
        number = f"RINV/{day.year}/{self._hooks.sequence_next(f'RINV/{day.year}'):05d}"
        open_part = total - applied
        if open_part.is_zero():
            note_state = PaymentState.PAID
        elif applied.is_zero():
            note_state = PaymentState.NOT_PAID
        else:
            note_state = PaymentState.PARTIAL
        return _Posting(number, open_part, note_state, matches, released + open_part)

    def _save_settled(self, invoice: Invoice, matches: Sequence[Match]) -> Invoice:
        """Store `invoice` with the residual and payment state `matches` give it."""
        after = settle(invoice, matches)
        if after is not invoice:  # settle returns the invoice itself when nothing changed
            after = self._hooks.save_invoice(after)
        return after

    def _post(
        self,
        uow: UnitOfWork,
        note: Invoice,
        invoice: Invoice,
        actor: Actor,
        key: str | None,
    ) -> tuple[Invoice, Invoice, Money]:
        """Post the draft `note` and match it with `invoice` (RF-8).

        Returns the posted credit note, the invoice after, and the customer credit made.
        """
        assert note.invoice_date is not None  # every credit note made here has its date
        posting = self._reconcile(
            uow,
            invoice,
            note.id,
            note.total,
            note.credit_method,
            note.invoice_date,
            note.ticket_id,
            actor,
            key,
        )
        posted = self._hooks.save_invoice(
            evolve(
                note,
                state=InvoiceState.POSTED,
                number=posting.number,
                post_on=None,
                residual=posting.open_part,
                payment_state=posting.note_state,
            )
        )
        return posted, self._save_settled(invoice, posting.matches), posting.credit


class _Posting(NamedTuple):
    """What posting a credit note decides: its number, what stays open on it and its
    payment state, the invoice's matches after, and the customer credit made."""

    number: str
    open_part: Money
    note_state: PaymentState
    matches: list[Match]
    credit: Money


def _methods_for(invoice: Invoice) -> tuple[CreditMethod, ...]:
    """RF-5: all three while something is left to pay, else PARTIAL only."""
    return ALL_METHODS if not invoice.residual.is_zero() else (CreditMethod.PARTIAL,)


def _created_body(note: Invoice, amount: Money, invoice: Invoice, credit: Money) -> str:
    if note.state is InvoiceState.POSTED:
        text = (
            f"Refund created: credit note {note.number} of {amount} for {invoice.number}, "
            f"posted and reconciled ({note.reason})"
        )
        if not credit.is_zero():
            text += f"; customer credit {credit}"
        return text
    when = f", to post on {note.post_on.isoformat()}" if note.post_on is not None else ""
    return (
        f"Refund created: draft credit note of {amount} for {invoice.number}{when} ({note.reason})"
    )


def _reinvoice(invoice: Invoice, ticket: Ticket, uow: UnitOfWork) -> Invoice:
    """RF-4 FULL_AND_REINVOICE: a new draft copy (same customer, lines, currency; no dates)."""
    return assemble(
        Invoice,
        id=new_id("inv"),
        kind=InvoiceKind.INVOICE,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        lines=invoice.lines,
        state=InvoiceState.DRAFT,
        created_at=uow.now,
        sale_order_id=invoice.sale_order_id,
        ticket_id=ticket.id,
        journal=invoice.journal,
        reference=f"Replaces {invoice.number or invoice.id}",
    )
