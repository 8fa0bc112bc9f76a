"""A project ERP that ids its tasks in its own style: field service still works.

The project port is served by the reference projects built with integer ids (``17``, ``18``,
…) over the memory backend. The kit's project contract and field-service flows run green on
it, the tasks carry the ERP's ids and the reference of the call that wrote them, and a check
of the services' source finds none that makes a task id.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.erp import ReferenceProject, TaskStore
from aftersales.models import DocumentKind, TaskStage
from aftersales.testing.conformance import FieldServiceFlow, ProjectContract
from aftersales.testing.scenario import AGENT, build_scenario
from aftersales.unit_of_work import operation_reference

SERVICES = Path(__file__).resolve().parents[1] / "src" / "aftersales" / "services"


def foreign_project(store: TaskStore, start: int = 17) -> ReferenceProject:
    """Integer task ids from ``start``."""
    counter = itertools.count(start)
    return ReferenceProject(store, ids=lambda _kind: str(next(counter)))


def foreign_backend() -> MemoryBackend:
    return MemoryBackend(project=foreign_project)


class TestForeignStyleProjects(ProjectContract, FieldServiceFlow):
    """The kit's project contract and field-service flows, on the foreign-style ERP."""

    @pytest.fixture
    def aftersales_backend(self) -> Any:
        return foreign_backend()


def test_the_tasks_carry_the_erps_ids_and_the_calls_reference() -> None:
    backend = foreign_backend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    scenario = build_scenario(backend.builder(clock))
    app = AfterSales(backend, clock=clock)
    service, ticket = app.field_service, scenario.ticket

    task = service.create_task(ticket.id, actor=AGENT, idempotency_key="fs-1")
    reference = operation_reference(AGENT.user_id, "fs-1")
    assert (task.id, task.operation_ref) == ("17", reference)
    assert service.create_task(ticket.id, actor=AGENT, idempotency_key="fs-1") == task
    second = service.create_task(ticket.id, title="Second visit", actor=AGENT)
    assert second.id == "18"

    moved = service.set_stage(task.id, TaskStage.PLANNED, actor=AGENT, idempotency_key="fs-2")
    assert (moved.id, moved.stage) == ("17", TaskStage.PLANNED)
    assert moved.operation_ref == operation_reference(AGENT.user_id, "fs-2")
    done = service.mark_done(second.id, actor=AGENT)
    assert done.stage is TaskStage.DONE

    found = app.runtime.read(
        lambda _uow: app.hooks.find_tasks_by_reference(moved.operation_ref or "")
    )
    assert [t.id for t in found] == ["17"]
    assert [t.id for t in service.tasks(ticket.id, actor=AGENT)] == ["17", "18"]
    view = app.tickets.view(ticket.id, actor=AGENT)
    assert {d.document_id for d in view.documents if d.kind is DocumentKind.TASK} == {"17", "18"}


# -- the services' source --------------------------------------------------------------------


def _offences(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        where = f"{path.name}:{node.lineno}"
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        first = node.args[0] if node.args else None
        if name == "new_id" and isinstance(first, ast.Constant) and first.value == "task":
            found.append(f"{where}: new_id('task') makes an ERP id")
        if name in {"save_task", "FieldServiceTask"}:
            found.append(f"{where}: {name}() writes a task the ERP makes")
    return found


def test_no_service_makes_a_task_id() -> None:
    modules = sorted(SERVICES.glob("*.py"))
    assert "field_service.py" in {p.name for p in modules}
    assert [offence for path in modules for offence in _offences(path)] == []


def test_the_source_check_catches_what_field_service_did_before(tmp_path: Path) -> None:
    old = tmp_path / "field_service.py"
    old.write_text(
        "def f(hooks, task):\n"
        "    hooks.save_task(FieldServiceTask(id=new_id('task')))\n"
        "    hooks.save_task(evolve(task, stage='done'))\n",
        encoding="utf-8",
    )
    assert len(_offences(old)) == 4
