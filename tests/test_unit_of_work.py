"""The unit of work (RL-1, RL-2): all or nothing, events and emails only after commit."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Generator
from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from aftersales import AfterSales, FrozenClock, hookimpl
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import BackendError, ConflictError, IdempotencyConflict
from aftersales.ids import new_id
from aftersales.models import (
    DocumentCreated,
    DocumentKind,
    EmailDelivery,
    EmailState,
    Invoice,
    InvoiceDraft,
    OutgoingEmail,
    Service,
    Team,
)
from aftersales.testing import Scenario, Witness, assert_unchanged
from aftersales.testing.scenario import AGENT
from aftersales.unit_of_work import UnitOfWork

NOW = "2026-11-28T09:00:00+00:00"


class Boom(RuntimeError):
    pass


class FailingSaves:
    """Makes the ERP's invoice creation raise (fault injection in the middle of a unit)."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl(wrapper=True)
    def aftersales_accounting_create_invoice(
        self, draft: InvoiceDraft, reference: str
    ) -> Generator[None, Invoice, Invoice]:
        yield from ()  # a wrapper (it owns no port) that fails before the call
        self.calls += 1
        raise Boom("disk on fire")


def email(now: datetime) -> OutgoingEmail:
    return OutgoingEmail(
        id=new_id("mail"),
        recipients=("ana@example.com",),
        subject="Hello",
        text_body="Hi",
        html_body="<p>Hi</p>",
        created_at=now,
    )


def test_rl1_a_failing_hook_in_the_middle_leaves_the_store_exactly_as_before(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    recorder = Witness()
    app = AfterSales(backend, clock=clock, plugins=[recorder, FailingSaves()])
    with assert_unchanged(backend), pytest.raises(Boom), app.runtime.unit(writes=True) as uow:
        app.hooks.save_team(attrs.evolve(scenario.team, name="Renamed"))
        backend.ledger.next_number("RINV/2026")
        uow.send(email(uow.now))
        uow.record(
            DocumentCreated(
                at=uow.now,
                actor_id="a",
                ticket_id=scenario.ticket.id,
                kind=DocumentKind.COUPON,
                document_id="c-1",
            )
        )
        invoice = scenario.invoice
        draft = InvoiceDraft(
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            lines=invoice.lines,
            at=uow.now,
        )
        app.hooks.create_invoice(draft, uow.reference)  # raises
        uow.commit()
    assert recorder.events == []
    assert backend.delivered == []


def test_rl1_leaving_without_commit_rolls_back(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario
) -> None:
    with assert_unchanged(backend), app.runtime.unit(writes=True):
        app.hooks.save_team(attrs.evolve(scenario.team, name="Renamed"))
        backend.ledger.next_number("X")


def test_rl1_events_and_emails_leave_only_after_commit(
    backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    recorder = Witness()
    app = AfterSales(backend, clock=clock, plugins=[recorder])
    with app.runtime.unit(writes=True) as uow:
        sent = uow.send(email(uow.now))
        created = DocumentCreated(
            at=uow.now,
            actor_id="a",
            ticket_id=scenario.ticket.id,
            kind=DocumentKind.COUPON,
            document_id="c-1",
        )
        uow.record(created)
        assert recorder.quiet and backend.delivered == []
        uow.commit()
    # the call's events, then the outcome of its email's delivery
    assert recorder.events[0] == created
    assert [(type(e), getattr(e, "email_id", None)) for e in recorder.events[1:]] == [
        (EmailDelivery, sent.id)
    ]
    assert [m.id for m in recorder.emails] == [sent.id]
    assert [m.id for m in backend.delivered] == [sent.id]
    outbox = app.hooks.mail_list_outbox(pending_only=False)
    assert [(m.state, m.attempts) for m in outbox] == [(EmailState.SENT, 1)]


def test_a_failing_subscriber_is_logged_and_does_not_stop_the_others(
    backend: MemoryBackend, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def aftersales_on_document_created(self, event: DocumentCreated) -> None:
            raise Boom("subscriber bug")

    recorder = Witness()
    app = AfterSales(backend, clock=clock, plugins=[recorder, Broken()])
    with caplog.at_level(logging.ERROR), app.runtime.unit(writes=True) as uow:
        uow.record(
            DocumentCreated(
                at=uow.now, actor_id="a", ticket_id="t", kind=DocumentKind.TASK, document_id="x"
            )
        )
        uow.commit()
    assert len(recorder.events) == 1
    assert "subscriber" in caplog.text and "failed" in caplog.text


def test_a_failed_delivery_is_kept_in_the_outbox_for_retry(
    backend: MemoryBackend, clock: FrozenClock
) -> None:
    class DownSmtp:
        @hookimpl(tryfirst=True)
        def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
            raise ConnectionRefusedError("smtp down")

    app = AfterSales(backend, clock=clock, plugins=[DownSmtp()])
    with app.runtime.unit(writes=True) as uow:
        uow.send(email(uow.now))
        uow.commit()
    [kept] = app.hooks.mail_list_outbox(pending_only=True)
    assert kept.state is EmailState.FAILED and "smtp down" in kept.last_error
    assert backend.delivered == []


def test_rl2_replay_returns_the_first_result_and_conflicts_on_other_arguments(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario
) -> None:
    def rename(name: str) -> Team:
        def work(uow: UnitOfWork) -> Team:
            done = uow.replay("key-1", "test.rename", {"name": name}, Team)
            if done is not None:
                return done
            return app.hooks.save_team(
                attrs.evolve(app.hooks.get_team(scenario.team.id), name=name)
            )

        return app.runtime.write(work, actor=AGENT)

    first = rename("Once")
    with assert_unchanged(backend):
        assert rename("Once") == first
    with assert_unchanged(backend), pytest.raises(IdempotencyConflict, match="different arguments"):
        rename("Twice")

    def other(uow: UnitOfWork) -> None:
        uow.replay("key-1", "test.other", {"name": "Once"}, Team)

    with (
        assert_unchanged(backend),
        pytest.raises(IdempotencyConflict, match=r"was used for test\.rename"),
    ):
        app.runtime.write(other, actor=AGENT)


def test_rl5_conflicts_are_retried_a_bounded_number_of_times(
    backend: MemoryBackend, app: AfterSales
) -> None:
    attempts: list[int] = []

    def flaky(uow: UnitOfWork) -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConflictError("busy")
        return backend.ledger.next_number("FLAKY")

    assert app.runtime.write(flaky) == 1  # the failed attempts gave their numbers back
    assert len(attempts) == 3

    def always(uow: UnitOfWork) -> None:
        raise ConflictError("still busy")

    with pytest.raises(ConflictError, match="still busy"):
        app.runtime.write(always)


def test_a_unit_cannot_commit_twice(app: AfterSales) -> None:
    with app.runtime.unit(writes=True) as uow:
        uow.commit()
        with pytest.raises(Exception, match="already ended"):
            uow.commit()


def test_units_on_threads_are_isolated_and_all_or_nothing(
    backend: MemoryBackend, app: AfterSales
) -> None:
    def take(n: int) -> None:
        def work(uow: UnitOfWork) -> None:
            number = backend.ledger.next_number("T")
            if n % 2:
                raise BackendError(f"odd {number}")

        with contextlib.suppress(BackendError):
            app.runtime.write(work)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert backend.snapshot()["sequences"]["T"] == 20  # only the committed units count, no gaps


def test_a_decimal_is_never_a_float_in_the_trail(scenario: Scenario) -> None:
    assert isinstance(scenario.invoice.total.amount, Decimal)
    assert Service.REFUNDS in scenario.team.services
