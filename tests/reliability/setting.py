"""The world a reliability check runs in: the application, its backend, the standard
scenario, and a witness of what leaves the library after a commit.

Everything here goes through the public API, the `Builder` and
the backend's `snapshot()`, so the same checks run on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from aftersales.app import AfterSales
from aftersales.builder import Builder
from aftersales.clock import Clock
from aftersales.models import Actor, Invoice, Picking, Ticket
from aftersales.testing.scenario import Scenario, build_scenario
from aftersales.testing.witness import Witness

__all__ = ["ReliabilityBackend", "Setting", "touched"]

T = TypeVar("T")


@runtime_checkable
class ReliabilityBackend(Protocol):
    """What the reliability suite needs of a backend: test data and whole-store snapshots."""

    def builder(self, clock: Clock | None = None) -> Builder: ...

    def snapshot(self) -> dict[str, dict[Any, Any]]: ...


@attrs.define
class Setting:
    """The application under test over one backend, with the standard world built in it.

    Build it with `create()` from the
    `aftersales_app` and `aftersales_backend` fixtures, or
    `resume()` it over a copy of a
    database that already holds the world. The helpers add fresh records of the standard customer
    (a ticket, an invoice, a delivery), so that a check can prepare several independent targets in
    one world.
    """

    app: AfterSales
    backend: ReliabilityBackend
    world: Builder
    scenario: Scenario
    witness: Witness
    _counter: int = attrs.field(default=0, init=False)

    @classmethod
    def create(cls, app: AfterSales, backend: ReliabilityBackend) -> Setting:
        """Build the standard world in `backend` and watch `app`."""
        return cls._watching(app, backend, build_scenario(backend.builder(app.clock)))

    @classmethod
    def resume(cls, app: AfterSales, backend: ReliabilityBackend, template: Setting) -> Setting:
        """A setting over a copy of the store `template` worked in (a template database
        copied, or a database put back to it): the same world with nothing built again,
        and numbering going on where `template` stopped."""
        setting = cls._watching(app, backend, template.scenario)
        setting._counter = template._counter
        return setting

    @classmethod
    def _watching(cls, app: AfterSales, backend: ReliabilityBackend, scenario: Scenario) -> Setting:
        world = backend.builder(app.clock)
        witness = Witness()
        app.pm.register(witness, name=f"{Witness.name}-{id(witness)}")
        return cls(app=app, backend=backend, world=world, scenario=scenario, witness=witness)

    # -- actors ---------------------------------------------------------------------------

    @property
    def agent(self) -> Actor:
        return self.scenario.actors.agent

    @property
    def manager(self) -> Actor:
        return self.scenario.actors.manager

    @property
    def system(self) -> Actor:
        return self.scenario.actors.system

    # -- the store ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[Any, Any]]:
        return self.backend.snapshot()

    def serial(self) -> int:
        """A number unique within this setting (for references and titles)."""
        self._counter += 1
        return self._counter

    # -- fresh records of the standard customer -------------------------------------------

    def ticket(self, *, title: str = "Blender broken", with_order: bool = True) -> Ticket:
        sc = self.scenario
        return self.world.ticket(
            team=sc.team,
            title=f"{title} ({self.serial()})",
            customer=sc.customer,
            product=sc.blender,
            sale_order=sc.order if with_order else None,
            followers=[sc.customer, sc.follower],
            description="It stopped after a week.",
        )

    def invoice(self, *, paid: Decimal | bool = False) -> Invoice:
        sc = self.scenario
        return self.world.invoice(
            customer=sc.customer,
            lines=[(sc.blender, 2), (sc.kettle, 1)],
            sale_order=sc.order,
            paid=paid,
        )

    def delivery(self) -> Picking:
        sc = self.scenario
        return self.world.delivery(
            customer=sc.customer, lines=[(sc.blender, 2), (sc.kettle, 3)], sale_order=sc.order
        )

    def twice(self, make: Callable[[], T]) -> tuple[T, T]:
        """Two independent targets: the first for a call, the second for a variation."""
        return make(), make()


def touched(before: dict[str, dict[Any, Any]], after: dict[str, dict[Any, Any]]) -> dict[str, int]:
    """How many rows of each table a change added, changed or removed.

    Identifiers are random, so two runs of the same call are compared by these counts.
    """
    counts: dict[str, int] = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        keys = set(old) | set(new)
        changed = sum(1 for key in keys if old.get(key, _GONE) != new.get(key, _GONE))
        if changed:
            counts[table] = changed
    return counts


_GONE = object()
