"""The backend conformance kit: contract tests a backend must pass, shipped in the wheel.

A backend author runs the whole kit on their backend with one fixture:

```python
# tests/test_conformance.py of your plugin
import pytest
from aftersales.testing.conformance import BackendContract

class TestMyBackend(BackendContract):
    @pytest.fixture
    def aftersales_backend(self):
        return MyBackend(...)   # a fresh, empty store for each test
```

Each port has its own mixin (`HelpdeskContract`, `AccountingContract`, …) to run only a
part; `LedgerContract` (not in `BackendContract`) tests the storage of a backend that
serves accounting with the reference ERP over its own `ledger`. Names end in
`Contract` or `Flow(s)` so pytest collects them only through a `Test…` subclass.
Optional behaviour is declared on the backend as `capabilities` (see
`Capability`); tests that need an undeclared one are skipped with the reason. A backend
declaring `persistent` or `multi_process` also overrides `aftersales_factory` (a
picklable callable opening the same store, called in new processes), and its class must
collect the tests that exercise them (`StoreContracts`, in `BackendContract`).
"""

from ._kit import ContractBase, Factory, Kit, Reopen, run_threads
from .accounting import AccountingContract
from .capabilities import Capability, capabilities_of
from .durability import IsolationContract, MultiProcessContract, PersistenceContract
from .flows import (
    AtomicityFlow,
    CouponFlow,
    FieldServiceFlow,
    PersistenceFlow,
    RefundFlow,
    RepairFlow,
    ReturnFlow,
    ScenarioFlow,
    ServiceFlows,
    SettingsFlow,
    SubscriptionFlow,
    TicketViewFlow,
)
from .helpdesk import HelpdeskContract
from .ledger import LedgerContract
from .loyalty import LoyaltyContract
from .mail import MailContract
from .modules import ModulesContract
from .project import ProjectContract
from .repair import RepairContract
from .stock import PickingSearchContract, StockContract
from .stock_ledger import StockLedgerContract
from .transactions import TransactionContract

__all__ = [
    "AccountingContract",
    "AtomicityFlow",
    "BackendContract",
    "Capability",
    "ContractBase",
    "CouponFlow",
    "Factory",
    "FieldServiceFlow",
    "HelpdeskContract",
    "IsolationContract",
    "Kit",
    "LedgerContract",
    "LoyaltyContract",
    "MailContract",
    "ModulesContract",
    "MultiProcessContract",
    "PersistenceContract",
    "PersistenceFlow",
    "PickingSearchContract",
    "PortContracts",
    "ProjectContract",
    "RefundFlow",
    "Reopen",
    "RepairContract",
    "RepairFlow",
    "ReturnFlow",
    "ScenarioFlow",
    "ServiceFlows",
    "SettingsFlow",
    "StockContract",
    "StockLedgerContract",
    "StoreContracts",
    "SubscriptionFlow",
    "TicketViewFlow",
    "TransactionContract",
    "capabilities_of",
    "run_threads",
]


class PortContracts(
    HelpdeskContract,
    AccountingContract,
    LoyaltyContract,
    StockContract,
    PickingSearchContract,
    RepairContract,
    ProjectContract,
    MailContract,
    ModulesContract,
    TransactionContract,
):
    """Every port contract."""


class StoreContracts(IsolationContract, PersistenceContract, MultiProcessContract):
    """What no single port shows: isolation of units, persistence in a new process, a store
    shared by several processes."""


class BackendContract(PortContracts, StoreContracts, ServiceFlows):
    """The whole kit: every port contract, the store contracts and every end-to-end flow."""
