"""The idempotency keys calls were made under, and forgetting old ones (RL-2).

A key is kept with the result of the call that first used it, so that a repeat returns that
result. Keys belong to the actor who used them and live until they are purged: run
`IdempotencyService.purge()` from a scheduled job, keeping keys at least as long as a
client may retry.
"""

from __future__ import annotations

from datetime import timedelta

from aftersales.access import Action
from aftersales.arguments import a_duration
from aftersales.models import Actor
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["IdempotencyService"]


class IdempotencyService(ServiceBase):
    """Maintenance of the stored idempotency keys: `app.idempotency`."""

    def purge(self, *, older_than: timedelta, actor: Actor) -> int:
        """Forget the keys first used more than `older_than` ago; return how many.

        A call repeated later under a forgotten key runs again as a new call. Only the
        system actor may purge (a scheduled job); the purge is recorded in the audit.

        Args:
            older_than: Forget the keys first used longer ago than this (zero or more).
            actor: The system actor (`Actor.system()`).

        Returns:
            How many keys were forgotten.

        Raises:
            AccessDenied: The actor is not the system actor.
            InvalidInput: `older_than` is not a `timedelta` of zero or more.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> int:
            a_duration(older_than, "older_than")
            before = uow.now - older_than
            purged = self._hooks.idempotency_purge(before)
            self._audit(
                uow,
                actor,
                "idempotency keys purged",
                detail=f"{purged} key(s) first used before {before.isoformat()}",
            )
            return purged

        return self._rt.call(actor, Action.PURGE_KEYS, work, writes=True)
