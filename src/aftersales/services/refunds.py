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

Every amount is [`Money`][aftersales.models.money.Money]. The service decides what a helpdesk may
do and asks the ERP through the accounting port to do it: the ERP makes the credit notes,
gives them their ids and numbers, matches them and settles the invoice (RF-4b), and the
service records on the ticket what the ERP made. The credit notes against one invoice,
posted or draft, never add up to more than the invoice (RF-7): the service checks it against
the amounts the ERP reports, under the invoice's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs

from aftersales import paging
from aftersales.access import Action
from aftersales.arguments import a_day, a_text, an_enum, an_id, invoice_lines
from aftersales.errors import (
    InvalidInput,
    InvalidOperation,
    InvalidState,
    MethodNotAllowed,
    QuantityExceeded,
)
from aftersales.formatting import label
from aftersales.models import (
    Actor,
    CreditMethod,
    DocumentKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    Partner,
    PaymentState,
    Refundable,
    Reversal,
    ReversalResult,
    Service,
    Ticket,
)
from aftersales.models.products import LineAmounts
from aftersales.models.queries import InvoiceKey, InvoiceQuery, invoice_key
from aftersales.paging import DEFAULT_PAGE_SIZE, Page
from aftersales.serialization import converter
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["ALL_METHODS", "InvoiceView", "RefundResult", "RefundService"]

#: The methods offered while an invoice has something left to pay (RF-5).
ALL_METHODS: tuple[CreditMethod, ...] = (
    CreditMethod.PARTIAL,
    CreditMethod.FULL,
    CreditMethod.FULL_AND_REINVOICE,
)
_FULL_METHODS = frozenset({CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE})
_MAX_REASON = 512
_INVOICE_LINKS = frozenset({DocumentKind.CREDIT_NOTE, DocumentKind.INVOICE})


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


