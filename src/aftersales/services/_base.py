"""What every service has: the runtime, and the helpers that keep G-4 and RL-6 in one place."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from aftersales import trail
from aftersales.errors import NotFound
from aftersales.models import (
    Actor,
    DocumentChanged,
    DocumentCreated,
    DocumentKind,
    DocumentLink,
    Ticket,
    TicketMessage,
)
from aftersales.runtime import Runtime
from aftersales.unit_of_work import UnitOfWork

__all__ = ["ServiceBase"]


class ServiceBase:
    """Base of the after-sales services: holds the runtime and records trail and audit."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._hooks = runtime.hooks
        self._guard = runtime.guard
        self._clock = runtime.clock

    def _linked(
        self, ticket_id: str, kinds: Collection[DocumentKind], document_id: str, record: str
    ) -> DocumentLink:
        """The link of `document_id`, of one of `kinds`, to the ticket; a document that is not
        linked to it is [`NotFound`][aftersales.errors.NotFound] naming `record` and the id."""
        for link in self._hooks.list_links(ticket_id):
            if link.kind in kinds and link.document_id == document_id:
                return link
        raise NotFound(record, document_id)

    def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        *,
        ticket_id: str | None = None,
        documents: Sequence[str] = (),
        key: str | None = None,
        detail: str = "",
    ) -> None:
        trail.audit(
            self._hooks,
            uow,
            actor.user_id,
            action,
            ticket_id=ticket_id,
            documents=documents,
            key=key,
            detail=detail,
        )

    def _message(
        self,
        uow: UnitOfWork,
        ticket_id: str,
        actor: Actor,
        body: str,
        kind: DocumentKind | None = None,
        document_id: str | None = None,
    ) -> TicketMessage:
        return trail.post(self._hooks, uow, ticket_id, actor.user_id, body, kind, document_id)

    def _link(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        actor: Actor,
        kind: DocumentKind,
        document_id: str,
        body: str,
        key: str | None = None,
    ) -> None:
        """Link a new document to the ticket, say so on the trail and the audit (G-4, RL-6),
        and queue the `document created` event."""
        self._hooks.add_link(
            DocumentLink(
                ticket_id=ticket.id,
                kind=kind,
                document_id=document_id,
                created_at=uow.now,
            )
        )
        self._message(uow, ticket.id, actor, body, kind, document_id)
        self._audit(
            uow,
            actor,
            f"{kind.value} created",
            ticket_id=ticket.id,
            documents=(document_id,),
            key=key,
            detail=body,
        )
        uow.record(
            DocumentCreated(
                at=uow.now,
                actor_id=actor.user_id,
                ticket_id=ticket.id,
                kind=kind,
                document_id=document_id,
            )
        )

    def _changed(
        self,
        uow: UnitOfWork,
        ticket_id: str | None,
        actor: Actor,
        kind: DocumentKind,
        document_id: str,
        change: str,
        body: str,
        key: str | None = None,
        *,
        on_trail: bool = True,
    ) -> None:
        """A document changed state: audit and event, and (`on_trail`, when it has a
        ticket) a message on the ticket's trail."""
        if on_trail and ticket_id is not None:
            self._message(uow, ticket_id, actor, body, kind, document_id)
        self._audit(
            uow,
            actor,
            f"{kind.value} {change}",
            ticket_id=ticket_id,
            documents=(document_id,),
            key=key,
            detail=body,
        )
        uow.record(
            DocumentChanged(
                at=uow.now,
                actor_id=actor.user_id,
                ticket_id=ticket_id,
                kind=kind,
                document_id=document_id,
                change=change,
            )
        )
