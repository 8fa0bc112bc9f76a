"""The reference ERP: the ERP's own business behind the ERP ports, for the shipped stores.

The memory and the SQL backends serve the accounting port with
`ReferenceAccounting`, written once over a small storage
protocol (`Ledger`) that each backend implements with its own
tables, so both number, match and settle documents the same way. The project port is
`ReferenceProject` over a `TaskStore` in the same way.
"""

from aftersales.erp.accounting import AccountingPort, ReferenceAccounting, settle
from aftersales.erp.ledger import Ledger
from aftersales.erp.project import ProjectPort, ReferenceProject, TaskStore

__all__ = [
    "AccountingPort",
    "Ledger",
    "ProjectPort",
    "ReferenceAccounting",
    "ReferenceProject",
    "TaskStore",
    "settle",
]
