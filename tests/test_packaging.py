"""What installing aftersales brings: the wheel ships the library and the conformance kit,
not the project's own tools, and its pytest plugin loads nothing of the library."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import aftersales
import aftersales.testing

ROOT = Path(__file__).resolve().parent.parent

#: What loading the pytest plugin may import of aftersales: the plugin, its packages and the
#: lazy-export helper they share.
PLUGIN_IMPORTS = {
    "aftersales",
    "aftersales._lazy",
    "aftersales.testing",
    "aftersales.testing.plugin",
}

_IMPORTED_BY_THE_PLUGIN = """
import json, sys
before = set(sys.modules)
import aftersales.testing.plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _imported_by(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    imported: list[str] = json.loads(result.stdout)
    return imported


def test_the_pytest_entry_point_is_the_plugin_module() -> None:
    (plugin,) = entry_points(group="pytest11", name="aftersales")
    assert plugin.value == "aftersales.testing.plugin"


def test_loading_the_pytest_plugin_imports_none_of_the_library() -> None:
    imported = _imported_by(_IMPORTED_BY_THE_PLUGIN)
    ours = {name for name in imported if name.partition(".")[0] == "aftersales"}
    assert ours == PLUGIN_IMPORTS
    for heavy in ("aftersales.backends.sql", "aftersales.app", "sqlalchemy", "cattrs", "attrs"):
        assert heavy not in imported


def test_the_plugins_fixtures_import_the_library_when_they_run(
    aftersales_app: aftersales.AfterSales, aftersales_scenario: aftersales.testing.Scenario
) -> None:
    assert type(aftersales_app).__module__ == "aftersales.app"
    assert aftersales_scenario.ticket.id


@pytest.mark.parametrize("package", [aftersales, aftersales.testing], ids=lambda p: p.__name__)
def test_every_public_name_is_there_on_first_use(package: object) -> None:
    names: list[str] = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(package, name) is not None
        assert name in dir(package)
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = package.missing  # type: ignore[attr-defined]


def test_a_star_import_gives_every_public_name() -> None:
    imported = _imported_by(
        "import json\n"
        "namespace = {}\n"
        "exec('from aftersales import *', namespace)\n"
        "print(json.dumps(sorted(n for n in namespace if n != '__builtins__')))\n"
    )
    assert imported == sorted(aftersales.__all__)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel pip builds from this checkout."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "-w", str(folder), "--no-deps", "-q"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    (built,) = folder.glob("aftersales-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_the_wheel_ships_the_kit(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for shipped in (
        "aftersales/testing/plugin.py",
        "aftersales/testing/scenario.py",
        "aftersales/testing/snapshots.py",
        "aftersales/testing/witness.py",
        "aftersales/testing/faults.py",
        "aftersales/testing/conformance/__init__.py",
        "aftersales/py.typed",
    ):
        assert shipped in names
    (entry_points_txt,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "aftersales = aftersales.testing.plugin" in wheel.read(entry_points_txt).decode()


@pytest.mark.slow
def test_the_wheel_ships_none_of_the_projects_tools(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert all(name.partition("/")[0].startswith("aftersales") for name in names), names
    assert not [n for n in names if "reliability" in n or "postgres" in n or "hostile" in n]
    for name in names:
        text = wheel.read(name).decode("utf-8", errors="replace")
        for tool in ("useradd", "initdb", "pg_ctl", "reliability-figures"):
            assert tool not in text, f"{name} mentions {tool}"
