"""The reference ERP's accounting: operation references, numbering per journal, the number
drawn last."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.memory.ledger import MemoryLedger
from aftersales.erp import Ledger, ReferenceAccounting
from aftersales.erp.accounting import credit_note_series
from aftersales.models import InvoiceKind, InvoiceState
from aftersales.testing.scenario import AGENT, Scenario, build_scenario
from aftersales.unit_of_work import operation_reference

NOW = "2026-11-28T09:00:00+00:00"


class RecordingLedger:
    """A memory ledger that records the name of every call, in order."""

    def __init__(self, inner: MemoryLedger) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            return method(*args)

        return call


@pytest.fixture
def recorded() -> tuple[AfterSales, Scenario, RecordingLedger]:
    ledgers: list[RecordingLedger] = []

    def accounting(ledger: Ledger) -> ReferenceAccounting:
        assert isinstance(ledger, MemoryLedger)
        ledgers.append(RecordingLedger(ledger))
        return ReferenceAccounting(ledgers[-1])

    backend = MemoryBackend(accounting=accounting)
    clock = FrozenClock(NOW)
    scenario = build_scenario(backend.builder(clock))
    return AfterSales(backend, clock=clock), scenario, ledgers[0]


# -- references (point 3) ----------------------------------------------------------------------


def test_a_keyed_call_leaves_its_reference_on_every_document_it_made(
    app: AfterSales, scenario: Scenario
) -> None:
    done = app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL_AND_REINVOICE,
        actor=AGENT,
        idempotency_key="req-7f3a",
    )
    reference = operation_reference(AGENT.user_id, "req-7f3a")
    assert done.credit_note.operation_ref == reference
    assert done.new_invoice is not None
    assert done.new_invoice.operation_ref == reference
    assert done.invoice.operation_ref is None  # settled, not made, by the operation
    found = app.runtime.read(lambda _uow: app.hooks.find_by_reference(reference))
    assert [(i.id, i.kind) for i in found] == [
        (done.new_invoice.id, InvoiceKind.INVOICE),
        (done.credit_note.id, InvoiceKind.CREDIT_NOTE),
    ]


def test_references_are_actor_scoped_deterministic_and_fresh_without_a_key() -> None:
    one = operation_reference("u-2", "req-1")
    assert one == operation_reference("u-2", "req-1")
    assert one != operation_reference("u-3", "req-1")
    assert one != operation_reference("u-2", "req-2")
    assert one.startswith("op-")
    assert "req-1" not in one
    assert operation_reference("u-2", None) != operation_reference("u-2", None)


def test_each_step_of_a_refund_leaves_its_own_reference(
    app: AfterSales, scenario: Scenario
) -> None:
    refunds, ticket, invoice = app.refunds, scenario.ticket, scenario.invoice
    draft = refunds.reverse(ticket.id, invoice.id, actor=AGENT, idempotency_key="k-1")
    edited = refunds.update_draft(
        draft.credit_note.id, lines=[invoice.lines[0]], actor=AGENT, idempotency_key="k-2"
    )
    posted = refunds.confirm(edited.id, actor=AGENT, idempotency_key="k-3")
    assert draft.credit_note.operation_ref == operation_reference(AGENT.user_id, "k-1")
    assert edited.operation_ref == operation_reference(AGENT.user_id, "k-2")
    assert posted.credit_note.operation_ref == operation_reference(AGENT.user_id, "k-3")
    unkeyed = refunds.reverse(ticket.id, invoice.id, lines=[invoice.lines[1]], actor=AGENT)
    ref = unkeyed.credit_note.operation_ref
    assert ref is not None
    assert ref.startswith("op-")
    found = app.runtime.read(lambda _uow: app.hooks.find_by_reference(ref))
    assert found == [unkeyed.credit_note]


# -- numbering per journal, drawn last (point 6) -----------------------------------------------


def test_each_journal_numbers_its_credit_notes_in_its_own_series(
    app: AfterSales, scenario: Scenario, backend: MemoryBackend
) -> None:
    world = backend.builder(app.clock)
    refunds, ticket = app.refunds, scenario.ticket

    def full(journal: str | None) -> str | None:
        invoice = world.invoice(customer=scenario.customer, lines=[(scenario.kettle, 1)])
        return refunds.reverse(
            ticket.id, invoice.id, method=CreditMethod.FULL, journal=journal, actor=AGENT
        ).credit_note.number

    assert [full(None), full("SHOP"), full(None), full("SHOP"), full("INV")] == [
        "RINV/2026/00001",
        "RSHOP/2026/00001",
        "RINV/2026/00002",
        "RSHOP/2026/00002",
        "RINV/2026/00003",
    ]
    assert credit_note_series("SHOP", date(2027, 1, 1)) == "RSHOP/2027"


@pytest.mark.parametrize("method", [CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE])
def test_the_number_is_the_last_draw_of_a_posting(
    recorded: tuple[AfterSales, Scenario, RecordingLedger], method: CreditMethod
) -> None:
    """Matches and the invoice are written first; then the series is drawn and the note
    stored with its number: the series' row is held for one statement before the unit's
    own writes (link, trail, audit) and the commit."""
    app, scenario, ledger = recorded
    ledger.calls.clear()
    app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, method=method, actor=AGENT)
    assert ledger.calls[-2:] == ["next_number", "save_invoice"]
    assert ledger.calls.count("next_number") == 1
    assert ledger.calls.index("add_match") < ledger.calls.index("next_number")


def test_confirm_draws_the_number_last_too(
    recorded: tuple[AfterSales, Scenario, RecordingLedger],
) -> None:
    app, scenario, ledger = recorded
    draft = app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, actor=AGENT)
    ledger.calls.clear()
    posted = app.refunds.confirm(draft.credit_note.id, actor=AGENT)
    assert posted.credit_note.state is InvoiceState.POSTED
    assert ledger.calls[-2:] == ["next_number", "save_invoice"]


def test_a_draft_takes_no_number(
    recorded: tuple[AfterSales, Scenario, RecordingLedger],
) -> None:
    app, scenario, ledger = recorded
    ledger.calls.clear()
    app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, actor=AGENT)
    assert "next_number" not in ledger.calls


def test_refundable_invoices_read_every_credit_note_in_one_call(
    recorded: tuple[AfterSales, Scenario, RecordingLedger],
) -> None:
    """No N+1: one ledger read of the credit notes, whatever the number of invoices."""
    app, scenario, ledger = recorded
    ledger.calls.clear()
    found = app.refunds.invoices_to_refund(scenario.ticket.id, actor=AGENT)
    assert found
    assert ledger.calls == ["find_invoices", "credit_notes"]
