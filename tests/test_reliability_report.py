"""docs/reliability-figures.md is what the report command prints now, for every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from aftersales.testing.conformance.processes import WorkerPool
from tests.postgres import PostgresServer
from tests.reliability.concurrency import PROCESSES
from tests.reliability.crashes import CRASH_FLOWS
from tests.reliability.models import DATABASE_MODEL_RUNS
from tests.reliability.report import (
    Figures,
    main,
    measure,
    memory_subject,
    postgres_subject,
    render,
    sqlite_subject,
)

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "reliability-figures.md"
COMMAND = "python -m tests.reliability.report > docs/reliability-figures.md"


@pytest.fixture(scope="module")
def memory_figures() -> Figures:
    return measure(memory_subject(), verify=False)


def on_a_database(memory: Figures, label: str) -> Figures:
    """What the report counts on a database when the hook calls are those of the memory
    backend: races on processes, a held lock, the crashes, the smaller models. The slow
    test below counts them on SQLite and PostgreSQL for real."""
    faults = dict(memory.faults)
    return attrs.evolve(
        memory,
        backend=label,
        concurrent=PROCESSES,
        on_processes=True,
        lock_held=memory.retries,
        crashes=tuple((name, faults[name]) for name in CRASH_FLOWS),
        models=tuple((name, *DATABASE_MODEL_RUNS[name]) for name, _e, _s in memory.models),
    )


def test_the_committed_figures_are_what_the_command_prints_now(memory_figures: Figures) -> None:
    """The figures depend on the suite's tables only (flows, calls, races, models), never on
    timing; the checks behind them run in the other test_reliability_* files. If this
    fails, run the command of docs/reliability.md."""
    expected = render(
        [
            memory_figures,
            on_a_database(memory_figures, "SQLite"),
            on_a_database(memory_figures, "PostgreSQL"),
        ]
    )
    assert FIGURES.read_text(encoding="utf-8") == expected, f"run `{COMMAND}`"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(PROCESSES) as workers:
        yield workers


@pytest.mark.slow
@pytest.mark.postgres
def test_the_databases_make_the_hook_calls_the_page_shows(
    memory_figures: Figures,
    aftersales_postgres: PostgresServer,
    tmp_path: Path,
    pool: WorkerPool,
) -> None:
    """Counted on SQLite and PostgreSQL themselves (the races run on processes), the
    figures are the committed ones: the page never shows one backend's numbers for
    another."""
    sqlite = measure(sqlite_subject(tmp_path), verify=False, pool=pool)
    postgres = measure(postgres_subject(aftersales_postgres), verify=False, pool=pool)
    assert sqlite == on_a_database(memory_figures, "SQLite")
    assert postgres == on_a_database(memory_figures, "PostgreSQL")
    assert FIGURES.read_text(encoding="utf-8") == render([memory_figures, sqlite, postgres])


def test_the_command_measures_the_backends_it_is_given(
    capsys: pytest.CaptureFixture[str], memory_figures: Figures
) -> None:
    assert main(["--count", "--quiet", "--backend", "memory"]) == 0
    printed = capsys.readouterr().out
    assert printed == render(memory_figures)
    assert "| what the suite tried | memory |\n|---|---:|\n" in printed


def test_the_figures_add_up(memory_figures: Figures) -> None:
    figures = memory_figures
    # refunds make a few coarse calls to the ERP port, not many fine ones: fewer faults
    assert figures.fault_total == sum(n for _, n in figures.faults) >= 380
    assert figures.flows == len(figures.faults)
    assert figures.hostile_total == sum(n for _, n in figures.by_call) >= 2000
    assert figures.after_commit_faults == 4
    assert (figures.on_processes, figures.lock_held, figures.crashes) == (False, None, ())
    database = on_a_database(figures, "SQLite")
    assert [name for name, _calls in database.crashes] == list(CRASH_FLOWS)
    text = render([figures, database])
    assert f"| {figures.fault_total} | {figures.fault_total} |" in text
    assert f"| {figures.hostile_total} | {figures.hostile_total} |" in text
    assert "| RL-3 … made by | threads | 4 processes |" in text
    assert "### Processes killed before their commit (RL-1)" in text
    assert "### Processes killed" not in render(figures)


def test_the_docs_page_includes_the_figures() -> None:
    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/reliability-figures.md"' in page
    for rule in ("RL-1", "RL-2", "RL-3", "RL-4", "RL-5", "RL-6", "RL-7"):
        assert f"### {rule} " in page
    assert COMMAND in page
