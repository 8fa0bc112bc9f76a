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
from aftersales.backends.memory.store import MemoryStore, Ordered
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


def _ordered_store() -> MemoryStore:
    """Rows `(group, rank, key)` under an ordered index by group, sorted by `(rank, key)`."""
    return MemoryStore({}, {"rows": {"by": Ordered(lambda r: (r[0],), lambda r: r[1:])}})


def _walk(store: MemoryStore, group: str, before: object = None) -> list[tuple[str, int, int]]:
    with store.lock:
        return list(store.newest("rows", "by", group, before))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "delete"]),
            st.integers(0, 6),
            st.sampled_from("ab"),
            st.integers(0, 4),
        )
    ),
    st.booleans(),
    st.integers(0, 5),
)
def test_an_ordered_index_walks_newest_first_after_any_writes_and_rollback(
    ops: list[tuple[str, int, str, int]], roll_back: bool, before: int
) -> None:
    """`newest()` gives exactly the group's rows below `before`, greatest `(rank, key)`
    first, after any puts, deletes and a rollback (ranks repeat: the key breaks ties)."""
    store = _ordered_store()
    for key in range(3):
        store.put("rows", key, ("a", key, key))
    committed = store.snapshot()
    tx = store.begin()
    for op, key, group, rank in ops:
        if op == "put":
            store.put("rows", key, (group, rank, key))
        else:
            store.delete("rows", key)
    if roll_back:
        tx.rollback()
        rows = committed.get("rows", {})
    else:
        tx.commit()
        rows = store.snapshot().get("rows", {})
    for group in "ab":
        expected = sorted((r for r in rows.values() if r[0] == group), key=lambda r: r[1:])[::-1]
        assert _walk(store, group) == expected
        cut = (before, 3)
        assert _walk(store, group, cut) == [r for r in expected if r[1:] < cut]


def test_an_ordered_index_is_rebuilt_by_a_reset() -> None:
    store = _ordered_store()
    store.put("rows", 1, ("a", 5, 1))
    store.put("rows", 2, ("a", 9, 2))
    saved = store.snapshot()
    store.put("rows", 3, ("a", 7, 3))
    store.reset(saved)
    assert _walk(store, "a") == [("a", 9, 2), ("a", 5, 1)]
    assert _walk(store, "b") == []


def test_rollback_cost_follows_the_change_not_the_store() -> None:
    store = MemoryStore({})
    for key in range(50_000):
        store.put("rows", key, key)
    tx = store.begin()
    store.put("rows", 7, -7)
    assert len(tx.undo) == 1
    tx.rollback()
    assert store.get("rows", 7) == 7


def test_unique_coupon_codes(backend: MemoryBackend, app: AfterSales, scenario: Scenario) -> None:
    from aftersales.models import CouponRequest

    request = CouponRequest(
        program_id=scenario.program.id,
        partner_id=scenario.customer.id,
        code="044ABC",
        points=Decimal(1),
        at=app.clock.now(),
        reference="op-1",
    )
    with app.runtime.unit(writes=True) as uow:
        app.hooks.issue_coupon(request)
        uow.commit()
    with assert_unchanged(backend), pytest.raises(DuplicateKey, match="044ABC"):
        with app.runtime.unit(writes=True):
            app.hooks.issue_coupon(attrs.evolve(request, reference="op-2"))


def test_concurrent_units_serialize(backend: MemoryBackend, app: AfterSales) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            n = app.runtime.write(lambda uow: backend.ledger.next_number("RO"))
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == list(range(1, 201))


def _used_everywhere() -> tuple[MemoryBackend, AfterSales, Scenario]:
    """A backend after the standard world, a FULL refund, an email, team settings, numbers."""
    from aftersales import CreditMethod, FrozenClock
    from aftersales.testing.scenario import build_scenario

    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    backend = MemoryBackend()
    app = AfterSales(backend, clock=clock)
    scenario = build_scenario(backend.builder(clock))
    app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL,
        actor=scenario.actors.agent,
    )
    backend.ledger.next_number("custom")
    return backend, app, scenario


def test_a_reset_backend_is_a_new_one() -> None:
    backend, _, scenario = _used_everywhere()
    assert {"invoices", "sequences", "tickets", "team_settings"} <= set(backend.snapshot())
    left_open = backend.store.begin()  # a unit of work a test forgot to end
    assert left_open.undo == []

    backend.reset()

    assert backend.snapshot() == MemoryBackend().snapshot()
    assert backend.delivered == []
    assert backend.store.transaction is None
    # the indexes went with the tables: no lookup finds an old record
    assert backend.aftersales_helpdesk_find_ticket(scenario.ticket.ref) is None
    assert backend.ledger.credit_notes([scenario.invoice.id]) == []
    assert backend.ledger.next_number("custom") == 1
    # and the lock is free for another thread (the forgotten unit held the old one)
    done = threading.Event()

    def another_unit() -> None:
        backend.store.begin().commit()
        done.set()

    worker = threading.Thread(target=another_unit)
    worker.start()
    worker.join(timeout=5)
    assert done.is_set()


def test_a_reset_keeps_the_modules_given_at_construction() -> None:
    backend = MemoryBackend(installed_modules=("base", "repair"))
    backend.aftersales_modules_install("helpdesk")
    backend.reset()
    assert backend.aftersales_modules_installed() == {"base", "repair"}


def test_a_reset_to_a_snapshot_restores_records_and_indexes() -> None:
    from aftersales import CreditMethod

    backend, app, scenario = _used_everywhere()
    baseline = backend.snapshot()
    notes = backend.ledger.credit_notes([scenario.invoice.id])
    later = backend.builder(app.clock).invoice(
        customer=scenario.customer, lines=[(scenario.kettle, 1)]
    )
    app.refunds.reverse(
        scenario.ticket.id, later.id, method=CreditMethod.FULL, actor=scenario.actors.agent
    )

    backend.reset(baseline)

    assert backend.snapshot() == baseline
    assert backend.ledger.credit_notes([scenario.invoice.id]) == notes
    assert backend.ledger.get_invoice(later.id, lock=False) is None
    assert backend.aftersales_helpdesk_find_ticket(scenario.ticket.ref) == scenario.ticket
    baseline["tickets"].clear()  # the backend does not share the snapshot's tables
    assert backend.aftersales_helpdesk_get_ticket(scenario.ticket.id) == scenario.ticket
