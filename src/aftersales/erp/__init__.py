"""The reference ERP: the ERP's own business behind the ERP ports, for the shipped stores.

The memory and the SQL backends serve the accounting port with
`ReferenceAccounting`, written once over a small storage
protocol (`Ledger`) that each backend implements with its own
tables, so both number, match and settle documents the same way.
"""

from aftersales.erp.accounting import AccountingPort, ReferenceAccounting, settle
from aftersales.erp.ledger import Ledger

__all__ = ["AccountingPort", "Ledger", "ReferenceAccounting", "settle"]
