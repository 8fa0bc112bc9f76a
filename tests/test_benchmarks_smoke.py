"""The benchmark cannot rot: its smoke mode runs with the suite (tiny sizes, no timing checks).

Nothing here asserts how fast anything is; the numbers are for ``python -m benchmarks``
and ``docs/performance.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks import floor, series
from benchmarks.backends import BACKENDS, BackendEntry, Session, Unavailable
from benchmarks.direct import DirectHooks, call_directly
from benchmarks.flows import FLOWS, SCALING, bulk_load, make_world
from benchmarks.harness import CALIBRATION, measure, stats
from benchmarks.run import SMOKE, TARGETS, check_targets, for_backend, render, run

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from tests.postgres import find_bindir

ROOT = Path(__file__).resolve().parents[1]


def _smoke(tmp: Path, *options: str) -> tuple[str, dict[str, Any]]:
    """One smoke run of the documented command, as a user would type it."""
    path = tmp / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(path), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    loaded: dict[str, Any] = json.loads(path.read_text())
    return result.stdout, loaded


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The memory and SQLite backends (PostgreSQL has its own test, below)."""
    stdout, loaded = _smoke(
        tmp_path_factory.mktemp("bench"), "--backend", "memory", "--backend", "sqlite"
    )
    assert "[memory] flows" in stdout
    assert "targets" in stdout
    return loaded


def test_the_smoke_run_measures_every_flow_through_hooks_and_directly(
    report: dict[str, Any],
) -> None:
    assert report["mode"] == "smoke"
    memory = report["backends"]["memory"]
    assert memory["available"] is True
    assert set(memory["flows"]) == {flow.name for flow in FLOWS}
    for flow in memory["flows"].values():
        for variant in ("hooks", "direct"):
            assert flow[variant]["iterations"] == SMOKE.iterations
            assert set(flow[variant]) >= {"median_us", "p99_us", "ops_per_s"}
        assert isinstance(flow["hook_ratio"], float)
        assert isinstance(flow["calibration_us"], float)


def test_the_smoke_run_measures_scaling_and_worker_processes(report: dict[str, Any]) -> None:
    memory = report["backends"]["memory"]
    assert memory["scaling"]["sizes"] == list(SMOKE.sizes)
    assert set(memory["scaling"]["reads"]) == {read.name for read in SCALING}
    for flow in memory["parallel"].values():
        assert flow["shared_store"] is False
        assert [run["workers"] for run in flow["runs"]] == list(SMOKE.workers)
        assert all(run["calls"] == SMOKE.per_worker * run["workers"] for run in flow["runs"])


def test_the_sql_backend_runs_every_part_with_fewer_calls(report: dict[str, Any]) -> None:
    sqlite = report["backends"]["sqlite"]
    assert sqlite["available"] is True, sqlite.get("reason")
    assert set(sqlite["flows"]) == {flow.name for flow in FLOWS}
    assert set(sqlite["scaling"]["reads"]) == {read.name for read in SCALING}
    for flow in sqlite["parallel"].values():
        assert flow["shared_store"] is True
    assert sqlite["iterations"] == for_backend(SMOKE, BACKENDS["sqlite"]).iterations
    assert "floor" not in report["backends"]["memory"]


def test_the_smoke_run_measures_the_sql_floor(report: dict[str, Any]) -> None:
    floor = report["backends"]["sqlite"]["floor"]
    assert floor["flow"] == "refund.full"
    assert floor["statements_per_refund"] >= 10
    assert floor["commits_per_refund"] == 1
    assert floor["example"][0] == "BEGIN IMMEDIATE"
    assert floor["example"][-1] == "COMMIT"
    for variant in ("backend", "floor"):
        assert floor[variant]["iterations"] == for_backend(SMOKE, BACKENDS["sqlite"]).iterations
    assert isinstance(floor["ratio"], float)


