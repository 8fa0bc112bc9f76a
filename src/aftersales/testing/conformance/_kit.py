"""What every contract shares: the `kit` fixture and its helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from aftersales.app import AfterSales
from aftersales.builder import Builder
from aftersales.clock import FrozenClock
from aftersales.hooks import Hooks
from aftersales.models import Actor
from aftersales.runtime import Config
from aftersales.testing.snapshots import assert_unchanged
from aftersales.unit_of_work import UnitOfWork

from .capabilities import Capability, capabilities_of

__all__ = ["EXERCISED", "ContractBase", "Factory", "Kit", "Reopen", "run_threads"]

R = TypeVar("R")

#: Closes the backend it is given and opens a new one on the same store (see
#: `ContractBase.aftersales_reopen()`).
Reopen = Callable[[Any], Any]

#: The capabilities whose declaration the kit checks is exercised: a class whose backend
#: declares one must collect at least one test marked `aftersales_exercises(<it>)`.
EXERCISED = (Capability.PERSISTENT, Capability.MULTI_PROCESS)

#: What the `aftersales_factory` fixture must be: picklable, called with no arguments in a
#: new process, it opens a new backend on the store `aftersales_backend` opened.
Factory = Callable[[], Any]


def _close(backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()


def _reopen_from(factory: Factory) -> Reopen:
    def reopen(backend: Any) -> Any:
        _close(backend)
        return factory()

    return reopen


class Kit:
    """The backend under test with the library around it.

    `hooks` is the typed facade the services use; `unit()` opens a unit of work as a
    service call does; `write()` and `read()` run a function in one.
    """

    def __init__(
        self,
        backend: Any,
        clock: FrozenClock,
        reopen: Reopen | None = None,
        factory: Factory | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.app = AfterSales(backend, clock=clock)
        self.hooks: Hooks = self.app.hooks
        self.world: Builder = backend.builder(clock)
        if reopen is None and factory is not None:
            reopen = _reopen_from(factory)
        self._reopen = reopen
        self._factory = factory
        self._opened: list[Any] = []

    @property
    def factory(self) -> Factory:
        """The `aftersales_factory` fixture: opens the store in another process.

        Raises:
            AssertionError: The backend declares `persistent` or `multi_process` and the
                test class does not override `aftersales_factory`.
        """
        if self._factory is None:
            declared = sorted(self.capabilities & {c.value for c in EXERCISED})
            raise AssertionError(
                f"backend {type(self.backend).__name__} declares {declared} but the test "
                "class does not override the aftersales_factory fixture (a picklable "
                "callable, e.g. functools.partial(MyBackend, url), that opens a new backend "
                "on the same store in another process)"
            )
        return self._factory

    def close_backend(self) -> None:
        """Close the backend under test, as a restart does (the app must not be used
        after it)."""
        _close(self.backend)

    def application(self, config: Config | None = None) -> AfterSales:
        """Another application over the same backend and clock, e.g. with a `config`."""
        return AfterSales(self.backend, clock=self.clock, config=config)

    def reopen(self) -> AfterSales:
        """Close the backend, open a new one on the same store, and point `backend`,
        `app`, `hooks` and `world` at it: what a restart of the helpdesk does.

        Needs the `persistent` capability and the `aftersales_reopen` fixture.
        """
        self.require(Capability.PERSISTENT)
        if self._reopen is None:
            raise AssertionError(
                f"backend {type(self.backend).__name__} declares the capability "
                f"{Capability.PERSISTENT.value!r} but the test class does not override the "
                "aftersales_reopen fixture (a function that closes the backend it is given "
                "and returns a new one on the same store)"
            )
        self.backend = self._reopen(self.backend)
        self._opened.append(self.backend)
        self.app = AfterSales(self.backend, clock=self.clock)
        self.hooks = self.app.hooks
        self.world = self.backend.builder(self.clock)
        return self.app

    def close(self) -> None:
        """Close the backends `reopen()` opened (the fixture closes the first one)."""
        for backend in self._opened:
            _close(backend)
        self._opened.clear()

    @property
    def capabilities(self) -> frozenset[str]:
        return capabilities_of(self.backend)

    def require(self, capability: Capability) -> None:
        """Skip the test, saying why, unless the backend declares `capability`."""
        if capability.value not in self.capabilities:
            pytest.skip(
                f"backend {type(self.backend).__name__} does not declare the optional "
                f"capability {capability.value!r} ({capability.meaning})"
            )

    @contextmanager
    def unit(self, *, writes: bool = True, actor: Actor | None = None) -> Iterator[UnitOfWork]:
        """A unit of work, as `Runtime.write()` opens one; commit it yourself."""
        with self.app.runtime.unit(writes=writes, actor=actor) as uow:
            yield uow

    def write(self, work: Callable[[Hooks], R]) -> R:
        """Run `work` in a unit of work and commit it."""
        with self.unit() as uow:
            result = work(self.hooks)
            uow.commit(result)
            return result

    def read(self, work: Callable[[Hooks], R]) -> R:
        """Run `work` in a read-only unit of work (rolled back)."""
        with self.unit(writes=False):
            return work(self.hooks)

    def unchanged(self) -> Any:
        """`with kit.unchanged(): ...` fails when the block changed the store."""
        return assert_unchanged(self.backend)


def run_threads(count: int, target: Callable[[int], R], timeout: float = 60) -> list[R]:
    """Run `target(i)` on `count` threads started together; return results in order.

    An exception in a thread is re-raised here.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"a thread did not finish within {timeout} s")
    if errors:
        raise errors[0]
    return results


