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

__all__ = ["FieldServiceTask", "Project", "TaskStage"]


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

    `internal_notes` are never shown on the portal (FS-6).
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
