"""Idempotency records stored with the work they describe (RL-2)."""

from __future__ import annotations

from datetime import datetime

import attrs

from aftersales.models._fields import aware, text

__all__ = ["MAX_KEY", "IdempotencyRecord"]

#: Longest idempotency key accepted.
MAX_KEY = 256


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """The first result of a call made under ``key``.

    ``fingerprint`` identifies the operation and its arguments; ``result`` is the JSON text
    of the unstructured result, returned again on replay.
    """

    key: str = attrs.field(validator=text(max_length=MAX_KEY))
    operation: str = attrs.field(validator=text(max_length=128))
    fingerprint: str = attrs.field(validator=text(max_length=128))
    result: str
    created_at: datetime = attrs.field(validator=aware)
