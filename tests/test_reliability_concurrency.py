"""RL-3 and RL-5 on the memory backend: threads on one invoice, delivery, coupon program,
coupon and repair sequence; bounded retries."""

from __future__ import annotations

import pytest

from aftersales import AfterSales, Config, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import ConflictError
from aftersales.testing.reliability.concurrency import (
    Outcomes,
    check_bounded_retries,
    race_named,
    threads,
)
from aftersales.testing.reliability.contract import ConcurrencyContract
from aftersales.testing.reliability.setting import Setting


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
