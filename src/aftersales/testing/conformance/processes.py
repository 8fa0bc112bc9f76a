"""Cross-process checks for backends shared by several processes (RL-1, RL-2, RL-3).

Each worker runs in a fresh interpreter (`spawn`), opens the backend from a picklable
`factory` (e.g. `functools.partial(SqlBackend, url)`), builds an application over it
with a [`FrozenClock`][aftersales.clock.FrozenClock] at `start`, waits at a barrier so that all
workers call the **real services** at the same moment, and returns plain data (numbers,
codes, references) for the parent to check.

The workers act as the scenario's agent (`AGENT`), so
the world is best built with `build_scenario()`.

Examples:
    >>> # with WorkerPool(3) as pool:
    >>> #     batches = pool.run(refund_in_steps, [(factory, START, ticket, invoice, 3)] * 3)
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aftersales.hookspecs import hookimpl

if TYPE_CHECKING:
    from aftersales.app import AfterSales
    from aftersales.models import CouponProgram, OutgoingEmail, TicketMessage

__all__ = [
    "DIED",
    "WorkerFailed",
    "WorkerPool",
    "call_with_key",
    "configure_with_key",
    "create_coupons_and_repairs",
    "die_while_refunding",
    "narrow_coupon_code",
    "open_at_once",
    "redeem_codes",
    "refund_in_steps",
    "retry_outbox",
    "return_in_steps",
    "run_processes",
    "run_to_exit",
]

Factory = Callable[[], Any]

#: The exit code of `die_while_refunding()`.
DIED = 17


def _call(target: Callable[..., Any], args: tuple[Any, ...], barrier: Any) -> Any:
    try:
        return target(barrier, *args)
    except BaseException as exc:  # reported to the parent with the worker's traceback
        raise WorkerFailed(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}") from None


class WorkerFailed(Exception):
    """A worker raised; the message carries its traceback."""


class WorkerPool:
    """Spawned worker processes kept for several runs: starting an interpreter costs more
    than most checks, so a test module can share one pool (`with WorkerPool(3) as pool`).

    A run must not have more tasks than the pool has workers (they all wait at one
    barrier).
    """

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._manager = context.Manager()  # serves the barriers to the workers
        self._executor = ProcessPoolExecutor(size, mp_context=context)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(
        self, target: Callable[..., Any], args: Sequence[tuple[Any, ...]], timeout: float = 120
    ) -> list[Any]:
        """Run `target(barrier, *a)` for each `a` of `args`, each in its own worker,
        all released together by `barrier`; return the results in the order of `args`.

        Fails when a worker raises, dies, or does not finish within `timeout` seconds.
        """
        if not 0 < len(args) <= self.size:
            raise ValueError(f"{len(args)} tasks for a pool of {self.size} workers")
        barrier = self._manager.Barrier(len(args))
        futures = [self._executor.submit(_call, target, tuple(a), barrier) for a in args]
        _done, pending = wait(futures, timeout=timeout)
        if pending:
            for future in pending:
                future.cancel()
            raise AssertionError(f"workers did not finish within {timeout} s")
        results: list[Any] = []
        for future in futures:
            try:
                results.append(future.result())
            except WorkerFailed as exc:
                raise AssertionError(f"a worker process failed: {exc}") from None
            except BrokenProcessPool as exc:
                raise AssertionError(f"a worker process died without a result: {exc}") from None
        return results

    def event(self) -> Any:
        """An event shared by the parent and the workers (`set`, `wait`, `is_set`)."""
        return self._manager.Event()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._manager.shutdown()


def run_processes(
    target: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    timeout: float = 120,
    *,
    pool: WorkerPool | None = None,
) -> list[Any]:
    """Run `target(barrier, *a)` for each `a` of `args` in its own spawned process
    (from `pool` when given, else from a pool made for this run) and return the results
    in the order of `args` (see `WorkerPool.run()`)."""
    if pool is not None:
        return pool.run(target, args, timeout)
    with WorkerPool(len(args)) as own:
        return own.run(target, args, timeout)


def run_to_exit(target: Callable[..., Any], args: tuple[Any, ...], timeout: float = 120) -> int:
    """Run `target(*args)` in a spawned process and return its exit code (for workers
    that end their process themselves, such as `die_while_refunding()`)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=target, args=args, daemon=True)
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"the worker did not end within {timeout} s")
    assert process.exitcode is not None
    return process.exitcode


