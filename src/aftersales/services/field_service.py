"""Field-service tasks from a ticket (field-service.md, FS-1 … FS-6).

An agent plans an on-site intervention from a ticket: the task goes to the team's
field-service project (or another one), is sent to the customer's delivery address, and is
linked to the ticket. It then moves through its stages (New → Planned → In Progress → Done,
or Cancelled) and the customer follows it from the portal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import attrs

from aftersales.access import Action, TicketContext
from aftersales.arguments import a_moment, a_text, an_enum, an_id, optional
from aftersales.errors import (
    AccessDenied,
    InvalidConfiguration,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
)
from aftersales.formatting import show
from aftersales.models import (
    Actor,
    DocumentKind,
    FieldServiceTask,
    Project,
    Service,
    TaskRequest,
    TaskStage,
    Team,
    Ticket,
)
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["NEXT_STAGES", "FieldServiceService", "PortalTask", "TaskView"]


#: The stages a task may move to from each stage (FS-3). Moves go forward only, may skip
#: stages (a technician can mark a new task done on the spot), and any open task can be
#: cancelled. Done and Cancelled are final.
NEXT_STAGES: Mapping[TaskStage, frozenset[TaskStage]] = {
    TaskStage.NEW: frozenset(
        {TaskStage.PLANNED, TaskStage.IN_PROGRESS, TaskStage.DONE, TaskStage.CANCELLED}
    ),
    TaskStage.PLANNED: frozenset({TaskStage.IN_PROGRESS, TaskStage.DONE, TaskStage.CANCELLED}),
    TaskStage.IN_PROGRESS: frozenset({TaskStage.DONE, TaskStage.CANCELLED}),
    TaskStage.DONE: frozenset(),
    TaskStage.CANCELLED: frozenset(),
}

_STAGE_ORDER = tuple(TaskStage)


def _label(stage: TaskStage) -> str:
    return stage.value.replace("_", " ")


@attrs.frozen(kw_only=True)
class TaskView:
    """A task with what a user interface needs to open it (FS-2).

    `route` is the path of the task's form (`/tasks/<id>`, the id URL-quoted).
    """

    task: FieldServiceTask
    project_id: str
    project_name: str
    route: str


@attrs.frozen(kw_only=True)
class PortalTask:
    """A task as its customer sees it on the portal (FS-6).

    Only the progress is shown: stage, planned date and assignee, with the title and the
    ticket it belongs to. Description, internal notes, project and site are not.
    """

    task_id: str
    title: str
    ticket_id: str
    ticket_ref: str
    stage: TaskStage
    planned_at: datetime | None
    assignee_id: str | None


@attrs.frozen(kw_only=True)
class _Request:
    """The checked arguments of a task creation."""

    title: str | None
    project_id: str | None
    planned_at: datetime | None
    assignee_id: str | None

    def arguments(self, ticket_id: str) -> dict[str, Any]:
        return {"ticket_id": ticket_id, **attrs.asdict(self)}


_OPTIONAL_ID = optional(an_id)


def _request(
    title: object, project_id: object, planned_at: object, assignee_id: object
) -> _Request:
    """Refuse malformed arguments before anything is looked up (RL-4)."""
    return _Request(
        title=None if title is None else a_text(title, "title").strip(),
        project_id=_OPTIONAL_ID(project_id, "project_id"),
        planned_at=optional(a_moment)(planned_at, "planned_at"),
        assignee_id=_OPTIONAL_ID(assignee_id, "assignee_id"),
    )


class FieldServiceService(ServiceBase):
    """On-site intervention tasks from a ticket: `app.field_service`."""

    # -- create (FS-1, FS-2, FS-4) --------------------------------------------------------------

    def create_task(
        self,
        ticket_id: str,
        *,
        title: str | None = None,
        project_id: str | None = None,
        planned_at: datetime | None = None,
        assignee_id: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> FieldServiceTask:
        """Create one task from the ticket and link it to the ticket (FS-1, FS-4).

        `title` defaults to the ticket's title; `project_id` to the team's field-service
        project (ST-2) and must name a field-service project. The task goes to the
        customer's delivery address when there is one, carries the ticket's description and
        starts in stage New. `planned_at` must be timezone-aware.

        Args:
            ticket_id: The ticket the call is made from.
            title: The task's title (default: the ticket's title; not blank).
            project_id: A field-service project (default: the team's, ST-2).
            planned_at: When the intervention is planned (timezone-aware).
            assignee_id: The technician assigned.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The new task, in stage New.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no project `project_id`.
            ServiceDisabled: The ticket's team has field service off (ST-1).
            InvalidInput: A blank title, a naive `planned_at`, or a project that is not a
                field-service one.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> FieldServiceTask:
            ctx = self._guard.ticket(actor, Action.FIELD_SERVICE, ticket_id, Service.FIELD_SERVICE)
            request = _request(title, project_id, planned_at, assignee_id)
            done = uow.replay(
                idempotency_key,
                "field_service.create_task",
                request.arguments(ticket_id),
                FieldServiceTask,
            )
            if done is not None:
                return done
            task, _project = self._create(uow, ctx, request, actor, idempotency_key)
            return task

        return self._rt.call(actor, Action.FIELD_SERVICE, work, writes=True)

    def create_and_view_task(
        self,
        ticket_id: str,
        *,
        title: str | None = None,
        project_id: str | None = None,
        planned_at: datetime | None = None,
        assignee_id: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> TaskView:
        """Like [`create_task()`][create_task] ("Create and view task"), returning also what a user
        interface needs to open the new task (FS-2). Exactly one task is created.

        Args:
            ticket_id: The ticket the call is made from.
            title: The task's title (default: the ticket's title; not blank).
            project_id: A field-service project (default: the team's, ST-2).
            planned_at: When the intervention is planned (timezone-aware).
            assignee_id: The technician assigned.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The new task and what a user interface needs to open it.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id` or no project `project_id`.
            ServiceDisabled: The ticket's team has field service off (ST-1).
            InvalidInput: A blank title, a naive `planned_at`, or a project that is not a
                field-service one.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> TaskView:
            ctx = self._guard.ticket(actor, Action.FIELD_SERVICE, ticket_id, Service.FIELD_SERVICE)
            request = _request(title, project_id, planned_at, assignee_id)
            done = uow.replay(
                idempotency_key,
                "field_service.create_and_view_task",
                request.arguments(ticket_id),
                TaskView,
            )
            if done is not None:
                return done
            task, project = self._create(uow, ctx, request, actor, idempotency_key)
            return _task_view(task, project)

        return self._rt.call(actor, Action.FIELD_SERVICE, work, writes=True)

    def _create(
        self,
        uow: UnitOfWork,
        ctx: TicketContext,
        request: _Request,
        actor: Actor,
        key: str | None,
    ) -> tuple[FieldServiceTask, Project]:
        ticket = ctx.ticket
        project = self._project(ctx.team, request.project_id)
        task = self._hooks.create_task(
            TaskRequest(
                project_id=project.id,
                title=request.title if request.title is not None else ticket.title,
                customer_id=self._site(ticket),
                at=uow.now,
                reference=uow.reference,
                description=ticket.description,
                ticket_id=ticket.id,
                planned_at=request.planned_at,
                assignee_id=request.assignee_id,
            )
        )
        self._link(
            uow,
            ticket,
            actor,
            DocumentKind.TASK,
            task.id,
            f"Task created: {task.title} (project {project.name})",
            key,
        )
        return task, project

    def _project(self, team: Team, wanted: str | None) -> Project:
        """The project asked for, which must be a field-service one, else the team's (ST-2)."""
        if wanted is not None:
            project = self._hooks.get_project(wanted)
            if not project.is_fsm:
                raise InvalidInput(
                    "project_id",
                    wanted,
                    f"project {show(project.name)} is not a field-service project",
                )
            return project
        if team.fsm_project_id is None:
            raise InvalidConfiguration(
                f"team {show(team.name)} has no field-service project; a helpdesk manager can "
                "choose one in the team's after-sales settings"
            )
        project = self._hooks.get_project(team.fsm_project_id)
        if not project.is_fsm:
            raise InvalidConfiguration(
                f"the default project of team {show(team.name)}, {show(project.name)}, is no "
                "longer a field-service project; a helpdesk manager can choose another one"
            )
        return project

    def _site(self, ticket: Ticket) -> str:
        """Where the technician goes: the customer's delivery address, else the customer."""
        if ticket.customer_id is None:
            raise InvalidOperation(
                f"ticket #{ticket.ref} has no customer; set one before planning an "
                "on-site intervention"
            )
        customer = self._hooks.get_partner(ticket.customer_id)
        return customer.delivery_address_id or customer.id

    # -- stages (FS-3) --------------------------------------------------------------------------

    def set_stage(
        self,
        task_id: str,
        stage: TaskStage | str,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> FieldServiceTask:
        """Move the task to `stage` (see `NEXT_STAGES`); moving it to Done is
        [`mark_done()`][mark_done]. An illegal move raises
        [`InvalidState`][aftersales.errors.InvalidState].

        Args:
            task_id: A task made from a ticket.
            stage: The stage to move to (a `TaskStage` or its value).
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The task in its new stage.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no task `task_id`.
            ServiceDisabled: The ticket's team has field service off (ST-1).
            InvalidState: The move is not allowed from the task's stage (FS-3).
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> FieldServiceTask:
            task = self._task_for_change(actor, task_id)
            target = an_enum(stage, TaskStage, "stage")
            done = uow.replay(
                idempotency_key,
                "field_service.set_stage",
                {"task_id": task_id, "stage": target.value},
                FieldServiceTask,
            )
            if done is not None:
                return done
            return self._move(uow, self._held(task), target, actor, idempotency_key)

        return self._rt.call(actor, Action.FIELD_SERVICE, work, writes=True)

    def mark_done(
        self, task_id: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> FieldServiceTask:
        """Mark the task done: stage Done, and "Task done" on the ticket's trail (FS-3).

        Args:
            task_id: A task made from a ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The task, in stage Done.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no task `task_id`.
            ServiceDisabled: The ticket's team has field service off (ST-1).
            InvalidState: The task is already done or cancelled.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> FieldServiceTask:
            task = self._task_for_change(actor, task_id)
            done = uow.replay(
                idempotency_key, "field_service.mark_done", {"task_id": task_id}, FieldServiceTask
            )
            if done is not None:
                return done
            return self._move(uow, self._held(task), TaskStage.DONE, actor, idempotency_key)

        return self._rt.call(actor, Action.FIELD_SERVICE, work, writes=True)

    def _task_for_change(self, actor: Actor, task_id: object) -> FieldServiceTask:
        """The task, then its ticket's checks (G-1, G-2); not locked yet, so that the call
        claims its idempotency key first (`_held()` locks it)."""
        task = self._hooks.get_task(an_id(task_id, "task_id"))
        if task.ticket_id is None:
            raise InvalidOperation(
                f"task {show(task.title)} was not created from a ticket; "
                "change it in the field-service application"
            )
        self._guard.ticket(actor, Action.FIELD_SERVICE, task.ticket_id, Service.FIELD_SERVICE)
        return task

    def _held(self, task: FieldServiceTask) -> FieldServiceTask:
        """The task again, locked until the call ends."""
        return self._hooks.get_task(task.id, lock=True)

    def _move(
        self,
        uow: UnitOfWork,
        task: FieldServiceTask,
        target: TaskStage,
        actor: Actor,
        key: str | None,
    ) -> FieldServiceTask:
        current = task.stage
        allowed = NEXT_STAGES[current]
        if target not in allowed:
            action = (
                f"mark task {show(task.title)} done"
                if target is TaskStage.DONE
                else f"move task {show(task.title)} to {_label(target)}"
            )
            if target is current:
                why = f"it is already {_label(current)}"
            elif not allowed:
                why = f"it is {_label(current)}, and a {_label(current)} task is closed"
            else:
                names = ", ".join(_label(s) for s in _STAGE_ORDER if s in allowed)
                why = f"it is {_label(current)}; from there it can only move to {names}"
            raise InvalidState(f"cannot {action}: {why}")
        moved = self._hooks.move_task(task.id, target, uow.reference)
        self._changed(
            uow,
            task.ticket_id,
            actor,
            DocumentKind.TASK,
            task.id,
            _label(target),
            f"Task {_label(target)}: {task.title}",
            key,
        )
        return moved

    # -- reading from the ticket (FS-4) ---------------------------------------------------------

    def tasks(self, ticket_id: str, *, actor: Actor) -> tuple[FieldServiceTask, ...]:
        """The tasks linked to the ticket, oldest first (what the Tasks button opens).

        Args:
            ticket_id: The ticket the call is made from.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The tasks linked to the ticket, oldest first.

        Raises:
            AccessDenied: The actor is not in the groups the call needs (AC-2), or may not see the
                ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(_uow: UnitOfWork) -> tuple[FieldServiceTask, ...]:
            ctx = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id)
            return tuple(self._linked_tasks(ctx.ticket))

        return self._rt.call(actor, Action.VIEW_TICKET, read, writes=False)

    def task(self, ticket_id: str, task_id: str, *, actor: Actor) -> TaskView:
        """One task linked to the ticket, read through it (FS-4), with its project and route.

        Read with the rights of [`tasks()`][FieldServiceService.tasks].
        A task that is not linked to `ticket_id` raises [`NotFound`][aftersales.errors.NotFound].

        Args:
            ticket_id: The ticket the call is made from.
            task_id: A task linked to that ticket.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The task with its project's name and the route of its form.

        Raises:
            AccessDenied: The actor is not a helpdesk user, or may not see the ticket's team (AC-3).
            NotFound: There is no ticket `ticket_id`, or no task `task_id` linked to it.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(_uow: UnitOfWork) -> TaskView:
            ticket = self._guard.ticket(actor, Action.VIEW_TICKET, ticket_id).ticket
            an_id(task_id, "task_id")
            self._linked(ticket.id, (DocumentKind.TASK,), task_id, "task")
            task = self._hooks.get_task(task_id)
            return _task_view(task, self._hooks.get_project(task.project_id))

        return self._rt.call(actor, Action.VIEW_TICKET, read, writes=False)

    def _linked_tasks(self, ticket: Ticket) -> Iterable[FieldServiceTask]:
        for link in self._hooks.list_links(ticket.id):
            if link.kind is DocumentKind.TASK:
                yield self._hooks.get_task(link.document_id)

    # -- the portal (FS-6) ----------------------------------------------------------------------

    def portal_tasks(self, *, actor: Actor, ticket_id: str | None = None) -> tuple[PortalTask, ...]:
        """The tasks a portal customer may follow: those of their commercial entity's tickets
        (or of `ticket_id` only), in portal-visible projects; tickets newest first, tasks
        of a ticket oldest first. Another customer's ticket raises
        [`NotFound`][aftersales.errors.NotFound].

        Args:
            actor: A portal user with a partner (the customer).
            ticket_id: Only the tasks of this ticket of the customer's.

        Returns:
            The tasks as the portal shows them (FS-6).

        Raises:
            AccessDenied: The actor is not a portal user with a partner.
            NotFound: `ticket_id` is not a ticket of the customer's.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(_uow: UnitOfWork) -> tuple[PortalTask, ...]:
            if ticket_id is None:
                partner_id = self._portal_partner(actor)
                entity = self._hooks.get_partner(partner_id).commercial_entity_id
                contacts = frozenset(p.id for p in self._hooks.list_contacts(entity))
                tickets: Iterable[Ticket] = self._hooks.find_tickets(contacts)
            else:
                an_id(ticket_id, "ticket_id")
                tickets = (self._guard.portal_ticket(actor, ticket_id),)
            visible: dict[str, bool] = {}
            found: list[PortalTask] = []
            for ticket in tickets:
                for task in self._linked_tasks(ticket):
                    if task.project_id not in visible:
                        project = self._hooks.get_project(task.project_id)
                        visible[task.project_id] = project.portal_visible
                    if visible[task.project_id]:
                        found.append(_portal(task, ticket))
            return tuple(found)

        return self._rt.call(actor, Action.PORTAL, read, writes=False)

    def portal_task(self, task_id: str, *, actor: Actor) -> PortalTask:
        """One task of the portal customer's own tickets, in a portal-visible project.

        Any other task, like one that does not exist, raises
        [`NotFound`][aftersales.errors.NotFound] (AC-4).

        Args:
            task_id: A task of one of the customer's tickets.
            actor: A portal user with a partner (the customer).

        Returns:
            The task as the portal shows it (FS-6).

        Raises:
            AccessDenied: The actor is not a portal user with a partner.
            NotFound: Any task the customer may not follow, as if it did not exist.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(_uow: UnitOfWork) -> PortalTask:
            self._portal_partner(actor)
            hidden = NotFound("task", task_id)
            try:
                task = self._hooks.get_task(an_id(task_id, "task_id"))
                if task.ticket_id is None:
                    raise hidden
                ticket = self._guard.portal_ticket(actor, task.ticket_id)
            except NotFound:
                raise hidden from None
            if not self._hooks.get_project(task.project_id).portal_visible:
                raise hidden
            return _portal(task, ticket)

        return self._rt.call(actor, Action.PORTAL, read, writes=False)

    def _portal_partner(self, actor: Actor) -> str:
        """A portal actor's partner (AC-2)."""
        if actor.partner_id is None:
            raise AccessDenied(Action.PORTAL.value, "a portal user needs a partner_id")
        return actor.partner_id


def _task_view(task: FieldServiceTask, project: Project) -> TaskView:
    return TaskView(
        task=task,
        project_id=project.id,
        project_name=project.name,
        route=f"/tasks/{quote(task.id, safe='')}",
    )


def _portal(task: FieldServiceTask, ticket: Ticket) -> PortalTask:
    return PortalTask(
        task_id=task.id,
        title=task.title,
        ticket_id=ticket.id,
        ticket_ref=ticket.ref,
        stage=task.stage,
        planned_at=task.planned_at,
        assignee_id=task.assignee_id,
    )