@attrs.frozen(kw_only=True)
class InvoiceView:
    """One invoice or credit note linked to a ticket, as its page shows it.

    `invoice` is the ERP's record: number, state, payment state, residual, reference,
    lines. `amounts` are its untaxed, tax and total amounts; the labels are what a page
    shows (`Credit note`, `Posted`, `Not paid`).
    """

    ticket_id: str
    ticket_ref: str
    invoice: Invoice
    customer_name: str
    amounts: LineAmounts
    kind_label: str
    state_label: str
    payment_state_label: str


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
            query = self._refund_query(ticket_id, actor, sale_order_id)
            return tuple(
                item.invoice for item in self._hooks.refundable_invoices(query) if _to_refund(item)
            )

        return self._rt.call(actor, Action.REFUND, work, writes=False)

    def invoices_to_refund_page(
        self,
        ticket_id: str,
        *,
        actor: Actor,
        sale_order_id: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Invoice]:
        """One page of [`invoices_to_refund()`][invoices_to_refund]: the same invoices in the
        paged order, newest first by `(invoice_date, created_at, id)` (undated last).

        The accounting port reads only the page (keyset after the cursor, limited by the
        ERP), so the cost of a page does not grow with the customer's history. A page holds
        `page_size` invoices unless it is the last one (`next_cursor` is `None`).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            sale_order_id: Only the invoices of this sale order (as `invoices_to_refund()`).
            page_size: At most this many invoices (1 to `MAX_PAGE_SIZE`, default 50).
            cursor: The `next_cursor` of the previous page; `None` for the first page.

        Returns:
            The page: its invoices and the cursor of the next page.

        Raises:
            InvalidInput: `page_size` is out of range, `cursor` is not a cursor of this list,
                or as [`invoices_to_refund()`][invoices_to_refund].
            AccessDenied: As [`invoices_to_refund()`][invoices_to_refund].
            NotFound: There is no ticket `ticket_id`.
            ServiceDisabled: The ticket's team has refunds off (ST-1).
            InvalidOperation: The ticket has no customer (RF-1).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        size = paging.page_size(page_size)
        start = _after_cursor(paging.decode_cursor(_REFUND_PAGE, cursor, 3))

        def work(_uow: UnitOfWork) -> Page[Invoice]:
            query = self._refund_query(ticket_id, actor, sale_order_id)

            def read(after: InvoiceKey | None, limit: int) -> Sequence[Refundable]:
                return self._hooks.refundable_invoices(
                    attrs.evolve(query, after=after, limit=limit)
                )

            found = paging.walk(read, lambda item: invoice_key(item.invoice), start, size + 1)
            # invoices with nothing left to credit are skipped, not counted
            kept = paging.fill((item.invoice for item in found if _to_refund(item)), size)
            return paging.page_of(_REFUND_PAGE, kept, size, _cursor_key)

        return self._rt.call(actor, Action.REFUND, work, writes=False)

    def _refund_query(
        self, ticket_id: str, actor: Actor, sale_order_id: str | None
    ) -> InvoiceQuery:
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
        return InvoiceQuery(
            customer_ids=frozenset(p.id for p in contacts) | {customer.id},
            kind=InvoiceKind.INVOICE,
            state=InvoiceState.POSTED,
            sale_order_id=order_id,
            product_id=product_id,
        )

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
            return _methods_for(self._refundable(ctx.ticket, invoice_id, lock=False).invoice)

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

    def invoice(self, ticket_id: str, invoice_id: str, *, actor: Actor) -> InvoiceView:
        """One invoice or credit note linked to the ticket, read through it.

        The ticket's credit notes and invoices (a re-invoice draft, a repair's invoice) stay
        readable while the team has refunds off, as the ticket view lists them. A document
        that is not linked to `ticket_id` raises [`NotFound`][aftersales.errors.NotFound].

        Args:
            ticket_id: The ticket the call is made from.
            invoice_id: An invoice or credit note linked to that ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The invoice with its amounts, customer and labels.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`, or no invoice `invoice_id` linked to it.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> InvoiceView:
            ticket = self._guard.ticket(actor, Action.READ_INVOICE, ticket_id).ticket
            an_id(invoice_id, "invoice_id")
            self._linked(ticket.id, _INVOICE_LINKS, invoice_id, "invoice")
            invoice = self._hooks.get_invoice(invoice_id)
            return InvoiceView(
                ticket_id=ticket.id,
                ticket_ref=ticket.ref,
                invoice=invoice,
                customer_name=self._hooks.get_partner(invoice.customer_id).name,
                amounts=invoice.amounts,
                kind_label=label(invoice.kind.value),
                state_label=label(invoice.state.value),
                payment_state_label=label(invoice.payment_state.value),
            )

        return self._rt.call(actor, Action.READ_INVOICE, work, writes=False)

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
            refundable = self._refundable(ticket, invoice_id, lock=True)
            invoice = refundable.invoice
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
            # The very lines of the invoice total what the invoice does.
            amount = _total(edited, invoice.currency) if edited is not None else invoice.total
            self._check_cap(refundable, amount)
            made = self._hooks.reverse_invoice(
                Reversal(
                    invoice_id=invoice.id,
                    method=chosen,
                    reversal_date=day,
                    reason=why,
                    journal=journal,
                    lines=edited,
                    ticket_id=ticket.id,
                    # FULL and FULL_AND_REINVOICE post at once, unless dated later (RF-6)
                    post=chosen is not CreditMethod.PARTIAL and day <= today,
                    post_on=day if day > today else None,
                    at=uow.now,
                    reference=uow.reference,
                )
            )
            self._released(uow, made, invoice, ticket.id, actor, idempotency_key)
            note, credit = made.credit_note, made.customer_credit
            self._link(
                uow,
                ticket,
                actor,
                DocumentKind.CREDIT_NOTE,
                note.id,
                _created_body(note, amount, invoice, credit),
                idempotency_key,
            )
            new_invoice = made.new_invoice
            if new_invoice is not None:
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
                credit_note=note,
                new_invoice=new_invoice,
                invoice=made.invoice,
                customer_credit=credit,
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
            refundable = self._reversed_refundable(note)
            invoice = refundable.invoice
            self._check_cap(refundable, _total(edited, note.currency), exclude=note)
            saved = self._hooks.update_credit_note(note.id, edited, uow.reference)
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

        The ERP gives the credit note its number (the reference ERP: `RINV/<year>/<n>`
        for the default journal) and it reduces the invoice's residual by its total, as far
        as the residual goes; what the residual cannot absorb stays open on the credit note
        as customer credit. A credit note made with FULL or
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
            refundable = self._reversed_refundable(note)
            invoice = refundable.invoice
            if invoice.state is not InvoiceState.POSTED:
                raise InvalidState(
                    f"invoice {invoice.number or invoice.id} is {invoice.state.value}; "
                    "only a credit note of a posted invoice can be posted"
                )
            self._check_cap(refundable, note.total, exclude=note)
            made = self._hooks.post_credit_note(note.id, uow.now, uow.reference)
            self._released(uow, made, invoice, note.ticket_id, actor, idempotency_key)
            posted, after, credit = made.credit_note, made.invoice, made.customer_credit
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
            cancelled = self._hooks.cancel_credit_note(note.id, uow.reference)
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

    def _refundable(self, ticket: Ticket, invoice_id: str, *, lock: bool) -> Refundable:
        """The invoice with what the ERP says is credited on it, if the ticket may refund it:
        the ticket has a customer (RF-1), the invoice is a posted customer invoice (RF-3) of
        the same commercial entity."""
        customer = self._customer(ticket)
        refundable = self._hooks.get_refundable(invoice_id, lock=lock)
        invoice = refundable.invoice
        self._check_refundable(invoice)
        if not self._guard.same_entity(invoice.customer_id, customer.id):
            raise InvalidOperation(
                f"invoice {invoice.number} belongs to another customer than the ticket's "
                f"({customer.name}); it cannot be refunded from ticket #{ticket.ref}"
            )
        return refundable

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

    def _check_cap(
        self, refundable: Refundable, amount: Money, exclude: Invoice | None = None
    ) -> None:
        """RF-7: posted and draft credit notes never add up to more than the invoice.

        `refundable` is what the ERP reports as credited, read with the invoice locked
        (`get_refundable(lock=True)`), so two units of work cannot both pass this check on
        the same invoice (RL-3). `exclude` is a draft credit note being edited or posted:
        its own total is counted in `credited` and replaced by `amount`.
        """
        invoice = refundable.invoice
        if amount.is_zero():
            raise InvalidOperation(
                f"invoice {invoice.number or invoice.id} totals {invoice.total}; "
                "a credit note of zero is not allowed"
            )
        available = refundable.left_to_credit
        if exclude is not None and exclude.state is not InvoiceState.CANCELLED:
            available = available + exclude.total
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

    def _reversed_refundable(self, note: Invoice) -> Refundable:
        """The invoice `note` reverses, locked, with what the ERP says is credited on it."""
        if note.reversed_invoice_id is None:
            raise InvalidOperation(
                f"credit note {note.number or note.id} does not reverse an invoice"
            )
        return self._hooks.get_refundable(note.reversed_invoice_id, lock=True)

    def _released(
        self,
        uow: UnitOfWork,
        made: ReversalResult,
        invoice: Invoice,
        ticket_id: str | None,
        actor: Actor,
        key: str | None,
    ) -> None:
        """RF-4a: audit the payments the ERP took off the invoice (now customer credit)."""
        if made.released.is_zero():
            return
        self._audit(
            uow,
            actor,
            "invoice payments unmatched",
            ticket_id=ticket_id,
            documents=(invoice.id, *made.released_from),
            key=key,
            detail=f"{made.released} paid on {invoice.number} is now customer credit",
        )


def _total(lines: Sequence[InvoiceLine], currency: str) -> Money:
    """What a credit note of `lines` totals (G-8: the sum of per-line rounded amounts)."""
    return LineAmounts.sum((line.amounts for line in lines), currency).total


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


_REFUND_PAGE = "invoices to refund"


def _to_refund(item: Refundable) -> bool:
    """Whether a refundable invoice still has something to credit (RF-2)."""
    return (
        item.invoice.payment_state is not PaymentState.REVERSED
        and not item.left_to_credit.is_zero()
    )


def _cursor_key(invoice: Invoice) -> paging.Key:
    return (paging.day(invoice.invoice_date), paging.moment(invoice.created_at), invoice.id)


def _after_cursor(key: paging.Key | None) -> InvoiceKey | None:
    if key is None:
        return None
    on, at, ident = key
    if at is None or ident is None:
        raise InvalidInput("cursor", key, "not a cursor of this list (invoices to refund)")
    return (None if on is None else date.fromisoformat(on), datetime.fromisoformat(at), ident)
