"""RL-1, RL-2, RL-3 across processes on SQLite and PostgreSQL, through the real services.

Several worker processes open the same database and call the services at the same moment:
refunds of one invoice and returns of one delivery never go past their caps, coupon codes
and repair references stay unique, redemptions stop at the program's limit, one
idempotency key is used once, and a process that dies in the middle of a call leaves
nothing behind.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from aftersales import AfterSales, FrozenClock
from aftersales.backends.sql import SCHEMA_VERSION, SqlBackend
from aftersales.backends.sql.schema import build_metadata
from aftersales.models import (
    CouponState,
    CreditMethod,
    InvoiceState,
    Money,
    PaymentState,
    PickingState,
)
from aftersales.testing import assert_unchanged, build_scenario
from aftersales.testing.conformance.processes import (
    DIED,
    WorkerPool,
    configure_with_key,
    create_coupons_and_repairs,
    die_while_refunding,
    open_at_once,
    redeem_codes,
    refund_in_steps,
    return_in_steps,
    run_to_exit,
)
from aftersales.testing.scenario import AGENT, MANAGER, Scenario
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow

WORKERS = 3
START = "2026-11-28T09:00:00+00:00"

DB_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    """Worker processes shared by the tests of this module (spawning is the slow part)."""
    with WorkerPool(WORKERS) as workers:
        yield workers


@pytest.fixture(params=DB_KINDS)
def new_url(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Makes migrated databases of one kind (copies of a template)."""
    fixture = "new_sqlite" if request.param == "sqlite" else "new_postgres"
    maker: Callable[[], str] = request.getfixturevalue(fixture)
    return maker


@pytest.fixture
def url(new_url: Callable[[], str]) -> str:
    return new_url()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def backend(url: str) -> Iterator[SqlBackend]:
    opened = SqlBackend(url)
    yield opened
    opened.close()


@pytest.fixture
def world(backend: SqlBackend, clock: FrozenClock) -> Scenario:
    return build_scenario(backend.builder(clock))


@pytest.fixture
def app(backend: SqlBackend, clock: FrozenClock) -> AfterSales:
    return AfterSales(backend, clock=clock)


def _factory(url: str) -> Callable[[], SqlBackend]:
    return functools.partial(SqlBackend, url)


