"""The append-only audit trail (ST-11, RL-6)."""

from __future__ import annotations

from datetime import datetime

import attrs

from aftersales.models._fields import (
    MAX_TEXT,
    aware,
    id_field,
    optional,
    text,
    to_tuple,
)

__all__ = ["AuditEntry"]


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One change: when, by whom, what, on which ticket and documents, under which key."""

    id: str = attrs.field(validator=id_field)
    at: datetime = attrs.field(validator=aware)
    actor_id: str = attrs.field(validator=id_field)
    action: str = attrs.field(validator=text(max_length=128))
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    document_ids: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    idempotency_key: str | None = attrs.field(
        default=None, validator=optional(text(max_length=256))
    )
    detail: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
