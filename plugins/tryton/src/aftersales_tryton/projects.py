"""Field-service tasks as ``project.work`` records (module ``project``).

A project is a work of type ``project``; a task is a work of type ``task`` under it. Tryton
numbers works itself and tracks a status (``project.work.status``: Open, Done, ...). A work
has no reference field: the caller's reference is the first line of its ``comment``.
"""

from __future__ import annotations

import attrs
from proteus import Model

from aftersales.errors import InvalidInput, NotFound
from aftersales_tryton._values import load, optional_id, record_id
from aftersales_tryton.connection import Config
from aftersales_tryton.errors import translated

__all__ = [
    "Work",
    "create_project",
    "create_task",
    "find_tasks_by_reference",
    "read_work",
    "set_status",
]

WORK = "project.work"


@attrs.frozen
class Work:
    """A project or task: Tryton's id and number, its status and where it hangs."""

    id: int
    number: str | None
    name: str
    type: str
    status: str
    party_id: int | None
    parent_id: int | None
    reference: str | None
    comment: str


def _reference(comment: str | None) -> str | None:
    if not comment:
        return None
    first = comment.split("\n", 1)[0]
    return first or None


def _read(record: object) -> Work:
    comment = str(record.comment or "")  # type: ignore[attr-defined]
    return Work(
        id=record_id(record),
        number=record.number or None,  # type: ignore[attr-defined]
        name=str(record.name),  # type: ignore[attr-defined]
        type=str(record.type),  # type: ignore[attr-defined]
        status=str(record.status.name),  # type: ignore[attr-defined]
        party_id=optional_id(record.party),  # type: ignore[attr-defined]
        parent_id=optional_id(record.parent),  # type: ignore[attr-defined]
        reference=_reference(comment),
        comment=comment,
    )


def read_work(config: Config, work_id: int) -> Work:
    """The project or task ``work_id`` now."""
    return _read(load(config, WORK, work_id, "project work"))


def _a_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", name, "a non-empty name")
    return name


def create_project(config: Config, name: str, *, party_id: int | None = None) -> Work:
    """A project ``name`` (for ``party_id`` when given)."""
    with translated("create a project"):
        project = Model.get(WORK, config=config)(type="project", name=_a_name(name))
        if party_id is not None:
            project.party = load(config, "party.party", party_id, "party")
        project.save()
    return _read(project)


def create_task(
    config: Config,
    project_id: int,
    name: str,
    *,
    party_id: int | None = None,
    reference: str | None = None,
    description: str = "",
) -> Work:
    """A task under the project ``project_id``; ``reference`` becomes the first line of its
    comment, ``description`` the rest."""
    project = load(config, WORK, project_id, "project")
    if project.type != "project":
        raise InvalidInput("project_id", project_id, f"work {project_id} is a task, not a project")
    if reference is not None and (not reference.strip() or "\n" in reference):
        raise InvalidInput("reference", reference, "one non-empty line")
    comment = "\n".join(part for part in (reference, description) if part)
    with translated(f"create a task in project {project_id}"):
        task = Model.get(WORK, config=config)(type="task", name=_a_name(name), parent=project)
        if party_id is not None:
            task.party = load(config, "party.party", party_id, "party")
        task.comment = comment or None
        task.save()
    return _read(task)


def set_status(config: Config, work_id: int, status: str) -> Work:
    """Move the work to the status named ``status`` (e.g. ``"Done"``)."""
    work = load(config, WORK, work_id, "project work")
    with translated(f"find the work status {status!r}"):
        found = Model.get("project.work.status", config=config).find([("name", "=", status)])
    if not found:
        raise NotFound("project work status", status)
    with translated(f"set the status of work {work_id}"):
        work.status = found[0]
        work.save()
    return read_work(config, work_id)


def find_tasks_by_reference(config: Config, reference: str) -> tuple[Work, ...]:
    """The tasks whose comment starts with the line ``reference`` (oldest first)."""
    if not isinstance(reference, str) or not reference.strip() or "\n" in reference:
        raise InvalidInput("reference", reference, "one non-empty line")
    with translated("find tasks by reference"):
        found = Model.get(WORK, config=config).find(
            [("type", "=", "task"), ("comment", "like", _like_prefix(reference))],
            order=[("id", "ASC")],
        )
    works = (_read(record) for record in found)
    return tuple(work for work in works if work.reference == reference)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
