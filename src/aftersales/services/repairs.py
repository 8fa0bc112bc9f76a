"""Repair orders from a ticket (repairs.md): `app.repairs`.

A repair order is created from a ticket (RP-1 … RP-7), goes through the life cycle of
`TRANSITIONS` (RP-8), may be invoiced through the accounting hooks (RP-9), and prints a
quotation for the customer (RP-6). Everyone who may see a ticket may read its repairs
(RP-12); changing them needs the repair rights of access.md (helpdesk user + stock user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Literal, overload

import attrs

from aftersales.access import Action
from aftersales.arguments import (
    Cleaner,
    a_choice,
    a_day,
    a_quantity,
    a_text,
    an_enum,
    an_id,
    fields,
    items,
    notes,
    optional,
)
from aftersales.documents.pdf import render_pdf
from aftersales.documents.quotation import (
    Quotation,
    QuotationRenderer,
    build_quotation,
    render_html,
    render_text,
)
from aftersales.erp.repair import (
    DELETABLE,
    DRAFT_ONLY,
    LINES,
    TRANSITIONS,
    Transition,
    next_state,
    state_diagram,
)
from aftersales.errors import (
    ConfigurationError,
    InvalidInput,
    InvalidOperation,
    InvalidState,
)
from aftersales.formatting import show
from aftersales.models import (
    Actor,
    DocumentKind,
    InvoiceDraft,
    InvoiceLine,
    InvoiceMethod,
    InvoiceState,
    OperationLine,
    PartAction,
    PartLine,
    Partner,
    PickingKind,
    PickingState,
    Product,
    ProductKind,
    RepairAction,
    RepairInvoiced,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairRequest,
    RepairState,
    Service,
    Ticket,
    evolve,
)
from aftersales.models.products import round_quantity
from aftersales.runtime import Runtime
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = [
    "DELETABLE",
    "TRANSITIONS",
    "UNSET",
    "RepairAction",
    "RepairService",
    "Transition",
    "next_state",
    "state_diagram",
]


# -- the life cycle (RP-8): the reference ERP's, re-exported -----------------------------------
#
# Which moves exist, which state each leads to and which fields may change in which state are
# the ERP's (`aftersales.erp.repair`, behind `aftersales_repair_transition` and
# `aftersales_repair_update_repair`). They are re-exported here for the callers of earlier
# versions; the service only offers the actions and asks the ERP.

#: In an update, these fields are replaced by the head of the order (RP-1 … RP-4).
_DRAFT_ONLY = DRAFT_ONLY
_LINES = LINES


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" in [`RepairService.update()`][RepairService.update].
UNSET: Final = _Unset.UNSET


# -- input cleaning (no hooks: types, lengths, enums) --------------------------------------------


_OPTIONAL_ID = optional(an_id)

#: The fields `create` and `update` take, and how each is checked before anything is
#: looked up.
_CLEAN: Mapping[str, Cleaner] = {
    "product_id": _OPTIONAL_ID,
    "quantity": a_quantity,
    "lot": optional(lambda value, field: a_text(value, field, max_length=64)),
    "customer_id": _OPTIONAL_ID,
    "description": notes,
    "sale_order_id": _OPTIONAL_ID,
    "return_id": _OPTIONAL_ID,
    "invoice_method": lambda value, field: an_enum(value, InvoiceMethod, field),
    "invoice_address_id": _OPTIONAL_ID,
    "parts": lambda value, field: items(value, field, PartLine, RepairPart),
    "operations": lambda value, field: items(value, field, OperationLine, RepairOperation),
    "internal_notes": notes,
    "quotation_notes": notes,
    "responsible_user_id": _OPTIONAL_ID,
    "scheduled_date": optional(a_day),
    "warranty_expiration": optional(a_day),
}
#: In an update, these cannot be cleared.
_REQUIRED = frozenset({"product_id", "customer_id"})


def _given(arguments: Mapping[str, object]) -> dict[str, object]:
    """The fields of `_CLEAN` as `create` or `update` received them (`arguments`
    is the call's `locals()`), its lines turned into tuples once, so that a retried unit of
    work sees them again (a generator is used up by the first try)."""
    return {
        name: _materialize(arguments[name]) if name in _LINES else arguments[name]
        for name in _CLEAN
    }


def _materialize(value: object) -> object:
    if value is UNSET or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return value
    return tuple(value)


@attrs.frozen
class _Header:
    """The validated, looked-up head of an order (RP-1 … RP-4)."""

    product: Product
    quantity: Decimal
    customer: Partner
    invoice_address_id: str | None


class RepairService(ServiceBase):
    """Repair orders from a ticket: `app.repairs`.

    `renderers` maps a quotation format to a renderer (`html`, `text` and `pdf` are
    built in); add or replace one to render quotations another way (RP-6).
    """

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.renderers: dict[str, QuotationRenderer] = {
            "html": render_html,
            "text": render_text,
            "pdf": render_pdf,
        }

    # -- creating (RP-1 … RP-7) -----------------------------------------------------------------

    def create(
        self,
        ticket_id: str,
        *,
        product_id: str | None = None,
        quantity: Decimal | int = Decimal(1),
        lot: str | None = None,
        customer_id: str | None = None,
        description: str = "",
        sale_order_id: str | None = None,
        return_id: str | None = None,
        invoice_method: InvoiceMethod | str = InvoiceMethod.NONE,
        invoice_address_id: str | None = None,
        parts: Iterable[PartLine | RepairPart] = (),
        operations: Iterable[OperationLine | RepairOperation] = (),
        internal_notes: str = "",
        quotation_notes: str = "",
        responsible_user_id: str | None = None,
        scheduled_date: date | None = None,
        warranty_expiration: date | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> RepairOrder:
        """Create a draft repair order from `ticket_id` and link it to the ticket.

        The product defaults to the ticket's (RP-2) and the customer to the ticket's
        customer; with an invoice method other than `NONE` the invoice address defaults
        to the customer (RP-4). Parts and operations take the product's price and taxes
        unless given (RP-5). The reference comes from the `RO` sequence (RP-7).

        Args:
            ticket_id: The ticket the call is made from.
            product_id: The product to repair (default: the ticket's product).
            quantity: How many (positive), in the product's unit.
            lot: The lot or serial number of the product, if tracked.
            customer_id: The customer (default: the ticket's customer).
            description: What is wrong, shown on the order.
            sale_order_id: The sale order the product came from; of the customer's commercial
                entity (RP-3).
            return_id: A return of this ticket or of the customer the product came back with
                (RP-3).
            invoice_method: `NONE`, `BEFORE_REPAIR` or `AFTER_REPAIR` (RP-4).
            invoice_address_id: Who is invoiced (default: the customer, when invoiced).
            parts: Parts to add or remove (RP-5).
            operations: Operations (labour) to invoice (RP-5).
            internal_notes: Notes for the team, never printed.
            quotation_notes: Notes printed on the quotation and the invoice.
            responsible_user_id: The user in charge of the repair.
            scheduled_date: When the repair is planned.
            warranty_expiration: The end of the product's warranty.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The new repair order, `DRAFT`, with its `RO/…` reference.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`, or no record one of the ids names.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidInput: A field is invalid (a quantity not positive, a blank description line, a
                wrong type).
            InvalidOperation: The ticket has no product and none is given, or the sale order or
                return belongs to another customer (RP-3).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        given = _given(locals())

        def work(uow: UnitOfWork) -> RepairOrder:
            ctx = self._guard.ticket(actor, Action.REPAIR, ticket_id, Service.REPAIRS)
            values = fields(given, _CLEAN)
            args = {"ticket_id": ticket_id, **values}
            done = uow.replay(idempotency_key, "repairs.create", args, RepairOrder)
            if done is not None:
                return done
            ticket = ctx.ticket
            product_ref = values["product_id"] or ticket.product_id
            if product_ref is None:
                raise InvalidInput(
                    "product_id",
                    None,
                    f"ticket #{ticket.ref} has no product: choose the product to repair",
                )
            customer_ref = values["customer_id"] or ticket.customer_id
            if customer_ref is None:
                raise InvalidInput(
                    "customer_id", None, f"ticket #{ticket.ref} has no customer: choose one"
                )
            head = self._header(
                product_id=product_ref,
                quantity=values["quantity"],
                customer_id=customer_ref,
                sale_order_id=values["sale_order_id"],
                return_id=values["return_id"],
                invoice_method=values["invoice_method"],
                invoice_address_id=values["invoice_address_id"],
            )
            currency = head.product.price.currency
            new_parts = self._resolve_parts(values["parts"], currency)
            new_operations = self._resolve_operations(values["operations"], currency)
            saved = self._hooks.create_repair(
                RepairRequest(
                    product_id=head.product.id,
                    customer_id=head.customer.id,
                    currency=currency,
                    at=uow.now,
                    quantity=head.quantity,
                    lot=values["lot"],
                    ticket_id=ticket.id,
                    description=values["description"],
                    sale_order_id=values["sale_order_id"],
                    return_id=values["return_id"],
                    invoice_method=values["invoice_method"],
                    invoice_address_id=head.invoice_address_id,
                    parts=new_parts,
                    operations=new_operations,
                    internal_notes=values["internal_notes"],
                    quotation_notes=values["quotation_notes"],
                    responsible_user_id=values["responsible_user_id"],
                    scheduled_date=values["scheduled_date"],
                    warranty_expiration=values["warranty_expiration"],
                ),
                uow.reference,
            )
            self._link(
                uow,
                ticket,
                actor,
                DocumentKind.REPAIR,
                saved.id,
                f"Repair created: {saved.reference} ({head.product.name})",
                idempotency_key,
            )
            return saved

        return self._rt.call(actor, Action.REPAIR, work, writes=True)

    def update(
        self,
        repair_id: str,
        *,
        product_id: str | _Unset = UNSET,
        quantity: Decimal | int | _Unset = UNSET,
        lot: str | _Unset | None = UNSET,
        customer_id: str | _Unset = UNSET,
        description: str | _Unset = UNSET,
        sale_order_id: str | _Unset | None = UNSET,
        return_id: str | _Unset | None = UNSET,
        invoice_method: InvoiceMethod | str | _Unset = UNSET,
        invoice_address_id: str | _Unset | None = UNSET,
        parts: Iterable[PartLine | RepairPart] | _Unset = UNSET,
        operations: Iterable[OperationLine | RepairOperation] | _Unset = UNSET,
        internal_notes: str | _Unset = UNSET,
        quotation_notes: str | _Unset = UNSET,
        responsible_user_id: str | _Unset | None = UNSET,
        scheduled_date: date | _Unset | None = UNSET,
        warranty_expiration: date | _Unset | None = UNSET,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> RepairOrder:
        """Change the fields given (the others stay as they are); `None` clears one.

        The product, quantity, lot, customer, sale order, return, invoice method and invoice
        address change only while the order is a draft (RP-4); `parts` and `operations`
        (each replaced as a whole: pass the list you want) until the order is invoiced; the
        rest at any time before the order is done or cancelled.

        Args:
            repair_id: A repair order made from a ticket.
            product_id: As in `create()`; the fields not given keep their value, `None` clears an
                optional one.
            quantity: As in `create()`.
            lot: As in `create()`.
            customer_id: As in `create()`.
            description: As in `create()`.
            sale_order_id: As in `create()`.
            return_id: As in `create()`.
            invoice_method: As in `create()`.
            invoice_address_id: As in `create()`.
            parts: The whole new list of parts.
            operations: The whole new list of operations.
            internal_notes: As in `create()`.
            quotation_notes: As in `create()`.
            responsible_user_id: As in `create()`.
            scheduled_date: As in `create()`.
            warranty_expiration: As in `create()`.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order after the change.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The field may no longer change in the order's state (RP-4).
            InvalidInput: A field is invalid.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        given = {name: value for name, value in _given(locals()).items() if value is not UNSET}

        def work(uow: UnitOfWork) -> RepairOrder:
            repair, _ticket = self._for_change(actor, repair_id)
            values = fields(given, _CLEAN, required=_REQUIRED)
            args = {"repair_id": repair_id, **values}
            done = uow.replay(idempotency_key, "repairs.update", args, RepairOrder)
            if done is not None:
                return done
            repair = self._held(repair)
            if not values:
                return repair
            changes: dict[str, Any] = {
                name: value
                for name, value in values.items()
                if name not in ("parts", "operations", "invoice_address_id")
            }
            if values.keys() & _DRAFT_ONLY:
                merged = evolve(repair, **changes)
                address = values.get("invoice_address_id", repair.invoice_address_id)
                if (
                    "invoice_address_id" not in values
                    and "customer_id" in values
                    and repair.invoice_address_id == repair.customer_id
                ):
                    address = None  # it followed the old customer: follow the new one
                head = self._header(
                    product_id=merged.product_id,
                    quantity=merged.quantity,
                    customer_id=merged.customer_id,
                    sale_order_id=merged.sale_order_id,
                    return_id=merged.return_id,
                    invoice_method=merged.invoice_method,
                    invoice_address_id=address,
                )
                changes["quantity"] = head.quantity
                changes["invoice_address_id"] = head.invoice_address_id
            if "parts" in values:
                changes["parts"] = self._resolve_parts(values["parts"], repair.currency)
            if "operations" in values:
                changes["operations"] = self._resolve_operations(
                    values["operations"], repair.currency
                )
            changed = sorted(
                name for name, value in changes.items() if getattr(repair, name) != value
            )
            saved = self._hooks.update_repair(
                repair.id, _request(evolve(repair, **changes)), frozenset(values), uow.reference
            )
            if not changed:
                return saved
            self._track(
                uow,
                actor,
                saved,
                "updated",
                f"Repair updated: {saved.reference} ({', '.join(changed)})",
                idempotency_key,
            )
            return saved

        return self._rt.call(actor, Action.REPAIR, work, writes=True)

    # -- the life cycle (RP-8) ------------------------------------------------------------------

    def confirm(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """Confirm a draft: `CONFIRMED`, or `TO_INVOICE` when invoiced before repair.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order, `CONFIRMED` or `TO_INVOICE`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is not a draft.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._move(repair_id, RepairAction.CONFIRM, actor, idempotency_key)

    def start(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """Start the repair (from `CONFIRMED` or `READY`): `UNDER_REPAIR`.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order, `UNDER_REPAIR`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is not `CONFIRMED` or `READY`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._move(repair_id, RepairAction.START, actor, idempotency_key)

    def end(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """End the repair: `DONE`, or `TO_INVOICE` when invoiced after repair.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order, `DONE` or `TO_INVOICE`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is not under repair.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._move(repair_id, RepairAction.END, actor, idempotency_key)

    def cancel(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """Cancel the repair, from any state but `DONE` (and not twice).

        A draft invoice of the repair is cancelled with it; a posted one stays, to be
        refunded by credit note.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order, `CANCELLED`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is done or already cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._move(repair_id, RepairAction.CANCEL, actor, idempotency_key)

    def reset_to_draft(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """Put a cancelled repair back to `DRAFT`; it forgets its (earlier) invoice.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order, `DRAFT`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is not cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._move(repair_id, RepairAction.RESET_TO_DRAFT, actor, idempotency_key)

    def _move(
        self, repair_id: str, action: RepairAction, actor: Actor, key: str | None
    ) -> RepairOrder:
        operation = "repairs." + action.value.replace(" ", "_")

        def work(uow: UnitOfWork) -> RepairOrder:
            repair, _ticket = self._for_change(actor, repair_id)
            done = uow.replay(key, operation, {"repair_id": repair_id}, RepairOrder)
            if done is not None:
                return done
            repair = self._held(repair)
            saved = self._hooks.transition_repair(repair.id, action, uow.reference)
            note = ""
            if action is RepairAction.CANCEL:
                note = self._cancel_invoice(uow, actor, repair, key)
            self._state_changed(uow, actor, saved, key, note)
            return saved

        return self._rt.call(actor, Action.REPAIR, work, writes=True)

    def create_invoice(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairInvoiced:
        """Invoice a repair that is `TO_INVOICE` (RP-9).

        Creates a **draft** customer invoice through the accounting hooks, for the invoice
        address, with one line per added part and per operation and the quotation notes as
        its note, and links it to the ticket. The billing team posts it. The repair moves to
        `READY` (invoiced before repair) or `DONE` (after repair).

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The repair order after invoicing and the draft invoice.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is not `TO_INVOICE`.
            InvalidOperation: There is nothing to invoice, or no invoice address.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> RepairInvoiced:
            repair, ticket = self._for_change(actor, repair_id)
            done = uow.replay(
                idempotency_key, "repairs.create_invoice", {"repair_id": repair_id}, RepairInvoiced
            )
            if done is not None:
                return done
            repair = self._held(repair)
            if repair.state is not RepairState.TO_INVOICE:
                # Only an order waiting for its invoice is offered one: the ERP refuses the rest.
                self._hooks.transition_repair(repair.id, RepairAction.CREATE_INVOICE, uow.reference)
                raise InvalidState(
                    f"repair {repair.reference} is {show(repair.state.value)}: "
                    "only a repair to invoice can be invoiced",
                    kind="repair order",
                    id=repair.id,
                )
            lines = self._invoice_lines(repair)
            if not lines:
                raise InvalidOperation(
                    f"repair {repair.reference} has nothing to invoice: "
                    "add a part to add or an operation first"
                )
            invoice = self._hooks.create_invoice(
                InvoiceDraft(
                    customer_id=repair.invoice_address_id or repair.customer_id,
                    currency=repair.currency,
                    lines=lines,
                    ticket_id=repair.ticket_id,
                    reference=repair.reference,
                    note=repair.quotation_notes,
                    at=uow.now,
                ),
                uow.reference,
            )
            saved = self._hooks.transition_repair(
                repair.id, RepairAction.CREATE_INVOICE, uow.reference, invoice.id
            )
            body = f"Invoice created for repair {repair.reference}: draft, {invoice.total}"
            if ticket is not None:
                self._link(
                    uow, ticket, actor, DocumentKind.INVOICE, invoice.id, body, idempotency_key
                )
            else:
                self._changed(uow, None, actor, DocumentKind.INVOICE, invoice.id, "created", body)
            self._state_changed(uow, actor, saved, idempotency_key)
            return RepairInvoiced(repair=saved, invoice=invoice)

        return self._rt.call(actor, Action.REPAIR, work, writes=True)

    def delete(
        self, repair_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> RepairOrder:
        """Delete a draft or cancelled repair and unlink it from its ticket (RP-10).

        A confirmed, invoiced, under-repair or done repair raises
        [`InvalidState`][aftersales.errors.InvalidState] (cancel it first). Returns the deleted
        order.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The deleted repair order, as it was.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no repair `repair_id`.
            ServiceDisabled: The ticket's team has repairs off (ST-1).
            InvalidState: The order is neither a draft nor cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> RepairOrder:
            # Replay before loading: a repeated delete finds the order gone.
            done = uow.replay(
                idempotency_key, "repairs.delete", {"repair_id": repair_id}, RepairOrder
            )
            if done is not None:
                return done
            repair, _ticket = self._for_change(actor, repair_id)
            repair = self._held(repair)
            repair = self._hooks.delete_repair(repair.id, uow.reference)
            body = f"Repair deleted: {repair.reference}"
            if repair.ticket_id is not None:
                self._hooks.remove_link(repair.ticket_id, DocumentKind.REPAIR, repair.id)
            self._changed(
                uow,
                repair.ticket_id,
                actor,
                DocumentKind.REPAIR,
                repair.id,
                "deleted",
                body,
                idempotency_key,
            )
            return repair

        return self._rt.call(actor, Action.REPAIR, work, writes=True)

    # -- reading (RP-12) ------------------------------------------------------------------------

    def repairs(self, ticket_id: str, *, actor: Actor) -> tuple[RepairOrder, ...]:
        """The repairs linked to the ticket, oldest first.

        Anyone who may see the ticket may read them, without repair rights (RP-12).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The repair orders linked to the ticket, oldest first.

        Raises:
            AccessDenied: The actor may not see the ticket.
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(uow: UnitOfWork) -> tuple[RepairOrder, ...]:
            self._guard.ticket(actor, Action.READ_REPAIR, ticket_id)
            return tuple(
                self._hooks.get_repair(link.document_id)
                for link in self._hooks.list_links(ticket_id)
                if link.kind is DocumentKind.REPAIR
            )

        return self._rt.call(actor, Action.READ_REPAIR, read, writes=False)

    def repair(self, ticket_id: str, repair_id: str, *, actor: Actor) -> RepairOrder:
        """One repair, read through the ticket it is linked to (RP-12).

        A repair that is not linked to `ticket_id` raises [`NotFound`][aftersales.errors.NotFound].

        Args:
            ticket_id: The ticket the call is made from.
            repair_id: A repair order linked to that ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The repair order.

        Raises:
            AccessDenied: The actor may not see the ticket.
            NotFound: There is no ticket `ticket_id`, or the repair is not linked to it.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(uow: UnitOfWork) -> RepairOrder:
            self._guard.ticket(actor, Action.READ_REPAIR, ticket_id)
            an_id(repair_id, "repair_id")
            self._linked(ticket_id, (DocumentKind.REPAIR,), repair_id, "repair order")
            return self._hooks.get_repair(repair_id)

        return self._rt.call(actor, Action.READ_REPAIR, read, writes=False)

    def quotation_data(self, repair_id: str, *, actor: Actor) -> Quotation:
        """The content of the repair's quotation (RP-6), for a renderer of your own.

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The quotation as a record: lines, totals with tax, notes.

        Raises:
            AccessDenied: The actor may not see the repair's ticket.
            NotFound: There is no repair `repair_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        return self._rt.call(
            actor,
            Action.READ_REPAIR,
            lambda uow: self._quotation(uow, actor, repair_id),
            writes=False,
        )

    @overload
    def quotation(
        self, repair_id: str, *, actor: Actor, format: Literal["html", "text"] = ...
    ) -> str: ...

    @overload
    def quotation(self, repair_id: str, *, actor: Actor, format: Literal["pdf"]) -> bytes: ...

    @overload
    def quotation(self, repair_id: str, *, actor: Actor, format: str) -> str | bytes: ...

    def quotation(self, repair_id: str, *, actor: Actor, format: str = "html") -> str | bytes:
        """The quotation document of the repair (RP-6): `html` and `text` give `str`,
        `pdf` gives `bytes` (needs `pip install 'aftersales[pdf]'`).

        It lists the parts, the operations, the totals with tax and the quotation notes;
        never the internal notes. Anyone who may read the repair may print it (RP-12).

        Args:
            repair_id: A repair order made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            format: `html`, `text`, `pdf`, or a renderer registered in `renderers`.

        Returns:
            The document: `str` for `html` and `text`, `bytes` for `pdf`.

        Raises:
            AccessDenied: The actor may not see the repair's ticket.
            NotFound: There is no repair `repair_id`.
            InvalidInput: No renderer for `format`.
            ConfigurationError: `pdf` without fpdf2 installed.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(uow: UnitOfWork) -> tuple[QuotationRenderer, Quotation]:
            content = self._quotation(uow, actor, repair_id)
            return a_choice(format, self.renderers, "format"), content

        renderer, content = self._rt.call(actor, Action.READ_REPAIR, read, writes=False)
        document = renderer(content)  # outside the unit of work: rendering takes a while
        expected: type[str | bytes] = bytes if format == "pdf" else str
        if format in ("html", "text", "pdf") and not isinstance(document, expected):
            raise ConfigurationError(
                f"the {format!r} quotation renderer returned {type(document).__name__}, "
                f"expected {expected.__name__}"
            )
        return document

    # -- helpers ----------------------------------------------------------------------------

    def _for_change(self, actor: Actor, repair_id: str) -> tuple[RepairOrder, Ticket | None]:
        """Guard a change of a repair: the repair, its ticket's visibility and the service
        toggle (G-1, G-2, AC-3). The repair is not locked yet, so that the call claims its
        idempotency key first; `_held()` locks it."""
        repair = self._hooks.get_repair(an_id(repair_id, "repair_id"))
        if repair.ticket_id is None:
            return repair, None
        ctx = self._guard.ticket(actor, Action.REPAIR, repair.ticket_id, Service.REPAIRS)
        return repair, ctx.ticket

    def _held(self, repair: RepairOrder) -> RepairOrder:
        """The repair again, locked until the call ends."""
        return self._hooks.get_repair(repair.id, lock=True)

    def _for_read(self, actor: Actor, repair_id: str) -> tuple[RepairOrder, Ticket | None]:
        """Guard a read: through its ticket with ticket visibility only (RP-12); a repair
        made outside a ticket needs repair rights."""
        repair = self._hooks.get_repair(an_id(repair_id, "repair_id"))
        if repair.ticket_id is None:
            self._guard.rights(actor, Action.REPAIR)
            return repair, None
        ctx = self._guard.ticket(actor, Action.READ_REPAIR, repair.ticket_id)
        return repair, ctx.ticket

    def _quotation(self, uow: UnitOfWork, actor: Actor, repair_id: str) -> Quotation:
        repair, ticket = self._for_read(actor, repair_id)
        product_ids = {
            repair.product_id,
            *(p.product_id for p in repair.parts),
            *(o.product_id for o in repair.operations),
        }
        products = {pid: self._hooks.get_product(pid) for pid in sorted(product_ids)}
        customer = self._hooks.get_partner(repair.customer_id)
        address = (
            self._hooks.get_partner(repair.invoice_address_id)
            if repair.invoice_address_id
            else None
        )
        return build_quotation(
            repair,
            products=products,
            customer=customer,
            invoice_address=address,
            ticket_ref=ticket.ref if ticket else None,
            issued_on=uow.now.date(),
        )

    def _header(
        self,
        *,
        product_id: str,
        quantity: Decimal,
        customer_id: str,
        sale_order_id: str | None,
        return_id: str | None,
        invoice_method: InvoiceMethod,
        invoice_address_id: str | None,
    ) -> _Header:
        """Look up and check the head of an order (RP-1 … RP-4)."""
        product = self._hooks.get_product(product_id)
        if product.kind is ProductKind.SERVICE:
            raise InvalidInput(
                "product_id",
                product_id,
                f"{show(product.name)} is a service; the product to repair must be "
                "a storable or consumable product",
            )
        rounded = round_quantity(quantity, product.uom_digits)
        if rounded <= 0:
            raise InvalidInput(
                "quantity", quantity, f"rounds to {rounded} {product.uom}: must be more than zero"
            )
        customer = self._hooks.get_partner(customer_id)
        if sale_order_id is not None:
            order = self._hooks.get_sale_order(sale_order_id)
            if not self._guard.same_entity(order.customer_id, customer.id):
                raise InvalidInput(
                    "sale_order_id",
                    sale_order_id,
                    f"sale order {order.name} is not an order of {customer.name}'s "
                    "commercial entity",
                )
        if return_id is not None:
            self._check_return(return_id, product, customer)
        if invoice_method is not InvoiceMethod.NONE and invoice_address_id is None:
            invoice_address_id = customer.id
        if invoice_address_id is not None:
            address = self._hooks.get_partner(invoice_address_id)
            if not self._guard.same_entity(address.id, customer.id):
                raise InvalidInput(
                    "invoice_address_id",
                    invoice_address_id,
                    f"{address.name} is not a contact of {customer.name}'s commercial entity",
                )
        return _Header(
            product=product,
            quantity=rounded,
            customer=customer,
            invoice_address_id=invoice_address_id,
        )

    def _check_return(self, return_id: str, product: Product, customer: Partner) -> None:
        """RP-3: a return of the same customer (commercial entity) containing the product."""
        picking = self._hooks.get_picking(return_id)
        if picking.kind is not PickingKind.RETURN:
            raise InvalidInput(
                "return_id",
                return_id,
                f"{picking.reference} is a {picking.kind.value}, not a return",
            )
        if picking.state is PickingState.CANCELLED:
            raise InvalidInput("return_id", return_id, f"return {picking.reference} is cancelled")
        if not self._guard.same_entity(picking.partner_id, customer.id):
            raise InvalidInput(
                "return_id",
                return_id,
                f"return {picking.reference} is not a return of {customer.name}",
            )
        if not any(m.product_id == product.id and m.quantity > 0 for m in picking.moves):
            raise InvalidInput(
                "return_id",
                return_id,
                f"return {picking.reference} does not contain {product.name}",
            )

    def _resolve_parts(
        self, lines: tuple[PartLine | RepairPart, ...], currency: str
    ) -> tuple[RepairPart, ...]:
        """RP-5: each part names a storable or consumable product; price and taxes default
        to the product's; the quantity is rounded to its unit and must stay positive."""
        resolved: list[RepairPart] = []
        for i, line in enumerate(lines):
            field = f"parts[{i}]"
            product = self._hooks.get_product(line.product_id)
            if product.kind is ProductKind.SERVICE:
                raise InvalidInput(
                    f"{field}.product_id",
                    line.product_id,
                    f"{show(product.name)} is a service: put it in the operations",
                )
            price = line.unit_price if line.unit_price is not None else product.price
            _same_currency(price.currency, currency, f"{field}.unit_price", price)
            resolved.append(
                RepairPart(
                    action=line.action,
                    product_id=product.id,
                    quantity=_line_quantity(line.quantity, product, f"{field}.quantity"),
                    unit_price=price,
                    taxes=line.taxes if line.taxes is not None else product.taxes,
                    lot=line.lot,
                )
            )
        return tuple(resolved)

    def _resolve_operations(
        self, lines: tuple[OperationLine | RepairOperation, ...], currency: str
    ) -> tuple[RepairOperation, ...]:
        """RP-5: each operation names a service product; price, taxes and description
        default to the product's."""
        resolved: list[RepairOperation] = []
        for i, line in enumerate(lines):
            field = f"operations[{i}]"
            product = self._hooks.get_product(line.product_id)
            if product.kind is not ProductKind.SERVICE:
                raise InvalidInput(
                    f"{field}.product_id",
                    line.product_id,
                    f"{show(product.name)} is not a service: put it in the parts",
                )
            price = line.unit_price if line.unit_price is not None else product.price
            _same_currency(price.currency, currency, f"{field}.unit_price", price)
            resolved.append(
                RepairOperation(
                    product_id=product.id,
                    quantity=_line_quantity(line.quantity, product, f"{field}.quantity"),
                    unit_price=price,
                    taxes=line.taxes if line.taxes is not None else product.taxes,
                    description=line.description or product.name,
                )
            )
        return tuple(resolved)

    def _invoice_lines(self, repair: RepairOrder) -> tuple[InvoiceLine, ...]:
        """RP-9: the added parts and the operations; removed parts are not invoiced."""
        lines: list[InvoiceLine] = []
        for part in repair.parts:
            if part.action is not PartAction.ADD:
                continue
            name = self._hooks.get_product(part.product_id).name
            lines.append(
                InvoiceLine(
                    description=f"{name} (lot {part.lot})" if part.lot else name,
                    quantity=part.quantity,
                    unit_price=part.unit_price,
                    taxes=part.taxes,
                    product_id=part.product_id,
                )
            )
        for operation in repair.operations:
            lines.append(
                InvoiceLine(
                    description=operation.description,
                    quantity=operation.quantity,
                    unit_price=operation.unit_price,
                    taxes=operation.taxes,
                    product_id=operation.product_id,
                )
            )
        return tuple(lines)

    def _cancel_invoice(
        self, uow: UnitOfWork, actor: Actor, repair: RepairOrder, key: str | None
    ) -> str:
        """Cancel the repair's draft invoice with it; a posted one stays."""
        if repair.invoice_id is None:
            return ""
        invoice = self._hooks.get_invoice(repair.invoice_id, lock=True)
        if invoice.state is InvoiceState.DRAFT:
            self._hooks.cancel_invoice(invoice.id, uow.reference)
            self._changed(
                uow,
                repair.ticket_id,
                actor,
                DocumentKind.INVOICE,
                invoice.id,
                "cancelled",
                f"Draft invoice of repair {repair.reference} cancelled",
                key,
                on_trail=False,
            )
            return "; its draft invoice is cancelled"
        if invoice.state is InvoiceState.POSTED:
            number = invoice.number or invoice.id
            return f"; its invoice {number} stays posted (refund it by credit note)"
        return ""

    def _state_changed(
        self, uow: UnitOfWork, actor: Actor, repair: RepairOrder, key: str | None, note: str = ""
    ) -> None:
        """RP-11: done and cancelled go on the ticket's trail; every change is audited."""
        ref = repair.reference
        if repair.state in (RepairState.DONE, RepairState.CANCELLED):
            change = repair.state.value
            self._changed(
                uow,
                repair.ticket_id,
                actor,
                DocumentKind.REPAIR,
                repair.id,
                change,
                f"Repair {change}: {ref}{note}",
                key,
            )
        else:
            change = repair.state.value.replace("_", " ")
            self._track(uow, actor, repair, change, f"Repair {ref}: {change}", key)

    def _track(
        self,
        uow: UnitOfWork,
        actor: Actor,
        repair: RepairOrder,
        change: str,
        body: str,
        key: str | None,
    ) -> None:
        self._changed(
            uow,
            repair.ticket_id,
            actor,
            DocumentKind.REPAIR,
            repair.id,
            change,
            body,
            key,
            on_trail=False,
        )


def _request(repair: RepairOrder) -> RepairRequest:
    """What `repair` asks the ERP for, as a `RepairRequest`."""
    return RepairRequest(
        at=repair.created_at,
        **{
            name: getattr(repair, name) for name in attrs.fields_dict(RepairRequest) if name != "at"
        },
    )


def _same_currency(actual: str, expected: str, field: str, value: object) -> None:
    if actual != expected:
        raise InvalidInput(field, value, f"must be in {expected}, the repair's currency")


def _line_quantity(quantity: Decimal, product: Product, field: str) -> Decimal:
    rounded = round_quantity(quantity, product.uom_digits, field)
    if rounded <= 0:
        raise InvalidInput(
            field, quantity, f"rounds to {rounded} {product.uom}: must be more than zero"
        )
    return rounded
