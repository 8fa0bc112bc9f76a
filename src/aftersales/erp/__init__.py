"""The reference ERP: the ERP's own business behind the ERP ports, for the shipped stores.

The memory and the SQL backends serve the accounting port with
`ReferenceAccounting`, written once over a small storage
protocol (`Ledger`), and the stock port with `ReferenceStock` over `StockLedger`;
each backend implements them with its own tables, so both number, match, settle and
return documents the same way. The project port is `ReferenceProject` over a
`TaskStore`, the repair port `ReferenceRepairs` over a `RepairStorage`, the loyalty port
`ReferenceLoyalty` over a `CouponStore`, in the same way.
"""

from aftersales.erp.accounting import AccountingPort, ReferenceAccounting, settle
from aftersales.erp.ledger import Ledger, Numbering, StockLedger
from aftersales.erp.loyalty import CouponStore, LoyaltyPort, ReferenceLoyalty
from aftersales.erp.project import ProjectPort, ReferenceProject, TaskStore
from aftersales.erp.repair import ReferenceRepairs, RepairPort, RepairStorage
from aftersales.erp.stock import ReferenceStock, StockPort

__all__ = [
    "AccountingPort",
    "CouponStore",
    "Ledger",
    "LoyaltyPort",
    "Numbering",
    "ProjectPort",
    "ReferenceAccounting",
    "ReferenceLoyalty",
    "ReferenceProject",
    "ReferenceRepairs",
    "ReferenceStock",
    "RepairPort",
    "RepairStorage",
    "StockLedger",
    "StockPort",
    "TaskStore",
    "settle",
]