@contextmanager
def _application(
    factory: Factory,
    start: str,
    barrier: Any = None,
    plugins: Sequence[object] = (),
    **config: Any,
) -> Iterator[AfterSales]:
    """An application over a backend opened from `factory` (with `plugins`); waits at
    `barrier` (if any) once it is ready, and closes the plugins and the backend at the
    end."""
    from aftersales.app import AfterSales
    from aftersales.clock import FrozenClock
    from aftersales.runtime import Config

    backend = factory()
    try:
        app = AfterSales(
            backend, clock=FrozenClock(start), config=Config(**config), plugins=list(plugins)
        )
        if barrier is not None:
            barrier.wait(60)
        yield app
    finally:
        for opened in (*plugins, backend):
            close = getattr(opened, "close", None)
            if callable(close):
                close()


# -- workers ------------------------------------------------------------------------------


def open_at_once(barrier: Any, factory: Factory) -> str:
    """Open the backend as soon as every worker is ready (a new database is migrated by
    exactly one of them) and return its `repr`."""
    barrier.wait(60)
    backend = factory()
    try:
        return repr(backend)
    finally:
        backend.close()


def refund_in_steps(
    barrier: Any,
    factory: Factory,
    start: str,
    ticket_id: str,
    invoice_id: str,
    attempts: int,
    erp: Factory | None = None,
) -> list[str]:
    """`attempts` times: credit one unit of the invoice's first line (PARTIAL) and post
    the credit note. Returns the numbers of the posted credit notes; a refund refused by
    the cap (RF-7, `QuantityExceeded`) is skipped. With `erp`, a picklable factory of a
    plugin that owns the accounting port (an ERP beside the backend), the refunds go through
    it; it is closed with the backend."""
    from decimal import Decimal

    import attrs

    from aftersales.errors import QuantityExceeded
    from aftersales.testing.scenario import AGENT

    plugins = [] if erp is None else [erp()]
    with _application(factory, start, plugins=plugins) as app:
        invoice = app.runtime.read(lambda _uow: app.hooks.get_invoice(invoice_id))
        line = attrs.evolve(invoice.lines[0], quantity=Decimal(1))
        barrier.wait(60)
        numbers: list[str] = []
        for _ in range(attempts):
            try:
                made = app.refunds.reverse(ticket_id, invoice_id, lines=[line], actor=AGENT)
            except QuantityExceeded:
                continue
            posted = app.refunds.confirm(made.credit_note.id, actor=AGENT)
            assert posted.credit_note.number is not None
            numbers.append(posted.credit_note.number)
        return numbers


def return_in_steps(
    barrier: Any,
    factory: Factory,
    start: str,
    ticket_id: str,
    delivery_id: str,
    move_id: str,
    attempts: int,
    erp: Factory | None = None,
) -> list[str]:
    """`attempts` times: return one unit of the move and validate the return. Returns the
    references of the returns made; a return refused by the cap (RT-5) is skipped. With
    `erp`, a picklable factory of a plugin that owns the stock port, the returns go through
    it (as `refund_in_steps`)."""
    from decimal import Decimal

    from aftersales.errors import QuantityExceeded
    from aftersales.testing.scenario import AGENT

    plugins = [] if erp is None else [erp()]
    with _application(factory, start, barrier, plugins) as app:
        references: list[str] = []
        for _ in range(attempts):
            try:
                made = app.returns.create(
                    ticket_id, delivery_id, {move_id: Decimal(1)}, actor=AGENT
                )
            except QuantityExceeded:
                continue
            references.append(app.returns.validate(made.id, actor=AGENT).reference)
        return references


def narrow_coupon_code(program: CouponProgram) -> str:
    """A coupon code drawn from only 24 values (`044-00` … `044-23`): workers making
    coupons at once collide often, and the store must turn every collision away."""
    del program
    return f"044-{secrets.randbelow(24):02d}"


def create_coupons_and_repairs(
    barrier: Any, factory: Factory, start: str, ticket_id: str, program_id: str, count: int
) -> tuple[list[str], list[str]]:
    """`count` times: generate a coupon (codes from `narrow_coupon_code()`) and
    create a repair order from the ticket. Returns the codes and the references."""
    from aftersales.testing.scenario import AGENT

    with _application(
        factory,
        start,
        barrier,
        coupon_code_generator=narrow_coupon_code,
        coupon_code_attempts=200,
    ) as app:
        codes: list[str] = []
        references: list[str] = []
        for _ in range(count):
            codes.append(app.coupons.generate(ticket_id, program_id, actor=AGENT).code)
            references.append(app.repairs.create(ticket_id, actor=AGENT).reference)
        return codes, references


