"""How long a FULL refund holds its number series' row on PostgreSQL, and how long workers
wait for it.

A credit note's number comes from a gap-free series: a row of ``sequences`` incremented in
the refund's transaction and held until it commits. The reference ERP draws it last in the
posting, and keeps one series per journal and year. Measured here, per FULL refund:

* **held**: from the moment the series is drawn to the end of the call (its commit), as a
  share of the call's time;
* **waiting**: the time the draw itself takes (mostly waiting for another transaction's row
  lock), as a share of the call's time;

with 4 worker processes refunding on **distinct journals** (each its own series) and, for
contrast, on **one journal** (one series for all).

Run it with ``python -m benchmarks.series`` (starts a throw-away PostgreSQL server, or uses
``AFTERSALES_BENCH_POSTGRES_URL``); ``--smoke`` makes a few calls only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.sql import SqlBackend
from aftersales.erp import Ledger, ReferenceAccounting
from aftersales.testing.scenario import AGENT, build_scenario

__all__ = ["SeriesRun", "TimedLedger", "main", "measure"]

NOW = "2026-11-28T09:00:00+00:00"
WORKERS = 4


class TimedLedger:
    """A ledger that notes when the series is drawn and how long the draw takes."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self.drawn_at = 0.0
        self.draw = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def next_number(self, series: str) -> int:
        start = time.perf_counter()
        number = self.inner.next_number(series)
        end = time.perf_counter()
        self.drawn_at, self.draw = start, end - start
        return number


@attrs.frozen(kw_only=True)
class SeriesRun:
    """Shares of a FULL refund's time, averaged over every call of every worker."""

    journals: str
    workers: int
    calls: int
    held: float
    waiting: float
    mean_ms: float


def _worker(url: str, ticket_id: str, invoice_ids: list[str], journal: str) -> list[float]:
    timed: list[TimedLedger] = []

    def accounting(ledger: Ledger) -> ReferenceAccounting:
        timed.append(TimedLedger(ledger))
        return ReferenceAccounting(timed[-1])

    backend = SqlBackend(url, accounting=accounting)
    try:
        app = AfterSales(backend, clock=FrozenClock(NOW))
        ledger = timed[0]
        out: list[float] = []
        for invoice_id in invoice_ids:
            start = time.perf_counter()
            app.refunds.reverse(
                ticket_id, invoice_id, method=CreditMethod.FULL, journal=journal, actor=AGENT
            )
            end = time.perf_counter()
            out.extend((end - start, end - ledger.drawn_at, ledger.draw))
        return out
    finally:
        backend.close()


def _run(args: tuple[str, str, list[str], str]) -> list[float]:
    return _worker(*args)


def measure(url: str, calls: int, *, distinct: bool, workers: int = WORKERS) -> SeriesRun:
    """``workers`` processes making ``calls`` FULL refunds each, on distinct journals or one."""
    backend = SqlBackend(url)
    try:
        backend.reset()
        world = backend.builder(FrozenClock(NOW))
        scenario = build_scenario(world)
        batches = [
            [
                world.invoice(customer=scenario.customer, lines=[(scenario.kettle, 1)]).id
                for _ in range(calls)
            ]
            for _ in range(workers)
        ]
    finally:
        backend.close()
    jobs = [
        (url, scenario.ticket.id, batch, f"J{n}" if distinct else "INV")
        for n, batch in enumerate(batches)
    ]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_run, jobs)
    totals, held, waits = [], [], []
    for result in results:
        for i in range(0, len(result), 3):
            total, hold, wait = result[i : i + 3]
            totals.append(total)
            held.append(hold / total)
            waits.append(wait / total)
    return SeriesRun(
        journals="distinct" if distinct else "one",
        workers=workers,
        calls=len(totals),
        held=statistics.fmean(held),
        waiting=statistics.fmean(waits),
        mean_ms=statistics.fmean(totals) * 1000,
    )


@contextmanager
def _postgres() -> Iterator[str]:
    given = os.environ.get("AFTERSALES_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    from tests.postgres import start_postgres

    with start_postgres() as server:
        yield server.create_database("aftersales_series")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="FULL refunds per worker")
    parser.add_argument("--smoke", action="store_true", help="5 calls per worker")
    options = parser.parse_args(argv)
    calls = 5 if options.smoke else options.calls
    with _postgres() as url:
        runs = [
            measure(url, calls, distinct=True, workers=1),
            measure(url, calls, distinct=True),
            measure(url, calls, distinct=False),
        ]
    print(json.dumps([attrs.asdict(run) for run in runs], indent=2))


if __name__ == "__main__":
    main()
