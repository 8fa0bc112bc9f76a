"""The reference ERP: the ERP's own business behind the ERP ports, for the shipped stores.

The memory and the SQL backends serve the accounting port with
`ReferenceAccounting`, written once over a small storage
protocol (`Ledger`) that each backend implements with its own
tables, so both number, match and settle documents the same way. The repair port is served the
same way by `ReferenceRepairs` over a `RepairStorage`.
"""

from aftersales.erp.accounting import AccountingPort, ReferenceAccounting, settle
from aftersales.erp.ledger import Ledger
from aftersales.erp.repair import ReferenceRepairs, RepairPort, RepairStorage

__all__ = [
    "AccountingPort",
    "Ledger",
    "ReferenceAccounting",
    "ReferenceRepairs",
    "RepairPort",
    "RepairStorage",
    "settle",
]
