"""The ticket view: actions available, linked documents with counts, and the trail (AC-5)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import attrs

from aftersales import paging
from aftersales.access import Action, TicketContext
from aftersales.arguments import a_text, an_enum
from aftersales.errors import AccessDenied, InvalidInput
from aftersales.formatting import label, show
from aftersales.models import (
    Actor,
    DocumentKind,
    DocumentLink,
    Group,
    Service,
    Ticket,
    TicketMessage,
)
from aftersales.models.loyalty import coupon_state, effective_expiry
from aftersales.models.queries import LinkKey, LinkQuery, MessageKey, MessageQuery
from aftersales.paging import DEFAULT_PAGE_SIZE, Page
from aftersales.services._base import ServiceBase
from aftersales.services.returns import has_returnable_delivery
from aftersales.unit_of_work import UnitOfWork

__all__ = [
    "DocumentCounts",
    "LinkedDocument",
    "TicketAction",
    "TicketView",
    "TicketViewService",
]


class TicketAction:
    """Names of the actions a ticket can offer (AC-5)."""

    REFUND = "Refund"
    COUPON = "Coupon"
    RETURN = "Return"
    REPAIR = "Repair"
    CREATE_TASK = "Create task"


@attrs.frozen(kw_only=True)
class DocumentCounts:
    """The smart-button counts (AC-6: always equal to the linked documents)."""

    credit_notes: int = 0
    invoices: int = 0
    coupons: int = 0
    returns: int = 0
    repairs: int = 0
    tasks: int = 0


@attrs.frozen(kw_only=True)
class LinkedDocument:
    """One document linked to the ticket, as a list row: name, state and a detail.

    `state` is the state's key (`posted`, `under_repair`); `state_label` and `kind_label`
    are what a page shows (`Posted`, `Under repair`, `Credit note`).
    """

    kind: DocumentKind
    document_id: str
    name: str
    state: str
    detail: str = ""
    expires_on: date | None = None
    kind_label: str = ""
    state_label: str = ""


def _labelled(document: LinkedDocument) -> LinkedDocument:
    return attrs.evolve(
        document, kind_label=label(document.kind.value), state_label=label(document.state)
    )


@attrs.frozen(kw_only=True)
class TicketView:
    """What the ticket form shows of after-sales: actions, documents, counts and trail."""

    ticket: Ticket
    team_name: str
    customer_name: str | None
    actions: tuple[str, ...]
    counts: DocumentCounts
    documents: tuple[LinkedDocument, ...]
    trail: tuple[TicketMessage, ...]


_COUNT_FIELD = {
    DocumentKind.CREDIT_NOTE: "credit_notes",
    DocumentKind.INVOICE: "invoices",
    DocumentKind.COUPON: "coupons",
    DocumentKind.RETURN: "returns",
    DocumentKind.REPAIR: "repairs",
    DocumentKind.TASK: "tasks",
}

_ACTIONS: tuple[tuple[str, Service, Action], ...] = (
    (TicketAction.REFUND, Service.REFUNDS, Action.REFUND),
    (TicketAction.COUPON, Service.COUPONS, Action.COUPON),
    (TicketAction.RETURN, Service.RETURNS, Action.RETURN),
    (TicketAction.REPAIR, Service.REPAIRS, Action.REPAIR),
    (TicketAction.CREATE_TASK, Service.FIELD_SERVICE, Action.FIELD_SERVICE),
)


class TicketViewService(ServiceBase):
    """Reads a ticket as the helpdesk shows it: `app.tickets`."""

    def find(self, ref: str, *, actor: Actor) -> Ticket:
        """The ticket numbered `ref` (as shown, `#12` or `12`), if the actor may see it.

        Args:
            ref: The ticket's number as shown (`#12` or `12`).
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The ticket.

        Raises:
            AccessDenied: The actor is not a helpdesk user, or may not see the ticket's team.
            NotFound: No ticket has that number.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> Ticket:
            number = a_text(ref, "ref", max_length=65).strip().removeprefix("#").strip()
            if not number:
                raise InvalidInput("ref", ref, "has no ticket number")
            ticket = self._hooks.find_ticket(number)
            return self._guard.ticket(actor, Action.VIEW_TICKET, ticket.id).ticket

        return self._rt.call(actor, Action.VIEW_TICKET, work, writes=False)

    def view(self, ticket_id: str, *, actor: Actor) -> TicketView:
        """The ticket's actions, linked documents with counts, and trail newest first.

        The view is for helpdesk users. A portal user is refused with
        [`AccessDenied`][aftersales.errors.AccessDenied] for a ticket of their own, and gets
        `NotFound` for any other, as if it did not exist (AC-4).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The actions the actor may take, the linked documents with their counts, and the trail,
            newest first (AC-5, AC-6).

        Raises:
            AccessDenied: The actor is not a helpdesk user, may not see the ticket's team, or is a
                portal user (for their own ticket).
            NotFound: There is no ticket `ticket_id` (or it is another customer's, for a portal
                user).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        if (
            isinstance(actor, Actor)
            and Group.PORTAL in actor.groups
            and not actor.has(Group.HELPDESK_USER)
        ):
            return self._rt.call(
                actor,
                Action.PORTAL,
                lambda _uow: self._portal_refusal(actor, ticket_id),
                writes=False,
            )
        return self._rt.call(
            actor, Action.VIEW_TICKET, lambda uow: self._view(uow, ticket_id, actor), writes=False
        )

    def trail_page(
        self,
        ticket_id: str,
        *,
        actor: Actor,
        page_size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[TicketMessage]:
        """One page of the ticket's trail, newest first by `(at, id)`.

        Read with the rights of [`view()`][aftersales.services.tickets.TicketViewService.view]'s
        helpdesk side. The cursor is a keyset one: a message posted after a page was read
        never shifts or repeats the next page.

        Args:
            ticket_id: The ticket whose trail to read.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            page_size: At most this many messages (1 to `MAX_PAGE_SIZE`, default 50).
            cursor: The `next_cursor` of the previous page; `None` for the first page.

        Returns:
            The page: its messages and the cursor of the next page (`None` on the last).

        Raises:
            InvalidInput: `page_size` is out of range or `cursor` is not a cursor of this list.
            AccessDenied: The actor is not a helpdesk user or may not see the ticket's team.
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        size = paging.page_size(page_size)
        after = _message_after(paging.decode_cursor(_TRAIL_PAGE, cursor, 2))

        def work(_uow: UnitOfWork) -> Page[TicketMessage]:
            ticket = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id).ticket
            found = self._hooks.messages_page(
                MessageQuery(ticket_id=ticket.id, after=after, limit=size + 1)
            )
            return paging.page_of(_TRAIL_PAGE, found, size, _trail_key)

        return self._rt.call(actor, Action.VIEW_TICKET, work, writes=False)

    def documents_page(
        self,
        ticket_id: str,
        *,
        actor: Actor,
        kind: DocumentKind | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[LinkedDocument]:
        """One page of the documents linked to the ticket, newest first by when they were
        linked, each as [`view()`][aftersales.services.tickets.TicketViewService.view] lists it.

        Read with the rights of `view()`'s helpdesk side; only documents of `kind` when it is
        given. The store reads only the page (keyset after the cursor), so the cost of a page
        does not grow with the number of documents; a document linked after a page was read
        never shifts or repeats the next page.

        Args:
            ticket_id: The ticket whose documents to read.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            kind: Only the documents of this kind (default: every kind).
            page_size: At most this many documents (1 to `MAX_PAGE_SIZE`, default 50).
            cursor: The `next_cursor` of the previous page; `None` for the first page.

        Returns:
            The page: its documents and the cursor of the next page (`None` on the last).

        Raises:
            InvalidInput: `page_size` is out of range, `cursor` is not a cursor of this list, or
                `kind` is not a `DocumentKind`.
            AccessDenied: The actor is not a helpdesk user or may not see the ticket's team.
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        size = paging.page_size(page_size)
        wanted = None if kind is None else an_enum(kind, DocumentKind, "kind")
        after = _link_after(paging.decode_cursor(_DOCUMENTS_PAGE, cursor, 3))

        def work(uow: UnitOfWork) -> Page[LinkedDocument]:
            ticket = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id).ticket
            found = self._hooks.links_page(
                LinkQuery(ticket_id=ticket.id, kind=wanted, after=after, limit=size + 1)
            )
            page = paging.page_of(_DOCUMENTS_PAGE, found, size, _document_key)
            return Page(
                items=(_labelled(self._document(uow, link)) for link in page.items),
                next_cursor=page.next_cursor,
            )

        return self._rt.call(actor, Action.VIEW_TICKET, work, writes=False)

    def _portal_refusal(self, actor: Actor, ticket_id: str) -> TicketView:
        ticket = self._guard.portal_ticket(actor, ticket_id)  # NotFound unless their own
        raise AccessDenied(
            Action.VIEW_TICKET.value,
            f"ticket #{ticket.ref} is shown to portal users in the portal, not the helpdesk "
            f"view; user {show(actor.user_id)} is not in group(s): {Group.HELPDESK_USER.value}",
        )

    def _view(self, uow: UnitOfWork, ticket_id: str, actor: Actor) -> TicketView:
        ctx = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id)
        ticket = ctx.ticket
        links = self._hooks.list_links(ticket.id)
        counts = Counter(_COUNT_FIELD[link.kind] for link in links)
        customer = self._hooks.get_partner(ticket.customer_id) if ticket.customer_id else None
        # The hook returns the trail oldest first; messages of one call share their time,
        # so sort oldest first (stable) and reverse, rather than sorting in reverse.
        trail = sorted(self._hooks.list_messages(ticket.id), key=lambda m: m.at)[::-1]
        return TicketView(
            ticket=ticket,
            team_name=ctx.team.name,
            customer_name=customer.name if customer else None,
            actions=self._actions(ctx, actor),
            counts=DocumentCounts(**counts),
            documents=tuple(_labelled(self._document(uow, link)) for link in links),
            trail=tuple(trail),
        )

    def _actions(self, ctx: TicketContext, actor: Actor) -> tuple[str, ...]:
        offered: list[str] = []
        for name, service, action in _ACTIONS:
            if not ctx.team.has(service):
                continue
            try:
                self._guard.rights(actor, action)
            except AccessDenied:
                continue
            if self._precondition(ctx, service):
                offered.append(name)
        return tuple(offered)

    def _precondition(self, ctx: TicketContext, service: Service) -> bool:
        customer_id = ctx.ticket.customer_id
        if service in (Service.REFUNDS, Service.COUPONS, Service.FIELD_SERVICE):
            return customer_id is not None
        if service is Service.RETURNS:
            if customer_id is None:
                return False
            entity = self._hooks.get_partner(customer_id).commercial_entity_id
            contacts = frozenset(p.id for p in self._hooks.list_contacts(entity))
            return has_returnable_delivery(self._hooks, contacts)
        return True

    def _document(self, uow: UnitOfWork, link: DocumentLink) -> LinkedDocument:
        kind, doc_id = link.kind, link.document_id
        if kind in (DocumentKind.CREDIT_NOTE, DocumentKind.INVOICE):
            invoice = self._hooks.get_invoice(doc_id)
            return LinkedDocument(
                kind=kind,
                document_id=doc_id,
                name=invoice.number or "Draft",
                state=invoice.state.value,
                detail=str(invoice.total),
            )
        if kind is DocumentKind.COUPON:
            coupon = self._hooks.get_coupon(doc_id)
            program = self._hooks.get_program(coupon.program_id)
            uses = self._hooks.count_uses(program.id)
            state = coupon_state(coupon, program, uow.now.date(), uses)
            return LinkedDocument(
                kind=kind,
                document_id=doc_id,
                name=coupon.code,
                state=state.value,
                detail=program.name,
                expires_on=effective_expiry(coupon, program),
            )
        if kind is DocumentKind.RETURN:
            picking = self._hooks.get_picking(doc_id)
            return LinkedDocument(
                kind=kind,
                document_id=doc_id,
                name=picking.reference,
                state=picking.state.value,
                detail=picking.origin,
            )
        if kind is DocumentKind.REPAIR:
            repair = self._hooks.get_repair(doc_id)
            return LinkedDocument(
                kind=kind,
                document_id=doc_id,
                name=repair.reference,
                state=repair.state.value,
            )
        task = self._hooks.get_task(doc_id)
        return LinkedDocument(
            kind=kind, document_id=doc_id, name=task.title, state=task.stage.value
        )


_TRAIL_PAGE = "ticket trail"
_DOCUMENTS_PAGE = "ticket documents"


def _trail_key(message: TicketMessage) -> paging.Key:
    return (paging.moment(message.at), message.id)


def _document_key(link: DocumentLink) -> paging.Key:
    return (paging.moment(link.created_at), link.kind.value, link.document_id)


def _message_after(key: paging.Key | None) -> MessageKey | None:
    """The store's key of a trail cursor's key."""
    if key is None:
        return None
    at, ident = key
    if at is None or ident is None:
        raise InvalidInput("cursor", key, f"not a cursor of this list ({_TRAIL_PAGE})")
    return (datetime.fromisoformat(at), ident)


def _link_after(key: paging.Key | None) -> LinkKey | None:
    """The store's key of a documents cursor's key."""
    if key is None:
        return None
    at, kind, document_id = key
    if at is None or kind is None or document_id is None:
        raise InvalidInput("cursor", key, f"not a cursor of this list ({_DOCUMENTS_PAGE})")
    return (datetime.fromisoformat(at), kind, document_id)
