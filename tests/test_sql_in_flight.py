"""RL-2 across processes: a retry made while the first call is still in its transaction
gets the first call's answer, on SQLite and PostgreSQL.

Process A makes a call under an idempotency key and is held inside its unit of work (its
work done, not committed) by a plugin; process B repeats the call with the same key. B must
wait for A and return A's result — not run the work again against A's finished work (which
the business rules would refuse: "already used", "only 0 available", "nothing left to pay").
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from aftersales import AfterSales, FrozenClock
from aftersales.backends.sql import SqlBackend
from aftersales.models import CreditMethod
from aftersales.testing import build_scenario
from aftersales.testing.conformance.processes import WorkerPool, call_with_key
from aftersales.testing.scenario import AGENT, Scenario

pytestmark = pytest.mark.slow

START = "2026-11-28T09:00:00+00:00"
DB_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as workers:
        yield workers


@pytest.fixture(params=DB_KINDS)
def url(request: pytest.FixtureRequest) -> str:
    fixture = "new_sqlite" if request.param == "sqlite" else "new_postgres"
    maker: Callable[[], str] = request.getfixturevalue(fixture)
    return maker()


@pytest.fixture
def backend(url: str) -> Iterator[SqlBackend]:
    opened = SqlBackend(url)
    yield opened
    opened.close()


@pytest.fixture
def app(backend: SqlBackend) -> AfterSales:
    return AfterSales(backend, clock=FrozenClock(START))


@pytest.fixture
def world(backend: SqlBackend) -> Scenario:
    return build_scenario(backend.builder(FrozenClock(START)))


def _waiting_on_a_lock(url: str, deadline: float) -> None:
    """Return once another session of the PostgreSQL database waits on a lock."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        with engine.connect() as conn:
            while conn.execute(query).scalar_one() == 0:
                if time.monotonic() > deadline:
                    raise AssertionError("the second call never waited for the first")
                conn.rollback()
                time.sleep(0.005)
    finally:
        engine.dispose()


def _twice_at_once(
    pool: WorkerPool, url: str, call: str, args: list[Any], kwargs: dict[str, Any]
) -> list[str]:
    """A makes ``call`` and is held before its commit; B repeats it meanwhile."""
    inside, release, calling = pool.event(), pool.event(), pool.event()
    factory = functools.partial(SqlBackend, url)
    common = (factory, START, call, args, kwargs, "retry-1")
    results: list[str] = []
    runner = threading.Thread(
        target=lambda: results.extend(
            pool.run(
                call_with_key,
                [(*common, (inside, release)), (*common, None, inside, calling)],
            )
        )
    )
    runner.start()
    try:
        assert calling.wait(60), "the second call did not start"
        if url.startswith("postgresql"):
            _waiting_on_a_lock(url, time.monotonic() + 60)
    finally:
        release.set()
        runner.join(120)
    assert len(results) == 2, "the workers did not finish"
    return results


def _same_answer(results: list[str]) -> dict[str, Any]:
    first, second = results
    assert first.startswith("ok "), first
    assert second == first, f"the retry did not get the first answer: {second}"
    answer: dict[str, Any] = json.loads(first[3:])
    return answer


def test_rl2_a_redeem_retried_in_flight_gets_the_first_answer(
    pool: WorkerPool, url: str, app: AfterSales, world: Scenario
) -> None:
    code = app.coupons.generate(world.ticket.id, world.program.id, actor=AGENT).code
    _same_answer(_twice_at_once(pool, url, "coupons.redeem", [code], {}))
    assert app.hooks.count_uses(world.program.id) == 1


def test_rl2_a_return_retried_in_flight_gets_the_first_answer(
    pool: WorkerPool, url: str, app: AfterSales, world: Scenario
) -> None:
    move = world.delivery.moves[0]
    args = [world.ticket.id, world.delivery.id, {move.id: move.quantity}]
    _same_answer(_twice_at_once(pool, url, "returns.create", args, {}))
    assert len(app.returns.returns(world.ticket.id, actor=AGENT)) == 1


@pytest.mark.parametrize("method", [CreditMethod.FULL, CreditMethod.PARTIAL])
def test_rl2_a_refund_retried_in_flight_gets_the_first_answer(
    pool: WorkerPool, url: str, app: AfterSales, world: Scenario, method: CreditMethod
) -> None:
    args = [world.ticket.id, world.invoice.id]
    _same_answer(_twice_at_once(pool, url, "refunds.reverse", args, {"method": method}))
    assert len(app.refunds.credit_notes(world.ticket.id, actor=AGENT)) == 1


def test_rl2_a_coupon_generation_retried_in_flight_gets_the_first_answer(
    pool: WorkerPool, url: str, app: AfterSales, world: Scenario
) -> None:
    answer = _same_answer(
        _twice_at_once(pool, url, "coupons.generate", [world.ticket.id, world.program.id], {})
    )
    [coupon] = app.coupons.coupons(world.ticket.id, actor=AGENT)
    assert coupon.code == answer["code"]


def test_rl2_a_call_whose_first_attempt_rolls_back_runs_once(
    app: AfterSales, world: Scenario
) -> None:
    """The key is claimed inside the unit of work: when the work fails, nothing of the claim
    remains and the next call with the key runs."""
    from aftersales.errors import InvalidInput

    move = world.delivery.moves[0]
    with pytest.raises(InvalidInput):
        app.returns.create(
            world.ticket.id,
            world.delivery.id,
            {move.id: Decimal(0)},
            actor=AGENT,
            idempotency_key="later",
        )
    made = app.returns.create(
        world.ticket.id,
        world.delivery.id,
        {move.id: Decimal(1)},
        actor=AGENT,
        idempotency_key="later",
    )
    assert made.moves[0].quantity == Decimal(1)
