"""Properties of field-service tasks, checked over generated inputs (FS-1, FS-2, FS-3, AC-6)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import InvalidInput, InvalidState
from aftersales.models import TaskStage
from aftersales.testing import Scenario, assert_unchanged, build_scenario
from aftersales.testing.plugin import START

#: The order of the open stages; Done and Cancelled are final (FS-3).
FORWARD = (TaskStage.NEW, TaskStage.PLANNED, TaskStage.IN_PROGRESS, TaskStage.DONE)
FINAL = {TaskStage.DONE, TaskStage.CANCELLED}

PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def world() -> Iterator[tuple[AfterSales, MemoryBackend, Scenario]]:
    """A fresh backend, app and scenario for one generated example."""
    backend = MemoryBackend()
    clock = FrozenClock(START)
    scenario = build_scenario(backend.builder(clock))
    yield AfterSales(backend, clock=clock), backend, scenario


def legal(current: TaskStage, target: TaskStage) -> bool:
    """FS-3 as a model, written independently of the service's table."""
    if current in FINAL:
        return False
    if target is TaskStage.CANCELLED:
        return True
    return FORWARD.index(target) > FORWARD.index(current)


@PROPERTIES
@given(moves=st.lists(st.tuples(st.sampled_from(TaskStage), st.booleans()), min_size=1, max_size=8))
def test_fs3_any_sequence_of_stage_moves_follows_the_rules(
    moves: list[tuple[TaskStage, bool]],
) -> None:
    with world() as (app, backend, scenario):
        agent = scenario.actors.agent
        task = app.field_service.create_task(scenario.ticket.id, actor=agent)
        stage = TaskStage.NEW
        accepted = 0
        for target, via_mark_done in moves:

            def call(target: TaskStage = target, via_mark_done: bool = via_mark_done) -> TaskStage:
                if target is TaskStage.DONE and via_mark_done:
                    return app.field_service.mark_done(task.id, actor=agent).stage
                return app.field_service.set_stage(task.id, target, actor=agent).stage

            if legal(stage, target):
                assert call() is target
                stage = target
                accepted += 1
            else:
                with pytest.raises(InvalidState, match=r"^cannot "), assert_unchanged(backend):
                    call()
        view = app.tickets.view(scenario.ticket.id, actor=agent)
        bodies = [m.body for m in view.trail]
        assert backend.snapshot()["tasks"][task.id].stage is stage
        assert view.counts.tasks == 1
        assert len(bodies) == 1 + accepted
        assert bodies.count("Task done: Blender broken") == (1 if stage is TaskStage.DONE else 0)
        assert accepted <= 3  # at most New → Planned → In Progress → Done/Cancelled


@PROPERTIES
@given(title=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_fs1_any_title_is_kept_trimmed_or_refused_when_blank(title: str) -> None:
    with world() as (app, backend, scenario):
        agent = scenario.actors.agent
        if title.strip():
            task = app.field_service.create_task(scenario.ticket.id, title=title, actor=agent)
            assert task.title == title.strip()
        else:
            with pytest.raises(InvalidInput, match=r"^title=") as info, assert_unchanged(backend):
                app.field_service.create_task(scenario.ticket.id, title=title, actor=agent)
            assert info.value.field == "title"


@PROPERTIES
@given(calls=st.lists(st.booleans(), max_size=6), failures=st.integers(0, 3))
def test_fs2_ac6_each_call_creates_exactly_one_task_and_counts_stay_right(
    calls: list[bool], failures: int
) -> None:
    with world() as (app, backend, scenario):
        agent = scenario.actors.agent
        created = []
        for with_view in calls:
            for _ in range(failures):
                with pytest.raises(InvalidInput):
                    app.field_service.create_task(scenario.ticket.id, title=" ", actor=agent)
            if with_view:
                created.append(
                    app.field_service.create_and_view_task(scenario.ticket.id, actor=agent).task
                )
            else:
                created.append(app.field_service.create_task(scenario.ticket.id, actor=agent))
        view = app.tickets.view(scenario.ticket.id, actor=agent)
        assert view.counts.tasks == len(calls)
        assert len(backend.snapshot().get("tasks", {})) == len(calls)
        assert app.field_service.tasks(scenario.ticket.id, actor=agent) == tuple(created)
