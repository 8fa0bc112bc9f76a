"""Delivering the outbox: claim an email, hand it to the transport, record the outcome once.

An email is held by one delivery at a time. The call that queued it holds it while it is
PENDING and young (its delivery runs right after the commit); a retry run takes it with
`claim()`: state SENDING, a claim token and a lease (`lease_until`, now +
`Config.mail_lease`), saved in a unit of work of its own that reads the email with
`lock=True`, so two runs (threads or processes) never both take it. Only once the lease
has run out (the run that claimed it stopped half-way) may another run take it again.

`deliver()` hands the email to the transport for the recipients that have not taken it
yet and records the outcome only if the email is still held as it was when delivery began;
an email that another run took meanwhile is left to that run. The outcome is SENT (with the
recipients the server accepted and those it refused for good), FAILED (to be retried, to
the recipients not yet accepted only) or, once `Config.mail_attempts` attempts failed,
DEAD: a dead letter that no retry sends until a manager requeues it. Each recorded outcome
is dispatched as an `EmailDelivery` event; refused recipients and
dead letters are also said on the ticket's trail.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from aftersales import trail
from aftersales.errors import BackendError, BackendUnavailable
from aftersales.ids import new_id
from aftersales.models import (
    DeliveryReport,
    EmailDelivery,
    EmailState,
    OutgoingEmail,
)

if TYPE_CHECKING:
    from aftersales.runtime import Runtime
    from aftersales.unit_of_work import UnitOfWork

__all__ = ["SYSTEM_ID", "claim", "claimable", "deliver"]

log = logging.getLogger("aftersales")

#: The actor id of what the library does on its own after a commit (delivery, its notes).
SYSTEM_ID = "system"

_MAX_ERROR = 1000


def claimable(email: OutgoingEmail, *, now: datetime, cutoff: datetime) -> bool:
    """Whether a retry run may take `email` at `now`: FAILED, or PENDING since
    `cutoff` or before (its own call did not deliver it), or SENDING under a lease that
    has run out (the run that claimed it stopped half-way)."""
    if email.state is EmailState.FAILED:
        return True
    if email.state is EmailState.PENDING:
        return email.created_at <= cutoff
    if email.state is EmailState.SENDING:
        return email.lease_until is None or email.lease_until <= now
    return False


def claim(runtime: Runtime, email_id: str, cutoff: datetime) -> OutgoingEmail | None:
    """Take the email `email_id` for this run: SENDING under a new claim leased for
    `Config.mail_lease`, committed at once. `None` when it is gone, delivered, dead, or
    held by someone else (see `claimable()`)."""
    hooks = runtime.hooks

    def take(uow: UnitOfWork) -> OutgoingEmail | None:
        current = hooks.mail_get(email_id, lock=True)
        if current is None or not claimable(current, now=uow.now, cutoff=cutoff):
            return None
        claimed = attrs.evolve(
            current,
            state=EmailState.SENDING,
            claim=new_id("claim"),
            lease_until=uow.now + runtime.config.mail_lease,
        )
        hooks.mail_save(claimed)
        return claimed

    # A conflict with another run's claim is retried: it then reads the email as taken.
    return runtime.write(take)


def _printable(text: str) -> str:
    """`text` on one line of printable ASCII: a server's reply or an error goes on the
    trail as it came, without anything that could forge a line of it."""
    return "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))


def _among(to: tuple[str, ...], replies: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The addresses of `to` that `replies` name, with the server's reply."""
    by_address = {address.casefold(): reply for address, reply in replies}
    return {
        address: _printable(by_address[address.casefold()]) or "refused"
        for address in to
        if address.casefold() in by_address
    }


