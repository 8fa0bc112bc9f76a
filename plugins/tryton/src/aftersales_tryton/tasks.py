"""The project port served by Tryton: field-service tasks as ``project.work`` records.

[`TrytonProject`][aftersales_tryton.tasks.TrytonProject] implements the
``aftersales_project_*`` hooks over a proteus configuration (Tryton module ``project``):

* a project is a work of type ``project`` (id ``str`` of the Tryton id, its `name`);
  `is_fsm` and `portal_visible` are ``after-sales fsm|portal: yes`` lines of its comment;
* a task is a work of type ``task`` whose `parent` is the project: `title` is its `name`,
  `customer_id` its `party`, `created_at` Tryton's `create_date`;
* the task's comment holds, as :mod:`aftersales_tryton.projects` reads it, the operation
  reference on its first line, then ``after-sales ticket|planned|assignee: <value>`` lines,
  then the description;
* stages are Tryton statuses (``project.work.status``) of tasks, by name: `NEW` is
  Tryton's "Open", `DONE` its "Done" (progress 100 %); `PLANNED`, `IN_PROGRESS` and
  `CANCELLED` are the statuses "Planned", "In Progress" and "Cancelled", which Tryton does
  not ship: :func:`add_task_statuses` adds them, and a move to a stage whose status is
  missing is refused (`InvalidConfiguration`, naming it). A task in a status of no stage
  reads as `IN_PROGRESS` when some progress was made, `NEW` otherwise.

`lock=True` is not held: Tryton commits every call on its own (see docs/tryton.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from proteus import Model

from aftersales.errors import BackendError, InvalidConfiguration, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models import FieldServiceTask, Project, TaskRequest, TaskStage
from aftersales_tryton._values import decimal, optional_id, record_id
from aftersales_tryton.accounting import _aware, _comment, _meta, _tryton_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated
from aftersales_tryton.projects import WORK, _like_prefix, _reference

__all__ = ["STAGE_STATUSES", "TrytonProject", "add_task_statuses"]

STATUS = "project.work.status"

#: The Tryton task status each stage is, by name.
STAGE_STATUSES: Mapping[TaskStage, str] = {
    TaskStage.NEW: "Open",
    TaskStage.PLANNED: "Planned",
    TaskStage.IN_PROGRESS: "In Progress",
    TaskStage.DONE: "Done",
    TaskStage.CANCELLED: "Cancelled",
}
_STAGES = {name: stage for stage, name in STAGE_STATUSES.items()}
_YES = "yes"


def add_task_statuses(config: Config) -> tuple[str, ...]:
    """Add the task statuses of `STAGE_STATUSES` that Tryton lacks; their names."""
    status_model = Model.get(STATUS, config=config)
    added = []
    with translated("add the task statuses"):
        for name in STAGE_STATUSES.values():
            if status_model.find([("name", "=", name)], limit=1):
                continue
            status = status_model(name=name, types=["task"])
            status.save()
            added.append(name)
    return tuple(added)


def _task_comment(reference: str, meta: dict[str, str | None], description: str) -> str:
    return "\n".join(part for part in (reference, _comment(meta), description) if part)


def _task_parts(comment: str | None) -> tuple[str | None, dict[str, str], str]:
    """The reference, the after-sales lines and the description of a task's comment."""
    reference = _reference(comment)
    rest = (comment or "").split("\n", 1)[1] if reference and "\n" in (comment or "") else ""
    meta, description = _meta(rest)
    return reference, meta, description


def _party_of(task: Any) -> int:
    """The customer of a task: its party, else its project's."""
    party = optional_id(task.party) or optional_id(task.parent.party)
    if party is None:
        raise BackendError(
            f"Tryton task {task.number or record_id(task)} has no party, nor has its "
            "project: it is not a field-service task"
        )
    return party


