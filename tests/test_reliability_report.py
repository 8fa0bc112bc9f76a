"""docs/reliability-figures.md is what the report command prints now."""

from __future__ import annotations

from pathlib import Path

import pytest

from aftersales.testing.reliability.report import Figures, main, measure, render

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "reliability-figures.md"


def test_the_committed_figures_are_what_the_command_prints_now(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The figures depend on the suite's tables only (flows, calls, races, models), never on
    timing; the checks behind them run in the other test_reliability_* files. If this
    fails, run ``python -m aftersales.testing.reliability.report > docs/reliability-figures.md``."""
    assert main(["--count", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed == FIGURES.read_text(encoding="utf-8")


def test_the_figures_add_up() -> None:
    figures = measure(verify=False)
    assert isinstance(figures, Figures)
    assert figures.fault_total == sum(n for _, n in figures.faults) >= 400
    assert figures.flows == len(figures.faults)
    assert figures.hostile_total == sum(n for _, n in figures.by_call) >= 2000
    assert figures.after_commit_faults == 3
    text = render(figures)
    assert f"{figures.fault_total} faults" in text
    assert f"{figures.hostile_total} hostile values" in text


def test_the_docs_page_includes_the_figures() -> None:
    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/reliability-figures.md"' in page
    for rule in ("RL-1", "RL-2", "RL-3", "RL-4", "RL-5", "RL-6", "RL-7"):
        assert f"### {rule} " in page
    assert "python -m aftersales.testing.reliability.report > docs/reliability-figures.md" in page
