"""The outbox: emails queued by the services, their delivery state, and retrying failures.

An email is stored in the outbox inside the unit of work that sends it and handed to the
mail transport only after that unit commits (`aftersales.runtime.Runtime.deliver()`).
A transport failure leaves it FAILED with the error; [`OutboxService.retry()`][OutboxService.retry]
hands it to the transport again, so an email is never lost silently. After `Config.mail_attempts`
failed attempts it is DEAD: set aside, listed, and sent again only once a manager
[`requeue()`][aftersales.services.outbox.OutboxService.requeue]\\ s it. Retry runs claim each email
before sending it (see `aftersales.delivery`), so several runs at once — threads or processes —
send each email once.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from aftersales import delivery
from aftersales.access import Action
from aftersales.arguments import a_duration, a_flag, an_enum, an_id
from aftersales.errors import InvalidInput, InvalidState, NotFound
from aftersales.models import Actor, EmailState, OutgoingEmail
from aftersales.models.mail import UNDELIVERED
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["OutboxService"]


class OutboxService(ServiceBase):
    """Reads the outbox, retries undelivered emails and requeues dead ones: `app.outbox`.

    Every call needs a helpdesk manager (or the system actor, for a scheduled job).
    """

    def emails(
        self,
        *,
        pending_only: bool = False,
        state: EmailState | str | None = None,
        actor: Actor,
    ) -> tuple[OutgoingEmail, ...]:
        """The emails of the outbox, oldest first: only the undelivered ones when
        `pending_only` (pending, sending or failed; not dead), or only those in `state`
        (e.g. `EmailState.DEAD`: the dead letters).

        Args:
            pending_only: Only the emails not delivered yet (not the dead ones).
            state: Only the emails in this state (an `EmailState` or its value).
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The emails, oldest first.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            InvalidInput: An unknown `state`, or both filters at once.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> tuple[OutgoingEmail, ...]:
            a_flag(pending_only, "pending_only")
            wanted = None if state is None else an_enum(state, EmailState, "state")
            if pending_only and wanted is not None:
                raise InvalidInput("state", state, "give pending_only or a state, not both")
            if wanted is None:
                return tuple(self._hooks.mail_list_outbox(pending_only=pending_only))
            listed = self._hooks.mail_list_outbox(pending_only=wanted in UNDELIVERED)
            return tuple(email for email in listed if email.state is wanted)

        return self._rt.call(actor, Action.OUTBOX, work, writes=False)

    def email(self, email_id: str, *, actor: Actor) -> OutgoingEmail:
        """The email `email_id` of the outbox: its state, attempts, last error, and the
        recipients the mail server accepted and refused. [`NotFound`][aftersales.errors.NotFound]
        when unknown.

        Args:
            email_id: The email's id.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The email with its state, attempts, last error and recipients.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            NotFound: There is no email `email_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(_uow: UnitOfWork) -> OutgoingEmail:
            an_id(email_id, "email_id")
            found = self._hooks.mail_get(email_id, lock=False)
            if found is None:
                raise NotFound("email", email_id)
            return found

        return self._rt.call(actor, Action.OUTBOX, work, writes=False)

    def retry(
        self, *, actor: Actor, stale_after: timedelta = timedelta(minutes=5)
    ) -> tuple[OutgoingEmail, ...]:
        """Hand every undelivered email to the transport again; return the outcomes.

        FAILED emails are always retried. PENDING ones only once they are older than
        `stale_after`: a younger one may still be on its way from the call that queued
        it (a process that stopped between commit and delivery leaves such emails behind).
        Each email is claimed first (SENDING under a lease of `Config.mail_lease`, in
        its own committed unit of work), so a retry running at the same time — in this
        process or another — skips it; once the lease has run out (a run that stopped
        half-way) another run takes it over. DEAD emails are skipped. An email is handed
        to the transport for the recipients that have not taken it yet. Each outcome is
        recorded in the outbox: SENT, FAILED with the new error and one more attempt, or
        DEAD after `Config.mail_attempts` attempts.

        Args:
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            stale_after: How old a PENDING email must be to be sent again.

        Returns:
            The emails handed to the transport, as they are after it answered.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            InvalidInput: A negative `stale_after`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def due(uow: UnitOfWork) -> tuple[str, ...]:
            a_duration(stale_after, "stale_after")
            cutoff = uow.now - stale_after
            return tuple(
                email.id
                for email in self._hooks.mail_list_outbox(pending_only=True)
                if delivery.claimable(email, now=uow.now, cutoff=cutoff)
            )

        outcomes: list[OutgoingEmail] = []
        for email_id in self._rt.call(actor, Action.OUTBOX, due, writes=False):
            claimed = delivery.claim(self._rt, email_id, self._clock.now() - stale_after)
            if claimed is not None:  # else another run has it, or it is done
                outcomes.append(self._rt.deliver(claimed))
        return tuple(outcomes)

    def requeue(self, email_id: str, *, actor: Actor) -> OutgoingEmail:
        """Give a DEAD email its attempts again: it becomes FAILED with no attempt counted,
        and the next [`retry()`][aftersales.services.outbox.OutboxService.retry] sends it. The
        requeue is audited.

        [`NotFound`][aftersales.errors.NotFound] for an unknown email,
        [`InvalidState`][aftersales.errors.InvalidState] for one that is not dead (a pending or
        failed email is retried anyway, a sent one is done).

        Args:
            email_id: A DEAD email.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The email, FAILED with no attempt counted.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            NotFound: There is no email `email_id`.
            InvalidState: The email is not dead.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> OutgoingEmail:
            an_id(email_id, "email_id")
            email = self._hooks.mail_get(email_id, lock=True)
            if email is None:
                raise NotFound("email", email_id)
            if email.state is not EmailState.DEAD:
                raise InvalidState(
                    f"email {email_id} is {email.state.value}: only a dead email is requeued"
                )
            requeued = attrs.evolve(email, state=EmailState.FAILED, attempts=0)
            self._hooks.mail_save(requeued)
            self._audit(
                uow,
                actor,
                "email requeued",
                ticket_id=email.ticket_id,
                documents=(email.id,),
                detail=f"after {email.attempts} attempts: {email.last_error}",
            )
            return requeued

        return self._rt.call(actor, Action.OUTBOX, work, writes=True)
