"""Contract of the project port: field-service projects and tasks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import FieldServiceTask, TaskRequest, TaskStage

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["ProjectContract"]


def _request(kit: Kit, reference: str = "op-create", **details: Any) -> TaskRequest:
    """A request for a task in a new Field Service project, for a new customer."""
    return TaskRequest(
        project_id=kit.world.project(name="Field Service").id,
        title="Install the dishwasher",
        customer_id=kit.world.customer(name="Ana").id,
        at=kit.clock.now(),
        reference=reference,
        **details,
    )


def _made(kit: Kit, request: TaskRequest) -> FieldServiceTask:
    return kit.write(lambda h: h.create_task(request))


class ProjectContract(ContractBase):
    """`aftersales_project_*`: the first field-service project is the default (ST-2)."""

    def test_projects_in_a_stable_order(self, kit: Kit) -> None:
        office = kit.world.project(name="Office", fsm=False, portal_visible=False)
        field = kit.world.project(name="Field Service")
        night = kit.world.project(name="Night shift")
        assert kit.read(lambda h: list(h.list_projects())) == [office, field, night]
        assert kit.read(lambda h: h.get_project(field.id)) == field
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_project("project-missing"))

    def test_a_created_task_is_what_was_asked_with_the_erps_id(self, kit: Kit) -> None:
        """The ERP makes the task and its id; it keeps the fields asked and the reference."""
        planned = kit.clock.now() + timedelta(days=2)
        request = _request(
            kit,
            description="Second floor",
            ticket_id="ticket-1",
            planned_at=planned,
            assignee_id="tech-1",
        )
        task = _made(kit, request)
        assert task.id
        assert (task.project_id, task.title, task.customer_id, task.ticket_id) == (
            request.project_id,
            "Install the dishwasher",
            request.customer_id,
            "ticket-1",
        )
        assert (task.stage, task.description, task.planned_at, task.assignee_id) == (
            TaskStage.NEW,
            "Second floor",
            planned,
            "tech-1",
        )
        assert task.operation_ref == "op-create"
        assert kit.read(lambda h: h.get_task(task.id)) == task
        other = _made(kit, attrs.evolve(request, reference="op-other"))
        assert other.id != task.id
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_task("task-missing"))

    def test_a_move_changes_the_stage_and_keeps_the_reference(self, kit: Kit) -> None:
        task = _made(kit, _request(kit))
        moved = kit.write(lambda h: h.move_task(task.id, TaskStage.PLANNED, "op-move"))
        assert moved == attrs.evolve(task, stage=TaskStage.PLANNED, operation_ref="op-move")
        assert kit.read(lambda h: h.get_task(task.id)) == moved
        with pytest.raises(NotFound):
            kit.write(lambda h: h.move_task("task-missing", TaskStage.DONE, "op-x"))

    def test_find_by_reference(self, kit: Kit) -> None:
        """Every write keeps its call's reference; the port finds the tasks by it."""
        first = _made(kit, _request(kit, "op-1"))
        second = _made(kit, _request(kit, "op-1"))
        third = _made(kit, _request(kit, "op-2"))
        assert kit.read(lambda h: list(h.find_tasks_by_reference("op-1"))) == [first, second]
        assert kit.read(lambda h: list(h.find_tasks_by_reference("op-none"))) == []
        kit.write(lambda h: h.move_task(third.id, TaskStage.DONE, "op-3"))
        assert [t.id for t in kit.read(lambda h: h.find_tasks_by_reference("op-3"))] == [third.id]

    def test_a_locked_task_is_read_fresh_after_the_holder_commits(self, kit: Kit) -> None:
        """FS-3: `lock=True` holds the task, so two stage moves cannot both see New."""
        kit.require(Capability.THREADS)
        task = _made(kit, _request(kit))
        locked = threading.Event()

        def move(i: int) -> TaskStage:
            if i == 1:
                locked.wait(10)
            with kit.unit() as uow:
                seen = kit.hooks.get_task(task.id, lock=True)
                if i == 0:
                    locked.set()
                    # Let the other unit reach the lock (bounded, not a clock).
                    threading.Event().wait(0.2)
                target = TaskStage.PLANNED if seen.stage is TaskStage.NEW else TaskStage.DONE
                kit.hooks.move_task(seen.id, target, f"op-{i}")
                uow.commit()
                return seen.stage

        assert run_threads(2, move) == [TaskStage.NEW, TaskStage.PLANNED]
        assert kit.read(lambda h: h.get_task(task.id)).stage is TaskStage.DONE
