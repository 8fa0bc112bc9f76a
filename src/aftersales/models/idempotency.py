"""Idempotency records stored with the work they describe (RL-2)."""

from __future__ import annotations

from datetime import datetime

import attrs

from aftersales.models._fields import aware, id_field, text

__all__ = ["MAX_KEY", "IdempotencyRecord"]

#: Longest idempotency key accepted.
MAX_KEY = 256


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """The first call `actor_id` made under `key`, and (once it committed) its result.

    Keys belong to the actor who used them: the same key from another actor is another key.
    `fingerprint` identifies the operation and its arguments; `result` is the JSON text
    of the unstructured result, returned again on replay, or `None` while the call that
    claimed the key is still in its transaction.
    """

    actor_id: str = attrs.field(validator=id_field)
    key: str = attrs.field(validator=text(max_length=MAX_KEY))
    operation: str = attrs.field(validator=text(max_length=128))
    fingerprint: str = attrs.field(validator=text(max_length=128))
    created_at: datetime = attrs.field(validator=aware)
    result: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the call that claimed the key has committed its result."""
        return self.result is not None
