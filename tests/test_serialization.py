"""Every public record round-trips through JSON with the one converter (cattrs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cattrs.errors import ForbiddenExtraKeysError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.errors import InvalidInput
from aftersales.models import Service, Team
from aftersales.serialization import converter, dumps, loads
from tests.strategies import RECORDS, register

register()


def test_every_model_record_is_covered() -> None:
    names = {cls.__name__ for cls in RECORDS}
    assert {"Invoice", "Coupon", "Picking", "RepairOrder", "FieldServiceTask", "Money"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@settings(
    max_examples=10, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(data=st.data())
def test_record_round_trips_through_json(cls: type[Any], data: st.DataObject) -> None:
    record = data.draw(st.from_type(cls))
    text = json.dumps(converter.unstructure(record))
    assert converter.structure(json.loads(text), cls) == record
    assert loads(dumps(record), cls) == record


def test_sets_are_written_sorted_so_equal_records_give_equal_json() -> None:
    a = Team(id="t", name="T", services={Service.RETURNS, Service.COUPONS, Service.REFUNDS})
    b = Team(id="t", name="T", services=[Service.REFUNDS, Service.COUPONS, Service.RETURNS])
    assert dumps(a) == dumps(b)
    assert json.loads(dumps(a))["services"] == ["coupons", "refunds", "returns"]


def test_structuring_refuses_extra_keys_and_bad_values() -> None:
    data = converter.unstructure(Team(id="t", name="T"))
    with pytest.raises(ForbiddenExtraKeysError, match="colour"):
        converter.structure({**data, "colour": "red"}, Team)
    with pytest.raises(InvalidInput, match="blank"):
        converter.structure({**data, "name": " "}, Team)
