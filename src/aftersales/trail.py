"""What the library writes down when something happens: a message on the ticket's trail
(G-4) and an entry in the audit (RL-6), in the current unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aftersales.ids import new_id
from aftersales.models import AuditEntry, DocumentKind, TicketMessage
from aftersales.models._fields import MAX_TEXT

if TYPE_CHECKING:
    from aftersales.hooks import Hooks
    from aftersales.unit_of_work import UnitOfWork

__all__ = ["audit", "post"]


def _bounded(text: str) -> str:
    """`text` cut to what a message or an audit entry holds: a summary of many lines
    (every product of a return, every follower of a coupon) may be longer than any of them."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def post(
    hooks: Hooks,
    uow: UnitOfWork,
    ticket_id: str,
    author_id: str,
    body: str,
    kind: DocumentKind | None = None,
    document_id: str | None = None,
) -> TicketMessage:
    """Append `body` to the trail of `ticket_id`, naming its author (and the document)."""
    return hooks.post_message(
        TicketMessage(
            id=new_id("msg"),
            ticket_id=ticket_id,
            at=uow.now,
            author_id=author_id,
            body=_bounded(body),
            document_kind=kind,
            document_id=document_id,
        )
    )


def audit(
    hooks: Hooks,
    uow: UnitOfWork,
    actor_id: str,
    action: str,
    *,
    ticket_id: str | None = None,
    documents: Sequence[str] = (),
    key: str | None = None,
    detail: str = "",
) -> None:
    """Append an entry to the audit: who did `action`, on which ticket and documents."""
    hooks.audit_append(
        AuditEntry(
            id=new_id("audit"),
            at=uow.now,
            actor_id=actor_id,
            action=action,
            ticket_id=ticket_id,
            document_ids=tuple(documents),
            idempotency_key=key,
            detail=_bounded(detail),
        )
    )
