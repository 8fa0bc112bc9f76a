"""What the reference ERP's projects store (`TaskStore`), in a SQL backend's database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftersales.backends.sql import mapping
from aftersales.backends.sql.schema import metadata
from aftersales.models import FieldServiceTask, Project

if TYPE_CHECKING:
    from aftersales.backends.sql.backend import SqlBackend

_PROJECTS, _TASKS = metadata.tables["projects"], metadata.tables["tasks"]


class SqlTasks:
    """Projects and tasks in `backend`'s database, inside its current unit of work."""

    def __init__(self, backend: SqlBackend) -> None:
        self._b = backend

    def get_project(self, project_id: str) -> Project | None:
        return self._b._one(_PROJECTS, "id", project_id, mapping.project)

    def list_projects(self) -> list[Project]:
        return self._b._all(_PROJECTS, mapping.project)

    def get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        return self._b._one(_TASKS, "id", task_id, mapping.task, lock)

    def save_task(self, task: FieldServiceTask) -> FieldServiceTask:
        self._b._save(_TASKS, mapping.task_row(task))
        return task

    def tasks_by_reference(self, reference: str) -> list[FieldServiceTask]:
        return self._b._many(_TASKS, "operation_ref", reference, mapping.task)
