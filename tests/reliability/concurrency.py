"""Caps under concurrent callers (RL-3) and bounded retries (RL-5).

A `Race` prepares one contended target (an invoice, a delivery, a coupon program, a
repair sequence), lets many workers call at the same moment, and checks the caps afterwards.
Targets are plain ids and workers get the application, so a runner may use threads of one
application (`threads()`, the default) or processes that each build their own over the
same database (`processes()`, for backends shared by several processes: SQLite,
PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from aftersales.app import AfterSales
from aftersales.errors import ConflictError, InvalidCoupon, QuantityExceeded
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    DocumentKind,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    MoveState,
    PickingState,
    RepairRequest,
)
from aftersales.testing.scenario import Actors
from aftersales.testing.snapshots import diff
from tests.reliability.setting import Setting

if TYPE_CHECKING:
    from aftersales.testing.conformance.processes import Factory, WorkerPool

__all__ = [
    "PROCESSES",
    "RACES",
    "Outcomes",
    "Race",
    "RaceReport",
    "Runner",
    "check_bounded_retries",
    "check_transient_conflicts",
    "processes",
    "race_attempts",
    "race_named",
    "run_race",
    "threads",
]

AGENT = Actors().agent

#: Seconds a worker may take before the race counts as hung (a deadlock never survives).
TIMEOUT = 60.0

#: Worker processes that make the calls of a race on a database shared by processes.
PROCESSES = 4


@attrs.frozen
class Outcomes:
    """What each worker got: a result or the exception it raised, in worker order.

    `concurrent` is how many threads or processes made the calls at once (0: one each).
    """

    outcomes: tuple[object, ...]
    concurrent: int = 0

    @property
    def succeeded(self) -> list[object]:
        return [o for o in self.outcomes if not isinstance(o, BaseException)]

    @property
    def failed(self) -> list[BaseException]:
        return [o for o in self.outcomes if isinstance(o, BaseException)]

    def refused_with(self, *kinds: type[BaseException]) -> None:
        """Every failure is one of `kinds` (the documented refusal of a full cap)."""
        odd = [o for o in self.failed if not isinstance(o, kinds)]
        if odd:
            raise AssertionError(
                f"workers failed with {[f'{type(o).__name__}: {o}' for o in odd]}, "
                f"expected only {[k.__name__ for k in kinds]}"
            )


@attrs.frozen(kw_only=True)
class Race:
    """Many workers calling on one target at once.

    `prepare(setting)` returns the target (plain, picklable values); ``attempt(app,
    target, n)` is worker `n`'s call; `check(setting, target, outcomes)`` asserts the
    caps afterwards.
    """

    name: str
    rule: str
    prepare: Callable[[Setting], Any]
    attempt: Callable[[AfterSales, Any, int], object]
    check: Callable[[Setting, Any, Outcomes], None]
    workers: int = 16


Runner = Callable[[Race, Any, int], Outcomes]


def threads(app: AfterSales) -> Runner:
    """A runner that releases `count` threads of `app` together behind a barrier."""

    def run(race: Race, target: Any, count: int) -> Outcomes:
        barrier = threading.Barrier(count)
        outcomes: list[object] = [None] * count

        def work(n: int) -> None:
            try:
                barrier.wait(timeout=TIMEOUT)
                outcomes[n] = race.attempt(app, target, n)
            except BaseException as exc:  # collected and judged by the race's check
                outcomes[n] = exc

        workers = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=TIMEOUT)
        hung = [n for n, worker in enumerate(workers) if worker.is_alive()]
        if hung:
            raise AssertionError(f"{race.name}: workers {hung} still running after {TIMEOUT}s")
        return Outcomes(tuple(outcomes), concurrent=count)

    return run


def processes(pool: WorkerPool, factory: Factory, start: str) -> Runner:
    """A runner over the worker processes of `pool` (the conformance kit's
    `WorkerPool`).

    Each process opens the backend from `factory` (picklable, such as
    `functools.partial(SqlBackend, url)`), builds its own application with a frozen clock
    at `start` and waits at a barrier; then all call at once. The race's `count` calls
    are dealt out in turn (call `n` to process `n % pool.size`), so a few processes make
    many calls, each process one after the other. Races are looked up by name in the
    processes (`race_named()`): only the races of `RACES` run this way.
    """

    def run(race: Race, target: Any, count: int) -> Outcomes:
        race_named(race.name)  # fail here, not in a worker, for a race of another table
        lanes = min(pool.size, count)
        args = [
            (factory, start, race.name, target, tuple(range(lane, count, lanes)))
            for lane in range(lanes)
        ]
        outcomes: list[object] = [None] * count
        for batch in pool.run(race_attempts, args, timeout=2 * TIMEOUT):
            for n, outcome in batch:
                outcomes[n] = outcome
        return Outcomes(tuple(outcomes), concurrent=lanes)

    return run


def race_attempts(
    barrier: Any, factory: Factory, start: str, name: str, target: Any, numbers: Sequence[int]
) -> list[tuple[int, object]]:
    """In a worker process: make the calls `numbers` of the race called `name`, one
    after the other, and return each result or refusal (exceptions of
    [`aftersales.errors`][aftersales.errors] survive pickling)."""
    from aftersales.testing.conformance.processes import _application

    race = race_named(name)
    done: list[tuple[int, object]] = []
    with _application(factory, start, barrier) as app:
        for n in numbers:
            try:
                done.append((n, race.attempt(app, target, n)))
            except Exception as exc:  # judged by the race's check in the parent
                done.append((n, exc))
    return done


@attrs.frozen
class RaceReport:
    """What one race measured: `workers` calls made by `concurrent` threads or
    processes at once."""

    race: str
    workers: int
    succeeded: int
    refused: int
    concurrent: int = 0


def run_race(setting: Setting, race: Race, runner: Runner | None = None) -> RaceReport:
    """Prepare `race`, run its workers at once (on threads by default), check the caps."""
    target = race.prepare(setting)
    outcomes = (runner or threads(setting.app))(race, target, race.workers)
    race.check(setting, target, outcomes)
    return RaceReport(
        race=race.name,
        workers=race.workers,
        succeeded=len(outcomes.succeeded),
        refused=len(outcomes.failed),
        concurrent=outcomes.concurrent or race.workers,
    )


# -- the races --------------------------------------------------------------------------------


def _credit(amount: str) -> list[InvoiceLine]:
    unit = Money.of(amount, "EUR")
    return [InvoiceLine(description="Goodwill credit", quantity=Decimal(1), unit_price=unit)]


def _prepare_invoice(s: Setting) -> tuple[str, str]:
    item = s.world.product(name=f"Chair {s.serial()}", price=Decimal("10.00"))
    invoice = s.world.invoice(customer=s.scenario.customer, lines=[(item, 10)])  # 100.00
    return s.ticket().id, invoice.id


def _credit_ten(app: AfterSales, target: Any, _n: int) -> object:
    ticket_id, invoice_id = target
    return app.refunds.reverse(ticket_id, invoice_id, lines=_credit("10.00"), actor=AGENT)


def _check_invoice(s: Setting, target: Any, outcomes: Outcomes) -> None:
    ticket_id, invoice_id = target
    outcomes.refused_with(QuantityExceeded)
    refundable = s.app.hooks.get_refundable(invoice_id)
    invoice, credited = refundable.invoice, refundable.credited
    notes = [s.app.hooks.get_invoice(n.document_id) for n in s.app.hooks.list_links(ticket_id)]
    live = [
        n
        for n in notes
        if n.kind is InvoiceKind.CREDIT_NOTE and n.state is not InvoiceState.CANCELLED
    ]
    assert credited <= invoice.total, f"credited {credited} of an invoice of {invoice.total}"
    assert len(outcomes.succeeded) == len(live) == 10, (len(outcomes.succeeded), len(live))
    assert credited == invoice.total


def _prepare_delivery(s: Setting) -> tuple[str, str, str]:
    delivery = s.world.delivery(customer=s.scenario.customer, lines=[(s.scenario.blender, 5)])
    return s.ticket().id, delivery.id, delivery.moves[0].id


def _return_one(app: AfterSales, target: Any, _n: int) -> object:
    ticket_id, delivery_id, move_id = target
    return app.returns.create(ticket_id, delivery_id, {move_id: Decimal(1)}, actor=AGENT)


def _check_delivery(s: Setting, target: Any, outcomes: Outcomes) -> None:
    _ticket_id, delivery_id, move_id = target
    outcomes.refused_with(QuantityExceeded)
    taken = Decimal(0)
    returns = s.app.hooks.list_returns(delivery_id)
    for ret in returns:
        if ret.state is PickingState.CANCELLED:
            continue
        taken += sum(
            (
                m.quantity
                for m in ret.moves
                if m.origin_move_id == move_id and m.state is not MoveState.CANCELLED
            ),
            Decimal(0),
        )
    assert taken == 5, f"returned + reserved {taken} of 5 delivered"
    assert len(outcomes.succeeded) == 5
    references = [r.reference for r in returns]
    assert len(set(references)) == len(references), f"duplicate references {references}"


def _prepare_program(s: Setting) -> tuple[str, ...]:
    program = s.world.coupon_program(name=f"Five uses {s.serial()}", max_usage=5)
    ticket = s.ticket()
    codes = [s.app.coupons.generate(ticket.id, program.id, actor=s.agent).code for _ in range(12)]
    return (*codes, program.id)


def _redeem_own(app: AfterSales, target: Any, n: int) -> object:
    return app.coupons.redeem(target[n % (len(target) - 1)], actor=AGENT)


def _check_program(s: Setting, target: Any, outcomes: Outcomes) -> None:
    outcomes.refused_with(InvalidCoupon)
    uses = s.app.hooks.count_uses(target[-1])
    assert uses == len(outcomes.succeeded) == 5, (uses, len(outcomes.succeeded))


def _prepare_coupon(s: Setting) -> str:
    return s.app.coupons.generate(s.ticket().id, s.scenario.program.id, actor=s.agent).code


def _redeem_same(app: AfterSales, code: Any, _n: int) -> object:
    return app.coupons.redeem(code, actor=AGENT)


def _check_coupon(s: Setting, code: Any, outcomes: Outcomes) -> None:
    outcomes.refused_with(InvalidCoupon)
    assert len(outcomes.succeeded) == 1, f"one coupon used {len(outcomes.succeeded)} times"
    coupon = s.app.hooks.find_coupon(code)
    assert coupon is not None
    assert coupon.points == 0


def _repair_on(app: AfterSales, ticket_id: Any, _n: int) -> object:
    return app.repairs.create(ticket_id, actor=AGENT)


def _check_repairs(s: Setting, ticket_id: Any, outcomes: Outcomes) -> None:
    outcomes.refused_with()
    links = [link for link in s.app.hooks.list_links(ticket_id) if link.kind is DocumentKind.REPAIR]
    references = [s.app.hooks.get_repair(link.document_id).reference for link in links]
    assert len(references) == len(outcomes.succeeded), (references, len(outcomes.succeeded))
    assert len(set(references)) == len(references), f"duplicate references {references}"


RACES: tuple[Race, ...] = (
    Race(
        name="credit notes on one invoice",
        rule="RF-7: credited ≤ invoiced",
        prepare=_prepare_invoice,
        attempt=_credit_ten,
        check=_check_invoice,
    ),
    Race(
        name="returns of one delivery",
        rule="RT-5: returned + reserved ≤ delivered",
        prepare=_prepare_delivery,
        attempt=_return_one,
        check=_check_delivery,
    ),
    Race(
        name="coupons of one program with a usage limit",
        rule="CP-9: uses ≤ limit",
        prepare=_prepare_program,
        attempt=_redeem_own,
        check=_check_program,
        workers=12,
    ),
    Race(
        name="one coupon code redeemed by everyone",
        rule="CP-9: a coupon is used once",
        prepare=_prepare_coupon,
        attempt=_redeem_same,
        check=_check_coupon,
    ),
    Race(
        name="repair orders from one sequence",
        rule="RP-7: references unique",
        prepare=lambda s: s.ticket().id,
        attempt=_repair_on,
        check=_check_repairs,
    ),
)


def race_named(name: str) -> Race:
    for race in RACES:
        if race.name == name:
            return race
    raise KeyError(f"no race {name!r}; known: {', '.join(r.name for r in RACES)}")


# -- bounded retries (RL-5) -------------------------------------------------------------------


class ConflictingSequence:
    """A plugin whose `create_repair` raises [`ConflictError`][aftersales.errors.ConflictError] (a
    write conflict a real database reports on the order's number) for the first `conflicts`
    calls of each thread, or always."""

    name = "aftersales-reliability-conflicts"

    def __init__(self, conflicts: int | None) -> None:
        self.conflicts = conflicts
        self.raised = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    @hookimpl
    def aftersales_repair_create_repair(self, request: RepairRequest, reference: str) -> None:
        seen = getattr(self._local, "seen", 0)
        self._local.seen = seen + 1
        if self.conflicts is None or seen < self.conflicts:
            with self._lock:
                self.raised += 1
            raise ConflictError("could not serialize access to sequence RO")
        return  # not mine: the backend makes it


def _with_plugin(app: AfterSales, plugin: object) -> Callable[[], None]:
    app.pm.register(plugin, name=f"{getattr(plugin, 'name', 'plugin')}-{id(plugin)}")
    return lambda: app.pm.unregister(plugin)


def check_bounded_retries(setting: Setting) -> int:
    """A conflict that never clears: the call gives up after `Config.retries` attempts
    with [`ConflictError`][aftersales.errors.ConflictError], and nothing of any attempt remains.
    Returns the attempts."""
    app = setting.app
    ticket_id = setting.ticket().id
    plugin = ConflictingSequence(None)
    before = setting.snapshot()
    setting.witness.clear()
    remove = _with_plugin(app, plugin)
    try:
        app.repairs.create(ticket_id, actor=setting.agent, idempotency_key="rl-retries")
    except ConflictError:
        pass
    else:
        raise AssertionError("a conflict that never clears did not fail the call")
    finally:
        remove()
    after = setting.snapshot()
    if after != before:
        raise AssertionError(f"the given-up call left changes behind:\n{diff(before, after)}")
    assert setting.witness.quiet, setting.witness.seen()
    expected = max(app.runtime.config.retries, 1)
    assert plugin.raised == expected, f"{plugin.raised} attempts, expected {expected}"
    # The key was not used up: the call goes through once the conflict clears.
    made = app.repairs.create(ticket_id, actor=setting.agent, idempotency_key="rl-retries")
    assert made.ticket_id == ticket_id
    return plugin.raised


def check_transient_conflicts(setting: Setting, workers: int = 8) -> Sequence[object]:
    """Every worker's first attempt conflicts: each call is retried and succeeds exactly
    once — one repair per worker, references unique."""
    app = setting.app
    ticket_id = setting.ticket().id
    plugin = ConflictingSequence(1)
    race = Race(
        name="repair orders after a conflict each",
        rule="RL-5: transient conflicts are retried",
        prepare=lambda s: ticket_id,
        attempt=_repair_on,
        check=_check_repairs,
        workers=workers,
    )
    remove = _with_plugin(app, plugin)
    try:
        outcomes = threads(app)(race, ticket_id, workers)
    finally:
        remove()
    race.check(setting, ticket_id, outcomes)
    assert len(outcomes.succeeded) == workers, outcomes.failed
    assert plugin.raised == workers, plugin.raised
    return outcomes.succeeded