def deliver(runtime: Runtime, email: OutgoingEmail) -> OutgoingEmail:
    """Hand `email` (as its holder has it: PENDING, or SENDING under a claim) to the
    transport for its `undelivered` recipients and record the outcome;
    return the outcome.

    Every recipient taken: SENT. Some refused for good: SENT too, with who took it and who
    refused it. Some refused only for now (a 4xx reply): FAILED with those accepted so far,
    and a retry delivers to the others only. A failure (nobody took it) is logged and kept
    for a later retry (FAILED, with the error). A failed attempt that was the last of
    `Config.mail_attempts` sets the email aside as DEAD; an email is never lost silently.
    """
    attempts = email.attempts + 1
    to = email.undelivered
    refused: dict[str, str] = {}
    deferred: dict[str, str] = {}
    try:
        answer = runtime.hooks.mail_deliver(email)
        if answer is not True and not isinstance(answer, DeliveryReport):
            raise BackendError("the mail transport did not accept the email")
        if isinstance(answer, DeliveryReport):
            refused = _among(to, answer.refused)
            deferred = {a: r for a, r in _among(to, answer.deferred).items() if a not in refused}
        taken = tuple(a for a in to if a not in refused and a not in deferred)
        if not taken and not email.accepted:
            kind = BackendUnavailable if deferred else BackendError
            listed = _listed({**refused, **deferred})
            raise kind(f"the mail transport refused every recipient: {listed}")
    except Exception as exc:
        log.warning("could not deliver email %s: %s", email.id, exc)
        refused = {}
        outcome = _failed(runtime, email, attempts, f"{type(exc).__name__}: {exc}")
    else:
        if refused or deferred:
            log.warning(
                "email %s: recipients refused: %s", email.id, _listed({**refused, **deferred})
            )
        accepted = (*email.accepted, *taken)
        kept = attrs.evolve(email, accepted=accepted, refused=(*email.refused, *refused))
        if deferred:
            error = f"BackendUnavailable: deferred by the mail server: {_listed(deferred)}"
            if refused:
                error += f"; refused: {_listed(refused)}"
            outcome = _failed(runtime, kept, attempts, error)
        else:
            outcome = attrs.evolve(
                kept,
                state=EmailState.SENT,
                attempts=attempts,
                last_error=f"refused: {_listed(refused)}"[:_MAX_ERROR] if refused else "",
                sent_at=runtime.clock.now(),
                claim=None,
                lease_until=None,
            )
    if _record(runtime, email, outcome):
        _note(runtime, outcome, refused=refused, deferred=deferred)
    return outcome


def _failed(runtime: Runtime, email: OutgoingEmail, attempts: int, error: str) -> OutgoingEmail:
    """`email` after a failed attempt: FAILED, or DEAD when it was the last one."""
    dead = attempts >= runtime.config.mail_attempts
    return attrs.evolve(
        email,
        state=EmailState.DEAD if dead else EmailState.FAILED,
        attempts=attempts,
        last_error=error[:_MAX_ERROR],
        claim=None,
        lease_until=None,
    )


def _listed(refused: dict[str, str]) -> str:
    return ", ".join(f"{address} ({reply})" for address, reply in refused.items())


def _record(runtime: Runtime, held: OutgoingEmail, outcome: OutgoingEmail) -> bool:
    """Save `outcome` if the outbox still has the email as `held` (same state, same
    claim), and queue its event; False when another run took the email meanwhile."""
    hooks = runtime.hooks
    with runtime.unit(writes=True) as uow:
        current = hooks.mail_get(held.id, lock=True)
        if current is None or (current.state, current.claim) != (held.state, held.claim):
            log.warning(
                "email %s was taken by another delivery while this one sent it; "
                "its outcome (%s) is left to that one",
                held.id,
                outcome.state.value,
            )
            return False
        hooks.mail_save(outcome)
        uow.record(
            EmailDelivery(
                at=uow.now,
                actor_id=SYSTEM_ID,
                email_id=outcome.id,
                ticket_id=outcome.ticket_id,
                state=outcome.state,
                attempts=outcome.attempts,
                accepted=outcome.accepted,
                refused=outcome.refused,
                error=outcome.last_error,
            )
        )
        uow.commit()
    return True


def _note(
    runtime: Runtime, email: OutgoingEmail, *, refused: dict[str, str], deferred: dict[str, str]
) -> None:
    """Say on the email's ticket who took it and who refused it, or that it was given up
    (best effort: the outcome is already recorded in the outbox)."""
    if email.ticket_id is None:
        return
    if email.state is EmailState.DEAD:
        action = "email dead"
        body = (
            f'Email "{email.subject}" to {", ".join(email.undelivered)} was not delivered '
            f"after {email.attempts} attempts ({_printable(email.last_error)}); it is kept "
            "in the outbox as dead until a manager requeues it"
        )
    elif refused or deferred:
        action = "email refused"
        body = f'Email "{email.subject}" delivered to {", ".join(email.accepted)}'
        if refused:
            body += f"; refused by the mail server: {_listed(refused)}"
        if deferred:
            body += f"; deferred by the mail server, to be retried: {_listed(deferred)}"
    else:
        return
    hooks = runtime.hooks
    try:
        with runtime.unit(writes=True) as uow:
            trail.post(hooks, uow, email.ticket_id, SYSTEM_ID, body)
            trail.audit(
                hooks,
                uow,
                SYSTEM_ID,
                action,
                ticket_id=email.ticket_id,
                documents=(email.id,),
                detail=body,
            )
            uow.commit()
    except Exception:
        log.exception("could not note the delivery of email %s on its ticket", email.id)
