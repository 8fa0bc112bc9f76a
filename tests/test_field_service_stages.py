"""Task stages (FS-3): New → Planned → In Progress → Done, or Cancelled; "Task done" on the
trail."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.errors import (
    AccessDenied,
    IdempotencyConflict,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    Actor,
    DocumentChanged,
    DocumentKind,
    FieldServiceTask,
    Group,
    TaskStage,
)
from aftersales.services.field_service import NEXT_STAGES
from aftersales.testing import Scenario, assert_unchanged

NEW, PLANNED, IN_PROGRESS, DONE, CANCELLED = (
    TaskStage.NEW,
    TaskStage.PLANNED,
    TaskStage.IN_PROGRESS,
    TaskStage.DONE,
    TaskStage.CANCELLED,
)

#: The moves FS-3 allows, spelled out: forward (skipping allowed), or cancel while open.
LEGAL = {
    (NEW, PLANNED),
    (NEW, IN_PROGRESS),
    (NEW, DONE),
    (NEW, CANCELLED),
    (PLANNED, IN_PROGRESS),
    (PLANNED, DONE),
    (PLANNED, CANCELLED),
    (IN_PROGRESS, DONE),
    (IN_PROGRESS, CANCELLED),
}
ILLEGAL = sorted(set(product(TaskStage, TaskStage)) - LEGAL)

LABEL = {
    NEW: "new",
    PLANNED: "planned",
    IN_PROGRESS: "in progress",
    DONE: "done",
    CANCELLED: "cancelled",
}


def new_task(app: AfterSales, scenario: Scenario, stage: TaskStage = NEW) -> FieldServiceTask:
    """A task of the scenario's ticket, moved straight to ``stage``."""
    task = app.field_service.create_task(scenario.ticket.id, actor=scenario.actors.agent)
    if stage is not NEW:
        task = app.field_service.set_stage(task.id, stage, actor=scenario.actors.agent)
    assert task.stage is stage
    return task


def trail_bodies(app: AfterSales, scenario: Scenario) -> list[str]:
    view = app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent)
    return [m.body for m in reversed(view.trail)]


def test_fs3_the_transition_table() -> None:
    assert {(a, b) for a, targets in NEXT_STAGES.items() for b in targets} == LEGAL
    assert set(NEXT_STAGES) == set(TaskStage)


@pytest.mark.parametrize(("start", "target"), sorted(LEGAL))
def test_fs3_legal_moves(
    app: AfterSales, backend: Any, scenario: Scenario, start: TaskStage, target: TaskStage
) -> None:
    task = new_task(app, scenario, start)
    moved = app.field_service.set_stage(task.id, target, actor=scenario.actors.agent)
    assert moved.stage is target
    assert backend.snapshot()["tasks"][task.id] == moved
    assert trail_bodies(app, scenario)[-1] == f"Task {LABEL[target]}: Blender broken"
    [document] = app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent).documents
    assert document.state == target.value


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_fs3_illegal_moves_are_refused(
    app: AfterSales, backend: Any, scenario: Scenario, start: TaskStage, target: TaskStage
) -> None:
    task = new_task(app, scenario, start)
    action = (
        'mark task "Blender broken" done'
        if target is DONE
        else f'move task "Blender broken" to {LABEL[target]}'
    )
    with pytest.raises(InvalidState) as info, assert_unchanged(backend):
        app.field_service.set_stage(task.id, target, actor=scenario.actors.agent)
    message = str(info.value)
    assert message.startswith(f"cannot {action}: it is ")
    assert LABEL[start] in message


def test_fs3_refusal_messages_say_why(app: AfterSales, scenario: Scenario) -> None:
    agent = scenario.actors.agent
    planned = new_task(app, scenario, PLANNED)
    with pytest.raises(InvalidState) as info:
        app.field_service.set_stage(planned.id, NEW, actor=agent)
    assert str(info.value) == (
        'cannot move task "Blender broken" to new: it is planned; '
        "from there it can only move to in progress, done, cancelled"
    )
    with pytest.raises(InvalidState) as info:
        app.field_service.set_stage(planned.id, PLANNED, actor=agent)
    assert str(info.value) == 'cannot move task "Blender broken" to planned: it is already planned'
    cancelled = new_task(app, scenario, CANCELLED)
    with pytest.raises(InvalidState) as info:
        app.field_service.mark_done(cancelled.id, actor=agent)
    assert str(info.value) == (
        'cannot mark task "Blender broken" done: it is cancelled, and a cancelled task is closed'
    )