def test_the_floor_replays_exactly_what_the_backend_wrote(tmp_path: Path) -> None:
    """The recorded statements of a refund, replayed with the bare driver on a copy of the
    database, leave it exactly as the backend left the copy it recorded on."""
    backend = SqlBackend(tmp_path / "bench.db")
    try:
        world = make_world(backend)
        (full,) = [flow for flow in FLOWS if flow.name == "refund.full"]
        cases = full.setup(world, 3)
        with floor.floor_worlds(world, None, tmp_path) as (recording, replayer):
            recorded = floor.record(recording, cases)
            for ops in recorded:
                replayer.replay(ops)
            replayed = SqlBackend(tmp_path / "replay.db")
            try:
                assert replayed.snapshot() == recording.backend.snapshot()
            finally:
                replayed.close()
        # 14: the unit of work reads each record once (the partner and the invoice the ERP
        # port reverses come from the service's reads), the ticket with its team, the
        # team's settings and its customer, and the invoice with its lines, in one
        # statement each, and the new credit note's lines are inserted without a DELETE
        assert [floor.statements(ops) for ops in recorded] == [14, 14, 14]
        assert all(ops[-1] == ("commit",) for ops in recorded)
        assert not any("SAVEPOINT" in str(op) for ops in recorded for op in ops)
    finally:
        backend.close()


@pytest.mark.postgres
def test_the_postgresql_entry_runs_on_its_own_server(tmp_path: Path) -> None:
    if find_bindir() is None:
        pytest.skip("no PostgreSQL server binaries here")
    stdout, loaded = _smoke(tmp_path, "--backend", "postgresql", "--skip", "scaling")
    assert "[postgresql] flows" in stdout
    assert "[postgresql] floor" in stdout
    postgresql = loaded["backends"]["postgresql"]
    assert postgresql["available"] is True, postgresql.get("reason")
    assert postgresql["floor"]["statements_per_refund"] >= 10
    assert set(postgresql["flows"]) == {flow.name for flow in FLOWS}
    assert all(flow["shared_store"] for flow in postgresql["parallel"].values())


def test_a_backend_that_cannot_run_is_reported_with_the_reason() -> None:
    def missing(_session: Session) -> Any:
        raise Unavailable("no such database here")

    BACKENDS["nowhere"] = BackendEntry(create=missing)
    try:
        report = run(SMOKE, mode="smoke", backends=["nowhere"])
    finally:
        del BACKENDS["nowhere"]
    assert report["backends"]["nowhere"] == {
        "available": False,
        "description": "",
        "iterations": SMOKE.iterations,
        "reason": "no such database here",
    }
    assert "[nowhere] skipped: no such database here" in render(report)


def test_scaling_is_skipped_with_a_reason_above_an_entrys_bulk_limit() -> None:
    BACKENDS["small"] = BackendEntry(create=BACKENDS["memory"].create, bulk_limit=10)
    try:
        report = run(SMOKE, mode="smoke", backends=["small"], parts=frozenset({"scaling"}))
    finally:
        del BACKENDS["small"]
    assert "run with --sizes" in report["backends"]["small"]["scaling_skipped"]


def test_the_report_checks_every_target_and_names_the_machine(report: dict[str, Any]) -> None:
    checked = {check["target"] for check in report["targets"]}
    assert checked == set(TARGETS)
    assert {"nproc", "cpu", "python", "load_average"} <= set(report["machine"])
    assert report["targets"] == check_targets(report["backends"], judged=False)
    assert all(check["ok"] is None for check in report["targets"])
    assert "targets" in render(report)


def test_the_direct_adapter_reaches_the_same_backend_methods() -> None:
    backend = MemoryBackend()
    app = AfterSales(backend, clock=FrozenClock("2026-11-28T09:00:00+00:00"))
    direct = DirectHooks(app.pm, backend)
    assert direct.aftersales_helpdesk_get_team == backend.aftersales_helpdesk_get_team
    # the memory backend's lookup takes no ``lock``: the adapter drops it
    assert direct.aftersales_accounting_get_invoice(invoice_id="nope", lock=True) is None
    # a broadcast hook answers with a list, as pluggy does
    assert direct.aftersales_modules_catalogue() == []


def test_a_flow_called_directly_does_what_it_does_through_the_hooks() -> None:
    hooked = make_world(MemoryBackend())
    direct = make_world(MemoryBackend(), direct=True)
    results = []
    for world in (hooked, direct):
        invoice = world.builder.invoice(
            customer=world.scenario.customer, lines=[(world.scenario.blender, 1)]
        )
        results.append(
            world.app.refunds.reverse(
                world.scenario.ticket.id,
                invoice.id,
                method=CreditMethod.FULL,
                actor=world.agent,
            )
        )
    assert type(direct.app.hooks._h) is DirectHooks
    first, second = results
    assert first.credit_note.total == second.credit_note.total
    assert first.invoice.payment_state is second.invoice.payment_state
    assert len(direct.backend.snapshot()["audit"]) == len(hooked.backend.snapshot()["audit"])


