"""Workers for the races over a Tryton server (test_tryton_race.py), importable by spawned
processes: each its own application, a SQL after-sales store and Tryton over XML-RPC.
`finish` is a barrier and a lock the workers share: they log out of Tryton only when all
are done, one at a time, since trytond checks a caller's session by reading every session
of its user (all the workers' here), and fails when one is deleted meanwhile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["refund_through_tryton", "return_through_tryton"]


def refund_through_tryton(
    barrier: Any,
    finish: Any,
    store_url: str,
    tryton_url: str,
    user: str,
    password: str,
    start: str,
    ticket_id: str,
    invoice_id: str,
    attempts: int,
) -> list[str]:
    """`attempts` times: credit one unit of the invoice's first line (PARTIAL) and post it.
    The posted credit notes' Tryton numbers; a refund the cap refuses (RF-7) is skipped."""
    import attrs

    from aftersales.app import AfterSales
    from aftersales.backends.sql import SqlBackend
    from aftersales.clock import FrozenClock
    from aftersales.errors import QuantityExceeded
    from aftersales.models import Service
    from aftersales.testing.scenario import AGENT
    from aftersales_tryton.backend import TrytonBackend

    store = SqlBackend(store_url)
    erp = TrytonBackend(url=tryton_url, user=user, password=password)
    try:
        app = AfterSales(store, clock=FrozenClock(start), plugins=[erp], services={Service.REFUNDS})
        invoice = app.runtime.read(lambda _uow: app.hooks.get_invoice(invoice_id))
        line = attrs.evolve(invoice.lines[0], quantity=Decimal(1))
        barrier.wait(120)
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
    finally:
        barrier_done, logout = finish
        barrier_done.wait(300)
        with logout:
            erp.close()
        store.close()


def return_through_tryton(
    barrier: Any,
    finish: Any,
    store_url: str,
    tryton_url: str,
    user: str,
    password: str,
    start: str,
    ticket_id: str,
    delivery_id: str,
    move_id: str,
    attempts: int,
) -> list[str]:
    """`attempts` times: return one unit of the delivery's move. The returns' Tryton ids; a
    return the cap refuses (RT-5) is skipped."""
    from aftersales.app import AfterSales
    from aftersales.backends.sql import SqlBackend
    from aftersales.clock import FrozenClock
    from aftersales.errors import QuantityExceeded
    from aftersales.models import Service
    from aftersales.testing.scenario import AGENT
    from aftersales_tryton.backend import TrytonBackend

    store = SqlBackend(store_url)
    erp = TrytonBackend(url=tryton_url, user=user, password=password)
    try:
        app = AfterSales(store, clock=FrozenClock(start), plugins=[erp], services={Service.RETURNS})
        barrier.wait(120)
        made: list[str] = []
        for _ in range(attempts):
            try:
                picking = app.returns.create(
                    ticket_id, delivery_id, {move_id: Decimal(1)}, actor=AGENT
                )
            except QuantityExceeded:
                continue
            made.append(picking.id)
        return made
    finally:
        barrier_done, logout = finish
        barrier_done.wait(300)
        with logout:
            erp.close()
        store.close()
