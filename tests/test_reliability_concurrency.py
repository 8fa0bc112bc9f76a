"""RL-3 and RL-5 on the memory backend: threads on one invoice, delivery, coupon program,
coupon and repair sequence; bounded retries."""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import cast

import attrs
import pytest

from aftersales import AfterSales, Config, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import (
    AfterSalesError,
    ConflictError,
    DuplicateKey,
    InvalidCoupon,
    InvalidInput,
    NotFound,
    QuantityExceeded,
)
from aftersales.testing.conformance.processes import WorkerPool
from tests.reliability.concurrency import (
    Outcomes,
    check_bounded_retries,
    processes,
    race_named,
    threads,
)
from tests.reliability.contract import ConcurrencyContract
from tests.reliability.setting import Setting


class TestConcurrencyOnMemory(ConcurrencyContract):
    pass


@pytest.mark.parametrize("retries", [1, 5])
def test_rl5_the_number_of_attempts_follows_the_configuration(
    clock: FrozenClock, retries: int
) -> None:
    backend = MemoryBackend()
    app = AfterSales(backend, clock=clock, config=Config(retries=retries))
    assert check_bounded_retries(Setting.create(app, backend)) == retries


def test_a_race_check_rejects_more_successes_than_the_cap(
    app: AfterSales, backend: MemoryBackend
) -> None:
    """Ten credit notes of 10.00 fill an invoice of 100.00; eleven workers reporting
    success means one of them was let past the cap."""
    setting = Setting.create(app, backend)
    race = race_named("credit notes on one invoice")
    target = race.prepare(setting)
    for n in range(10):
        race.attempt(app, target, n)
    race.check(setting, target, Outcomes(("ok",) * 10))
    with pytest.raises(AssertionError, match="11"):
        race.check(setting, target, Outcomes(("ok",) * 11))


def test_a_race_reports_unexpected_failures() -> None:
    outcomes = Outcomes((ConflictError("busy"), "ok"))
    with pytest.raises(AssertionError, match="ConflictError: busy"):
        outcomes.refused_with(ValueError)


def test_the_thread_runner_runs_every_worker_once(app: AfterSales, backend: MemoryBackend) -> None:
    setting = Setting.create(app, backend)
    race = race_named("repair orders from one sequence")
    target = race.prepare(setting)
    outcomes = threads(app)(race, target, 4)
    assert len(outcomes.succeeded) == 4
    race.check(setting, target, outcomes)


@pytest.mark.parametrize(
    "error",
    [
        QuantityExceeded("credit for invoice INV/1", Decimal("10.00"), Decimal("0.00")),
        InvalidInput("quantity", 1.5, "expected a Decimal"),
        InvalidCoupon("044-AB", "already used"),
        DuplicateKey("coupon code", "044-AB"),
        ConflictError("could not serialize access (gave up after 3 attempts)"),
        NotFound("invoice", "invoice-1"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_rl3_refusals_cross_a_process_boundary(error: AfterSalesError) -> None:
    """Race workers in other processes send their refusals back pickled; before, every
    exception whose constructor takes more than a message failed to unpickle (and broke
    the process pool)."""
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def test_the_process_runner_runs_only_the_races_of_the_table(
    app: AfterSales, backend: MemoryBackend
) -> None:
    """Processes look races up by name; a race of another table fails in the parent."""
    other = attrs.evolve(race_named("repair orders from one sequence"), name="my own race")
    runner = processes(cast(WorkerPool, None), MemoryBackend, "2026-11-28T09:00:00+00:00")
    with pytest.raises(KeyError, match="no race 'my own race'"):
        runner(other, "ticket-1", 4)
