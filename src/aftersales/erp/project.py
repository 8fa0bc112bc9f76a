"""The reference ERP's projects: field-service tasks made and moved by the ERP.

What an ERP does when a helpdesk asks it for an on-site intervention — give the task an
id, store it in the project, move it between stages, keep the reference of the call that
wrote it — lives here, once, over a small `TaskStore` (a per-concern protocol beside the
accounting `Ledger`: a backend serving only the project port implements four calls, not
the ledger). `ProjectPort` serves the `aftersales_project_*` hooks from it; the memory and
the SQL backends both inherit it, so both behave the same.

The field-service service never makes a task id: it checks what a helpdesk may do (rights,
the stage rules of FS-3), asks the port, and records on the ticket what the port made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import FieldServiceTask, Project, TaskRequest, TaskStage, evolve

__all__ = ["ProjectPort", "ReferenceProject", "TaskStore"]


class TaskStore(Protocol):
    """Projects and field-service tasks, as stored by one backend. Every call acts inside
    the current unit of work, as the hooks do."""

    def get_project(self, project_id: str) -> Project | None:
        """The project `project_id`, or `None`."""

    def list_projects(self) -> Sequence[Project]:
        """Every project, in a stable order (the order they were stored)."""

    def get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        """The task `task_id`, or `None`; `lock` holds it until the unit of work ends."""

    def save_task(self, task: FieldServiceTask) -> FieldServiceTask:
        """Insert or update `task` (by id); return it."""

    def tasks_by_reference(self, reference: str) -> Sequence[FieldServiceTask]:
        """The tasks whose `operation_ref` is `reference`, in the order they were stored."""


class ReferenceProject:
    """The reference ERP's projects over `store`.

    `ids` makes a new record id from a kind (`"task"`; default `new_id()`): an ERP that
    ids its tasks in its own style is the same class with another function. The methods
    trust the field-service service's checks (rights, FS-3 stage rules).
    """

    def __init__(self, store: TaskStore, *, ids: Callable[[str], str] = new_id) -> None:
        self.store = store
        self._ids = ids

    def get_project(self, project_id: str) -> Project | None:
        return self.store.get_project(project_id)

    def list_projects(self) -> list[Project]:
        return list(self.store.list_projects())

    def get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        return self.store.get_task(task_id, lock)

    def create_task(self, request: TaskRequest) -> FieldServiceTask:
        return self.store.save_task(
            FieldServiceTask(
                id=self._ids("task"),
                project_id=request.project_id,
                title=request.title,
                customer_id=request.customer_id,
                created_at=request.at,
                description=request.description,
                ticket_id=request.ticket_id,
                planned_at=request.planned_at,
                assignee_id=request.assignee_id,
                operation_ref=request.reference,
            )
        )

    def move_task(self, task_id: str, stage: TaskStage, reference: str) -> FieldServiceTask | None:
        task = self.store.get_task(task_id, True)
        if task is None:
            return None
        return self.store.save_task(evolve(task, stage=stage, operation_ref=reference))

    def find_by_reference(self, reference: str) -> list[FieldServiceTask]:
        return list(self.store.tasks_by_reference(reference))


class ProjectPort:
    """Serves the project port (`aftersales_project_*`) from `self.project`.

    A backend inherits it and sets `project` to a `ReferenceProject` over its `TaskStore`.
    """

    project: ReferenceProject

    @hookimpl
    def aftersales_project_get_project(self, project_id: str) -> Project | None:
        return self.project.get_project(project_id)

    @hookimpl
    def aftersales_project_list_projects(self) -> list[Project]:
        return self.project.list_projects()

    @hookimpl
    def aftersales_project_get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        return self.project.get_task(task_id, lock)

    @hookimpl
    def aftersales_project_create_task(self, request: TaskRequest) -> FieldServiceTask:
        return self.project.create_task(request)

    @hookimpl
    def aftersales_project_move_task(
        self, task_id: str, stage: TaskStage, reference: str
    ) -> FieldServiceTask | None:
        return self.project.move_task(task_id, stage, reference)

    @hookimpl
    def aftersales_project_find_by_reference(self, reference: str) -> list[FieldServiceTask]:
        return self.project.find_by_reference(reference)