class TrytonProject:
    """The project port (``aftersales_project_*``) over the proteus `config`."""

    config: Config

    def _fsm_works(self, domain: list[Any]) -> list[Any]:
        with translated("read project works"):
            return list(Model.get(WORK, config=self.config).find(domain, order=[("id", "ASC")]))

    def _fsm_work(self, work_id: str, kind: str) -> Any | None:
        tryton_id = _tryton_id(work_id)
        if tryton_id is None:
            return None
        found = self._fsm_works([("id", "=", tryton_id), ("type", "=", kind)])
        return found[0] if found else None

    @staticmethod
    def _fsm_project(record: Any) -> Project:
        meta, _ = _meta(record.comment)
        return Project(
            id=str(record_id(record)),
            name=str(record.name),
            is_fsm=meta.get("fsm") == _YES,
            portal_visible=meta.get("portal") == _YES,
        )

    @staticmethod
    def _fsm_task(record: Any) -> FieldServiceTask:
        reference, meta, description = _task_parts(record.comment)
        status = str(record.status.name)
        stage = _STAGES.get(status)
        if stage is None:
            progress = decimal(record.progress)
            stage = TaskStage.IN_PROGRESS if progress > 0 else TaskStage.NEW
        planned = meta.get("planned")
        return FieldServiceTask(
            id=str(record_id(record)),
            project_id=str(record_id(record.parent)),
            title=str(record.name),
            customer_id=str(_party_of(record)),
            created_at=_aware(record.create_date),
            stage=stage,
            description=description,
            ticket_id=meta.get("ticket"),
            planned_at=dt.datetime.fromisoformat(planned) if planned else None,
            assignee_id=meta.get("assignee"),
            operation_ref=reference,
        )

    def _fsm_status(self, stage: TaskStage) -> Any:
        name = STAGE_STATUSES[stage]
        with translated(f"find the task status {name!r}"):
            found = Model.get(STATUS, config=self.config).find(
                [("name", "=", name), ("types", "in", ["task"])], limit=1
            )
        if not found:
            raise InvalidConfiguration(
                f"Tryton has no task status {name!r} for the stage {stage.value}: add it "
                "(project.work.status for tasks; aftersales_tryton.tasks.add_task_statuses "
                "adds every missing one); docs/tryton.md"
            )
        return found[0]

    # -- the port ---------------------------------------------------------------------------

    @hookimpl
    def aftersales_project_get_project(self, project_id: str) -> Project | None:
        record = self._fsm_work(project_id, "project")
        return None if record is None else self._fsm_project(record)

    @hookimpl
    def aftersales_project_list_projects(self) -> list[Project]:
        return [self._fsm_project(r) for r in self._fsm_works([("type", "=", "project")])]

    @hookimpl
    def aftersales_project_get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        """The task now. `lock=True` cannot hold it: Tryton commits every call on its own,
        so two concurrent moves are told apart by the library's claim, not here."""
        record = self._fsm_work(task_id, "task")
        return None if record is None else self._fsm_task(record)

    @hookimpl
    def aftersales_project_create_task(self, request: TaskRequest) -> FieldServiceTask | None:
        project = self._fsm_work(request.project_id, "project")
        if project is None:
            return None
        party = _tryton_id(request.customer_id)
        if party is None:
            raise InvalidInput("customer_id", request.customer_id, "not a Tryton party id")
        comment = _task_comment(
            request.reference,
            {
                "ticket": request.ticket_id,
                "planned": None if request.planned_at is None else request.planned_at.isoformat(),
                "assignee": request.assignee_id,
            },
            request.description,
        )
        with translated(f"create a task in project {project.name}"):
            task = Model.get(WORK, config=self.config)(
                type="task", name=request.title, parent=project
            )
            task.party = Model.get("party.party", config=self.config)(party)
            task.comment = comment
            task.save()
        return self._fsm_task(task)

    @hookimpl
    def aftersales_project_move_task(
        self, task_id: str, stage: TaskStage, reference: str
    ) -> FieldServiceTask | None:
        record = self._fsm_work(task_id, "task")
        if record is None:
            return None
        status = self._fsm_status(stage)
        _, meta, description = _task_parts(record.comment)
        with translated(f"move task {record.number or task_id} to {status.name}"):
            record.status = status
            record.comment = _task_comment(reference, dict(meta), description)
            record.save()
        return self._fsm_task(record)

    @hookimpl
    def aftersales_project_find_by_reference(self, reference: str) -> list[FieldServiceTask]:
        found = self._fsm_works(
            [("type", "=", "task"), ("comment", "like", _like_prefix(reference))]
        )
        return [t for t in map(self._fsm_task, found) if t.operation_ref == reference]
