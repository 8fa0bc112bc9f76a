"""The reference ERP's stock: returns carry their operation reference, and return names are
drawn from a sequence that takes no row lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.backends.sql.ledger import sequence_name
from aftersales.errors import ConflictError
from aftersales.models import PickingState
from aftersales.testing.scenario import AGENT, Scenario, build_scenario
from aftersales.unit_of_work import operation_reference

NOW = "2026-11-28T09:00:00+00:00"


# -- references (point 3) ----------------------------------------------------------------------


def test_every_stock_write_leaves_its_reference_on_the_return(
    app: AfterSales, scenario: Scenario
) -> None:
    delivery, ticket = scenario.delivery, scenario.ticket
    blender = delivery.moves[0].id
    made = app.returns.create(
        ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT, idempotency_key="ret-1"
    )
    ref = operation_reference(AGENT.user_id, "ret-1")
    assert made.operation_ref == ref
    found = app.runtime.read(lambda _uow: list(app.hooks.find_pickings_by_reference(ref)))
    assert found == [made]
    done = app.returns.validate(made.id, actor=AGENT, idempotency_key="ret-2")
    assert done.operation_ref == operation_reference(AGENT.user_id, "ret-2")
    assert app.runtime.read(lambda _uow: list(app.hooks.find_pickings_by_reference(ref))) == []
    other = app.returns.create(ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT)
    cancelled = app.returns.cancel(other.id, actor=AGENT)
    assert cancelled.state is PickingState.CANCELLED
    assert cancelled.operation_ref not in (None, other.operation_ref, done.operation_ref)


# -- numbering without a row lock (point 6) ---------------------------------------------------


def test_memory_draws_continue_the_counter_and_roll_back() -> None:
    backend = MemoryBackend()
    app = AfterSales(backend, clock=FrozenClock(NOW))
    assert app.runtime.write(lambda _uow: backend.ledger.next_number("RO")) == 1
    assert app.runtime.write(lambda _uow: backend.ledger.draw("RO")) == 2

    def fail(_uow: object) -> None:
        backend.ledger.draw("RO")
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        app.runtime.write(fail)
    assert app.runtime.write(lambda _uow: backend.ledger.draw("RO")) == 3


def test_a_sequence_name_is_a_safe_identifier_per_name() -> None:
    assert sequence_name("WH/RET").startswith("aftersales_seq_wh_ret_")
    assert sequence_name("WH/RET") != sequence_name("wh-ret")
    long = sequence_name("x" * 64 + 'é/"; DROP')
    assert len(long) <= 63
    assert long.replace("_", "").isalnum()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql(request: pytest.FixtureRequest) -> Iterator[SqlBackend]:
    fixture = "new_sqlite" if request.param == "sqlite" else "new_postgres"
    make: Callable[[], str] = request.getfixturevalue(fixture)
    backend = SqlBackend(make(), lock_timeout=2)
    yield backend
    backend.close()


def test_sql_draws_continue_what_next_number_gave(sql: SqlBackend) -> None:
    app = AfterSales(sql, clock=FrozenClock(NOW))
    given = [app.runtime.write(lambda _uow: sql.ledger.next_number("RO")) for _ in range(3)]
    assert given == [1, 2, 3]
    assert [app.runtime.write(lambda _uow: sql.ledger.draw("RO")) for _ in range(2)] == [4, 5]
    assert app.runtime.write(lambda _uow: sql.ledger.draw("NEW")) == 1


def test_returns_are_named_from_the_sequence(sql: SqlBackend) -> None:
    clock = FrozenClock(NOW)
    app = AfterSales(sql, clock=clock)
    scenario = build_scenario(sql.builder(clock))
    blender = scenario.delivery.moves[0].id
    names = [
        app.returns.create(
            scenario.ticket.id, scenario.delivery.id, {blender: Decimal(1)}, actor=AGENT
        ).reference
        for _ in range(2)
    ]
    assert names == ["WH/RET/00001", "WH/RET/00002"]


class _Held:
    """A unit run in a thread: it draws, then stays open until `release` is set."""

    def __init__(self, app: AfterSales, draw: Callable[[], int]) -> None:
        self.drawn, self.release = threading.Event(), threading.Event()
        self.seen: dict[str, object] = {}

        def hold(_uow: object) -> None:
            self.seen["first"] = draw()
            self.drawn.set()
            assert self.release.wait(timeout=30), "never released"

        def run() -> None:
            try:
                app.runtime.write(hold)
            except BaseException as exc:  # reported by the test through `seen`
                self.seen["error"] = exc
                self.drawn.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.drawn.wait(timeout=30)

    def end(self) -> None:
        self.release.set()
        self.thread.join(timeout=30)


@pytest.mark.postgres
def test_postgres_units_drawing_from_one_sequence_do_not_wait(
    new_postgres: Callable[[], str],
) -> None:
    backend = SqlBackend(new_postgres(), lock_timeout=2)
    try:
        app = AfterSales(backend, clock=FrozenClock(NOW))
        held = _Held(app, lambda: backend.ledger.draw("WH/RET"))
        try:
            # another unit draws and commits while the first one is still open
            assert app.runtime.write(lambda _uow: backend.ledger.draw("WH/RET")) == 2
        finally:
            held.end()
        assert held.seen == {"first": 1}
        assert app.runtime.write(lambda _uow: backend.ledger.draw("WH/RET")) == 3
    finally:
        backend.close()


@pytest.mark.postgres
def test_postgres_the_gap_free_series_does_wait(new_postgres: Callable[[], str]) -> None:
    """The same on `next_number()`, whose row lock is held to the end of the unit: the
    second unit runs out of `lock_timeout`, so the test above would catch a locking draw."""
    backend = SqlBackend(new_postgres(), lock_timeout=0.5)
    try:
        app = AfterSales(backend, clock=FrozenClock(NOW))
        held = _Held(app, lambda: backend.ledger.next_number("RINV"))
        try:
            with pytest.raises(ConflictError):
                app.runtime.write(lambda _uow: backend.ledger.next_number("RINV"))
        finally:
            held.end()
        assert held.seen == {"first": 1}
    finally:
        backend.close()


@pytest.mark.postgres
def test_postgres_reset_restarts_the_sequences(new_postgres: Callable[[], str]) -> None:
    backend = SqlBackend(new_postgres())
    try:
        app = AfterSales(backend, clock=FrozenClock(NOW))
        assert [app.runtime.write(lambda _uow: backend.ledger.draw("WH/RET")) for _ in "ab"] == [
            1,
            2,
        ]
        backend.reset()
        assert app.runtime.write(lambda _uow: backend.ledger.draw("WH/RET")) == 1
    finally:
        backend.close()
