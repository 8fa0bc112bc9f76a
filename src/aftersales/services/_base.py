"""What every service has: the runtime, and the helpers that keep G-4 and RL-6 in one place."""

from __future__ import annotations

from collections.abc import Sequence

from aftersales.ids import new_id
from aftersales.models import (
    Actor,
    AuditEntry,
    DocumentChanged,
    DocumentCreated,
    DocumentKind,
    DocumentLink,
    Ticket,
    TicketMessage,
)
from aftersales.models._fields import MAX_TEXT
from aftersales.models._records import assemble
from aftersales.runtime import Runtime
from aftersales.unit_of_work import UnitOfWork

__all__ = ["ServiceBase"]


def _bounded(text: str) -> str:
    """A trail text cut to what a message or an audit entry holds: a summary of many lines
    (every product of a return, every follower of a coupon) may be longer than any of them."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class ServiceBase:
    """Base of the after-sales services: holds the runtime and records trail and audit."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._hooks = runtime.hooks
        self._guard = runtime.guard
        self._clock = runtime.clock

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
        self._hooks.audit_append(
            assemble(
                AuditEntry,
                id=new_id("audit"),
                at=uow.now,
                actor_id=actor.user_id,
                action=action,
                ticket_id=ticket_id,
                document_ids=tuple(documents),
                idempotency_key=key,
                detail=_bounded(detail),
            )
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
        return self._hooks.post_message(
            assemble(
                TicketMessage,
                id=new_id("msg"),
                ticket_id=ticket_id,
                at=uow.now,
                author_id=actor.user_id,
                body=_bounded(body),
                document_kind=kind,
                document_id=document_id,
            )
        )

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
            assemble(
                DocumentLink,
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
