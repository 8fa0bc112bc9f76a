"""RL-3 across processes on SQLite and PostgreSQL: numbers, codes and keys stay unique."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from aftersales import AfterSales
from aftersales.backends.sql import SqlBackend
from aftersales.models import Money
from aftersales.testing.conformance.processes import (
    configure_with_key,
    create_unique_documents,
    refund_under_cap,
    run_processes,
)
from aftersales.testing.postgres import PostgresServer

WORKERS = 3

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    server: PostgresServer = request.getfixturevalue("aftersales_postgres")
    return server.create_database()


def test_rl3_processes_refunding_one_invoice_never_exceed_it(url: str) -> None:
    """Workers open the database at once and refund one invoice in steps, each step in a
    unit that locks the invoice: the residual reaches zero exactly, never below, and the
    credit-note numbers are unique and gapless."""
    backend = SqlBackend(url)
    world = backend.builder()
    kettle = world.product(name="Kettle", price=Decimal("20.00"))
    invoice = world.invoice(customer=world.customer(name="Ana"), lines=[(kettle, 6)])
    backend.close()
    assert invoice.residual == Money(amount=Decimal("120.00"), currency="EUR")
    factory = functools.partial(SqlBackend, url)
    batches = run_processes(refund_under_cap, [(factory, invoice.id, "10.00", 6)] * WORKERS)
    numbers = sorted(n for batch in batches for n in batch)
    assert numbers == list(range(1, 13))
    backend = SqlBackend(url)
    try:
        stored = AfterSales(backend).hooks.get_invoice(invoice.id)
        assert stored.residual == Money(amount=Decimal("0.00"), currency="EUR")
    finally:
        backend.close()


def test_rl3_cp5_rp7_codes_and_references_stay_unique_across_processes(url: str) -> None:
    backend = SqlBackend(url)
    program = backend.builder().coupon_program(name="Apology")
    backend.close()
    factory = functools.partial(SqlBackend, url)
    outcomes = run_processes(
        create_unique_documents, [(factory, program.id, "SORRY-1", "RO/00001")] * WORKERS
    )
    for kind in (0, 1):
        assert sorted(o[kind] for o in outcomes) == ["created"] + ["duplicate"] * (WORKERS - 1)
    backend = SqlBackend(url)
    try:
        snapshot = backend.snapshot()
        assert [c["code"] for c in snapshot["coupons"].values()] == ["SORRY-1"]
        assert [r["reference"] for r in snapshot["repairs"].values()] == ["RO/00001"]
    finally:
        backend.close()


def test_rl2_an_idempotency_key_is_saved_once_across_processes(url: str) -> None:
    backend = SqlBackend(url)
    world = backend.builder()
    world.install("account", "sale_management", "helpdesk_sale", "helpdesk_account")
    team = world.team(name="Support")
    backend.close()
    factory = functools.partial(SqlBackend, url)
    results = run_processes(configure_with_key, [(factory, team.id, "cfg-once")] * WORKERS)
    assert len(set(results)) == 1
    assert json.loads(results[0])["team"]["services"] == ["refunds"]
    backend = SqlBackend(url)
    snapshot = backend.snapshot()
    assert list(snapshot["idempotency"]) == ["cfg-once"]
    configured = [e for e in snapshot["audit"].values() if e["action"].startswith("team after")]
    assert len(configured) == 1
    app = AfterSales(backend)
    assert app.hooks.get_team(team.id).services == {"refunds"}
    backend.close()
