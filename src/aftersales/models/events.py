"""Events dispatched to subscribers after a unit of work commits."""

from __future__ import annotations

from datetime import datetime

import attrs

from aftersales.models.helpdesk import DocumentKind, Service
from aftersales.models.mail import EmailState
from aftersales.models.subscription import SubscriptionState

__all__ = [
    "DocumentChanged",
    "DocumentCreated",
    "EmailDelivery",
    "Event",
    "ServicesConfigured",
    "SubscriptionChanged",
]


@attrs.frozen(kw_only=True)
class Event:
    """Base of every event: when and by whom."""

    at: datetime
    actor_id: str


@attrs.frozen(kw_only=True)
class DocumentCreated(Event):
    """A document was created from a ticket and linked to it."""

    ticket_id: str
    kind: DocumentKind
    document_id: str


@attrs.frozen(kw_only=True)
class DocumentChanged(Event):
    """A linked document changed state (posted, done, cancelled, sent, redeemed…)."""

    ticket_id: str | None
    kind: DocumentKind
    document_id: str
    change: str


@attrs.frozen(kw_only=True)
class ServicesConfigured(Event):
    """A team's after-sales toggles changed; `installed` lists modules installed."""

    team_id: str
    services: frozenset[Service]
    installed: tuple[str, ...]


@attrs.frozen(kw_only=True)
class SubscriptionChanged(Event):
    """The subscription moved from one state to another."""

    previous: SubscriptionState
    state: SubscriptionState


@attrs.frozen(kw_only=True)
class EmailDelivery(Event):
    """An attempt to deliver an email of the outbox ended, and its outcome was recorded.

    `state` is SENT (`accepted` took it; `refused` did not, with the server's replies
    in `error`), FAILED (to be retried; `error` says why) or DEAD (given up after
    `attempts` attempts). `ticket_id` is the ticket the email was sent from, if any.
    """

    email_id: str
    ticket_id: str | None
    state: EmailState
    attempts: int
    accepted: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    error: str = ""
