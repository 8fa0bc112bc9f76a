"""Cross-process checks for backends shared by several processes (RL-3).

Each worker runs in a fresh interpreter (``spawn``), opens the backend from a picklable
``factory`` (e.g. ``functools.partial(SqlBackend, url)``), waits at a barrier so all
workers start together, does its work and returns a plain result.

>>> # results = run_processes(draw_numbers, [(factory, "RMA", 10)] * 4)
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "configure_with_key",
    "create_coupon_with_code",
    "draw_numbers",
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


def draw_numbers(barrier: Any, factory: Factory, code: str, count: int) -> list[int]:
    """Open the backend (all workers at once) and draw ``count`` numbers, one per unit."""
    from aftersales.app import AfterSales

    backend = _open(factory, barrier)
    try:
        app = AfterSales(backend)
        numbers: list[int] = []
        for _ in range(count):
            numbers.append(app.runtime.write(lambda _uow: app.hooks.sequence_next(code)))
        return numbers
    finally:
        _close(backend)


def create_coupon_with_code(barrier: Any, factory: Factory, program_id: str, code: str) -> str:
    """Try to create a coupon with ``code``; return ``"created"`` or ``"duplicate"``."""
    import os
    from datetime import UTC, datetime
    from decimal import Decimal

    from aftersales.app import AfterSales
    from aftersales.errors import DuplicateKey
    from aftersales.models import Coupon

    backend = factory()
    try:
        app = AfterSales(backend)
        coupon = Coupon(
            id=f"coupon-{os.getpid()}",
            code=code,
            program_id=program_id,
            partner_id="partner-1",
            points=Decimal(1),
            created_at=datetime.now(UTC),
        )
        barrier.wait(60)
        try:
            app.runtime.write(lambda _uow: app.hooks.create_coupon(coupon))
        except DuplicateKey:
            return "duplicate"
        return "created"
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
