"""What the reference ERP's projects store (`TaskStore`), on the memory store."""

from __future__ import annotations

from aftersales.models import FieldServiceTask, Project

from .store import MemoryStore


class MemoryTasks:
    """Projects and tasks on `store` (its lock serializes units, so `lock` needs nothing)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def get_project(self, project_id: str) -> Project | None:
        project: Project | None = self._store.get("projects", project_id)
        return project

    def list_projects(self) -> list[Project]:
        return self._store.values("projects")

    def get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        task: FieldServiceTask | None = self._store.get("tasks", task_id)
        return task

    def save_task(self, task: FieldServiceTask) -> FieldServiceTask:
        self._store.put("tasks", task.id, task)
        return task

    def tasks_by_reference(self, reference: str) -> list[FieldServiceTask]:
        return self._store.by_index("tasks", "operation", reference)
