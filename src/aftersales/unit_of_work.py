"""The unit of work: one service call, all or nothing (RL-1, RL-2).

A unit of work asks every backend to join it (`aftersales_transaction_begin`), collects
the events and emails the call produces, claims the call's idempotency key before the work
and stores its result with the work, and on
`UnitOfWork.commit()` commits every participant and only then dispatches events and
delivers emails. Leaving the `with` block without committing rolls everything back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import attrs

from aftersales.errors import (
    AfterSalesError,
    BackendError,
    ConflictError,
    IdempotencyConflict,
    InvalidState,
)
from aftersales.formatting import show
from aftersales.ids import new_id
from aftersales.models._fields import check_text
from aftersales.models.events import Event
from aftersales.models.idempotency import MAX_KEY, IdempotencyRecord
from aftersales.models.mail import OutgoingEmail
from aftersales.serialization import converter, dumps, loads

if TYPE_CHECKING:
    from aftersales.hooks import Hooks

__all__ = ["Transaction", "UnitOfWork", "fingerprint", "operation_reference"]

log = logging.getLogger(__name__)
R = TypeVar("R")


@runtime_checkable
class Transaction(Protocol):
    """What a backend enlists in a unit of work."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def fingerprint(operation: str, arguments: Mapping[str, Any]) -> str:
    """A stable digest of an operation and its arguments (for idempotency checks)."""
    text = dumps({"operation": operation, "arguments": converter.unstructure(dict(arguments))})
    return hashlib.sha256(text.encode()).hexdigest()


def operation_reference(actor_id: str | None, key: str | None) -> str:
    """The reference an ERP keeps on the documents one call makes (see
    `aftersales_accounting_find_by_reference`).

    Derived from the actor and the call's idempotency key, so a retry with the same key asks
    the ERP with the same reference: `op-` and 24 hex digits of a SHA-256 of both (the key
    itself never reaches the ERP). A call without a key gets a fresh unique reference.

    Examples:
        >>> operation_reference("u-2", "req-7f3a") == operation_reference("u-2", "req-7f3a")
        True
        >>> operation_reference("u-2", "req-7f3a") == operation_reference("u-3", "req-7f3a")
        False
        >>> len(operation_reference(None, None))
        23
    """
    if key is None or actor_id is None:
        return new_id("op")
    digest = hashlib.sha256(f"{actor_id}\x1f{key}".encode()).hexdigest()
    return f"op-{digest[:24]}"


class UnitOfWork:
    """One call's transaction across every backend. Use it as a context manager."""

    def __init__(
        self,
        hooks: Hooks,
        *,
        writes: bool,
        now: datetime,
        after_commit: Callable[[list[Event], list[OutgoingEmail]], None],
        actor_id: str | None = None,
    ) -> None:
        self.hooks = hooks
        self.actor_id = actor_id
        self.writes = writes
        self.now = now
        self._after_commit = after_commit
        self._participants: list[Transaction] = []
        self._events: list[Event] = []
        self._emails: list[OutgoingEmail] = []
        self._key: IdempotencyRecord | None = None
        self._reference_key: str | None = None
        self._reference: str | None = None
        self._open = False
        self._done = False

    # -- participants ---------------------------------------------------------------------

    def enlist(self, tx: Transaction) -> None:
        """Called by a backend from `aftersales_transaction_begin`."""
        self._participants.append(tx)

    def __enter__(self) -> UnitOfWork:
        self.hooks.transaction_begin(self)
        self._open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.rollback()

    # -- what the call produces -----------------------------------------------------------

    def record(self, event: Event) -> None:
        """Queue `event`; it is dispatched only if the unit commits."""
        self._events.append(event)

    def send(self, email: OutgoingEmail) -> OutgoingEmail:
        """Put `email` in the outbox now; it is delivered only if the unit commits."""
        stored = self.hooks.mail_enqueue(email)
        self._emails.append(stored)
        return stored

    # -- idempotency ----------------------------------------------------------------------

    @property
    def reference(self) -> str:
        """The operation reference of this call, for every ERP operation it makes (see
        `operation_reference()`): derived from the key given to `replay()`, or fresh
        and unique when the call has none. The same all through the unit."""
        if self._reference is None:
            self._reference = operation_reference(self.actor_id, self._reference_key)
        return self._reference

    def replay(
        self, key: str | None, operation: str, arguments: Mapping[str, Any], result_type: type[R]
    ) -> R | None:
        """Claim `key` for this call's actor, or return the result of their earlier call.

        Call it before the work takes any lock: a concurrent call under the same key waits
        here until the first one ends, then gets its result (or, if it rolled back, runs).
        Raises [`IdempotencyConflict`][aftersales.errors.IdempotencyConflict] when the actor used
        the key for another operation or with other arguments, and
        [`InvalidInput`][aftersales.errors.InvalidInput] for a key that is not text of 1-256
        characters without control characters. When `None` is returned, `commit()` stores the
        result with the work.
        """
        if key is None:
            return None
        check_text(key, "idempotency_key", max_length=MAX_KEY)
        if self.actor_id is None:
            raise InvalidState("an idempotency key needs a call made by an actor")
        self._reference_key = key
        self._reference = None
        claim = IdempotencyRecord(
            actor_id=self.actor_id,
            key=key,
            operation=operation,
            fingerprint=fingerprint(operation, arguments),
            created_at=self.now,
        )
        stored = self.hooks.idempotency_claim(claim)
        if stored.result is not None:  # finished
            if stored.operation != operation:
                raise IdempotencyConflict(key, f"was used for {stored.operation}")
            if stored.fingerprint != claim.fingerprint:
                raise IdempotencyConflict(key, "was used with different arguments")
            return loads(stored.result, result_type)
        if stored != claim:  # a store that could not wait for the call holding the key
            raise ConflictError(f"idempotency key {show(key)} is in use by a call still running")
        self._key = claim
        return None

    # -- ending ---------------------------------------------------------------------------

    def commit(self, result: object = None) -> None:
        """Commit every participant, then dispatch events and deliver emails.

        `result` is what the call returns; it is stored under the idempotency key given
        to `replay()`, in the same transaction as the work.
        """
        if self._done:
            raise InvalidState("this unit of work has already ended")
        if self._key is not None:
            self.hooks.idempotency_complete(attrs.evolve(self._key, result=dumps(result)))
        try:
            for tx in self._participants:
                tx.commit()
        except BaseException:
            self.rollback()
            raise
        self._done = True
        self._after_commit(self._events, self._emails)

    def rollback(self) -> None:
        """Roll back every participant; queued events and emails are dropped."""
        if self._done:
            return
        self._done = True
        self._events.clear()
        self._emails.clear()
        errors: list[BaseException] = []
        for tx in reversed(self._participants):
            try:
                tx.rollback()
            except BaseException as exc:  # keep rolling back the others
                errors.append(exc)
        if errors:
            log.error("rollback failed in %d participant(s)", len(errors), exc_info=errors[0])
            first = errors[0]
            if not isinstance(first, AfterSalesError):
                raise BackendError(f"rollback failed: {first}") from first
            raise first
