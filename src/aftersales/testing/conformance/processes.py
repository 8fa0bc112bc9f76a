"""Cross-process checks for backends shared by several processes (RL-3).

Each worker runs in a fresh interpreter (``spawn``), opens the backend from a picklable
``factory`` (e.g. ``functools.partial(SqlBackend, url)``), waits at a barrier so all
workers start together, does its work and returns a plain result.

>>> # results = run_processes(refund_under_cap, [(factory, invoice_id, "10.00", 5)] * 4)
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "configure_with_key",
    "create_unique_documents",
    "refund_under_cap",
    "run_processes",
]

Factory = Callable[[], Any]


def _child(target: Callable[..., Any], args: tuple[Any, ...], barrier: Any, queue: Any) -> None:
    try:
        queue.put(("ok", target(barrier, *args)))
    except BaseException as exc:  # reported to the parent
        queue.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def run_processes(
    target: Callable[..., Any], args: Sequence[tuple[Any, ...]], timeout: float = 120
) -> list[Any]:
    """Run ``target(barrier, *a)`` for each ``a`` of ``args`` in its own spawned process.

    Returns the results (in completion order); fails when a worker raises or hangs.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args))
    queue = context.Queue()
    processes = [
        context.Process(target=_child, args=(target, a, barrier, queue), daemon=True) for a in args
    ]
    for process in processes:
        process.start()
    results: list[Any] = []
    try:
        for _ in processes:
            status, value = queue.get(timeout=timeout)
            if status != "ok":
                raise AssertionError(f"a worker process failed: {value}")
            results.append(value)
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        queue.close()
    return results


def _open(factory: Factory, barrier: Any) -> Any:
    barrier.wait(60)
    return factory()


def _close(backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        close()


def refund_under_cap(
    barrier: Any, factory: Factory, invoice_id: str, amount: str, attempts: int
) -> list[int]:
    """Emulate the refund service at the hook level, ``attempts`` times, one unit each:
    lock the invoice, and while its residual allows, draw a credit-note number and lower
    the residual by ``amount``. Returns the numbers drawn.

    All workers open the backend at once (on a new database, the migration runs once).
    With row locks the cap holds: the residual never goes below zero and no number repeats.
    """
    from decimal import Decimal

    import attrs

    from aftersales.app import AfterSales
    from aftersales.models import Money

    backend = _open(factory, barrier)
    try:
        app = AfterSales(backend)
        hooks = app.hooks

        def refund(_uow: Any) -> int | None:
            invoice = hooks.get_invoice(invoice_id, lock=True)
            step = Money(amount=Decimal(amount), currency=invoice.currency)
            if invoice.residual < step:
                return None
            number = hooks.sequence_next("RINV")
            hooks.save_invoice(attrs.evolve(invoice, residual=invoice.residual - step))
            return number

        numbers: list[int] = []
        for _ in range(attempts):
            number = app.runtime.write(refund)
            if number is not None:
                numbers.append(number)
        return numbers
    finally:
        _close(backend)


def create_unique_documents(
    barrier: Any, factory: Factory, program_id: str, code: str, reference: str
) -> tuple[str, str]:
    """Try to create a coupon with ``code`` and a repair order with ``reference``; return
    ``("created" | "duplicate", "created" | "duplicate")``."""
    import os
    from datetime import UTC, datetime
    from decimal import Decimal

    from aftersales.app import AfterSales
    from aftersales.errors import DuplicateKey
    from aftersales.models import Coupon, RepairOrder

    backend = factory()
    try:
        app = AfterSales(backend)
        now = datetime.now(UTC)
        coupon = Coupon(
            id=f"coupon-{os.getpid()}",
            code=code,
            program_id=program_id,
            partner_id="partner-1",
            points=Decimal(1),
            created_at=now,
        )
        repair = RepairOrder(
            id=f"repair-{os.getpid()}",
            reference=reference,
            product_id="product-1",
            customer_id="partner-1",
            currency="EUR",
            created_at=now,
        )
        barrier.wait(60)
        outcomes: list[str] = []
        for work in (
            lambda _uow: app.hooks.create_coupon(coupon),
            lambda _uow: app.hooks.save_repair(repair),
        ):
            try:
                app.runtime.write(work)
            except DuplicateKey:
                outcomes.append("duplicate")
            else:
                outcomes.append("created")
        return outcomes[0], outcomes[1]
    finally:
        _close(backend)


def configure_with_key(barrier: Any, factory: Factory, team_id: str, key: str) -> str:
    """Turn refunds on for ``team_id`` under idempotency ``key``; return the result's JSON."""
    from aftersales.app import AfterSales
    from aftersales.models import Service
    from aftersales.serialization import dumps
    from aftersales.testing.scenario import MANAGER

    backend = factory()
    try:
        app = AfterSales(backend)
        barrier.wait(60)
        result = app.settings.configure(
            team_id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key=key
        )
        return dumps(result)
    finally:
        _close(backend)
