"""Outgoing email, kept in an outbox until a transport delivers it (CP-7, CP-8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from aftersales.models._fields import (
    MAX_TEXT,
    aware,
    enum_of,
    id_field,
    optional,
    text,
    to_tuple,
)

__all__ = ["EmailState", "OutgoingEmail"]


class EmailState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class OutgoingEmail:
    """An email queued inside a unit of work and delivered only after it commits."""

    id: str = attrs.field(validator=id_field)
    recipients: tuple[str, ...] = attrs.field(converter=to_tuple)
    subject: str = attrs.field(validator=text(max_length=998))
    text_body: str = attrs.field(validator=text(max_length=MAX_TEXT, multiline=True))
    html_body: str = attrs.field(validator=text(max_length=MAX_TEXT * 2, multiline=True))
    created_at: datetime = attrs.field(validator=aware)
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    state: EmailState = attrs.field(default=EmailState.PENDING, validator=enum_of(EmailState))
    attempts: int = 0
    last_error: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    sent_at: datetime | None = attrs.field(default=None, validator=optional(aware))
