"""Projects and field-service tasks (FS-1 … FS-6)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from aftersales.models._fields import (
    MAX_TEXT,
    aware,
    bool_field,
    enum_of,
    id_field,
    optional,
    text,
)

__all__ = ["FieldServiceTask", "Project", "TaskRequest", "TaskStage"]


class TaskStage(StrEnum):
    """Stages of a field-service task (FS-3)."""

    NEW = "new"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class Project:
    """A project; field-service tasks live in projects with `is_fsm` set."""

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    is_fsm: bool = attrs.field(default=False, validator=bool_field)
    portal_visible: bool = attrs.field(default=False, validator=bool_field)


@attrs.frozen(kw_only=True)
class FieldServiceTask:
    """An on-site intervention planned from a ticket.

    `internal_notes` are never shown on the portal (FS-6). The ERP makes the task and its
    `id` (`aftersales_project_create_task`); `operation_ref` is the reference of the
    library's call that made or last moved it (`aftersales_project_find_by_reference`),
    `None` for a task no call of the library wrote.
    """

    id: str = attrs.field(validator=id_field)
    project_id: str = attrs.field(validator=id_field)
    title: str = attrs.field(validator=text())
    customer_id: str = attrs.field(validator=id_field)
    created_at: datetime = attrs.field(validator=aware)
    stage: TaskStage = attrs.field(default=TaskStage.NEW, validator=enum_of(TaskStage))
    description: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    planned_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    assignee_id: str | None = attrs.field(default=None, validator=optional(id_field))
    internal_notes: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    operation_ref: str | None = attrs.field(default=None, validator=optional(text(max_length=64)))


@attrs.frozen(kw_only=True)
class TaskRequest:
    """What the field-service service asks the ERP to make (`aftersales_project_create_task`):
    a task of `project_id` for the ticket, with the fields the library decides. The ERP
    chooses the task's id; `at` is the library's time of the call (an ERP may stamp its
    own) and `reference` identifies the call (see `aftersales_project_find_by_reference`).
    """

    project_id: str = attrs.field(validator=id_field)
    title: str = attrs.field(validator=text())
    customer_id: str = attrs.field(validator=id_field)
    at: datetime = attrs.field(validator=aware)
    reference: str = attrs.field(validator=text(max_length=64))
    description: str = attrs.field(
        default="", validator=text(max_length=MAX_TEXT, multiline=True, required=False)
    )
    ticket_id: str | None = attrs.field(default=None, validator=optional(id_field))
    planned_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    assignee_id: str | None = attrs.field(default=None, validator=optional(id_field))
