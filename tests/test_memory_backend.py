"""The in-memory reference backend: indexes, undo log, snapshots, builder."""

from __future__ import annotations

import threading
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aftersales import AfterSales
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.memory.store import MemoryStore
from aftersales.errors import DuplicateKey, InvalidInput
from aftersales.models import InvoiceKind, InvoiceState, PaymentState, PickingState
from aftersales.models.queries import InvoiceQuery
from aftersales.testing import Scenario, assert_unchanged


def test_builder_makes_consistent_records(scenario: Scenario) -> None:
    inv = scenario.invoice
    assert inv.state is InvoiceState.POSTED and inv.number == "INV/2026/00001"
    assert inv.residual == inv.total and inv.payment_state is PaymentState.NOT_PAID
    paid = scenario.paid_invoice
    assert paid.residual.is_zero() and paid.payment_state is PaymentState.PAID
    assert scenario.delivery.state is PickingState.DONE
    assert scenario.customer.commercial_entity_id == scenario.company.id
    assert scenario.customer.delivery_address_id is not None
    assert scenario.ticket.follower_ids == (scenario.customer.id, scenario.follower.id)


def test_builder_partial_payment_and_refusals(backend: MemoryBackend, scenario: Scenario) -> None:
    world = backend.builder()
    inv = world.invoice(
        customer=scenario.customer, lines=[(scenario.blender, 10)], paid=Decimal("100")
    )
    assert inv.payment_state is PaymentState.PARTIAL
    assert inv.residual.amount == inv.total.amount - 100
    with pytest.raises(InvalidInput, match="at most"):
        world.invoice(
            customer=scenario.customer, lines=[(scenario.blender, 1)], paid=Decimal("1000")
        )
    with pytest.raises(InvalidInput, match="only a posted invoice"):
        world.invoice(
            customer=scenario.customer, lines=[(scenario.blender, 1)], posted=False, paid=True
        )


def test_lookups_use_indexes_and_order_newest_first(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario
) -> None:
    world = backend.builder(app.clock)
    app.clock.advance(days=1)  # type: ignore[attr-defined]
    newer = world.invoice(customer=scenario.colleague, lines=[(scenario.kettle, 1)])
    found = backend.ledger.find_invoices(
        InvoiceQuery(
            customer_ids={scenario.customer.id, scenario.colleague.id},
            kind=InvoiceKind.INVOICE,
        )
    )
    assert [i.id for i in found] == [newer.id, scenario.paid_invoice.id, scenario.invoice.id]
    only_other = backend.ledger.find_invoices(
        InvoiceQuery(customer_ids={scenario.other_customer.id})
    )
    assert only_other == []


def test_undo_restores_records_and_indexes() -> None:
    store = MemoryStore({"rows": {"colour": lambda r: (r["colour"],)}})
    store.put("rows", 1, {"colour": "red"})
    tx = store.begin()
    store.put("rows", 1, {"colour": "blue"})
    store.put("rows", 2, {"colour": "blue"})
    store.delete("rows", 1)
    assert store.by_index("rows", "colour", "blue") == [{"colour": "blue"}]
    tx.rollback()
    assert store.snapshot() == {"rows": {1: {"colour": "red"}}}
    assert store.by_index("rows", "colour", "red") == [{"colour": "red"}]
    assert store.by_index("rows", "colour", "blue") == []


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from(["put", "delete"]), st.integers(0, 5), st.sampled_from("abc"))
    )
)
def test_any_sequence_of_writes_rolls_back_to_the_same_snapshot(
    ops: list[tuple[str, int, str]],
) -> None:
    store = MemoryStore({"rows": {"v": lambda r: (r,)}})
    for key in range(3):
        store.put("rows", key, "a")
    before = store.snapshot()
    index_before = {v: store.by_index("rows", "v", v) for v in "abc"}
    tx = store.begin()
    for op, key, value in ops:
        if op == "put":
            store.put("rows", key, value)
        else:
            store.delete("rows", key)
    tx.rollback()
    assert store.snapshot() == before
    assert {v: store.by_index("rows", "v", v) for v in "abc"} == index_before


def test_rollback_cost_follows_the_change_not_the_store() -> None:
    store = MemoryStore({})
    for key in range(50_000):
        store.put("rows", key, key)
    tx = store.begin()
    store.put("rows", 7, -7)
    assert len(tx.undo) == 1
    tx.rollback()
    assert store.get("rows", 7) == 7


def test_unique_coupon_codes_and_repair_references(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario
) -> None:
    from aftersales.ids import new_id
    from aftersales.models import Coupon

    coupon = Coupon(
        id=new_id("coupon"),
        code="044ABC",
        program_id=scenario.program.id,
        partner_id=scenario.customer.id,
        points=Decimal(1),
        created_at=app.clock.now(),
    )
    with app.runtime.unit(writes=True) as uow:
        app.hooks.create_coupon(coupon)
        uow.commit()
    with assert_unchanged(backend), pytest.raises(DuplicateKey, match="044ABC"):
        with app.runtime.unit(writes=True):
            app.hooks.create_coupon(attrs.evolve(coupon, id=new_id("coupon")))


def test_concurrent_units_serialize(backend: MemoryBackend, app: AfterSales) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            n = app.runtime.write(lambda uow: app.hooks.sequence_next("RO"))
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == list(range(1, 201))