def redeem_codes(barrier: Any, factory: Factory, start: str, codes: Sequence[str]) -> int:
    """Redeem each of `codes` once; return how many redemptions were accepted (the
    others are refused by the program's usage limit, CP-9)."""
    from aftersales.errors import InvalidCoupon
    from aftersales.testing.scenario import AGENT

    with _application(factory, start, barrier) as app:
        accepted = 0
        for code in codes:
            try:
                app.coupons.redeem(code, actor=AGENT)
            except InvalidCoupon:
                continue
            accepted += 1
        return accepted


def configure_with_key(barrier: Any, factory: Factory, team_id: str, key: str) -> str:
    """Turn refunds on for `team_id` under idempotency `key`; return the result's JSON."""
    from aftersales.models import Service
    from aftersales.serialization import dumps
    from aftersales.testing.scenario import MANAGER

    with _application(factory, "2026-11-28T09:00:00+00:00", barrier) as app:
        result = app.settings.configure(
            team_id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key=key
        )
        return dumps(result)


class _PauseOnTrail:
    """A plugin that holds the first call's unit of work open when it posts to a ticket's
    trail: it sets `inside`, then waits for `release` (the work is done, not committed)."""

    name = "pause-on-trail"

    def __init__(self, inside: Any, release: Any) -> None:
        self._inside, self._release = inside, release

    @hookimpl(wrapper=True)
    def aftersales_store_post_message(
        self, message: TicketMessage
    ) -> Generator[None, TicketMessage, TicketMessage]:
        del message
        if not self._inside.is_set():
            self._inside.set()
            if not self._release.wait(60):
                raise AssertionError("the paused call was never released")
        return (yield)  # a wrapper: it owns no port


def call_with_key(
    barrier: Any,
    factory: Factory,
    start: str,
    call: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    key: str,
    pause: tuple[Any, Any] | None = None,
    after: Any = None,
    calling: Any = None,
) -> str:
    """Make `call` (`"coupons.redeem"`) as the agent under idempotency `key`; return
    `"ok "` and the result's JSON, or `"error "` and the exception.

    With `pause = (inside, release)` the call stops inside its unit of work, after its
    work, until `release` is set (see `_PauseOnTrail`). With `after` (an event)
    the call waits for it first; `calling` (an event) is set just before the call."""
    from aftersales.serialization import dumps
    from aftersales.testing.scenario import AGENT

    plugins = [] if pause is None else [_PauseOnTrail(*pause)]
    with _application(factory, start, barrier, plugins) as app:
        service, name = call.split(".")
        method = getattr(getattr(app, service), name)
        if after is not None and not after.wait(60):
            raise AssertionError(f"{call} waited 60 s for the first call")
        if calling is not None:
            calling.set()
        try:
            result = method(*args, actor=AGENT, idempotency_key=key, **kwargs)
        except Exception as exc:
            return f"error {type(exc).__name__}: {exc}"
        return "ok " + dumps(result)


class _Transport:
    """A mail transport that takes every email and keeps the ids it was handed."""

    name = "recording-transport"

    def __init__(self) -> None:
        self.handed: list[str] = []

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        self.handed.append(email.id)
        return True


def retry_outbox(barrier: Any, factory: Factory, start: str) -> list[str]:
    """Retry the outbox (as the system actor) at the same moment as the other workers;
    return the ids of the emails this worker handed to its mail transport."""
    from aftersales.models import Actor

    transport = _Transport()
    with _application(factory, start, barrier, plugins=[transport]) as app:
        app.outbox.retry(actor=Actor.system())
        return transport.handed


class _DieOnTrail:
    """A plugin that ends the process when a service posts to a ticket's trail: the
    unit of work has written its documents but not committed."""

    name = "die-on-trail"

    @hookimpl(wrapper=True)
    def aftersales_store_post_message(
        self, message: TicketMessage
    ) -> Generator[None, TicketMessage, TicketMessage]:
        yield from ()  # a wrapper (it owns no port) that fails before the call
        del message
        os._exit(DIED)


def die_while_refunding(factory: Factory, start: str, ticket_id: str, invoice_id: str) -> None:
    """Refund the invoice in FULL and end the process (exit code `DIED`) in the
    middle of the unit of work, after the credit note was posted and matched and a number
    drawn, before the commit (RL-1: nothing of it may remain)."""
    from aftersales.app import AfterSales
    from aftersales.clock import FrozenClock
    from aftersales.models import CreditMethod
    from aftersales.testing.scenario import AGENT

    backend = factory()
    app = AfterSales(backend, clock=FrozenClock(start), plugins=[_DieOnTrail()])
    app.refunds.reverse(ticket_id, invoice_id, method=CreditMethod.FULL, actor=AGENT)
    raise AssertionError("the refund went through without posting to the trail")
