"""RT-5 / RL-3: the cap holds when many threads return the same delivery at once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.builder import Builder
from aftersales.errors import InvalidState, QuantityExceeded
from aftersales.models import MoveState, Picking, PickingState
from aftersales.testing import Scenario, build_scenario

THREADS = 16
T = TypeVar("T")


@pytest.fixture
def world(backend: MemoryBackend, clock: FrozenClock) -> Builder:
    return backend.builder(clock)


@pytest.fixture
def scenario(world: Builder) -> Scenario:
    return build_scenario(world)


def all_at_once(count: int, task: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``task(i)`` on ``count`` threads released together; results or exceptions."""
    start = threading.Barrier(count)

    def run(i: int) -> T | BaseException:
        start.wait()
        try:
            return task(i)
        except BaseException as exc:  # collected and checked by the test
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def taken(app: AfterSales, delivery: Picking) -> dict[str, Decimal]:
    """Returned + reserved per delivery move, straight from the stored returns."""
    used = {m.id: Decimal(0) for m in delivery.moves}
    for ret in app.hooks.list_returns(delivery.id):
        if ret.state is PickingState.CANCELLED:
            continue
        for move in ret.moves:
            if move.state is not MoveState.CANCELLED and move.origin_move_id is not None:
                used[move.origin_move_id] += move.quantity
    return used


def test_rt5_concurrent_returns_never_exceed_the_delivered_quantity(
    app: AfterSales, world: Builder, scenario: Scenario
) -> None:
    """16 agents each return 1 of the 5 Blenders delivered, at the same moment:
    exactly 5 returns exist afterwards, the 11 others were refused."""
    delivery = world.delivery(customer=scenario.customer, lines=[(scenario.blender, 5)])
    move = delivery.moves[0].id
    agent = scenario.actors.agent

    def one(_: int) -> Picking:
        return app.returns.create(scenario.ticket.id, delivery.id, {move: Decimal(1)}, actor=agent)

    results = all_at_once(THREADS, one)
    made = [r for r in results if isinstance(r, Picking)]
    refused = [r for r in results if isinstance(r, QuantityExceeded)]
    assert len(made) == 5
    assert len(refused) == THREADS - 5, [r for r in results if not isinstance(r, Picking)]
    assert all(str(r).endswith("only 0 Units available") for r in refused)
    assert sorted(r.reference for r in made) == [f"WH/RET/{n:05d}" for n in range(1, 6)]
    assert taken(app, delivery) == {move: Decimal(5)}
    view = app.tickets.view(scenario.ticket.id, actor=agent)
    assert view.counts.returns == len(view.documents) == 5
    assert len(view.trail) == 5


def test_rt5_concurrent_uneven_returns_fill_the_cap_exactly(
    app: AfterSales, world: Builder, scenario: Scenario
) -> None:
    """Threads ask 1, 2 or 3 Kettles of 10: whatever wins, the total never passes 10."""
    delivery = world.delivery(customer=scenario.customer, lines=[(scenario.kettle, 10)])
    move = delivery.moves[0].id
    agent = scenario.actors.agent

    def one(i: int) -> Picking:
        return app.returns.create(
            scenario.ticket.id, delivery.id, {move: Decimal(1 + i % 3)}, actor=agent
        )

    results = all_at_once(THREADS, one)
    made = [r for r in results if isinstance(r, Picking)]
    assert all(isinstance(r, Picking | QuantityExceeded) for r in results)
    total = sum((r.moves[0].quantity for r in made), Decimal(0))
    assert total == taken(app, delivery)[move] <= 10
    # Every refusal was right when it happened: less was left than it asked.
    assert total > 10 - 3


def test_rl3_concurrent_create_validate_cancel_keep_the_cap(
    app: AfterSales, world: Builder, scenario: Scenario
) -> None:
    """Threads create, validate and cancel returns of one delivery at random: at the end
    returned + reserved ≤ delivered for every move, and the stored states add up."""
    delivery = world.delivery(
        customer=scenario.customer, lines=[(scenario.blender, 4), (scenario.kettle, 3)]
    )
    delivered = {m.id: m.quantity for m in delivery.moves}
    agent = scenario.actors.agent

    def worker(seed: int) -> int:
        rng = random.Random(seed)
        mine: list[str] = []
        for _ in range(12):
            action = rng.choice(("create", "create", "validate", "cancel"))
            try:
                if action == "create" or not mine:
                    quantities = {m: Decimal(rng.randint(0, 2)) for m in delivered}
                    if not any(quantities.values()):
                        continue
                    ret = app.returns.create(
                        scenario.ticket.id, delivery.id, quantities, actor=agent
                    )
                    mine.append(ret.id)
                elif action == "validate":
                    app.returns.validate(rng.choice(mine), actor=agent)
                else:
                    app.returns.cancel(rng.choice(mine), actor=agent)
            except (QuantityExceeded, InvalidState):
                pass
            used = taken(app, delivery)
            assert all(used[m] <= delivered[m] for m in delivered)
        return len(mine)

    results = all_at_once(8, worker)
    assert all(isinstance(r, int) for r in results), results
    used = taken(app, delivery)
    assert all(used[m] <= delivered[m] for m in delivered)
    returns = app.hooks.list_returns(delivery.id)
    assert len(returns) == sum(r for r in results if isinstance(r, int))
    assert app.tickets.view(scenario.ticket.id, actor=agent).counts.returns == len(returns)
