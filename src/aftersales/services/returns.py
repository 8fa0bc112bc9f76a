"""Returns from a ticket: reverse transfers of delivered products (returns.md, RT-1 … RT-9).

A return is a new warehouse operation (a `Picking` of kind
`RETURN`) that brings back some of what a done delivery sent out. The ERP makes it (its id,
its name, its moves) through the stock port, and reports for every delivery move what its
returns already took (`MoveBalance`):

* **returned** — moves of returns that are `DONE`;
* **reserved** — moves of returns still open (not done, not cancelled);
* **left** — delivered − returned − reserved, never below zero (RT-5, RL-3).

The service keeps the helpdesk's rules: which deliveries a ticket may return from, the
default quantities, and the cap, checked against the balances the ERP reports with the
delivery locked (`get_delivery(..., lock=True)`), so two concurrent returns of the same
delivery cannot both take the last unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs

from aftersales import paging
from aftersales.access import Action, TicketContext
from aftersales.arguments import a_text, an_id, quantity_map
from aftersales.errors import (
    InvalidInput,
    InvalidOperation,
    InvalidState,
    QuantityExceeded,
)
from aftersales.formatting import label
from aftersales.hooks import Hooks
from aftersales.models import (
    Actor,
    DocumentKind,
    MoveBalance,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    Product,
    Returnable,
    ReturnQuantity,
    ReturnRequest,
    Service,
    StockMove,
    Ticket,
)
from aftersales.models.money import quantize
from aftersales.models.products import Quantity, round_quantity
from aftersales.models.queries import PickingKey, PickingQuery, picking_key
from aftersales.paging import DEFAULT_PAGE_SIZE, Page
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = [
    "PickingLine",
    "ReturnDraft",
    "ReturnLine",
    "ReturnService",
    "ReturnView",
    "has_returnable_delivery",
]

_NO_DELIVERY = "the customer has no validated delivery"
_OPEN_STATES = frozenset({PickingState.DRAFT, PickingState.WAITING, PickingState.READY})


@attrs.frozen(kw_only=True)
class ReturnLine:
    """One product move of a delivery, with what is left to return (RT-4, RT-6).

    Quantities are in the product's unit of measure (`uom`), rounded to its precision.
    `quantity` is the default to return: `delivered − returned − reserved` (0 when
    nothing is left).
    """

    move_id: str
    product_id: str
    product_name: str
    uom: str
    delivered: Decimal
    returned: Decimal
    reserved: Decimal
    quantity: Decimal


@attrs.frozen(kw_only=True)
class ReturnDraft:
    """What the return dialog shows before confirming (RT-4).

    `source_location` is where the goods come back from (the delivery's destination);
    `return_location` is the default destination (the delivery's source).
    """

    ticket_id: str
    delivery_id: str
    delivery_reference: str
    source_location: str
    return_location: str
    lines: tuple[ReturnLine, ...]

    def quantities(self) -> dict[str, Decimal]:
        """The default quantity of every line, ready to edit and pass to `create`."""
        return {line.move_id: line.quantity for line in self.lines}


@attrs.frozen(kw_only=True)
class PickingLine:
    """One product move of a return, with the product's name and unit of measure."""

    move_id: str
    product_id: str
    product_name: str
    uom: str
    quantity: Decimal
    state: MoveState


@attrs.frozen(kw_only=True)
class ReturnView:
    """One return linked to a ticket, as its page shows it (RT-8).

    `picking` is the ERP's record (reference, state, locations, origin); `lines` its moves
    with product names; `state_label` what a page shows (`Done`).
    """

    ticket_id: str
    ticket_ref: str
    picking: Picking
    partner_name: str
    state_label: str
    lines: tuple[PickingLine, ...]


class ReturnService(ServiceBase):
    """Returns from a ticket (returns.md): `app.returns`.

    Every call needs a helpdesk user who is also a stock user (AC-2) and a team with
    returns on (ST-1).
    """

    # -- reads ----------------------------------------------------------------------------

    def deliveries(
        self, ticket_id: str, *, actor: Actor, sale_order_id: str | None = None
    ) -> tuple[Picking, ...]:
        """The deliveries the ticket may return from, newest first (RT-2).

        They are the done outgoing deliveries of the customer's commercial entity,
        narrowed to `sale_order_id` (by default the ticket's sale order) and to those
        holding the ticket's product when it has one. The first one is the default.

        Raises [`InvalidOperation`][aftersales.errors.InvalidOperation] when the customer has no
        validated delivery (RT-1).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            sale_order_id: Only the deliveries of this sale order (default: the ticket's sale
                order, if any).

        Returns:
            The deliveries, newest first; the first is the default one.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidOperation: The ticket has no customer, or the customer has no validated delivery
                (RT-1).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> tuple[Picking, ...]:
            ctx = self._guard.ticket(actor, Action.RETURN, ticket_id, Service.RETURNS)
            contacts = self._validated_customer(ctx.ticket)
            return tuple(r.delivery for r in self._offered(ctx.ticket, contacts, sale_order_id))

        return self._rt.call(actor, Action.RETURN, work, writes=False)

    def deliveries_page(
        self,
        ticket_id: str,
        *,
        actor: Actor,
        sale_order_id: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Picking]:
        """One page of [`deliveries()`][aftersales.services.returns.ReturnService.deliveries]:
        the same deliveries in the paged order, newest first by `(done_at, created_at, id)`.

        The stock port reads only the page (keyset after the cursor, limited by the ERP),
        so the cost of a page does not grow with the customer's history. A page holds
        `page_size` deliveries unless it is the last one (`next_cursor` is `None`).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            sale_order_id: Only the deliveries of this sale order (as `deliveries()`).
            page_size: At most this many deliveries (1 to `MAX_PAGE_SIZE`, default 50).
            cursor: The `next_cursor` of the previous page; `None` for the first page.

        Returns:
            The page: its deliveries and the cursor of the next page.

        Raises:
            InvalidInput: `page_size` is out of range, `cursor` is not a cursor of this list,
                or `sale_order_id` is an order of another customer.
            AccessDenied: As [`deliveries()`][aftersales.services.returns.ReturnService.deliveries].
            NotFound: There is no ticket `ticket_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidOperation: The ticket has no customer, or the customer has no validated delivery
                (RT-1).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        size = paging.page_size(page_size)
        start = _after_cursor(paging.decode_cursor(_DELIVERY_PAGE, cursor, 3))

        def work(_uow: UnitOfWork) -> Page[Picking]:
            ctx = self._guard.ticket(actor, Action.RETURN, ticket_id, Service.RETURNS)
            contacts = self._validated_customer(ctx.ticket)
            query = self._offer_query(ctx.ticket, contacts, sale_order_id)
            found = paging.walk(
                _reader(self._hooks, query), lambda r: picking_key(r.delivery), start, size + 1
            )
            # deliveries with nothing returnable are skipped, not counted
            kept = paging.fill((r.delivery for r in found if _offerable(r)), size)
            return paging.page_of(_DELIVERY_PAGE, kept, size, _cursor_key)

        return self._rt.call(actor, Action.RETURN, work, writes=False)

    def prepare(
        self, ticket_id: str, delivery_id: str | None = None, *, actor: Actor
    ) -> ReturnDraft:
        """One line per product move of the delivery with its default quantity (RT-4).

        Without `delivery_id` the default delivery of
        [`deliveries()`][aftersales.services.returns.ReturnService.deliveries] is used. Raises
        [`InvalidState`][aftersales.errors.InvalidState] for a delivery that is not done (RT-3) and
        [`InvalidOperation`][aftersales.errors.InvalidOperation] when nothing at all is left to
        return.

        Args:
            ticket_id: The ticket the call is made from.
            delivery_id: The delivery to return from (default: the first of `deliveries()`).
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The delivery and one line per product move with the quantity that may still be returned
            as its default.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no delivery `delivery_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidState: The delivery is not done (RT-3).
            InvalidOperation: Nothing is left to return on the delivery.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> ReturnDraft:
            ctx = self._guard.ticket(actor, Action.RETURN, ticket_id, Service.RETURNS)
            contacts = self._validated_customer(ctx.ticket)
            if delivery_id is None:
                offered = self._offered(ctx.ticket, contacts, None)
                if not offered:
                    raise InvalidOperation(
                        f"no validated delivery of the customer of ticket #{ctx.ticket.ref} "
                        "matches its sale order and product; choose a delivery explicitly"
                    )
                returnable = offered[0]
            else:
                returnable = self._delivery(delivery_id, contacts, lock=False)
            delivery = returnable.delivery
            lines = self._lines(returnable)
            if all(line.quantity == 0 for line in lines):
                raise InvalidOperation(
                    f"nothing left to return on delivery {delivery.reference}: every "
                    "delivered quantity is already returned or reserved on an open return"
                )
            return ReturnDraft(
                ticket_id=ctx.ticket.id,
                delivery_id=delivery.id,
                delivery_reference=delivery.reference,
                source_location=delivery.destination_location,
                return_location=delivery.source_location,
                lines=lines,
            )

        return self._rt.call(actor, Action.RETURN, work, writes=False)

    def returns(self, ticket_id: str, *, actor: Actor) -> tuple[Picking, ...]:
        """The returns linked to the ticket, oldest first (RT-8).

        Readable while the team has returns off, so that existing documents stay visible.

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The return operations linked to the ticket, oldest first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> tuple[Picking, ...]:
            ctx = self._guard.ticket(actor, Action.RETURN, ticket_id)
            return tuple(
                self._hooks.get_picking(link.document_id)
                for link in self._hooks.list_links(ctx.ticket.id)
                if link.kind is DocumentKind.RETURN
            )

        return self._rt.call(actor, Action.RETURN, work, writes=False)

    def picking(self, ticket_id: str, return_id: str, *, actor: Actor) -> ReturnView:
        """One return linked to the ticket, read through it (RT-8).

        Readable while the team has returns off, as `returns()`. A return that is not linked
        to `ticket_id` raises [`NotFound`][aftersales.errors.NotFound].

        Args:
            ticket_id: The ticket the call is made from.
            return_id: A return linked to that ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The return with its lines and partner.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`, or no return `return_id` linked to it.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> ReturnView:
            ticket = self._guard.ticket(actor, Action.READ_RETURN, ticket_id).ticket
            an_id(return_id, "return_id")
            self._linked(ticket.id, (DocumentKind.RETURN,), return_id, "return")
            picking = self._hooks.get_picking(return_id)
            products: dict[str, Product] = {}
            lines = []
            for move in picking.moves:
                if move.product_id not in products:
                    products[move.product_id] = self._hooks.get_product(move.product_id)
                product = products[move.product_id]
                lines.append(
                    PickingLine(
                        move_id=move.id,
                        product_id=product.id,
                        product_name=product.name,
                        uom=product.uom,
                        quantity=move.quantity,
                        state=move.state,
                    )
                )
            return ReturnView(
                ticket_id=ticket.id,
                ticket_ref=ticket.ref,
                picking=picking,
                partner_name=self._hooks.get_partner(picking.partner_id).name,
                state_label=label(picking.state.value),
                lines=tuple(lines),
            )

        return self._rt.call(actor, Action.READ_RETURN, work, writes=False)

    # -- writes ---------------------------------------------------------------------------

    def create(
        self,
        ticket_id: str,
        delivery_id: str,
        quantities: Mapping[str, Decimal],
        *,
        return_location: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> Picking:
        """Create the return operation of `delivery_id` for `quantities` (RT-5, RT-7).

        `quantities` maps delivery move ids to the quantity to send back, in the
        product's unit of measure (rounded to its precision, RT-6); moves left out return
        nothing. The return goes from the delivery's destination to `return_location`
        (default: the delivery's source), is `READY`, is linked to the ticket and leaves
        "Return created" on its trail (RT-8).

        Raises [`InvalidInput`][aftersales.errors.InvalidInput] for a negative quantity, a line
        that is not on the delivery, or only zeros, and
        [`QuantityExceeded`][aftersales.errors.QuantityExceeded] (naming product, asked and
        available) for more than is left to return.

        Args:
            ticket_id: The ticket the call is made from.
            delivery_id: The done delivery the products came with.
            quantities: Delivery move id → quantity to send back; moves left out return nothing.
            return_location: Where the products go (default: the delivery's source).
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The return operation, `READY`, linked to the ticket.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no delivery `delivery_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidInput: A quantity is negative, a line is not on the delivery, or every quantity
                is zero.
            QuantityExceeded: More than is left to return, naming product, asked and available
                (RT-5).
            InvalidState: The delivery is not done (RT-3).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> Picking:
            ctx = self._guard.ticket(actor, Action.RETURN, ticket_id, Service.RETURNS)
            an_id(delivery_id, "delivery_id")
            asked = quantity_map(quantities, "quantities")
            if return_location is not None:
                a_text(return_location, "return_location")
            args: dict[str, Any] = {
                "ticket_id": ticket_id,
                "delivery_id": delivery_id,
                "quantities": {move: asked[move].normalize() for move in sorted(asked)},
                "return_location": return_location,
            }
            done = uow.replay(idempotency_key, "returns.create", args, Picking)
            if done is not None:
                return done
            contacts = self._validated_customer(ctx.ticket)
            # Lock the delivery, then check the cap on what the ERP reports under it (RL-3).
            returnable = self._delivery(delivery_id, contacts, lock=True)
            picking = self._hooks.create_return(
                ReturnRequest(
                    delivery_id=returnable.delivery.id,
                    quantities=self._quantities(returnable, asked),
                    destination_location=return_location,
                    ticket_id=ctx.ticket.id,
                    at=uow.now,
                    reference=uow.reference,
                )
            )
            body = (
                f"Return created: {picking.reference} ({picking.origin}: "
                f"{self._summary(picking)}) by {actor.user_id}"
            )
            self._link(
                uow, ctx.ticket, actor, DocumentKind.RETURN, picking.id, body, idempotency_key
            )
            return picking

        return self._rt.call(actor, Action.RETURN, work, writes=True)

    def validate(
        self, return_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Picking:
        """Validate a ready return: it becomes `DONE` and its quantities count as
        returned (RT-7); the ticket's trail gets "Return done" (RT-8).

        Args:
            return_id: A ready return operation made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The return, `DONE`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no return `return_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidState: The return is not ready.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._finish(
            return_id, PickingState.DONE, actor=actor, idempotency_key=idempotency_key
        )

    def cancel(
        self, return_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Picking:
        """Cancel an open return, releasing its reserved quantities (RT-9); the ticket's
        trail gets "Return cancelled" (RT-8).

        Args:
            return_id: An open return operation made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The return, `CANCELLED`.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no return `return_id`.
            ServiceDisabled: The ticket's team has returns off (ST-1).
            InvalidState: The return is done or already cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """
        return self._finish(
            return_id, PickingState.CANCELLED, actor=actor, idempotency_key=idempotency_key
        )

    # -- helpers --------------------------------------------------------------------------

    def _finish(
        self,
        return_id: str,
        state: PickingState,
        *,
        actor: Actor,
        idempotency_key: str | None,
    ) -> Picking:
        verb, past, change = (
            ("validate", "validated", "done")
            if state is PickingState.DONE
            else ("cancel", "cancelled", "cancelled")
        )

        def work(uow: UnitOfWork) -> Picking:
            an_id(return_id, "return_id")
            ctx = self._return_context(actor, self._hooks.get_picking(return_id))
            done = uow.replay(idempotency_key, f"returns.{verb}", {"return_id": return_id}, Picking)
            if done is not None:
                return done
            picking = self._hooks.get_picking(return_id, lock=True)
            if picking.state not in _OPEN_STATES:
                raise InvalidState(
                    f"return {picking.reference} is {picking.state.value}; "
                    f"only open returns can be {past}"
                )
            picking = (
                self._hooks.validate_return(picking.id, uow.now, uow.reference)
                if state is PickingState.DONE
                else self._hooks.cancel_return(picking.id, uow.reference)
            )
            body = f"Return {change}: {picking.reference} ({picking.origin}) by {actor.user_id}"
            if state is PickingState.CANCELLED:
                body += "; its reserved quantities are released"
            self._changed(
                uow,
                ctx.ticket.id,
                actor,
                DocumentKind.RETURN,
                picking.id,
                change,
                body,
                idempotency_key,
            )
            return picking

        return self._rt.call(actor, Action.RETURN, work, writes=True)

    def _return_context(self, actor: Actor, picking: Picking) -> TicketContext:
        if picking.kind is not PickingKind.RETURN:
            raise InvalidOperation(f"{picking.reference} is a delivery, not a return")
        if picking.ticket_id is None:
            raise InvalidOperation(f"return {picking.reference} is not linked to a ticket")
        return self._guard.ticket(actor, Action.RETURN, picking.ticket_id, Service.RETURNS)

    def _validated_customer(self, ticket: Ticket) -> frozenset[str]:
        """The contacts of the ticket customer's commercial entity, once it is known that
        they have a validated delivery with done quantities (RT-1)."""
        if ticket.customer_id is None:
            raise InvalidOperation(f"{_NO_DELIVERY}: ticket #{ticket.ref} has no customer")
        customer = self._hooks.get_partner(ticket.customer_id)
        contacts = frozenset(
            p.id for p in self._hooks.list_contacts(customer.commercial_entity_id)
        ) | {customer.id}
        if not has_returnable_delivery(self._hooks, contacts):
            raise InvalidOperation(f"{_NO_DELIVERY} ({customer.name})")
        return contacts

    def _offered(
        self, ticket: Ticket, contacts: frozenset[str], sale_order_id: str | None
    ) -> tuple[Returnable, ...]:
        found = self._hooks.returnable_deliveries(
            self._offer_query(ticket, contacts, sale_order_id)
        )
        return tuple(r for r in found if _offerable(r))

    def _offer_query(
        self, ticket: Ticket, contacts: frozenset[str], sale_order_id: str | None
    ) -> PickingQuery:
        """The deliveries a ticket may return from (RT-2), `sale_order_id` checked."""
        if sale_order_id is not None:
            an_id(sale_order_id, "sale_order_id")
            order = self._hooks.get_sale_order(sale_order_id)
            if order.customer_id not in contacts:
                raise InvalidInput(
                    "sale_order_id", sale_order_id, f"{order.name} is not an order of the customer"
                )
        return PickingQuery(
            partner_ids=contacts,
            sale_order_id=sale_order_id or ticket.sale_order_id,
            product_id=ticket.product_id,
        )

    def _delivery(self, delivery_id: str, contacts: frozenset[str], *, lock: bool) -> Returnable:
        an_id(delivery_id, "delivery_id")
        returnable = self._hooks.get_delivery(delivery_id, lock=lock)
        delivery = returnable.delivery
        if delivery.kind is not PickingKind.DELIVERY:
            raise InvalidInput(
                "delivery_id", delivery_id, f"{delivery.reference} is a return, not a delivery"
            )
        if delivery.partner_id not in contacts:
            raise InvalidInput(
                "delivery_id",
                delivery_id,
                f"{delivery.reference} is not a delivery of the ticket's customer",
            )
        if delivery.state is not PickingState.DONE:
            raise InvalidState(
                f"only done deliveries can be returned: {delivery.reference} is "
                f"{delivery.state.value}"
            )
        return returnable

    def _lines(self, returnable: Returnable) -> tuple[ReturnLine, ...]:
        lines: list[ReturnLine] = []
        for move in returnable.delivery.moves:
            if not _returnable(move):
                continue
            product = self._hooks.get_product(move.product_id)
            digits = product.uom_digits
            used = returnable.balance(move.id) or MoveBalance(
                move_id=move.id, delivered=move.quantity
            )
            lines.append(
                ReturnLine(
                    move_id=move.id,
                    product_id=product.id,
                    product_name=product.name,
                    uom=product.uom,
                    delivered=quantize(move.quantity, digits),
                    returned=quantize(used.returned, digits),
                    reserved=quantize(used.reserved, digits),
                    quantity=_round_down(used.left, digits),
                )
            )
        return tuple(lines)

    def _quantities(
        self, returnable: Returnable, asked: Mapping[str, Decimal]
    ) -> tuple[ReturnQuantity, ...]:
        """What to return of each delivery move, in the delivery's order, checked against
        what is left (RT-5, RT-6)."""
        delivery = returnable.delivery
        lines = {line.move_id: line for line in self._lines(returnable)}
        for move_id in asked:
            if move_id not in lines:
                raise InvalidInput(
                    "quantities",
                    move_id,
                    f"is not a returnable line of delivery {delivery.reference}",
                )
        products: dict[str, Product] = {}
        wanted: dict[str, Decimal] = {}
        for move_id, raw in asked.items():
            line = lines[move_id]
            product = products.setdefault(line.product_id, self._hooks.get_product(line.product_id))
            wanted[move_id] = round_quantity(raw, product.uom_digits, f"quantities[{move_id}]")
        if not any(q > 0 for q in wanted.values()):
            raise InvalidInput("quantities", dict(asked), "specify at least one non-zero quantity")
        quantities: list[ReturnQuantity] = []
        for move in delivery.moves:  # in the delivery's order
            quantity = wanted.get(move.id, Decimal(0))
            if quantity == 0:
                continue
            line = lines[move.id]
            if quantity > line.quantity:
                uom = products[line.product_id].uom
                raise QuantityExceeded(
                    f"return of {line.product_name} from {delivery.reference}",
                    Quantity(quantity=quantity, uom=uom),
                    Quantity(quantity=line.quantity, uom=uom),
                )
            quantities.append(ReturnQuantity(move_id=move.id, quantity=quantity))
        return tuple(quantities)

    def _summary(self, picking: Picking) -> str:
        parts = []
        for move in picking.moves:
            product = self._hooks.get_product(move.product_id)
            parts.append(f"{product.name} × {move.quantity}")
        return ", ".join(parts)


def _returnable(move: StockMove) -> bool:
    """A delivery move that can be sent back: done and not scrapped (RT-4)."""
    return move.state is MoveState.DONE and not move.scrapped


def _offerable(returnable: Returnable) -> bool:
    """A delivery the return dialog offers: one with a move that can be sent back (RT-2)."""
    return any(_returnable(m) for m in returnable.delivery.moves)


def _reader(
    hooks: Hooks, query: PickingQuery
) -> Callable[[PickingKey | None, int], Sequence[Returnable]]:
    """Reads the pages of `query`'s done deliveries from the stock port."""

    def read(after: PickingKey | None, limit: int) -> Sequence[Returnable]:
        return hooks.returnable_deliveries(attrs.evolve(query, after=after, limit=limit))

    return read


def has_returnable_delivery(hooks: Hooks, partner_ids: frozenset[str]) -> bool:
    """Whether any of `partner_ids` has a validated delivery with done quantities (RT-1),
    read page by page from the newest until one is found (the first page, almost always),
    never the whole history."""
    found = paging.walk(
        _reader(hooks, PickingQuery(partner_ids=partner_ids)),
        lambda r: picking_key(r.delivery),
        None,
        _CHECK_BATCH,
    )
    return any(_returnable(m) and m.quantity > 0 for r in found for m in r.delivery.moves)


_DELIVERY_PAGE = "returnable deliveries"
#: How many deliveries the RT-1 check reads at a time: one is enough when it is returnable.
_CHECK_BATCH = 10


def _cursor_key(picking: Picking) -> paging.Key:
    done = None if picking.done_at is None else paging.moment(picking.done_at)
    return (done, paging.moment(picking.created_at), picking.id)


def _after_cursor(key: paging.Key | None) -> PickingKey | None:
    if key is None:
        return None
    done, at, ident = key
    if at is None or ident is None:
        raise InvalidInput("cursor", key, f"not a cursor of this list ({_DELIVERY_PAGE})")
    return (
        None if done is None else datetime.fromisoformat(done),
        datetime.fromisoformat(at),
        ident,
    )


def _round_down(quantity: Decimal, digits: int) -> Decimal:
    """What is left, to the unit's precision, never rounded up past the cap."""
    return quantity.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN)
