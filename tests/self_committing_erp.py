"""An ERP that commits every call on its own, as Tryton, Odoo or ERPNext do over RPC: the
reference accounting over a SQL database of its own, whose statements never join the
library's unit of work (so `lock=True` cannot hold anything past the call).

Importable by spawned worker processes (the race of tests/test_claims.py gives
`functools.partial(SelfCommittingErp, url)` to the kit's `refund_in_steps`).
"""

from __future__ import annotations

from aftersales.backends.sql import SqlBackend
from aftersales.erp import AccountingPort, ReferenceAccounting

__all__ = ["SelfCommittingErp"]


class SelfCommittingErp(AccountingPort):
    """The accounting port over its own database: each hook runs in a short transaction of
    its own, committed before it returns (it takes no part in `aftersales_transaction_begin`)."""

    name = "self-committing-erp"

    def __init__(self, url: str) -> None:
        self.database = SqlBackend(url)
        self.accounting = ReferenceAccounting(self.database.ledger)

    def close(self) -> None:
        self.database.close()