class _Changes:
    name = "changes"

    def __init__(self) -> None:
        self.events: list[DocumentChanged] = []

    @hookimpl
    def aftersales_on_document_changed(self, event: DocumentChanged) -> None:
        self.events.append(event)


def test_fs3_mark_done_moves_to_done_and_says_task_done(
    backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    changes = _Changes()
    app = AfterSales(backend, clock=clock, plugins=[changes])
    agent = scenario.actors.agent
    task = new_task(app, scenario, IN_PROGRESS)
    clock.advance(hours=3)
    done = app.field_service.mark_done(task.id, actor=agent, idempotency_key="done-1")
    assert done.stage is DONE
    newest = app.tickets.view(scenario.ticket.id, actor=agent).trail[0]
    assert newest.body == "Task done: Blender broken"
    assert (newest.author_id, newest.at) == ("agent", clock.now())
    assert (newest.document_kind, newest.document_id) == (DocumentKind.TASK, task.id)
    last = backend.aftersales_store_audit_list(ticket_id=scenario.ticket.id)[-1]
    assert (last.action, last.document_ids, last.idempotency_key) == (
        "task done",
        (task.id,),
        "done-1",
    )
    assert [(e.change, e.document_id) for e in changes.events] == [
        ("in progress", task.id),
        ("done", task.id),
    ]


def test_fs3_mark_done_from_new_and_planned(app: AfterSales, scenario: Scenario) -> None:
    for start in (NEW, PLANNED):
        task = new_task(app, scenario, start)
        assert app.field_service.mark_done(task.id, actor=scenario.actors.agent).stage is DONE
    assert trail_bodies(app, scenario).count("Task done: Blender broken") == 2


def test_fs3_marking_a_done_task_done_again_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    task = new_task(app, scenario, DONE)
    with pytest.raises(InvalidState, match="it is already done"), assert_unchanged(backend):
        app.field_service.mark_done(task.id, actor=scenario.actors.agent)


def test_rl2_mark_done_with_the_same_key_replays(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    agent = scenario.actors.agent
    task = new_task(app, scenario)
    first = app.field_service.mark_done(task.id, actor=agent, idempotency_key="done-1")
    with assert_unchanged(backend):
        assert app.field_service.mark_done(task.id, actor=agent, idempotency_key="done-1") == first
    other = new_task(app, scenario)
    with pytest.raises(IdempotencyConflict), assert_unchanged(backend):
        app.field_service.mark_done(other.id, actor=agent, idempotency_key="done-1")
    with pytest.raises(IdempotencyConflict, match=r"used for field_service\.mark_done"):
        app.field_service.set_stage(other.id, DONE, actor=agent, idempotency_key="done-1")
    moved = app.field_service.set_stage(other.id, PLANNED, actor=agent, idempotency_key="plan-2")
    with assert_unchanged(backend):
        assert (
            app.field_service.set_stage(other.id, PLANNED, actor=agent, idempotency_key="plan-2")
            == moved
        )


@pytest.mark.parametrize("stage", ["DONE", "Planned", 3, None])
def test_rl4_a_stage_that_is_not_a_task_stage_is_refused(
    app: AfterSales, backend: Any, scenario: Scenario, stage: Any
) -> None:
    task = new_task(app, scenario)
    with (
        pytest.raises(InvalidInput, match="must be one of: new, planned, in_progress") as info,
        assert_unchanged(backend),
    ):
        app.field_service.set_stage(task.id, stage, actor=scenario.actors.agent)
    assert info.value.field == "stage"


def test_g7_an_unknown_task_is_not_found(app: AfterSales, backend: Any, scenario: Scenario) -> None:
    calls: tuple[Callable[[], object], ...] = (
        lambda: app.field_service.mark_done("task-404", actor=scenario.actors.agent),
        lambda: app.field_service.set_stage("task-404", PLANNED, actor=scenario.actors.agent),
    )
    for call in calls:
        with (
            pytest.raises(NotFound, match="task task-404 does not exist"),
            assert_unchanged(backend),
        ):
            call()
    with pytest.raises(InvalidInput, match="task_id"), assert_unchanged(backend):
        app.field_service.mark_done(7, actor=scenario.actors.agent)  # type: ignore[arg-type]


def test_a_task_not_created_from_a_ticket_is_not_changed_here(
    app: AfterSales, backend: Any, clock: FrozenClock, scenario: Scenario
) -> None:
    loose = FieldServiceTask(
        id="task-erp-1",
        project_id=scenario.project.id,
        title="Yearly boiler check",
        customer_id=scenario.customer.id,
        created_at=clock.now(),
    )
    backend.tasks.save_task(loose)
    with (
        pytest.raises(InvalidOperation, match='"Yearly boiler check" was not created from a'),
        assert_unchanged(backend),
    ):
        app.field_service.mark_done(loose.id, actor=scenario.actors.agent)


@pytest.mark.parametrize(
    "actor",
    [
        Actor(user_id="hd", groups=frozenset({Group.HELPDESK_USER})),
        Actor(user_id="fsm", groups=frozenset({Group.FIELD_SERVICE_USER})),
        Actor(user_id="ana", groups=frozenset({Group.PORTAL}), partner_id="partner-x"),
    ],
)
def test_ac2_stage_changes_need_helpdesk_and_field_service_user(
    app: AfterSales, backend: Any, scenario: Scenario, actor: Actor
) -> None:
    task = new_task(app, scenario)
    with pytest.raises(AccessDenied, match="field-service task"), assert_unchanged(backend):
        app.field_service.mark_done(task.id, actor=actor)
    with pytest.raises(AccessDenied, match="field-service task"), assert_unchanged(backend):
        app.field_service.set_stage(task.id, PLANNED, actor=actor)
    # Rights come before the lookup: an unknown task is not revealed either.
    with pytest.raises(AccessDenied), assert_unchanged(backend):
        app.field_service.mark_done("task-404", actor=actor)


def test_fs3_worked_example_of_a_visit(
    app: AfterSales, clock: FrozenClock, scenario: Scenario
) -> None:
    """A visit planned Monday, started Tuesday 9:00, done Tuesday 11:30."""
    agent = scenario.actors.agent
    task = app.field_service.create_task(scenario.ticket.id, title="Visit Ana", actor=agent)
    clock.advance(days=2)
    app.field_service.set_stage(task.id, PLANNED, actor=agent)
    clock.advance(days=1)
    app.field_service.set_stage(task.id, IN_PROGRESS, actor=agent)
    clock.advance(hours=2, minutes=30)
    app.field_service.mark_done(task.id, actor=agent)
    trail = app.tickets.view(scenario.ticket.id, actor=agent).trail
    assert [(m.body, m.at.isoformat()) for m in trail] == [
        ("Task done: Visit Ana", "2026-12-01T11:30:00+00:00"),
        ("Task in progress: Visit Ana", "2026-12-01T09:00:00+00:00"),
        ("Task planned: Visit Ana", "2026-11-30T09:00:00+00:00"),
        ("Task created: Visit Ana (project Field Service)", "2026-11-28T09:00:00+00:00"),
    ]


def test_fs3_task_done_is_the_newest_trail_entry_even_in_the_same_instant(
    app: AfterSales, scenario: Scenario
) -> None:
    """The clock does not move: the trail still lists the later message first (AC-5)."""
    task = new_task(app, scenario)
    app.field_service.mark_done(task.id, actor=scenario.actors.agent)
    trail = app.tickets.view(scenario.ticket.id, actor=scenario.actors.agent).trail
    assert trail[0].at == trail[1].at
    assert [m.body for m in trail] == [
        "Task done: Blender broken",
        "Task created: Blender broken (project Field Service)",
    ]


def test_fs3_concurrent_closing_moves_let_exactly_one_win(
    app: AfterSales, backend: Any, scenario: Scenario
) -> None:
    """Eight threads race to mark the same task done or cancel it: one wins, seven are
    refused, and the trail has exactly one closing message (RL-3 for a task's stage)."""
    task = new_task(app, scenario, IN_PROGRESS)
    agent = scenario.actors.agent
    barrier = threading.Barrier(8)

    def close(index: int) -> TaskStage | str:
        barrier.wait()
        try:
            if index % 2:
                return app.field_service.mark_done(task.id, actor=agent).stage
            return app.field_service.set_stage(task.id, CANCELLED, actor=agent).stage
        except InvalidState as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(close, range(8)))
    winners = [o for o in outcomes if isinstance(o, TaskStage)]
    assert len(winners) == 1
    assert all(isinstance(o, str) and o.startswith("cannot ") for o in outcomes if o not in winners)
    assert backend.snapshot()["tasks"][task.id].stage is winners[0]
    closing = [
        b for b in trail_bodies(app, scenario) if b.startswith(("Task done", "Task cancelled"))
    ]
    assert closing == [f"Task {LABEL[winners[0]]}: Blender broken"]