def _is_marked(item: pytest.Item, capability: str) -> bool:
    return any(m.args[:1] == (capability,) for m in item.iter_markers("aftersales_exercises"))


def _unexercised(request: pytest.FixtureRequest, declared: frozenset[str]) -> list[str]:
    """The capabilities of `EXERCISED` in `declared` that no collected test of the
    requesting class exercises."""
    missing: list[str] = []
    items = [i for i in request.session.items if getattr(i, "cls", None) is request.cls]
    for capability in EXERCISED:
        if capability.value in declared and not any(_is_marked(i, capability) for i in items):
            missing.append(capability.value)
    return missing


def _refuse_the_default(request: pytest.FixtureRequest, backend: Any) -> None:
    session = request.getfixturevalue("aftersales_session")
    if session.made(backend):
        pytest.fail(
            f"{request.node.nodeid}: the conformance kit was given the aftersales plugin's "
            "default memory backend. Override the aftersales_backend fixture in your test "
            "class (or its conftest.py) to return a fresh, empty backend of yours, e.g.\n"
            "    @pytest.fixture\n"
            "    def aftersales_backend(self):\n"
            "        return MyBackend(...)",
            pytrace=False,
        )


class ContractBase:
    """Base of every contract mixin: provides the `kit` fixture.

    A backend author subclasses the contracts in a `Test…` class and overrides the
    `aftersales_backend` fixture to return a fresh, empty backend (the kit refuses the
    plugin's default memory backend); a backend that declares the `persistent` or
    `multi_process` capability also overrides `aftersales_factory`.
    """

    @pytest.fixture
    def aftersales_factory(self) -> Factory | None:
        """A picklable callable (e.g. `functools.partial(MyBackend, url)`, with
        `MyBackend` importable) that opens a new backend on the store `aftersales_backend`
        opened; the kit calls it in new processes. `None` for a backend without
        persistence.

        Examples:
            >>> # @pytest.fixture
            >>> # def aftersales_factory(self, aftersales_backend):
            >>> #     return functools.partial(MyBackend, aftersales_backend.url)
        """
        return None

    @pytest.fixture
    def aftersales_reopen(self) -> Reopen | None:
        """A function that closes the backend it is given and returns a new backend on the
        same store (what a restart does); `None` for a backend without persistence.

        Examples:
            >>> # @pytest.fixture
            >>> # def aftersales_reopen(self, url):
            >>> #     def reopen(backend):
            >>> #         backend.close()
            >>> #         return MyBackend(url)
            >>> #     return reopen
        """
        return None

    @pytest.fixture
    def kit(
        self,
        request: pytest.FixtureRequest,
        aftersales_backend: Any,
        aftersales_clock: FrozenClock,
        aftersales_reopen: Reopen | None,
        aftersales_factory: Factory | None,
    ) -> Iterator[Kit]:
        _refuse_the_default(request, aftersales_backend)
        missing = _unexercised(request, capabilities_of(aftersales_backend))
        if missing and not request.config.getoption("aftersales_unexercised", False):
            pytest.fail(
                f"backend {type(aftersales_backend).__name__} declares {missing} but no test "
                f"of {request.cls.__name__ if request.cls else 'this module'} that exercises "
                "it is collected (left out of the class or deselected): add the kit's "
                "PersistenceContract / MultiProcessContract (both in BackendContract), or "
                "stop declaring the capability (pytest --aftersales-unexercised lets a "
                "local run of a few tests through)",
                pytrace=False,
            )
        kit = Kit(aftersales_backend, aftersales_clock, aftersales_reopen, aftersales_factory)
        try:
            yield kit
        finally:
            kit.close()