def test_call_directly_swaps_the_one_hooks_instance_every_service_shares() -> None:
    backend = MemoryBackend()
    app = AfterSales(backend)
    call_directly(app, backend)
    assert app.refunds._hooks is app.hooks is app.runtime.hooks is app.runtime.guard._hooks
    assert isinstance(app.hooks._h, DirectHooks)


def test_bulk_loading_keeps_the_measured_customer_normal() -> None:
    world = make_world(MemoryBackend())
    bulk_load(world, 40, batch=7)
    tables = world.backend.snapshot()
    assert len([k for k in tables["invoices"] if str(k).startswith("bulk-")]) == 40
    assert len([k for k in tables["tickets"] if str(k).startswith("bulk-")]) == 40
    mine = world.app.refunds.invoices_to_refund(world.scenario.ticket.id, actor=world.agent)
    assert {invoice.customer_id for invoice in mine} <= {world.scenario.customer.id}


def test_measure_interleaves_variants_and_adds_the_calibration() -> None:
    calls: list[tuple[str, int]] = []
    result = measure(
        {"a": lambda i: calls.append(("a", i)), "b": lambda i: calls.append(("b", i))},
        warmup=1,
        iterations=4,
        block=2,
    )
    assert set(result.stats) == set(result.blocks) == {"a", "b", CALIBRATION}
    assert [len(blocks) for blocks in result.blocks.values()] == [2, 2, 2]
    assert calls == [
        ("a", 0),
        ("b", 0),
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("b", 2),
        ("a", 3),
        ("a", 4),
        ("b", 3),
        ("b", 4),
    ]
    assert result["a"].iterations == 4


def test_stats_take_the_median_and_the_nearest_rank_p99() -> None:
    summary = stats([5_000, 1_000, 3_000, 2_000, 4_000])
    assert (summary.median_us, summary.p99_us, summary.min_us) == (3.0, 5.0, 1.0)
    assert summary.ops_per_s == pytest.approx(5 / 15_000e-9)
    with pytest.raises(ValueError, match="no samples"):
        stats([])


@pytest.mark.postgres
def test_the_series_measurement_runs_on_postgresql(aftersales_postgres: Any) -> None:
    """benchmarks/series.py: shares of a FULL refund's time that the number series' row is
    held and waited for, with workers on distinct journals and on one."""
    url = aftersales_postgres.create_database("aftersales_series_smoke")
    distinct = series.measure(url, 3, distinct=True, workers=2)
    one = series.measure(url, 3, distinct=False, workers=2)
    for measured in (distinct, one):
        assert measured.calls == 6
        assert 0 < measured.waiting < measured.held < 1
    assert (distinct.journals, one.journals) == ("distinct", "one")


def test_the_setup_benchmark_compares_the_fixture_patterns() -> None:
    from benchmarks import setup

    assert setup.main(["--smoke"]) == 0
    results = setup.measure(rounds=1, block=1)
    assert set(results) == {"fresh", "pattern", "pattern, world built", "refund"}
    assert all(micros > 0 for micros in results.values())


def test_the_memory_benchmark_reads_every_invoice_it_stored() -> None:
    """benchmarks/memory.py: bytes held per stored invoice, after the load and after every
    invoice was read page by page (its totals computed)."""
    from benchmarks import memory

    measured = memory.measure_invoices(1_200)
    assert (measured["invoices"], measured["read"], measured["lines_per_invoice"]) == (
        1_200,
        1_200,
        2,
    )
    assert measured["bytes_per_invoice_loaded"] > 0
    assert measured["bytes_per_invoice_after_reads"] > 0
    assert measured["held"] is (measured["bytes_per_invoice_after_reads"] <= memory.TARGET)


@pytest.mark.slow
def test_the_tryton_benchmark_counts_rpcs_and_times_every_refund_flow_against_its_floor(
    tmp_path: Path,
) -> None:
    """``python -m benchmarks.tryton --smoke``: a new Tryton database, a real trytond."""
    from benchmarks.tryton import FLOWS

    path = tmp_path / "tryton.json"
    source = str(ROOT / "plugins" / "tryton" / "src")  # the plugin's source, not the wheel
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.tryton", "--smoke", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(path.read_text())
    assert list(report["flows"]) == list(FLOWS)
    for flow, figures in report["flows"].items():
        assert figures["rpcs_backend"] > figures["rpcs_floor"] > 0, flow
        assert figures["backend_ms"] > 0 and figures["floor_ms"] > 0 and figures["ratio"] > 0
        assert f"\n{flow} " in result.stdout
