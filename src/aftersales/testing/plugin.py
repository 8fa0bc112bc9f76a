"""The aftersales pytest plugin (entry point `pytest11`): fixtures for tests and backends.

Fixtures (override `aftersales_backend` to run everything on your backend):

* `aftersales_clock` — a [`FrozenClock`][aftersales.clock.FrozenClock] at 2026-11-28 09:00 UTC;
* `aftersales_backend` — a fresh `MemoryBackend`;
* `aftersales_app` — an [`AfterSales`][aftersales.app.AfterSales] over that backend and clock;
* `aftersales_scenario` — the standard world (`build_scenario()`).

Backend authors run the conformance kit (`aftersales.testing.conformance`) by
subclassing its contracts and overriding `aftersales_backend`.

Every pytest run of a project that has aftersales installed loads this module, so it imports
nothing of the library itself: each fixture imports what it needs when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aftersales.app import AfterSales
    from aftersales.clock import FrozenClock
    from aftersales.testing.scenario import Scenario

START = "2026-11-28T09:00:00+00:00"


@pytest.fixture
def aftersales_clock() -> FrozenClock:
    """A clock that only moves when the test moves it."""
    from aftersales.clock import FrozenClock

    return FrozenClock(START)


@pytest.fixture
def aftersales_backend() -> Any:
    """The backend under test; override this fixture to test another backend."""
    from aftersales.backends.memory import MemoryBackend

    return MemoryBackend()


@pytest.fixture
def aftersales_app(aftersales_backend: Any, aftersales_clock: FrozenClock) -> AfterSales:
    """The library over the backend under test."""
    from aftersales.app import AfterSales

    return AfterSales(aftersales_backend, clock=aftersales_clock)


@pytest.fixture
def aftersales_scenario(aftersales_backend: Any, aftersales_clock: FrozenClock) -> Scenario:
    """The standard world, built through the backend's builder."""
    from aftersales.testing.scenario import build_scenario

    return build_scenario(aftersales_backend.builder(aftersales_clock))
