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


def _sorted_store() -> MemoryStore:
    """Rows `(owner, n, key)` sorted by `(n, key)` under their owner (a sort key ends with
    the record's key)."""
    return MemoryStore({}, {"rows": {"by n": (lambda r: (r[0],), lambda r: (r[1], r[2]))}})


def test_a_sorted_index_walks_from_the_greatest_key_before_a_bound() -> None:
    store = _sorted_store()
    for key, n in [("a", 3), ("b", 9), ("c", 1), ("d", 5)]:
        store.put("rows", key, ("x", n, key))
    store.put("rows", "e", ("y", 7, "e"))
    assert [r[1] for r in store.newest("rows", "by n", "x")] == [9, 5, 3, 1]
    assert store.newest("rows", "by n", "x", before=(5, "d"), limit=1) == [("x", 3, "a")]
    assert store.newest("rows", "by n", "x", match=lambda r: r[1] % 3 == 0) == [
        ("x", 9, "b"),
        ("x", 3, "a"),
    ]
    store.put("rows", "b", ("y", 2, "b"))  # moves to another owner and key
    store.delete("rows", "a")
    assert store.newest("rows", "by n", "x") == [("x", 5, "d"), ("x", 1, "c")]
    assert store.newest("rows", "by n", "y") == [("y", 7, "e"), ("y", 2, "b")]
    assert store.newest("rows", "by n", "none") == []


@settings(max_examples=60)
@given(
    st.lists(st.tuples(st.sampled_from(["put", "delete"]), st.integers(0, 5), st.integers(0, 4)))
)
def test_a_sorted_index_follows_any_writes_and_their_rollback(
    ops: list[tuple[str, int, int]],
) -> None:
    """Ranks repeat across rows: the key at the end of the sort key breaks the ties."""
    store = _sorted_store()
    for key in range(3):
        store.put("rows", key, ("x", key, key))

    def expected() -> list[tuple[str, int, int]]:
        rows = (r for r in store.table("rows").values() if r[0] == "x")
        return sorted(rows, key=lambda r: (r[1], r[2]), reverse=True)

    before = expected()
    tx = store.begin()
    for op, key, n in ops:
        if op == "put":
            store.put("rows", key, ("x", n, key))
        else:
            store.delete("rows", key)
        assert store.newest("rows", "by n", "x") == expected()
    tx.rollback()
    assert store.newest("rows", "by n", "x") == expected() == before
    store.reset()
    assert store.newest("rows", "by n", "x") == []


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
