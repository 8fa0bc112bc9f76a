"""The life cycle of a repair order (RP-8), invoicing (RP-9), deletion (RP-10), the trail
(RP-11) and editing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    DocumentChanged,
    DocumentKind,
    InvoiceKind,
    InvoiceLine,
    InvoiceMethod,
    InvoiceState,
    Money,
    PartAction,
    PartLine,
    RepairInvoiced,
    RepairOrder,
    RepairState,
)
from aftersales.serialization import dumps, loads
from aftersales.services.repairs import RepairAction, next_state, state_diagram
from aftersales.testing import Scenario, assert_unchanged, build_scenario
from tests.repairs_support import INTERNAL, QUOTE, Kit

ROOT = Path(__file__).resolve().parents[1]

D, C, TI, R, U, DN, X = (
    RepairState.DRAFT,
    RepairState.CONFIRMED,
    RepairState.TO_INVOICE,
    RepairState.READY,
    RepairState.UNDER_REPAIR,
    RepairState.DONE,
    RepairState.CANCELLED,
)
NONE, BEFORE, AFTER = InvoiceMethod.NONE, InvoiceMethod.BEFORE_REPAIR, InvoiceMethod.AFTER_REPAIR
ACTIONS = ("confirm", "start", "end", "create_invoice", "cancel", "reset_to_draft")

#: RP-8 written out by hand, independently of the implementation's table: for each invoice
#: method and reachable state, the actions that succeed and where they lead. Every other
#: action must be refused.
EXPECTED: dict[tuple[InvoiceMethod, RepairState], dict[str, RepairState]] = {
    (NONE, D): {"confirm": C, "cancel": X},
    (NONE, C): {"start": U, "cancel": X},
    (NONE, U): {"end": DN, "cancel": X},
    (NONE, DN): {},
    (NONE, X): {"reset_to_draft": D},
    (BEFORE, D): {"confirm": TI, "cancel": X},
    (BEFORE, TI): {"create_invoice": R, "cancel": X},
    (BEFORE, R): {"start": U, "cancel": X},
    (BEFORE, U): {"end": DN, "cancel": X},
    (BEFORE, DN): {},
    (BEFORE, X): {"reset_to_draft": D},
    (AFTER, D): {"confirm": C, "cancel": X},
    (AFTER, C): {"start": U, "cancel": X},
    (AFTER, U): {"end": TI, "cancel": X},
    (AFTER, TI): {"create_invoice": DN, "cancel": X},
    (AFTER, DN): {},
    (AFTER, X): {"reset_to_draft": D},
}


@pytest.fixture
def kit(app: AfterSales, backend: Any, scenario: Scenario, clock: FrozenClock) -> Kit:
    return Kit.build(app, backend, scenario, clock)


def act(kit: Kit, action: str, repair_id: str, **kw: Any) -> RepairOrder:
    result = getattr(kit.app.repairs, action)(repair_id, actor=kit.agent, **kw)
    return result.repair if isinstance(result, RepairInvoiced) else result


def trail(kit: Kit) -> list[str]:
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    return [m.body for m in reversed(view.trail)]


def audit(kit: Kit) -> list[str]:
    entries = kit.app.runtime.read(lambda _uow: kit.app.hooks.audit_list(kit.world.ticket.id))
    return [e.action for e in entries]


# -- RP-8: every state × every action --------------------------------------------------------------


@pytest.mark.parametrize(("method", "state"), list(EXPECTED))
@pytest.mark.parametrize("action", ACTIONS)
def test_rp8_every_transition(
    kit: Kit, method: InvoiceMethod, state: RepairState, action: str
) -> None:
    repair = kit.in_state(state, method)
    assert (repair.state, repair.invoice_method) == (state, method)
    target = EXPECTED[(method, state)].get(action)
    if target is None:
        label = action.replace("_", " ")
        with pytest.raises(InvalidState) as err, assert_unchanged(kit.backend):
            act(kit, action, repair.id)
        message = str(err.value)
        assert repair.reference in message
        assert f"{state.value}" in message
        assert f"cannot {label}" in message
    else:
        moved = act(kit, action, repair.id)
        assert moved.state is target
        assert kit.stored(repair.id) == moved


def test_rp8_refusal_lists_what_is_allowed(kit: Kit) -> None:
    repair = kit.create()
    with (
        pytest.raises(InvalidState, match=r"allowed: cancel, confirm, delete, update"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.start(repair.id, actor=kit.agent)
    done = kit.in_state(DN)
    with (
        pytest.raises(InvalidState, match=r"done: cannot cancel.*nothing more"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.cancel(done.id, actor=kit.agent)


def test_rp8_end_after_repair_when_already_invoiced_is_done() -> None:
    """The 'not yet invoiced' condition of RP-8, on the table itself."""
    from datetime import UTC, datetime

    repair = RepairOrder(
        id="r-1",
        reference="RO/1",
        product_id="p-1",
        customer_id="c-1",
        currency="EUR",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        state=U,
        invoice_method=AFTER,
    )
    assert next_state(repair, RepairAction.END) is TI
    invoiced = attrs.evolve(repair, invoice_id="inv-1")
    assert next_state(invoiced, RepairAction.END) is DN


ACTION_ST = st.sampled_from(ACTIONS)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(list(InvoiceMethod)),
    actions=st.lists(ACTION_ST, min_size=1, max_size=10),
)
def test_rp8_random_walks_follow_the_specification(
    method: InvoiceMethod, actions: list[str]
) -> None:
    """Any sequence of calls: each either moves as RP-8 says or is refused changing nothing;
    an invoice exists exactly when the repair was invoiced since its last reset."""
    backend = MemoryBackend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    app = AfterSales(backend, clock=clock)
    kit = Kit.build(app, backend, build_scenario(backend.builder(clock)), clock)
    repair = kit.create(invoice_method=method)
    for action in actions:
        target = EXPECTED[(method, repair.state)].get(action)
        if target is None:
            with pytest.raises(InvalidState), assert_unchanged(backend):
                act(kit, action, repair.id)
            continue
        before = repair
        repair = act(kit, action, repair.id)
        assert repair.state is target
        if action == "create_invoice":
            assert before.invoice_id is None
            assert repair.invoice_id is not None
        elif action == "reset_to_draft":
            assert repair.invoice_id is None
        else:
            assert repair.invoice_id == before.invoice_id
        if method is NONE:
            assert repair.invoice_id is None


# -- RP-4: the invoice method is a draft's ---------------------------------------------------------


def test_rp4_invoice_method_changes_only_in_draft(kit: Kit) -> None:
    repair = kit.create()
    changed = kit.app.repairs.update(
        repair.id, invoice_method=InvoiceMethod.AFTER_REPAIR, actor=kit.agent
    )
    assert changed.invoice_method is AFTER
    assert changed.invoice_address_id == kit.world.customer.id
    confirmed = kit.app.repairs.confirm(repair.id, actor=kit.agent)
    with (
        pytest.raises(InvalidState, match=r"confirmed.*invoice_method.*draft"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.update(confirmed.id, invoice_method=NONE, actor=kit.agent)


# -- RP-9: invoicing -------------------------------------------------------------------------------


def test_rp9_invoice_before_repair_worked_example(kit: Kit) -> None:
    """Motor 1 × 18.50 + 21 % and labour 1.5 h × 30.00 + 21 %; the removed motor is not
    invoiced. Tax per line: 3.885 → 3.89 and 9.45; total 63.50 + 13.34 = 76.84 EUR."""
    w = kit.world
    repair = kit.create(
        invoice_method=BEFORE,
        invoice_address_id=w.company.id,
        internal_notes=INTERNAL,
        quotation_notes=QUOTE,
    )
    repair = kit.app.repairs.confirm(repair.id, actor=kit.agent)
    assert repair.state is TI
    result = kit.app.repairs.create_invoice(repair.id, actor=kit.agent)
    invoice = result.invoice
    assert result.repair.state is R
    assert result.repair.invoice_id == invoice.id
    assert invoice.kind is InvoiceKind.INVOICE
    assert invoice.state is InvoiceState.DRAFT
    assert invoice.number is None
    assert invoice.customer_id == w.company.id  # the invoice address
    assert invoice.ticket_id == w.ticket.id
    assert invoice.reference == "RO/00001"
    assert invoice.note == QUOTE
    assert INTERNAL not in dumps(invoice)
    assert invoice.lines == (
        InvoiceLine(
            description="Motor",
            quantity=Decimal(1),
            unit_price=Money.of("18.50", "EUR"),
            taxes=kit.motor.taxes,
            product_id=kit.motor.id,
        ),
        InvoiceLine(
            description="Labour",
            quantity=Decimal("1.5"),
            unit_price=Money.of("30.00", "EUR"),
            taxes=kit.labour.taxes,
            product_id=kit.labour.id,
        ),
    )
    amounts = invoice.amounts
    assert amounts.untaxed == Money.of("63.50", "EUR")
    assert amounts.tax == Money.of("13.34", "EUR")
    assert amounts.total == Money.of("76.84", "EUR")
    assert kit.invoice(invoice.id) == invoice
    view = kit.app.tickets.view(w.ticket.id, actor=kit.agent)
    assert (view.counts.repairs, view.counts.invoices) == (1, 1)
    assert trail(kit)[-1] == "Invoice created for repair RO/00001: draft, 76.84 EUR"
    assert loads(dumps(result), RepairInvoiced) == result


def test_rp9_part_lots_are_on_the_invoice_lines(kit: Kit) -> None:
    part = PartLine(action=PartAction.ADD, product_id=kit.motor.id, quantity=Decimal(1), lot="M-77")
    repair = kit.in_state(TI, BEFORE, parts=(part,))
    invoice = kit.app.repairs.create_invoice(repair.id, actor=kit.agent).invoice
    assert [line.description for line in invoice.lines] == ["Motor (lot M-77)", "Labour"]


def test_rp9_invoice_after_repair_makes_it_done(kit: Kit) -> None:
    repair = kit.in_state(TI, AFTER)
    result = kit.app.repairs.create_invoice(repair.id, actor=kit.agent)
    assert result.repair.state is DN
    assert trail(kit)[-2:] == [
        "Invoice created for repair RO/00001: draft, 76.84 EUR",
        "Repair done: RO/00001",
    ]


def test_rp9_nothing_to_invoice_is_refused_until_lines_are_added(kit: Kit) -> None:
    removal = PartLine(action=PartAction.REMOVE, product_id=kit.motor.id, quantity=Decimal(1))
    repair = kit.in_state(TI, BEFORE, parts=(removal,), operations=())
    with (
        pytest.raises(InvalidOperation, match="RO/00001 has nothing to invoice"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.create_invoice(repair.id, actor=kit.agent)
    kit.app.repairs.update(repair.id, operations=kit.lines()["operations"], actor=kit.agent)
    invoice = kit.app.repairs.create_invoice(repair.id, actor=kit.agent).invoice
    assert [line.description for line in invoice.lines] == ["Labour"]


def test_rp9_invoicing_is_idempotent(kit: Kit) -> None:
    repair = kit.in_state(TI, BEFORE)
    first = kit.app.repairs.create_invoice(repair.id, actor=kit.agent, idempotency_key="inv-1")
    again = kit.app.repairs.create_invoice(repair.id, actor=kit.agent, idempotency_key="inv-1")
    assert again == first
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.invoices == 1
    with (
        pytest.raises(IdempotencyConflict, match=r"repairs\.create_invoice"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.start(repair.id, actor=kit.agent, idempotency_key="inv-1")


# -- cancelling and resetting ----------------------------------------------------------------------


def test_cancel_cancels_a_draft_invoice_with_the_repair(kit: Kit) -> None:
    repair = kit.in_state(R)
    cancelled = kit.app.repairs.cancel(repair.id, actor=kit.agent)
    assert cancelled.state is X
    assert repair.invoice_id is not None
    assert kit.invoice(repair.invoice_id).state is InvoiceState.CANCELLED
    assert trail(kit)[-1] == "Repair cancelled: RO/00001; its draft invoice is cancelled"


def test_cancel_leaves_a_posted_invoice_to_be_refunded(kit: Kit) -> None:
    repair = kit.in_state(R)
    assert repair.invoice_id is not None
    kit.post(kit.invoice(repair.invoice_id))
    kit.app.repairs.cancel(repair.id, actor=kit.agent)
    assert kit.invoice(repair.invoice_id).state is InvoiceState.POSTED
    assert trail(kit)[-1] == (
        "Repair cancelled: RO/00001; its invoice INV/2026/09999 stays posted "
        "(refund it by credit note)"
    )


def test_reset_to_draft_starts_over_with_a_new_invoice(kit: Kit) -> None:
    repair = kit.in_state(R)
    kit.app.repairs.cancel(repair.id, actor=kit.agent)
    draft = kit.app.repairs.reset_to_draft(repair.id, actor=kit.agent)
    assert (draft.state, draft.invoice_id) == (D, None)
    kit.app.repairs.confirm(repair.id, actor=kit.agent)
    second = kit.app.repairs.create_invoice(repair.id, actor=kit.agent).invoice
    assert second.id != repair.invoice_id
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.invoices == 2


# -- RP-10: deletion -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [D, X])
def test_rp10_draft_or_cancelled_repairs_can_be_deleted(kit: Kit, state: RepairState) -> None:
    repair = kit.in_state(state)
    deleted = kit.app.repairs.delete(repair.id, actor=kit.agent)
    assert deleted.id == repair.id
    assert kit.stored(repair.id) is None
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.repairs == 0  # AC-6
    assert all(d.kind is not DocumentKind.REPAIR for d in view.documents)
    assert kit.app.repairs.repairs(kit.world.ticket.id, actor=kit.agent) == ()
    assert trail(kit)[-1] == "Repair deleted: RO/00001"
    assert audit(kit)[-1] == "repair deleted"
    with pytest.raises(NotFound, match="repair order"):
        kit.app.repairs.repair(kit.world.ticket.id, repair.id, actor=kit.agent)


@pytest.mark.parametrize(
    ("state", "method"), [(C, NONE), (TI, BEFORE), (R, BEFORE), (U, NONE), (DN, NONE)]
)
def test_rp10_confirmed_or_done_repairs_cannot_be_deleted(
    kit: Kit, state: RepairState, method: InvoiceMethod
) -> None:
    repair = kit.in_state(state, method)
    with (
        pytest.raises(InvalidState, match=f"{state.value}: cannot delete"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.delete(repair.id, actor=kit.agent)


def test_rp10_delete_is_idempotent(kit: Kit) -> None:
    repair = kit.create()
    first = kit.app.repairs.delete(repair.id, actor=kit.agent, idempotency_key="del-1")
    assert kit.app.repairs.delete(repair.id, actor=kit.agent, idempotency_key="del-1") == first
    with pytest.raises(NotFound, match="repair order"), assert_unchanged(kit.backend):
        kit.app.repairs.delete(repair.id, actor=kit.agent)


# -- RP-11: the trail, the audit and the events ----------------------------------------------------


def test_rp11_trail_says_created_then_done(kit: Kit) -> None:
    kit.in_state(DN)
    assert trail(kit) == ["Repair created: RO/00001 (Blender)", "Repair done: RO/00001"]
    assert audit(kit) == [
        "repair created",
        "repair confirmed",
        "repair under repair",
        "repair done",
    ]


def test_rp11_trail_says_cancelled(kit: Kit) -> None:
    kit.in_state(X)
    assert trail(kit) == ["Repair created: RO/00001 (Blender)", "Repair cancelled: RO/00001"]


def test_rp11_ticket_view_shows_the_repair_and_its_state(kit: Kit) -> None:
    first = kit.in_state(U)
    second = kit.create()
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.repairs == 2
    rows = [(d.document_id, d.name, d.state) for d in view.documents]
    assert rows == [(first.id, "RO/00001", "under_repair"), (second.id, "RO/00002", "draft")]
    assert "Repair" in view.actions


def test_events_follow_each_change_after_commit(kit: Kit) -> None:
    seen: list[tuple[str, str]] = []

    class Listener:
        @hookimpl
        def aftersales_on_document_changed(self, event: DocumentChanged) -> None:
            seen.append((event.kind.value, event.change))

    kit.app.pm.register(Listener())
    repair = kit.in_state(TI, AFTER)
    with pytest.raises(InvalidState, match="cannot start"), assert_unchanged(kit.backend):
        kit.app.repairs.start(repair.id, actor=kit.agent)
    kit.app.repairs.create_invoice(repair.id, actor=kit.agent)
    assert seen == [
        ("repair", "confirmed"),
        ("repair", "under repair"),
        ("repair", "to invoice"),
        ("repair", "done"),
    ]


# -- editing ---------------------------------------------------------------------------------------


def test_update_a_draft(kit: Kit) -> None:
    w = kit.world
    repair = kit.create()
    changed = kit.app.repairs.update(
        repair.id,
        product_id=w.kettle.id,
        quantity=Decimal(3),
        lot="K-1",
        sale_order_id=w.order.id,
        description="Leaks",
        internal_notes=INTERNAL,
        quotation_notes=QUOTE,
        parts=repair.parts[:1],
        responsible_user_id="tech-2",
        actor=kit.agent,
    )
    assert (changed.product_id, changed.quantity, changed.lot) == (w.kettle.id, Decimal(3), "K-1")
    assert changed.parts == repair.parts[:1]
    assert changed.operations == repair.operations
    assert changed.sale_order_id == w.order.id
    assert kit.stored(repair.id) == changed
    assert audit(kit)[-1] == "repair updated"
    assert trail(kit) == ["Repair created: RO/00001 (Blender)"]  # no trail noise


def test_update_adds_and_removes_parts(kit: Kit) -> None:
    repair = kit.in_state(C)
    extra = PartLine(action=PartAction.ADD, product_id=kit.world.kettle.id, quantity=Decimal(2))
    grown = kit.app.repairs.update(repair.id, parts=(*repair.parts, extra), actor=kit.agent)
    assert [p.product_id for p in grown.parts] == [kit.motor.id, kit.motor.id, kit.world.kettle.id]
    shrunk = kit.app.repairs.update(repair.id, parts=grown.parts[2:], actor=kit.agent)
    assert [p.product_id for p in shrunk.parts] == [kit.world.kettle.id]


def test_update_lines_stop_once_invoiced(kit: Kit) -> None:
    repair = kit.in_state(R)
    with (
        pytest.raises(InvalidState, match=r"ready.*once the repair is invoiced"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.update(repair.id, operations=(), actor=kit.agent)
    notes = kit.app.repairs.update(repair.id, internal_notes="new part ordered", actor=kit.agent)
    assert notes.internal_notes == "new part ordered"


@pytest.mark.parametrize("state", [DN, X])
def test_update_done_or_cancelled_is_refused(kit: Kit, state: RepairState) -> None:
    repair = kit.in_state(state)
    with pytest.raises(InvalidState, match="read-only"), assert_unchanged(kit.backend):
        kit.app.repairs.update(repair.id, quotation_notes="late", actor=kit.agent)


def test_update_revalidates_relations_when_the_customer_changes(kit: Kit) -> None:
    w = kit.world
    repair = kit.create(sale_order_id=w.order.id, invoice_method=BEFORE)
    assert repair.invoice_address_id == w.customer.id
    with pytest.raises(InvalidInput, match="sale_order_id"), assert_unchanged(kit.backend):
        kit.app.repairs.update(repair.id, customer_id=w.other_customer.id, actor=kit.agent)
    moved = kit.app.repairs.update(
        repair.id, customer_id=w.other_customer.id, sale_order_id=None, actor=kit.agent
    )
    assert moved.customer_id == w.other_customer.id
    assert moved.invoice_address_id == w.other_customer.id  # followed the customer


def test_update_cannot_clear_required_fields(kit: Kit) -> None:
    repair = kit.create()
    with (
        pytest.raises(InvalidInput, match=r"product_id=None.*cannot be cleared"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.update(repair.id, product_id=None, actor=kit.agent)  # type: ignore[arg-type]


def test_update_without_change_changes_nothing(kit: Kit) -> None:
    repair = kit.create(quotation_notes=QUOTE)
    with assert_unchanged(kit.backend):
        same = kit.app.repairs.update(repair.id, quotation_notes=QUOTE, actor=kit.agent)
        assert kit.app.repairs.update(repair.id, actor=kit.agent) == repair
    assert same == repair


def test_update_is_idempotent(kit: Kit) -> None:
    repair = kit.create()
    first = kit.app.repairs.update(
        repair.id, quotation_notes="A", actor=kit.agent, idempotency_key="u-1"
    )
    kit.app.repairs.update(repair.id, quotation_notes="B", actor=kit.agent)
    again = kit.app.repairs.update(
        repair.id, quotation_notes="A", actor=kit.agent, idempotency_key="u-1"
    )
    assert again == first
    with pytest.raises(IdempotencyConflict, match="u-1"), assert_unchanged(kit.backend):
        kit.app.repairs.update(
            repair.id, quotation_notes="C", actor=kit.agent, idempotency_key="u-1"
        )


def test_unknown_repair_is_not_found(kit: Kit) -> None:
    for action in ACTIONS:
        with (
            pytest.raises(NotFound, match="repair order repair-nope"),
            assert_unchanged(kit.backend),
        ):
            act(kit, action, "repair-nope")


# -- the documented diagram is the implemented one -------------------------------------------------


def test_docs_state_diagram_matches_the_table() -> None:
    page = (ROOT / "docs" / "repairs.md").read_text(encoding="utf-8")
    assert "```mermaid\n" + state_diagram() + "\n```" in page
