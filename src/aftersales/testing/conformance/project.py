"""Contract of the project port: field-service projects and tasks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import FieldServiceTask, TaskStage

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["ProjectContract"]


def _task(kit: Kit, **details: Any) -> FieldServiceTask:
    """`task-1` in a new Field Service project, for a new customer, with `details`."""
    return FieldServiceTask(
        id="task-1",
        project_id=kit.world.project(name="Field Service").id,
        title="Install the dishwasher",
        customer_id=kit.world.customer(name="Ana").id,
        created_at=kit.clock.now(),
        **details,
    )


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

    def test_task_round_trip_and_update(self, kit: Kit) -> None:
        task = _task(
            kit,
            description="Second floor",
            ticket_id="ticket-1",
            internal_notes="Bring the long hose",
        )
        kit.write(lambda h: h.save_task(task))
        assert kit.read(lambda h: h.get_task(task.id)) == task
        planned = attrs.evolve(
            task,
            stage=TaskStage.PLANNED,
            planned_at=kit.clock.now() + timedelta(days=2),
            assignee_id="tech-1",
        )
        kit.write(lambda h: h.save_task(planned))
        assert kit.read(lambda h: h.get_task(task.id)) == planned
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_task("task-missing"))

    def test_a_locked_task_is_read_fresh_after_the_holder_commits(self, kit: Kit) -> None:
        """FS-3: `lock=True` holds the task, so two stage moves cannot both see New."""
        kit.require(Capability.THREADS)
        task = _task(kit)
        kit.write(lambda h: h.save_task(task))
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
                kit.hooks.save_task(attrs.evolve(seen, stage=target))
                uow.commit()
                return seen.stage

        assert run_threads(2, move) == [TaskStage.NEW, TaskStage.PLANNED]
        assert kit.read(lambda h: h.get_task(task.id)).stage is TaskStage.DONE
