"""RL-3 across processes on SQLite and PostgreSQL: numbers, codes and keys stay unique."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from aftersales import AfterSales
from aftersales.backends.sql import SqlBackend
from aftersales.testing.conformance.processes import (
    configure_with_key,
    create_coupon_with_code,
    draw_numbers,
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


def test_rl3_processes_opening_a_new_database_draw_unique_numbers(url: str) -> None:
    """All workers open the empty database at once (the migration runs once), then draw
    numbers of one sequence concurrently: no number is given twice, none is skipped."""
    factory = functools.partial(SqlBackend, url)
    batches = run_processes(draw_numbers, [(factory, "RINV/2026", 10)] * WORKERS)
    numbers = sorted(n for batch in batches for n in batch)
    assert numbers == list(range(1, WORKERS * 10 + 1))
    backend = SqlBackend(url)
    assert backend.snapshot()["sequences"] == {"RINV/2026": {"code": "RINV/2026", "value": 40}}
    backend.close()


def test_rl3_cp5_one_coupon_code_is_created_by_exactly_one_process(url: str) -> None:
    backend = SqlBackend(url)
    program = backend.builder().coupon_program(name="Apology")
    backend.close()
    factory = functools.partial(SqlBackend, url)
    outcomes = run_processes(create_coupon_with_code, [(factory, program.id, "SORRY-1")] * WORKERS)
    assert sorted(outcomes) == ["created"] + ["duplicate"] * (WORKERS - 1)
    backend = SqlBackend(url)
    assert next(iter(backend.snapshot()["coupons"].values()))["code"] == "SORRY-1"
    assert len(backend.snapshot()["coupons"]) == 1
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
