"""Customer return shipments against a real Tryton database (in process)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftersales.errors import InvalidInput, InvalidState
from aftersales_tryton import shipments
from conftest import Tryton


@pytest.fixture(scope="module")
def goods(tryton: Tryton) -> tuple[int, int, int]:
    customer = tryton.world.customer("Luis Gómez")
    kettle = tryton.world.product("Kettle", Decimal("25.00"))
    toaster = tryton.world.product("Toaster", Decimal("40.00"))
    return customer, kettle, toaster


def test_a_return_is_created_numbered_received_and_finished(
    tryton: Tryton, goods: tuple[int, int, int]
) -> None:
    customer, kettle, toaster = goods
    created = shipments.create_customer_return(
        tryton.config, customer, [(kettle, 2), (toaster, Decimal(1))], reference="as-ret-1"
    )
    assert created.state == "draft" and created.number  # Tryton numbers it on creation
    assert created.customer_id == customer and created.reference == "as-ret-1"
    assert [(m.product_id, m.quantity, m.state) for m in created.incoming_moves] == [
        (kettle, Decimal(2), "draft"),
        (toaster, Decimal(1), "draft"),
    ]
    assert created.inventory_moves == ()

    received = shipments.receive_return(tryton.config, created.id, acknowledge=["done"])
    assert received.state == "received"
    assert {m.state for m in received.incoming_moves} == {"done"}
    assert sorted(m.quantity for m in received.inventory_moves) == [Decimal(1), Decimal(2)]

    done = shipments.finish_return(tryton.config, created.id)
    assert done.state == "done" and {m.state for m in done.inventory_moves} == {"done"}
    assert shipments.find_returns_by_reference(tryton.config, "as-ret-1") == (done,)


def test_a_received_return_can_be_cancelled_but_not_received_twice(
    tryton: Tryton, goods: tuple[int, int, int]
) -> None:
    customer, kettle, _ = goods
    created = shipments.create_customer_return(tryton.config, customer, [(kettle, 1)])
    shipments.receive_return(tryton.config, created.id, acknowledge=["done"])
    with pytest.raises(InvalidState, match="cannot receive"):
        shipments.receive_return(tryton.config, created.id)
    cancelled = shipments.cancel_return(tryton.config, created.id)
    assert cancelled.state == "cancelled"
    assert {m.state for m in cancelled.incoming_moves} == {"cancelled"}
    with pytest.raises(InvalidState, match="cannot cancel"):
        shipments.cancel_return(tryton.config, created.id)


def test_bad_lines_are_refused_before_tryton_is_asked(
    tryton: Tryton, goods: tuple[int, int, int]
) -> None:
    customer, kettle, _ = goods
    before = shipments.find_returns_by_reference(tryton.config, "as-ret-bad")
    with pytest.raises(InvalidInput, match="greater than zero"):
        shipments.create_customer_return(
            tryton.config, customer, [(kettle, -1)], reference="as-ret-bad"
        )
    with pytest.raises(InvalidInput, match="at least one line"):
        shipments.create_customer_return(tryton.config, customer, [], reference="as-ret-bad")
    with pytest.raises(InvalidInput, match="no such warehouse"):
        shipments.create_customer_return(
            tryton.config, customer, [(kettle, 1)], reference="as-ret-bad", warehouse_code="XX"
        )
    assert shipments.find_returns_by_reference(tryton.config, "as-ret-bad") == before == ()
