"""CI's floors job (``.ci/floors``): pyproject's ``>=`` floors read as pip constraints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parent.parent


def _floors_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_floors", ROOT / ".ci" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ci_floors", module)
    spec.loader.exec_module(module)
    return module


def test_every_runtime_dependency_has_a_floor_and_the_tools_have_none() -> None:
    found = _floors_script().floors(ROOT / "pyproject.toml")
    assert {"attrs", "cattrs", "pluggy", "typing-extensions", "sqlalchemy", "psycopg"} <= set(found)
    assert found["pluggy"] == "1.4"
    assert not {"pytest", "mypy", "ruff", "mkdocs-material", "aftersales"} & set(found)


def test_the_test_tools_come_from_the_dev_extra_without_the_linters() -> None:
    tools = _floors_script().test_tools(ROOT / "pyproject.toml")
    names = {tool.split(">")[0].split("[")[0] for tool in tools}
    assert {"pytest", "hypothesis"} <= names
    assert not {"mypy", "ruff", "aftersales"} & names


@pytest.mark.parametrize("requirement", ["pluggy", "pluggy<2", "pluggy==1.5", "pluggy~=1.4"])
def test_a_requirement_without_a_floor_stops_the_job(tmp_path: Path, requirement: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[project]\nname = "x"\ndependencies = ["{requirement}"]\n')
    with pytest.raises(SystemExit, match="states no '>=' floor"):
        _floors_script().floors(pyproject)


def test_two_floors_for_one_dependency_stop_the_job(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["SQLAlchemy>=2.0"]\n'
        '[project.optional-dependencies]\nsql = ["sqlalchemy>=2.0.25", "pluggy>=1.4,<2"]\n'
    )
    with pytest.raises(SystemExit, match="sqlalchemy has two floors"):
        _floors_script().floors(pyproject)


def test_ci_runs_the_floors_job() -> None:
    assert "bash .ci/floors" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
