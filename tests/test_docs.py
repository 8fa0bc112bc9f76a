"""The documentation cannot rot: the site builds strictly and every Python example runs."""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.testing import build_scenario

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _world() -> dict[str, object]:
    backend = MemoryBackend()
    app = AfterSales(backend, clock=FrozenClock("2026-11-28T09:00:00+00:00"))
    world = backend.builder(app.clock)
    sc = build_scenario(world)
    return {
        "app": app,
        "backend": backend,
        "world": world,
        "scenario": sc,
        "team": sc.team,
        "ticket": sc.ticket,
        "customer": sc.customer,
        "invoice": sc.invoice,
        "paid_invoice": sc.paid_invoice,
        "delivery": sc.delivery,
        "program": sc.program,
        "project": sc.project,
        "order": sc.order,
        "blender": sc.blender,
        "kettle": sc.kettle,
        "manager": sc.actors.manager,
        "agent": sc.actors.agent,
        "system": sc.actors.system,
    }


def _examples(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _examples(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_python_examples_run(page: Path) -> None:
    """Every ```python block of a page runs, in order, in one namespace.

    The namespace starts with the standard world, so guides can use ``app``, ``backend``,
    ``world``, ``scenario``, ``team``, ``ticket``, ``customer``, ``invoice``,
    ``paid_invoice``, ``delivery``, ``program``, ``project``, ``order``, ``blender``,
    ``kettle``, ``manager``, ``agent`` and
    ``system`` without building them first.
    """
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}", **_world()}
    for number, code in enumerate(_examples(page), start=1):
        try:
            exec(compile(code, f"{page.name}[example {number}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the assertion reports it
            pytest.fail(f"{page.name} example {number} failed: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if "```pycon" in p.read_text(encoding="utf-8")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_console_examples_show_what_they_print(page: Path) -> None:
    """``>>>`` sessions (```pycon blocks) run as doctests: their output is checked too."""
    result = doctest.testfile(
        str(page), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0
    assert result.attempted > 0


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "--site-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "reference" / "hookspecs" / "index.html").exists()


def test_the_navigation_lists_every_page_once() -> None:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:\n") + 1 : text.index("\nmarkdown_extensions:")]
    pages = re.findall(r":\s*(\S+\.md)\s*$", nav, re.M)
    assert len(pages) == len(set(pages)), sorted(p for p in pages if pages.count(p) > 1)
    linked = set(re.findall(r"\]\(([\w/-]+\.md)\)", (ROOT / "docs" / "index.md").read_text()))
    assert set(pages) - {"index.md"} <= linked, "the home page links every page of the site"
