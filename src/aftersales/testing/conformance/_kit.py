"""What every contract shares: the ``kit`` fixture and its helpers."""

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
from aftersales.testing.snapshots import assert_unchanged
from aftersales.unit_of_work import UnitOfWork

from .capabilities import Capability, capabilities_of

__all__ = ["ContractBase", "Kit", "run_threads"]

R = TypeVar("R")


class Kit:
    """The backend under test with the library around it.

    ``hooks`` is the typed facade the services use; :meth:`unit` opens a unit of work as a
    service call does; :meth:`write` and :meth:`read` run a function in one.
    """

    def __init__(self, backend: Any, clock: FrozenClock) -> None:
        self.backend = backend
        self.clock = clock
        self.app = AfterSales(backend, clock=clock)
        self.hooks: Hooks = self.app.hooks
        self.world: Builder = backend.builder(clock)

    @property
    def capabilities(self) -> frozenset[str]:
        return capabilities_of(self.backend)

    def require(self, capability: Capability) -> None:
        """Skip the test, saying why, unless the backend declares ``capability``."""
        if capability.value not in self.capabilities:
            pytest.skip(
                f"backend {type(self.backend).__name__} does not declare the optional "
                f"capability {capability.value!r} ({capability.meaning})"
            )

    @contextmanager
    def unit(self, *, writes: bool = True) -> Iterator[UnitOfWork]:
        """A unit of work, as :meth:`Runtime.write` opens one; commit it yourself."""
        with self.app.runtime.unit(writes=writes) as uow:
            yield uow

    def write(self, work: Callable[[Hooks], R]) -> R:
        """Run ``work`` in a unit of work and commit it."""
        with self.unit() as uow:
            result = work(self.hooks)
            uow.commit(result)
            return result

    def read(self, work: Callable[[Hooks], R]) -> R:
        """Run ``work`` in a read-only unit of work (rolled back)."""
        with self.unit(writes=False):
            return work(self.hooks)

    def unchanged(self) -> Any:
        """``with kit.unchanged(): ...`` fails when the block changed the store."""
        return assert_unchanged(self.backend)


def run_threads(count: int, target: Callable[[int], R], timeout: float = 60) -> list[R]:
    """Run ``target(i)`` on ``count`` threads started together; return results in order.

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
    """Base of every contract mixin: provides the ``kit`` fixture.

    A backend author subclasses the contracts in a ``Test…`` class and overrides the
    ``aftersales_backend`` fixture to return a fresh, empty backend.
    """

    @pytest.fixture
    def kit(self, aftersales_backend: Any, aftersales_clock: FrozenClock) -> Kit:
        return Kit(aftersales_backend, aftersales_clock)
