"""Short names for the plugin's fixtures, used across the suite."""

from __future__ import annotations

from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.testing import Actors, Scenario


@pytest.fixture
def clock(aftersales_clock: FrozenClock) -> FrozenClock:
    return aftersales_clock


@pytest.fixture
def backend(aftersales_backend: Any) -> Any:
    return aftersales_backend


@pytest.fixture
def app(aftersales_app: AfterSales) -> AfterSales:
    return aftersales_app


@pytest.fixture
def scenario(aftersales_scenario: Scenario) -> Scenario:
    return aftersales_scenario


@pytest.fixture
def actors() -> Actors:
    return Actors()
