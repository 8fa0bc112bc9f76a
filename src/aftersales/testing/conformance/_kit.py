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

__all__ = ["ContractBase", "Kit", "Reopen", "run_threads"]

R = TypeVar("R")

#: Closes the backend it is given and opens a new one on the same store (see
#: `ContractBase.aftersales_reopen()`).
Reopen = Callable[[Any], Any]


class Kit:
    """The backend under test with the library around it.

    `hooks` is the typed facade the services use; `unit()` opens a unit of work as a
    service call does; `write()` and `read()` run a function in one.
    """

    def __init__(self, backend: Any, clock: FrozenClock, reopen: Reopen | None = None) -> None:
        self.backend = backend
        self.clock = clock
        self.app = AfterSales(backend, clock=clock)
        self.hooks: Hooks = self.app.hooks
        self.world: Builder = backend.builder(clock)
        self._reopen = reopen
        self._opened: list[Any] = []

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
            close = getattr(backend, "close", None)
            if callable(close):
                close()
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


class ContractBase:
    """Base of every contract mixin: provides the `kit` fixture.

    A backend author subclasses the contracts in a `Test…` class and overrides the
    `aftersales_backend` fixture to return a fresh, empty backend; a backend that
    declares the `persistent` capability also overrides `aftersales_reopen`.
    """

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
        aftersales_backend: Any,
        aftersales_clock: FrozenClock,
        aftersales_reopen: Reopen | None,
    ) -> Iterator[Kit]:
        kit = Kit(aftersales_backend, aftersales_clock, aftersales_reopen)
        try:
            yield kit
        finally:
            kit.close()
