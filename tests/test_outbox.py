"""The outbox's delivery: attempts are capped and a message past the cap
is a dead letter a manager sees and requeues; a partial delivery records who took the email
and who refused it and never sends it again to those who took it; a retry run claims each
email under a lease, so two runs — two processes on SQLite and PostgreSQL — send it once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.delivery import claim
from aftersales.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    InvalidInput,
    InvalidState,
    NotFound,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    Actor,
    DeliveryReport,
    EmailDelivery,
    EmailState,
    OutgoingEmail,
)
from aftersales.runtime import Config
from aftersales.testing import Scenario
from aftersales.testing.conformance.processes import retry_outbox, run_processes
from aftersales.testing.witness import Witness

START = "2026-11-28T09:00:00+00:00"


class Transport:
    """A mail transport that answers ``answer``: True, a report, or an exception to raise."""

    name = "test-transport"

    def __init__(self) -> None:
        self.answer: bool | DeliveryReport | Exception = True
        self.handed: list[OutgoingEmail] = []

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool | DeliveryReport:
        self.handed.append(email)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@attrs.frozen
class Mail:
    app: AfterSales
    transport: Transport
    witness: Witness
    scenario: Scenario
    clock: FrozenClock

    @property
    def manager(self) -> Actor:
        return self.scenario.actors.manager

    def send_coupon(self) -> str:
        agent = self.scenario.actors.agent
        info = self.app.coupons.generate(
            self.scenario.ticket.id, self.scenario.program.id, actor=agent
        )
        return self.app.coupons.send(self.scenario.ticket.id, info.id, actor=agent).email_id

    def email(self, email_id: str) -> OutgoingEmail:
        return self.app.outbox.email(email_id, actor=self.manager)


def _mail(backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, **config: Any) -> Mail:
    transport, witness = Transport(), Witness()
    app = AfterSales(backend, clock=clock, config=Config(**config), plugins=[transport, witness])
    return Mail(app, transport, witness, scenario, clock)


@pytest.fixture
def mail(backend: MemoryBackend, clock: FrozenClock, scenario: Scenario) -> Mail:
    return _mail(backend, clock, scenario, mail_attempts=3)


def _deliveries(mail: Mail) -> list[tuple[EmailState, int]]:
    return [(e.state, e.attempts) for e in mail.witness.events if isinstance(e, EmailDelivery)]


# -- attempts are capped: the dead letter ---------------------------------------------------


def test_an_email_refused_at_every_attempt_ends_dead_and_a_manager_requeues_it(
    mail: Mail,
) -> None:
    mail.transport.answer = BackendError("SMTP: 554 5.7.1 Rejected")
    email_id = mail.send_coupon()
    assert (mail.email(email_id).state, mail.email(email_id).attempts) == (EmailState.FAILED, 1)
    (second,) = mail.app.outbox.retry(actor=mail.manager)
    assert (second.state, second.attempts) == (EmailState.FAILED, 2)
    (dead,) = mail.app.outbox.retry(actor=mail.manager)  # the third attempt: the last
    assert (dead.state, dead.attempts) == (EmailState.DEAD, 3)
    assert dead.last_error == "BackendError: SMTP: 554 5.7.1 Rejected"
    assert _deliveries(mail) == [
        (EmailState.FAILED, 1),
        (EmailState.FAILED, 2),
        (EmailState.DEAD, 3),
    ]

    # set aside: listed as dead, not pending, never retried
    assert mail.app.outbox.emails(state=EmailState.DEAD, actor=mail.manager) == (dead,)
    assert mail.app.outbox.emails(state="dead", actor=mail.manager) == (dead,)
    assert mail.app.outbox.emails(pending_only=True, actor=mail.manager) == ()
    mail.clock.advance(days=1)
    assert mail.app.outbox.retry(actor=mail.manager, stale_after=timedelta(0)) == ()
    assert len(mail.transport.handed) == 3
    trail = mail.app.tickets.view(mail.scenario.ticket.id, actor=mail.scenario.actors.agent)
    assert "was not delivered after 3 attempts" in trail.trail[0].body
    assert "until a manager requeues it" in trail.trail[0].body

    requeued = mail.app.outbox.requeue(email_id, actor=mail.manager)
    assert (requeued.state, requeued.attempts) == (EmailState.FAILED, 0)
    (entry,) = [e for e in mail.app.hooks.audit_list() if e.action == "email requeued"]
    assert entry.actor_id == mail.manager.user_id
    assert entry.document_ids == (email_id,)
    mail.transport.answer = True
    (sent,) = mail.app.outbox.retry(actor=mail.manager)
    assert (sent.state, sent.attempts, sent.last_error) == (EmailState.SENT, 1, "")
    assert sent.accepted == sent.recipients


def test_a_requeue_of_what_is_not_dead_is_refused_and_changes_nothing(mail: Mail) -> None:
    email_id = mail.send_coupon()
    before = mail.app.outbox.emails(actor=mail.manager)
    with pytest.raises(InvalidState, match="only a dead email is requeued"):
        mail.app.outbox.requeue(email_id, actor=mail.manager)
    with pytest.raises(NotFound):
        mail.app.outbox.requeue("mail-404", actor=mail.manager)
    with pytest.raises(AccessDenied):
        mail.app.outbox.requeue(email_id, actor=mail.scenario.actors.agent)
    assert mail.app.outbox.emails(actor=mail.manager) == before


def test_outbox_arguments_are_checked() -> None:
    app = AfterSales(MemoryBackend())
    system = Actor.system()
    with pytest.raises(InvalidInput) as caught:
        app.outbox.emails(state="lost", actor=system)
    assert caught.value.field == "state"
    assert "pending, sending, sent, failed, dead" in str(caught.value)
    with pytest.raises(InvalidInput, match="not both"):
        app.outbox.emails(pending_only=True, state=EmailState.DEAD, actor=system)
    with pytest.raises(NotFound):
        app.outbox.email("mail-404", actor=system)
    bad_settings: tuple[tuple[str, object], ...] = (
        ("mail_attempts", 0),
        ("mail_lease", timedelta(0)),
        ("mail_lease", 60),
    )
    for option, value in bad_settings:
        with pytest.raises(InvalidInput) as bad:
            Config(**{option: value})  # type: ignore[arg-type]
        assert bad.value.field == option


# -- partial delivery -----------------------------------------------------------------------


def test_a_recipient_refused_for_good_is_recorded_and_nobody_gets_it_twice(mail: Mail) -> None:
    mail.transport.answer = DeliveryReport({"marta@example.com": "550 5.1.1 no such user"})
    email_id = mail.send_coupon()
    sent = mail.email(email_id)
    assert sent.state is EmailState.SENT
    assert (sent.accepted, sent.refused) == (("ana@perez.example",), ("marta@example.com",))
    (event,) = [e for e in mail.witness.events if isinstance(e, EmailDelivery)]
    assert (event.accepted, event.refused, event.state) == (
        ("ana@perez.example",),
        ("marta@example.com",),
        EmailState.SENT,
    )
    assert event.error == "refused: marta@example.com (550 5.1.1 no such user)"
    (entry,) = [e for e in mail.app.hooks.audit_list() if e.action == "email refused"]
    assert entry.document_ids == (email_id,)
    mail.clock.advance(hours=1)
    assert mail.app.outbox.retry(actor=mail.manager, stale_after=timedelta(0)) == ()
    assert len(mail.transport.handed) == 1


def test_a_recipient_refused_for_now_is_retried_alone(mail: Mail) -> None:
    mail.transport.answer = DeliveryReport({}, deferred={"marta@example.com": "451 later"})
    email_id = mail.send_coupon()
    failed = mail.email(email_id)
    assert (failed.state, failed.accepted, failed.undelivered) == (
        EmailState.FAILED,
        ("ana@perez.example",),
        ("marta@example.com",),
    )
    (retried,) = mail.app.outbox.retry(actor=mail.manager)  # deferred again
    assert (retried.state, retried.attempts) == (EmailState.FAILED, 2)
    assert retried.accepted == ("ana@perez.example",)
    mail.transport.answer = True
    (sent,) = mail.app.outbox.retry(actor=mail.manager)
    assert (sent.state, sent.attempts) == (EmailState.SENT, 3)
    assert sent.accepted == ("ana@perez.example", "marta@example.com")
    handed = [e.undelivered for e in mail.transport.handed]
    assert handed == [
        ("ana@perez.example", "marta@example.com"),
        ("marta@example.com",),
        ("marta@example.com",),
    ]


def test_every_recipient_refused_for_now_is_unavailable_and_retried(mail: Mail) -> None:
    mail.transport.answer = DeliveryReport(
        {}, deferred={"ana@perez.example": "451 later", "marta@example.com": "452 full"}
    )
    email_id = mail.send_coupon()
    failed = mail.email(email_id)
    assert failed.state is EmailState.FAILED
    assert failed.last_error.startswith(
        "BackendUnavailable: the mail transport refused every recipient"
    )
    assert (failed.accepted, failed.refused) == ((), ())
    mail.transport.answer = DeliveryReport(
        {"ana@perez.example": "550 no", "marta@example.com": "550 no"}
    )
    (again,) = mail.app.outbox.retry(actor=mail.manager)
    assert again.last_error.startswith("BackendError: the mail transport refused every")
    assert again.undelivered == again.recipients  # nobody recorded as done: still retried


# -- claims and their lease -----------------------------------------------------------------


def _failed_email(mail: Mail) -> OutgoingEmail:
    mail.transport.answer = BackendUnavailable("SMTP down")
    email_id = mail.send_coupon()
    mail.transport.answer = True
    mail.transport.handed.clear()
    return mail.email(email_id)


def test_a_claimed_email_is_left_alone_until_its_lease_runs_out(mail: Mail) -> None:
    failed = _failed_email(mail)
    held = claim(mail.app.runtime, failed.id, cutoff=mail.clock.now())
    assert held is not None
    assert (held.state, held.lease_until) == (
        EmailState.SENDING,
        mail.clock.now() + timedelta(minutes=10),
    )
    assert claim(mail.app.runtime, failed.id, cutoff=mail.clock.now()) is None
    # another run, however short its stale_after, does not take it from its holder
    assert mail.app.outbox.retry(actor=mail.manager, stale_after=timedelta(0)) == ()
    mail.clock.advance(minutes=9, seconds=59)
    assert mail.app.outbox.retry(actor=mail.manager, stale_after=timedelta(0)) == ()
    assert mail.transport.handed == []

    mail.clock.advance(seconds=1)  # the holder stopped half-way: the lease has run out
    (sent,) = mail.app.outbox.retry(actor=mail.manager)
    assert (sent.state, sent.attempts, sent.claim) == (EmailState.SENT, 2, None)
    # the first holder comes back late: its outcome is not recorded over the other's
    late = mail.app.runtime.deliver(held)
    assert late.state is EmailState.SENT
    assert mail.email(failed.id) == sent


def test_the_lease_is_a_setting(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    mail = _mail(backend, clock, scenario, mail_lease=timedelta(seconds=30))
    failed = _failed_email(mail)
    held = claim(mail.app.runtime, failed.id, cutoff=clock.now())
    assert held is not None and held.lease_until == clock.now() + timedelta(seconds=30)
    clock.advance(seconds=30)
    (sent,) = mail.app.outbox.retry(actor=mail.manager)
    assert sent.state is EmailState.SENT


@pytest.fixture(params=["new_sqlite", "new_postgres"], ids=["SQLite", "PostgreSQL"])
def database_url(request: pytest.FixtureRequest) -> str:
    make: Callable[[], str] = request.getfixturevalue(request.param)
    return make()


def test_two_retry_processes_send_each_email_once(database_url: str) -> None:
    """Two processes retry the same outbox at the same moment: every email is handed to
    a transport exactly once, and each is recorded SENT after one more attempt."""
    backend = SqlBackend(database_url)
    try:
        app = AfterSales(backend, clock=FrozenClock(START))
        emails = [
            OutgoingEmail(
                id=f"mail-{n:02d}",
                recipients=(f"customer{n}@example.com",),
                subject="Your coupon",
                text_body="Hello",
                html_body="<p>Hello</p>",
                created_at=app.clock.now(),
                state=EmailState.FAILED,
                attempts=1,
                last_error="BackendUnavailable: SMTP down",
            )
            for n in range(40)
        ]

        def enqueue(_uow: object) -> None:
            for email in emails:
                app.hooks.mail_enqueue(email)

        app.runtime.write(enqueue)
    finally:
        backend.close()

    factory = partial(SqlBackend, database_url)
    first, second = run_processes(retry_outbox, [(factory, START)] * 2)
    assert sorted(first + second) == [e.id for e in emails]  # all of them, none twice

    backend = SqlBackend(database_url)
    try:
        outbox = AfterSales(backend).outbox.emails(actor=Actor.system())
        assert {(e.state, e.attempts, e.claim) for e in outbox} == {(EmailState.SENT, 2, None)}
        assert len(outbox) == len(emails)
    finally:
        backend.close()