@pytest.fixture(params=DB_KINDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database with no schema at all."""
    if request.param == "sqlite":
        return str(tmp_path / "new.db")
    server: PostgresServer = request.getfixturevalue("aftersales_postgres")
    return server.create_database()


def test_processes_opening_a_new_database_migrate_it_once(pool: WorkerPool, empty_url: str) -> None:
    pool.run(open_at_once, [(_factory(empty_url),)] * WORKERS)
    backend = SqlBackend(empty_url, migrate=False)
    try:
        versions = build_metadata(1).tables["schema_version"]
        with backend.db.connection(writes=False) as conn:
            applied = conn.execute(sa.select(versions.c.version)).scalars().all()
        assert sorted(applied) == list(range(1, SCHEMA_VERSION + 1))
    finally:
        backend.close()


def test_rl3_rf7_processes_refunding_one_invoice_never_exceed_it(
    pool: WorkerPool, url: str, backend: SqlBackend, world: Scenario, app: AfterSales
) -> None:
    """Six kettles (6 × 24.20 = 145.20) and nine attempts to credit one each: exactly six
    credit notes are posted, numbered without gaps, and the invoice ends reversed."""
    invoice = backend.builder(app.clock).invoice(customer=world.customer, lines=[(world.kettle, 6)])
    assert invoice.total == Money.of("145.20", "EUR")
    args = (_factory(url), START, world.ticket.id, invoice.id, 3)
    numbers = sorted(n for batch in pool.run(refund_in_steps, [args] * WORKERS) for n in batch)
    assert numbers == [f"RINV/2026/{n:05d}" for n in range(1, 7)]
    after = app.hooks.get_invoice(invoice.id)
    assert (after.payment_state, after.residual) == (
        PaymentState.REVERSED,
        Money.of("0.00", "EUR"),
    )
    notes = backend.ledger.credit_notes([invoice.id])
    assert [n.state for n in notes] == [InvoiceState.POSTED] * 6
    assert Money.sum((n.total for n in notes), "EUR") == invoice.total


def test_rl3_rt5_processes_returning_one_delivery_never_exceed_it(
    pool: WorkerPool, url: str, backend: SqlBackend, world: Scenario, app: AfterSales
) -> None:
    delivery = backend.builder(app.clock).delivery(
        customer=world.customer, lines=[(world.kettle, 6)]
    )
    move = delivery.moves[0].id
    args = (_factory(url), START, world.ticket.id, delivery.id, move, 3)
    refs = sorted(r for batch in pool.run(return_in_steps, [args] * WORKERS) for r in batch)
    assert refs == [f"WH/RET/{n:05d}" for n in range(1, 7)]
    returns = app.hooks.list_returns(delivery.id)
    assert [r.state for r in returns] == [PickingState.DONE] * 6
    assert sum(m.quantity for r in returns for m in r.moves) == Decimal(6)
    assert app.tickets.view(world.ticket.id, actor=AGENT).counts.returns == 6


def test_rl3_cp5_rp7_coupon_codes_and_repair_references_stay_unique(
    pool: WorkerPool, url: str, world: Scenario, app: AfterSales
) -> None:
    """Twelve coupons drawn from only 24 possible codes, and twelve repair orders, made by
    three processes at once: every code and every reference is different, and each
    document is linked once."""
    args = (_factory(url), START, world.ticket.id, world.program.id, 4)
    batches = pool.run(create_coupons_and_repairs, [args] * WORKERS)
    codes = [code for batch_codes, _ in batches for code in batch_codes]
    references = sorted(ref for _, batch_refs in batches for ref in batch_refs)
    assert len(codes) == len(set(codes)) == 12
    assert references == [f"RO/{n:05d}" for n in range(1, 13)]
    view = app.tickets.view(world.ticket.id, actor=AGENT)
    assert (view.counts.coupons, view.counts.repairs) == (12, 12)
    assert sorted(c.code for c in app.coupons.coupons(world.ticket.id, actor=AGENT)) == sorted(
        codes
    )


def test_rl3_cp9_processes_redeeming_never_exceed_the_limit(
    pool: WorkerPool, url: str, backend: SqlBackend, world: Scenario, app: AfterSales
) -> None:
    program = backend.builder(app.clock).coupon_program(name="Three uses", max_usage=3)
    codes = [app.coupons.generate(world.ticket.id, program.id, actor=AGENT).code for _ in range(6)]
    args = [(_factory(url), START, codes[i::WORKERS]) for i in range(WORKERS)]
    assert sum(pool.run(redeem_codes, args)) == 3
    assert app.hooks.count_uses(program.id) == 3
    states = [c.state for c in app.coupons.coupons(world.ticket.id, actor=AGENT)]
    assert sorted(states) == sorted([CouponState.USED] * 3 + [CouponState.EXPIRED] * 3)


def test_rl2_an_idempotency_key_is_saved_once_across_processes(pool: WorkerPool, url: str) -> None:
    backend = SqlBackend(url)
    world = backend.builder()
    world.install("account", "sale_management", "helpdesk_sale", "helpdesk_account")
    team = world.team(name="Support")
    backend.close()
    results = pool.run(configure_with_key, [(_factory(url), team.id, "cfg-once")] * WORKERS)
    assert len(set(results)) == 1
    assert json.loads(results[0])["team"]["services"] == ["refunds"]
    backend = SqlBackend(url)
    try:
        snapshot = backend.snapshot()
        assert list(snapshot["idempotency_keys"]) == [(MANAGER.user_id, "cfg-once")]
        configured = [e for e in snapshot["audit"].values() if e["action"].startswith("team after")]
        assert len(configured) == 1
        assert AfterSales(backend).hooks.get_team(team.id).services == {"refunds"}
    finally:
        backend.close()


def test_rl1_a_process_dying_in_the_middle_of_a_call_leaves_nothing(
    url: str, backend: SqlBackend, world: Scenario, app: AfterSales
) -> None:
    """The worker ends its process after the credit note was posted and matched and a
    number drawn, before the commit: the database is as before, and usable at once."""
    with assert_unchanged(backend):
        code = run_to_exit(
            die_while_refunding, (_factory(url), START, world.ticket.id, world.invoice.id)
        )
    assert code == DIED
    done = app.refunds.reverse(
        world.ticket.id, world.invoice.id, method=CreditMethod.FULL, actor=AGENT
    )
    assert done.credit_note.number == "RINV/2026/00001"
