"""Contract of the mail port: the outbox is stored with the work, delivered after commit,
claimed by one retry run at a time, and given up (DEAD) after the most attempts."""

from __future__ import annotations

from datetime import timedelta

import attrs

from aftersales import delivery
from aftersales.errors import BackendError
from aftersales.hookspecs import hookimpl
from aftersales.models import Actor, EmailState, OutgoingEmail
from aftersales.runtime import Config

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["MailContract"]


def _email(kit: Kit, number: int) -> OutgoingEmail:
    return OutgoingEmail(
        id=f"mail-{number}",
        recipients=("ana@example.com", "marta@example.com"),
        subject=f"Your coupon {number}",
        text_body="Hello Ana,\nhere is your coupon.",
        html_body="<p>Hello Ana,</p><p>here is your coupon.</p>",
        created_at=kit.clock.now(),
        ticket_id="ticket-1",
    )


class MailContract(ContractBase):
    """`aftersales_mail_*`."""

    def test_outbox_oldest_first_and_pending_only(self, kit: Kit) -> None:
        emails = [_email(kit, n) for n in range(3)]

        def enqueue(h: object) -> None:
            for email in emails:
                kit.hooks.mail_enqueue(email)

        kit.write(enqueue)
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=False))) == emails
        sent = attrs.evolve(emails[0], state=EmailState.SENT, attempts=1, sent_at=kit.clock.now())
        failed = attrs.evolve(emails[1], state=EmailState.FAILED, attempts=1, last_error="SMTP 451")
        kit.write(lambda h: (h.mail_save(sent), h.mail_save(failed)))
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=True))) == [
            failed,
            emails[2],
        ]
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=False))) == [
            sent,
            failed,
            emails[2],
        ]

    def test_an_email_is_delivered_only_after_commit(self, kit: Kit) -> None:
        """RL-1: a rolled-back unit leaves no email; a committed one is delivered once."""
        kit.require(Capability.DELIVERED_LOG)
        with kit.unchanged(), kit.unit() as uow:
            uow.send(_email(kit, 1))
        assert kit.backend.delivered == []
        with kit.unit() as uow:
            uow.send(_email(kit, 2))
            uow.commit()
        delivered = kit.backend.delivered
        assert [e.id for e in delivered] == ["mail-2"]
        outbox = kit.read(lambda h: list(h.mail_list_outbox(pending_only=False)))
        assert [(e.id, e.state, e.attempts) for e in outbox] == [("mail-2", EmailState.SENT, 1)]
        assert kit.read(lambda h: list(h.mail_list_outbox(pending_only=True))) == []

    def test_an_email_is_read_back_with_every_field(self, kit: Kit) -> None:
        """`aftersales_store_mail_get` answers one email (`None` for an unknown id) with what
        was saved: state, attempts, error, accepted and refused recipients, claim."""
        email = _email(kit, 1)
        kit.write(lambda h: h.mail_enqueue(email))
        assert kit.read(lambda h: h.mail_get("mail-1")) == email
        assert kit.read(lambda h: h.mail_get("mail-404")) is None
        claimed = attrs.evolve(
            email, state=EmailState.SENDING, claim="claim-1", lease_until=kit.clock.now()
        )
        kit.write(lambda h: h.mail_save(claimed))
        assert kit.read(lambda h: h.mail_get("mail-1", lock=True)) == claimed
        sent = attrs.evolve(
            email,
            state=EmailState.SENT,
            attempts=1,
            sent_at=kit.clock.now(),
            accepted=("ana@example.com",),
            refused=("marta@example.com",),
            last_error="refused: marta@example.com (550 5.1.1 no such user)",
        )
        kit.write(lambda h: h.mail_save(sent))
        assert kit.read(lambda h: h.mail_get("mail-1")) == sent

    def test_pending_only_leaves_out_sent_and_dead_emails(self, kit: Kit) -> None:
        states = [
            EmailState.PENDING,
            EmailState.SENDING,
            EmailState.SENT,
            EmailState.FAILED,
            EmailState.DEAD,
        ]
        emails = [attrs.evolve(_email(kit, n), state=state) for n, state in enumerate(states)]

        def enqueue(h: object) -> None:
            for email in emails:
                kit.hooks.mail_enqueue(email)

        kit.write(enqueue)
        pending = kit.read(lambda h: list(h.mail_list_outbox(pending_only=True)))
        assert [e.state for e in pending] == [
            EmailState.PENDING,
            EmailState.SENDING,
            EmailState.FAILED,
        ]

    def test_one_claim_wins_among_threads(self, kit: Kit) -> None:
        """Retry runs on several threads claim one email: exactly one gets it."""
        kit.require(Capability.THREADS)
        failed = attrs.evolve(_email(kit, 1), state=EmailState.FAILED, attempts=1)
        kit.write(lambda h: h.mail_enqueue(failed))
        cutoff = kit.clock.now() - timedelta(minutes=5)
        claims = run_threads(4, lambda _i: delivery.claim(kit.app.runtime, failed.id, cutoff))
        (won,) = [c for c in claims if c is not None]
        lease = kit.app.runtime.config.mail_lease
        assert (won.state, won.lease_until) == (EmailState.SENDING, kit.clock.now() + lease)
        assert kit.read(lambda h: h.mail_get(failed.id)) == won

    def test_a_failing_email_ends_dead_and_a_manager_requeues_it(self, kit: Kit) -> None:
        """After `Config.mail_attempts` failed attempts the email is DEAD: listed, skipped
        by retries, and sent again once requeued."""
        transport = _Switch()
        app = kit.application(Config(mail_attempts=2))
        app.pm.register(transport, name="switch")
        system = Actor.system()
        with kit.unit() as uow:
            uow.send(_email(kit, 1))
            uow.commit()  # delivered by kit.app, without the switch: sent
        app.runtime.write(lambda uow: uow.send(_email(kit, 2)))  # attempt 1 fails
        (failed,) = app.outbox.emails(pending_only=True, actor=system)
        assert (failed.id, failed.state, failed.attempts) == ("mail-2", EmailState.FAILED, 1)
        (dead,) = app.outbox.retry(actor=system)  # attempt 2 fails: the last one
        assert (dead.state, dead.attempts) == (EmailState.DEAD, 2)
        assert "BackendError: the server is off" in dead.last_error
        assert app.outbox.emails(state=EmailState.DEAD, actor=system) == (dead,)
        assert app.outbox.emails(pending_only=True, actor=system) == ()
        assert app.outbox.retry(actor=system, stale_after=timedelta(0)) == ()
        assert transport.tried == ["mail-2", "mail-2"]

        requeued = app.outbox.requeue("mail-2", actor=system)
        assert (requeued.state, requeued.attempts) == (EmailState.FAILED, 0)
        transport.working = True
        (sent,) = app.outbox.retry(actor=system)
        assert (sent.id, sent.state, sent.attempts) == ("mail-2", EmailState.SENT, 1)
        assert sent.accepted == sent.recipients


class _Switch:
    """A transport that fails until it is switched on; then the backend's own delivers."""

    def __init__(self) -> None:
        self.working = False
        self.tried: list[str] = []

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool | None:
        if self.working:
            return None
        self.tried.append(email.id)
        raise BackendError("the server is off")
