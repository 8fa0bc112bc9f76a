"""The outbox: emails queued by the services, their delivery state, and retrying failures.

An email is stored in the outbox inside the unit of work that sends it and handed to the
mail transport only after that unit commits (:meth:`aftersales.runtime.Runtime.deliver`).
A transport failure leaves it FAILED with the error; :meth:`OutboxService.retry` hands it
to the transport again, so an email is never lost silently.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from aftersales.access import Action
from aftersales.errors import InvalidInput
from aftersales.models import Actor, EmailState, OutgoingEmail
from aftersales.runtime import Runtime
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["OutboxService"]


class OutboxService(ServiceBase):
    """Reads the outbox and retries undelivered emails: ``app.outbox``.

    Both calls need a helpdesk manager (or the system actor, for a scheduled job).
    """

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._retrying = threading.Lock()

    def emails(self, *, pending_only: bool = False, actor: Actor) -> tuple[OutgoingEmail, ...]:
        """The emails of the outbox, oldest first; only the undelivered ones when
        ``pending_only`` (pending or failed)."""

        def work(_uow: UnitOfWork) -> tuple[OutgoingEmail, ...]:
            if not isinstance(pending_only, bool):
                raise InvalidInput("pending_only", pending_only, "expected True or False")
            return tuple(self._hooks.mail_list_outbox(pending_only=pending_only))

        return self._rt.call(actor, Action.OUTBOX, work, writes=False)

    def retry(
        self, *, actor: Actor, stale_after: timedelta = timedelta(minutes=5)
    ) -> tuple[OutgoingEmail, ...]:
        """Hand every undelivered email to the transport again; return the outcomes.

        FAILED emails are always retried. PENDING ones only once they are older than
        ``stale_after``: a younger one may still be on its way from the call that queued
        it (a process that stopped between commit and delivery leaves such emails behind).
        Each outcome is recorded in the outbox (SENT, or FAILED with the new error and one
        more attempt). Retries from one application run one at a time; run a single
        scheduled retry job per outbox.
        """

        def due(uow: UnitOfWork) -> tuple[OutgoingEmail, ...]:
            if not isinstance(stale_after, timedelta) or stale_after < timedelta(0):
                raise InvalidInput("stale_after", stale_after, "expected a timedelta of 0 or more")
            cutoff = uow.now - stale_after
            return tuple(
                email
                for email in self._hooks.mail_list_outbox(pending_only=True)
                if email.state is EmailState.FAILED
                or (email.state is EmailState.PENDING and email.created_at <= cutoff)
            )

        with self._retrying:
            return tuple(
                self._rt.deliver(email)
                for email in self._rt.call(actor, Action.OUTBOX, due, writes=False)
            )
