"""The pytest plugin's fixtures: one application per session, a reset backend per test."""

from __future__ import annotations

from typing import Any

import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.hookspecs import hookimpl
from aftersales.testing import Scenario
from aftersales.testing.plugin import START, TestSession


def _refund(app: AfterSales, scenario: Scenario) -> None:
    app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL,
        actor=scenario.actors.agent,
    )


def test_each_test_gets_the_same_application_over_a_reset_backend() -> None:
    session = TestSession()
    backend = session.backend()
    app = session.app()
    scenario = session.scenario()
    built = backend.snapshot()
    _refund(app, scenario)
    session.clock.advance(days=3)

    assert session.backend() is backend  # the next test
    assert session.app() is app
    assert backend.snapshot() == MemoryBackend().snapshot()
    assert session.clock.now() == FrozenClock(START).now()
    again = session.scenario()
    assert again is scenario
    assert backend.snapshot() == built
    _refund(app, again)  # the world is whole again: the invoice can be refunded anew


def test_a_test_that_changes_the_application_leaves_it_to_itself() -> None:
    class Listener:
        @hookimpl
        def aftersales_on_document_created(self, event: Any) -> None: ...

    session = TestSession()
    session.backend()
    app = session.app()
    app.pm.register(Listener())
    session.backend()
    assert session.app() is not app
    assert "Listener" not in str(session.app().plugins())

    changed = session.app()
    changed.repairs.renderers["text"] = lambda *_: b""
    session.backend()
    assert session.app() is not changed


def test_a_test_that_changes_the_backend_gets_a_new_one() -> None:
    session = TestSession()
    backend = session.backend()
    app = session.app()
    backend.extra = "set by a test"  # type: ignore[attr-defined]
    assert session.backend() is not backend
    assert session.app() is not app


def test_fixtures_share_the_session(
    aftersales_session: TestSession,
    aftersales_app: AfterSales,
    aftersales_backend: Any,
    aftersales_clock: FrozenClock,
) -> None:
    assert aftersales_backend is aftersales_session.backend_as_is()
    assert aftersales_clock is aftersales_session.clock
    assert aftersales_app is aftersales_session.app()
    assert aftersales_app.clock is aftersales_clock


@pytest.fixture
def other_backend() -> MemoryBackend:
    return MemoryBackend()


def test_another_backend_gets_its_own_application(
    aftersales_session: TestSession, aftersales_clock: FrozenClock, other_backend: MemoryBackend
) -> None:
    from aftersales.testing.plugin import aftersales_app

    app = aftersales_app.__wrapped__(aftersales_session, other_backend, aftersales_clock)  # type: ignore[attr-defined]
    assert app is not aftersales_session.app()
