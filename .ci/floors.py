"""Read pyproject.toml for CI's floors job (``.ci/floors``).

``python .ci/floors.py constraints`` prints the lowest version pyproject allows of every
runtime dependency, as pip constraints (``name==floor``). Runtime means ``[project]
dependencies`` and every extra except the tools' ones (``docs``, ``dev``, ``web``). Each such
requirement must state a floor with ``>=``: one without a floor (or with a bound this
script does not understand) stops the job, since it would make no promise the job could
check.

``python .ci/floors.py test-tools`` prints the requirements of the ``dev`` extra that the
tests import (pytest, hypothesis, ...), without the linters and the project itself.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

#: Extras that install tools, not what the library runs with (web: the example helpdesk).
TOOL_EXTRAS = frozenset({"docs", "dev", "web"})

#: Requirements of the dev extra that no test imports.
NOT_TEST_TOOLS = frozenset({"mypy", "ruff", "aftersales-tryton"})

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*"
    r">=\s*(?P<floor>[0-9][0-9A-Za-z.]*)\s*(?:,\s*<[^;]*)?\s*(?:;.*)?$"
)
_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
_SELF = re.compile(r"^\s*aftersales\s*\[")


def _project(pyproject: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return project


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def floors(pyproject: Path) -> dict[str, str]:
    """``{distribution: lowest allowed version}`` for every runtime dependency."""
    project = _project(pyproject)
    requirements = list(project.get("dependencies", ()))
    for extra, items in sorted(project.get("optional-dependencies", {}).items()):
        if extra not in TOOL_EXTRAS:
            requirements.extend(items)
    found: dict[str, str] = {}
    for requirement in requirements:
        if _SELF.match(requirement):
            continue
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"{pyproject}: {requirement!r} states no '>=' floor")
        name = _normal(match["name"])
        floor = match["floor"]
        if found.get(name, floor) != floor:
            raise SystemExit(f"{pyproject}: {name} has two floors, {found[name]} and {floor}")
        found[name] = floor
    return found


def test_tools(pyproject: Path) -> list[str]:
    """The dev extra's requirements that the tests need, as written in pyproject."""
    tools = []
    for requirement in _project(pyproject).get("optional-dependencies", {}).get("dev", ()):
        match = _NAME.match(requirement)
        if _SELF.match(requirement) or match is None:
            continue
        if _normal(match["name"]) not in NOT_TEST_TOOLS:
            tools.append(requirement.strip())
    return tools


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("constraints", "test-tools"):
        raise SystemExit("usage: floors.py constraints|test-tools [pyproject.toml]")
    path = Path(argv[1]) if len(argv) > 1 else Path("pyproject.toml")
    if argv[0] == "constraints":
        for name, floor in sorted(floors(path).items()):
            print(f"{name}=={floor}")
    else:
        for requirement in test_tools(path):
            print(requirement)


if __name__ == "__main__":
    main(sys.argv[1:])
