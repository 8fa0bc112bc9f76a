"""An ERP that commits every call on its own, as Tryton, Odoo or ERPNext do over RPC: the
reference accounting over a SQL database of its own, whose statements never join the
library's unit of work (so `lock=True` cannot hold anything past the call).

Importable by spawned worker processes (the race tests of tests/test_claims.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from aftersales.backends.sql import SqlBackend
from aftersales.erp import AccountingPort, ReferenceAccounting

__all__ = ["SelfCommittingErp", "refund_race"]


class SelfCommittingErp(AccountingPort):
    """The accounting port over its own database: each hook runs in a short transaction of
    its own, committed before it returns (it takes no part in `aftersales_transaction_begin`)."""

    name = "self-committing-erp"

    def __init__(self, url: str) -> None:
        self.database = SqlBackend(url)
        self.accounting = ReferenceAccounting(self.database.ledger)

    def close(self) -> None:
        self.database.close()


def refund_race(
    barrier: Any,
    store_url: str,
    erp_url: str,
    start: str,
    ticket_id: str,
    invoice_id: str,
    attempts: int,
) -> list[str]:
    """`attempts` times: credit one unit of the invoice's first line (PARTIAL) and post it,
    through an application whose store is `store_url` and whose accounting is the
    self-committing ERP on `erp_url`. The posted credit notes' numbers; a refund the cap
    refuses (RF-7) is skipped."""
    from aftersales.app import AfterSales
    from aftersales.clock import FrozenClock
    from aftersales.errors import QuantityExceeded
    from aftersales.testing.scenario import AGENT

    store = SqlBackend(store_url)
    erp = SelfCommittingErp(erp_url)
    try:
        app = AfterSales(store, clock=FrozenClock(start), plugins=[erp])
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
    finally:
        erp.close()
        store.close()
