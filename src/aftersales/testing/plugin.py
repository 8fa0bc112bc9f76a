"""The aftersales pytest plugin (entry point `pytest11`): fixtures for tests and backends.

Fixtures (override `aftersales_backend` to run everything on your backend):

* `aftersales_clock` — a [`FrozenClock`][aftersales.clock.FrozenClock] at 2026-11-28 09:00 UTC;
* `aftersales_backend` — a `MemoryBackend` as new (one per session, `reset()` per test);
* `aftersales_app` — an [`AfterSales`][aftersales.app.AfterSales] over that backend and clock;
* `aftersales_scenario` — the standard world (`build_scenario()`);
* `aftersales_session` — what the fixtures above share for the whole session.

The application is built once per session (building one registers every hook with
pluggy, which costs far more than a test's calls) and the memory backend and the clock are
reset before each test, so every test starts as if everything were new; the standard world
is built once and reloaded from its snapshot. A test that changes the application itself
(registers a plugin, monitors hook calls, replaces an attribute) gets a new one for the
next test. Overriding `aftersales_backend` or `aftersales_clock` gives a new application
per test over them, as before. See docs/testing.md.

Backend authors run the conformance kit (`aftersales.testing.conformance`) by
subclassing its contracts and overriding `aftersales_backend` (the kit refuses this
plugin's default); the plugin registers the kit's marker `aftersales_exercises` and the
option `--aftersales-unexercised`.

Every pytest run of a project that has aftersales installed loads this module, so it imports
nothing of the library itself: each fixture imports what it needs when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aftersales.app import AfterSales
    from aftersales.backends.memory import MemoryBackend
    from aftersales.clock import FrozenClock
    from aftersales.testing.scenario import Scenario

START = "2026-11-28T09:00:00+00:00"


def _fingerprint(app: AfterSales) -> tuple[object, ...]:
    """What a test could change on the application: its plugins, the call monitoring and
    the attributes of the application, its runtime and its services (dicts by content),
    not the clock's time."""
    state: list[object] = [tuple(map(id, app.pm.get_plugins())), app.pm.monitored]
    for holder in (app, app.runtime, *vars(app).values()):
        if holder is app.clock:  # the clock moves; the fixtures set it back
            continue
        for name, value in sorted(getattr(holder, "__dict__", {}).items()):
            content = tuple((k, id(v)) for k, v in value.items()) if type(value) is dict else ()
            state.append((id(holder), name, id(value), content))
    return tuple(state)


class TestSession:
    """One memory backend, clock and application for a whole pytest session.

    `backend()` resets the backend and the clock and returns the backend;
    `app()` is the application over them (built again only when a test changed it);
    `scenario()` stores the standard world, built once and then reloaded from its snapshot.
    """

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self._backend: MemoryBackend | None = None
        self._clock: FrozenClock | None = None
        self._app: AfterSales | None = None
        self._app_state: tuple[object, ...] = ()
        self._backend_state: dict[str, int] = {}
        self._world: tuple[Scenario, Any, Any] | None = None
        self._new: dict[str, dict[object, Any]] = {}

    @property
    def clock(self) -> FrozenClock:
        if self._clock is None:
            from aftersales.clock import FrozenClock

            self._clock = FrozenClock(START)
        return self._clock

    def backend(self) -> MemoryBackend:
        """The session's memory backend, as new; the clock back at `START`."""
        self.clock.set(START)
        backend = self._backend
        if backend is None or self._backend_state != {k: id(v) for k, v in vars(backend).items()}:
            from aftersales.backends.memory import MemoryBackend

            backend = self._backend = MemoryBackend()
            self._backend_state = {k: id(v) for k, v in vars(backend).items()}
            self._app = None
        else:
            backend.reset()
        self._new = backend.snapshot()
        return backend

    def made(self, backend: object) -> bool:
        """Whether `backend` is this session's memory backend (the fixtures' default)."""
        return self._backend is not None and backend is self._backend

    def untouched(self) -> bool:
        """Whether the session's backend holds what `backend()` left (nothing written)."""
        return self._backend is not None and self._backend.snapshot() == self._new

    def app(self) -> AfterSales:
        """The application over the session's backend and clock."""
        if self._app is None or _fingerprint(self._app) != self._app_state:
            from aftersales.app import AfterSales

            self._app = AfterSales(self.backend_as_is(), clock=self.clock)
            self._app_state = _fingerprint(self._app)
        return self._app

    def backend_as_is(self) -> MemoryBackend:
        return self._backend if self._backend is not None else self.backend()

    def scenario(self) -> Scenario:
        """The standard world in the session's backend (which must hold nothing else)."""
        backend = self.backend_as_is()
        if self._world is None:
            from aftersales.testing.scenario import build_scenario

            scenario = build_scenario(backend.builder(self.clock))
            self._world = (scenario, backend.snapshot(), self.clock.now())
        else:
            scenario, snapshot, now = self._world
            backend.reset(snapshot)
            self.clock.set(now)
        return scenario


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("aftersales").addoption(
        "--aftersales-unexercised",
        action="store_true",
        default=False,
        help=(
            "let the conformance kit run a class whose backend declares a capability "
            "(persistent, multi_process) none of whose tests is collected: for a local "
            "run of a few tests, never in CI"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aftersales_exercises(capability): a conformance-kit test that proves the backend's "
        "declared capability (persistent, multi_process)",
    )


@pytest.fixture(scope="session")
def aftersales_session() -> TestSession:
    """The memory backend, clock and application the other fixtures share."""
    return TestSession()


@pytest.fixture
def aftersales_clock(aftersales_session: TestSession) -> FrozenClock:
    """A clock that only moves when the test moves it (at `START` when the test begins)."""
    clock = aftersales_session.clock
    clock.set(START)
    return clock


@pytest.fixture
def aftersales_backend(aftersales_session: TestSession) -> Any:
    """The backend under test; override this fixture to test another backend."""
    return aftersales_session.backend()


@pytest.fixture
def aftersales_app(
    aftersales_session: TestSession, aftersales_backend: Any, aftersales_clock: FrozenClock
) -> AfterSales:
    """The library over the backend under test."""
    if aftersales_backend is aftersales_session.backend_as_is() and (
        aftersales_clock is aftersales_session.clock
    ):
        return aftersales_session.app()
    from aftersales.app import AfterSales

    return AfterSales(aftersales_backend, clock=aftersales_clock)


@pytest.fixture
def aftersales_scenario(
    aftersales_session: TestSession, aftersales_backend: Any, aftersales_clock: FrozenClock
) -> Scenario:
    """The standard world, built through the backend's builder."""
    shared = aftersales_backend is aftersales_session.backend_as_is() and (
        aftersales_clock is aftersales_session.clock
    )
    if shared and aftersales_session.untouched():
        return aftersales_session.scenario()
    from aftersales.testing.scenario import build_scenario

    return build_scenario(aftersales_backend.builder(aftersales_clock))
