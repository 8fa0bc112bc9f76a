"""RefundService: which invoices, credit methods, reverse, edit, confirm, cancel, the ticket.

Worked examples with real amounts live in ``test_refunds_amounts.py``; invariants under
random operations and threads in ``test_refunds_properties.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock, Service
from aftersales.errors import (
    AccessDenied,
    DatabaseLocked,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    MethodNotAllowed,
    NotFound,
    QuantityExceeded,
    ServiceDisabled,
)
from aftersales.models import (
    Actor,
    DocumentKind,
    Group,
    InvoiceKind,
    InvoiceState,
    MatchKind,
    PaymentState,
    Subscription,
    SubscriptionState,
)
from aftersales.testing import Actors, Scenario, assert_unchanged
from tests.refunds_support import AGENT, Desk, line, make_desk, money

TODAY = date(2026, 11, 28)


@pytest.fixture
def desk(app: AfterSales, backend: Any, clock: FrozenClock) -> Desk:
    return make_desk(app, backend, clock)


@pytest.fixture
def blender_invoice(desk: Desk) -> Any:
    """2 × 49.95 EUR + 21 %: 99.90 + 20.98 = 120.88 EUR."""
    blender = desk.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    return desk.invoice([(blender, 2)])


# -- RF-1 ---------------------------------------------------------------------------------------


def test_rf1_a_ticket_without_customer_cannot_refund(
    app: AfterSales, backend: Any, clock: FrozenClock
) -> None:
    desk = make_desk(app, backend, clock, with_customer=False)
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    invoice = desk.invoice([(kettle, 1)])
    with pytest.raises(InvalidOperation, match="the ticket has no customer"):
        app.refunds.invoices_to_refund(desk.ticket.id, actor=AGENT)
    with (
        pytest.raises(InvalidOperation, match="the ticket has no customer"),
        assert_unchanged(backend),
    ):
        app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT)


# -- RF-2 ---------------------------------------------------------------------------------------


def test_rf2_lists_posted_invoices_of_the_commercial_entity_newest_first(
    app: AfterSales, backend: Any, clock: FrozenClock
) -> None:
    world = backend.builder(clock)
    company = world.company(name="Pérez Hogar S.L.")
    ana = world.customer(name="Ana", company=company)
    luis = world.customer(name="Luis", company=company)
    stranger = world.customer(name="Someone else")
    team = world.team(name="Support", services={Service.REFUNDS})
    ticket = world.ticket(team=team, title="Refund", customer=ana)
    kettle = world.product(name="Kettle", price=Decimal("20.00"))
    oldest = world.invoice(customer=ana, lines=[(kettle, 1)], invoice_date=date(2026, 1, 5))
    of_colleague = world.invoice(customer=luis, lines=[(kettle, 2)], invoice_date=date(2026, 6, 1))
    of_company = world.invoice(customer=company, lines=[(kettle, 3)], invoice_date=date(2026, 3, 1))
    newest = world.invoice(customer=ana, lines=[(kettle, 4)], invoice_date=date(2026, 11, 1))
    world.invoice(customer=ana, lines=[(kettle, 5)], posted=False)  # draft: not listed
    world.invoice(customer=stranger, lines=[(kettle, 6)])  # another customer: not listed

    listed = app.refunds.invoices_to_refund(ticket.id, actor=AGENT)

    assert [i.id for i in listed] == [newest.id, of_colleague.id, of_company.id, oldest.id]
    assert all(i.kind is InvoiceKind.INVOICE and i.state is InvoiceState.POSTED for i in listed)


def test_rf2_credit_notes_are_not_listed(desk: Desk, blender_invoice: Any) -> None:
    desk.app.refunds.reverse(desk.ticket.id, blender_invoice.id, lines=[line("10.00")], actor=AGENT)
    result = desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, lines=[line("10.00")], actor=AGENT
    )
    desk.app.refunds.confirm(result.credit_note.id, actor=AGENT)

    listed = desk.app.refunds.invoices_to_refund(desk.ticket.id, actor=AGENT)

    assert [i.id for i in listed] == [blender_invoice.id]


def test_rf2_the_ticket_sale_order_limits_the_list(scenario: Scenario, app: AfterSales) -> None:
    # The scenario ticket names sale order S00001: the paid kettle invoice has no order.
    listed = app.refunds.invoices_to_refund(scenario.ticket.id, actor=AGENT)
    assert [i.id for i in listed] == [scenario.invoice.id]


def test_rf2_the_call_may_name_a_sale_order(
    app: AfterSales, backend: Any, clock: FrozenClock
) -> None:
    desk = make_desk(app, backend, clock)
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    first = desk.world.sale_order(customer=desk.customer)
    second = desk.world.sale_order(customer=desk.customer)
    of_first = desk.invoice([(kettle, 1)], sale_order=first)
    of_second = desk.invoice([(kettle, 2)], sale_order=second)

    everything = app.refunds.invoices_to_refund(desk.ticket.id, actor=AGENT)
    only_second = app.refunds.invoices_to_refund(
        desk.ticket.id, sale_order_id=second.id, actor=AGENT
    )

    assert {i.id for i in everything} == {of_first.id, of_second.id}
    assert [i.id for i in only_second] == [of_second.id]
    with pytest.raises(NotFound, match="sale order so-nope does not exist"):
        app.refunds.invoices_to_refund(desk.ticket.id, sale_order_id="so-nope", actor=AGENT)


@pytest.mark.parametrize("returns_on", [True, False])
def test_rf2_the_ticket_product_limits_the_list_only_when_returns_are_on(
    app: AfterSales, backend: Any, clock: FrozenClock, returns_on: bool
) -> None:
    world = backend.builder(clock)
    ana = world.customer(name="Ana")
    blender = world.product(name="Blender", price=Decimal("49.95"))
    kettle = world.product(name="Kettle", price=Decimal("20.00"))
    services = {Service.REFUNDS, Service.RETURNS} if returns_on else {Service.REFUNDS}
    team = world.team(name="Support", services=services)
    ticket = world.ticket(team=team, title="Broken", customer=ana, product=blender)
    with_blender = world.invoice(customer=ana, lines=[(kettle, 1), (blender, 1)])
    kettle_only = world.invoice(customer=ana, lines=[(kettle, 1)])

    listed = {i.id for i in app.refunds.invoices_to_refund(ticket.id, actor=AGENT)}

    assert listed == ({with_blender.id} if returns_on else {with_blender.id, kettle_only.id})


def test_rf2_fully_reversed_invoices_are_not_listed(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    reversed_in_full = desk.invoice([(kettle, 1)])
    fully_drafted = desk.invoice([(kettle, 2)])
    half_credited = desk.invoice([(kettle, 3)])
    refunds = desk.app.refunds
    refunds.reverse(desk.ticket.id, reversed_in_full.id, method=CreditMethod.FULL, actor=AGENT)
    refunds.reverse(desk.ticket.id, fully_drafted.id, actor=AGENT)  # a draft for all of it
    refunds.reverse(desk.ticket.id, half_credited.id, lines=[line("30.00")], actor=AGENT)

    listed = refunds.invoices_to_refund(desk.ticket.id, actor=AGENT)

    assert [i.id for i in listed] == [half_credited.id]


# -- RF-3 ---------------------------------------------------------------------------------------


def test_rf3_a_draft_invoice_cannot_be_refunded(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    draft = desk.invoice([(kettle, 1)], posted=False)
    with (
        pytest.raises(InvalidState, match="only posted invoices can be refunded"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(desk.ticket.id, draft.id, actor=AGENT)
    with pytest.raises(InvalidState, match="only posted invoices can be refunded"):
        desk.app.refunds.credit_methods(desk.ticket.id, draft.id, actor=AGENT)


def test_rf3_a_cancelled_invoice_cannot_be_refunded(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    invoice = desk.invoice([(kettle, 1)])
    desk.world.put(attrs.evolve(invoice, state=InvoiceState.CANCELLED))
    with (
        pytest.raises(InvalidState, match="only posted invoices can be refunded"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(desk.ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT)


def test_rf3_an_invoice_of_another_customer_cannot_be_refunded(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    stranger = desk.world.customer(name="Otro Cliente")
    theirs = desk.invoice([(kettle, 1)], customer=stranger)
    with (
        pytest.raises(InvalidOperation, match="belongs to another customer"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(desk.ticket.id, theirs.id, actor=AGENT)


def test_rf3_an_invoice_of_a_colleague_can_be_refunded(
    scenario: Scenario, app: AfterSales, backend: Any, clock: FrozenClock
) -> None:
    """Contacts of the same commercial entity are the same customer (RF-2)."""
    of_colleague = backend.builder(clock).invoice(
        customer=scenario.colleague, lines=[(scenario.kettle, 1)]
    )
    result = app.refunds.reverse(scenario.ticket.id, of_colleague.id, actor=AGENT)
    assert result.credit_note.customer_id == scenario.colleague.id


def test_rf3_a_credit_note_cannot_itself_be_refunded(desk: Desk, blender_invoice: Any) -> None:
    note = desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    ).credit_note
    with (
        pytest.raises(InvalidOperation, match="is a credit note"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(desk.ticket.id, note.id, actor=AGENT)


# -- RF-5 ---------------------------------------------------------------------------------------


def test_rf5_all_three_methods_while_something_is_left_to_pay(
    scenario: Scenario, app: AfterSales
) -> None:
    assert app.refunds.credit_methods(scenario.ticket.id, scenario.invoice.id, actor=AGENT) == (
        CreditMethod.PARTIAL,
        CreditMethod.FULL,
        CreditMethod.FULL_AND_REINVOICE,
    )


def test_rf5_all_three_methods_on_a_partly_paid_invoice(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    invoice = desk.invoice([(kettle, 2)], paid=Decimal("0.01"))
    assert len(desk.app.refunds.credit_methods(desk.ticket.id, invoice.id, actor=AGENT)) == 3


def test_rf5_only_partial_on_a_paid_invoice(scenario: Scenario, app: AfterSales) -> None:
    assert app.refunds.credit_methods(
        scenario.ticket.id, scenario.paid_invoice.id, actor=AGENT
    ) == (CreditMethod.PARTIAL,)


def test_rf5_only_partial_once_reversed(desk: Desk, blender_invoice: Any) -> None:
    desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    )
    assert desk.app.refunds.credit_methods(desk.ticket.id, blender_invoice.id, actor=AGENT) == (
        CreditMethod.PARTIAL,
    )


@pytest.mark.parametrize("method", [CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE])
def test_rf5_a_forbidden_method_is_refused_naming_the_allowed_one(
    scenario: Scenario, app: AfterSales, backend: Any, method: CreditMethod
) -> None:
    with (
        pytest.raises(
            InvalidOperation, match=r"nothing left to pay.*allowed method is partial"
        ) as info,
        assert_unchanged(backend),
    ):
        app.refunds.reverse(
            scenario.ticket.id, scenario.paid_invoice.id, method=method, actor=AGENT
        )
    assert isinstance(info.value, MethodNotAllowed)
    assert info.value.to_dict() == {
        "code": "method_not_allowed",
        "message": str(info.value),
        "status": 422,
        "method": method.value,
        "allowed": ["partial"],
        "kind": "invoice",
        "id": scenario.paid_invoice.id,
    }


def test_rf5_partial_is_the_default(scenario: Scenario, app: AfterSales) -> None:
    result = app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, actor=AGENT)
    assert result.credit_note.credit_method is CreditMethod.PARTIAL
    assert result.credit_note.state is InvoiceState.DRAFT


def test_rf5_methods_may_be_given_by_value(scenario: Scenario, app: AfterSales) -> None:
    result = app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method="full",  # what a JSON client sends
        actor=AGENT,
    )
    assert result.credit_note.credit_method is CreditMethod.FULL


def test_rf5_an_unknown_method_is_refused(
    scenario: Scenario, app: AfterSales, backend: Any
) -> None:
    with (
        pytest.raises(InvalidInput, match=r"method=refund_all: must be one of: partial, full"),
        assert_unchanged(backend),
    ):
        app.refunds.reverse(
            scenario.ticket.id,
            scenario.invoice.id,
            method="refund_all",
            actor=AGENT,
        )


# -- RF-4, RF-8: reverse with each method ------------------------------------------------------


def test_rf4_partial_creates_a_draft_copy_of_the_invoice(desk: Desk, blender_invoice: Any) -> None:
    result = desk.app.refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT)

    note = result.credit_note
    assert note.kind is InvoiceKind.CREDIT_NOTE
    assert note.state is InvoiceState.DRAFT
    assert note.number is None
    assert note.lines == blender_invoice.lines
    assert note.total == money("120.88")
    assert note.customer_id == blender_invoice.customer_id
    assert note.currency == "EUR"
    assert result.new_invoice is None
    assert result.invoice == blender_invoice  # nothing matched yet
    assert result.customer_credit == money(0)
    assert desk.matches(blender_invoice.id) == []


def test_rf4_full_posts_and_reconciles_at_once(desk: Desk, blender_invoice: Any) -> None:
    result = desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    )

    note = result.credit_note
    assert note.state is InvoiceState.POSTED
    assert note.number == "RINV/2026/00001"
    assert note.total == money("120.88")
    assert note.residual == money(0)
    assert note.payment_state is PaymentState.PAID
    invoice = desk.stored(blender_invoice.id)
    assert result.invoice == invoice
    assert invoice.state is InvoiceState.POSTED  # the invoice keeps its posted state
    assert invoice.payment_state is PaymentState.REVERSED
    assert invoice.residual == money(0)
    [match] = desk.matches(blender_invoice.id)
    assert (match.kind, match.counterpart_id, match.amount) == (
        MatchKind.CREDIT_NOTE,
        note.id,
        money("120.88"),
    )
    assert result.new_invoice is None


def test_rf4_full_and_reinvoice_adds_a_new_draft_invoice(desk: Desk) -> None:
    blender = desk.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    order = desk.world.sale_order(customer=desk.customer)
    invoice = desk.invoice([(blender, 2)], sale_order=order, invoice_date=date(2026, 11, 2))

    result = desk.app.refunds.reverse(
        desk.ticket.id, invoice.id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT
    )

    assert result.credit_note.state is InvoiceState.POSTED
    assert result.invoice.payment_state is PaymentState.REVERSED
    new = result.new_invoice
    assert new is not None
    assert new == desk.stored(new.id)
    assert new.id != invoice.id
    assert new.kind is InvoiceKind.INVOICE
    assert new.state is InvoiceState.DRAFT
    assert (new.customer_id, new.lines, new.currency) == (
        invoice.customer_id,
        invoice.lines,
        invoice.currency,
    )
    assert new.total == money("120.88")
    assert new.sale_order_id == order.id
    assert new.number is None  # a new number comes on posting
    assert new.invoice_date is None  # no dates carried
    assert new.post_on is None
    assert new.payment_state is PaymentState.NOT_PAID
    assert new.ticket_id == desk.ticket.id


def test_rf8_confirm_posts_the_draft_and_reduces_the_residual(
    desk: Desk, blender_invoice: Any
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(
        desk.ticket.id, blender_invoice.id, lines=[line("49.95", taxes=["21%"])], actor=AGENT
    ).credit_note
    assert draft.total == money("60.44")

    result = refunds.confirm(draft.id, actor=AGENT)

    assert result.credit_note.state is InvoiceState.POSTED
    assert result.credit_note.number == "RINV/2026/00001"
    assert result.invoice.residual == money("60.44")  # 120.88 - 60.44
    assert result.invoice.payment_state is PaymentState.PARTIAL
    assert result.invoice == desk.stored(blender_invoice.id)
    assert result.customer_credit == money(0)
    [match] = desk.matches(blender_invoice.id)
    assert match.amount == money("60.44")


def test_rf8_posting_a_posted_credit_note_is_refused(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    refunds.confirm(draft.id, actor=AGENT)
    with (
        pytest.raises(InvalidState, match=r"RINV/2026/00001 is already posted"),
        assert_unchanged(desk.backend),
    ):
        refunds.confirm(draft.id, actor=AGENT)


def test_rf8_credit_note_numbers_follow_one_sequence_per_year(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    refunds = desk.app.refunds
    numbers = []
    for _ in range(3):
        invoice = desk.invoice([(kettle, 1)])
        numbers.append(
            refunds.reverse(
                desk.ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT
            ).credit_note.number
        )
    desk.clock.set("2027-01-02T10:00:00+00:00")
    invoice = desk.invoice([(kettle, 1)])
    numbers.append(
        refunds.reverse(
            desk.ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT
        ).credit_note.number
    )
    assert numbers == ["RINV/2026/00001", "RINV/2026/00002", "RINV/2026/00003", "RINV/2027/00001"]


# -- RF-6 ---------------------------------------------------------------------------------------


def test_rf6_defaults_reason_date_and_journal(desk: Desk, blender_invoice: Any) -> None:
    note = desk.app.refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    assert note.reason == f"Ticket #{desk.ticket.ref}"
    assert note.invoice_date == TODAY
    assert note.post_on is None
    assert note.journal is None


def test_g6_today_is_the_clock_s_day_in_its_own_time_zone(desk: Desk) -> None:
    """G-6: "today" comes from the injected clock, an aware time: half past midnight on
    1 January in Madrid (UTC+1) is still 31 December in UTC, and the credit note is dated
    1 January."""
    madrid = timezone(timedelta(hours=1))
    desk.clock.set("2027-01-01T00:30:00+01:00")
    invoice = desk.invoice([(desk.world.product(name="Fan", price=Decimal("10.00")), 1)])
    note = desk.app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT).credit_note
    assert note.created_at == datetime(2027, 1, 1, 0, 30, tzinfo=madrid)
    assert note.created_at.astimezone(UTC).date() == date(2026, 12, 31)
    assert note.invoice_date == date(2027, 1, 1)


def test_rf6_explicit_reason_date_and_journal(desk: Desk, blender_invoice: Any) -> None:
    note = desk.app.refunds.reverse(
        desk.ticket.id,
        blender_invoice.id,
        reason="Damaged on arrival",
        reversal_date=date(2026, 11, 28),
        journal="SALES-REFUNDS",
        actor=AGENT,
    ).credit_note
    assert note.reason == "Damaged on arrival"
    assert note.journal == "SALES-REFUNDS"
    assert note.reference == f"Reversal of: {blender_invoice.number}, Damaged on arrival"


@pytest.mark.parametrize("method", list(CreditMethod))
def test_rf6_a_future_reversal_date_keeps_a_draft_and_reconciles_nothing(
    desk: Desk, method: CreditMethod
) -> None:
    sofa = desk.world.product(name="Sofa", price=Decimal("1165.29"), taxes=("21%",))
    invoice = desk.invoice([(sofa, 1)], paid=Decimal("500.00"))
    before = desk.matches(invoice.id)

    result = desk.app.refunds.reverse(
        desk.ticket.id,
        invoice.id,
        method=method,
        reversal_date=TODAY + timedelta(days=3),
        actor=AGENT,
    )

    note = result.credit_note
    assert note.state is InvoiceState.DRAFT
    assert note.number is None
    assert note.post_on == date(2026, 12, 1)
    assert desk.matches(invoice.id) == before  # the payment is still matched
    assert desk.stored(invoice.id) == invoice
    assert result.customer_credit == money(0)
    assert (result.new_invoice is not None) is (method is CreditMethod.FULL_AND_REINVOICE)


def test_rf6_a_scheduled_full_credit_note_posts_as_full_on_its_date(desk: Desk) -> None:
    sofa = desk.world.product(name="Sofa", price=Decimal("1165.29"), taxes=("21%",))
    invoice = desk.invoice([(sofa, 1)], paid=Decimal("500.00"))
    refunds = desk.app.refunds
    note = refunds.reverse(
        desk.ticket.id,
        invoice.id,
        method=CreditMethod.FULL,
        reversal_date=date(2026, 12, 1),
        actor=AGENT,
    ).credit_note

    with (
        pytest.raises(InvalidState, match="scheduled to post on 2026-12-01"),
        assert_unchanged(desk.backend),
    ):
        refunds.confirm(note.id, actor=AGENT)

    desk.clock.set("2026-12-01T08:00:00+00:00")
    result = refunds.confirm(note.id, actor=AGENT)

    assert result.credit_note.state is InvoiceState.POSTED
    assert result.credit_note.number == "RINV/2026/00001"
    assert result.credit_note.invoice_date == date(2026, 12, 1)
    assert result.credit_note.post_on is None
    assert result.invoice.payment_state is PaymentState.REVERSED
    assert result.invoice.residual == money(0)
    assert result.customer_credit == money("500.00")


def test_rf6_a_reversal_date_before_the_invoice_is_refused(desk: Desk) -> None:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    invoice = desk.invoice([(kettle, 1)], invoice_date=date(2026, 11, 20))
    with (
        pytest.raises(InvalidInput, match=r"reversal_date=.*is before the date of invoice"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(
            desk.ticket.id, invoice.id, reversal_date=date(2026, 11, 19), actor=AGENT
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reversal_date": datetime(2026, 11, 28, 9)}, "reversal_date=.*expected a date"),
        ({"reversal_date": "2026-11-28"}, "reversal_date=.*expected a date"),
        ({"reason": ""}, 'reason="": must not be blank'),
        ({"reason": "x" * 513}, "reason=.*longer than 512"),
        ({"reason": "bad\x00reason"}, "reason=.*control character"),
        ({"journal": 7}, "journal=7: expected text"),
        ({"lines": []}, "lines=.*at least one line"),
        ({"lines": "Blender"}, "lines=Blender: expected a list"),
        ({"lines": [("Blender", 1)]}, r"lines\[0\]=.*expected an InvoiceLine"),
        ({"lines": [line("10.00", 0)]}, r"lines\[0\].quantity=.*greater than zero"),
        ({"lines": [line("10.00", -1)]}, r"lines\[0\].quantity=.*greater than zero"),
        ({"lines": [line("0.00")]}, r"lines\[0\].unit_price=.*greater than zero"),
        ({"lines": [line("-5.00")]}, r"lines\[0\].unit_price=.*greater than zero"),
        ({"lines": [line("0.01", "0.1")]}, r"lines\[0\]=.*amounts to zero"),
        ({"lines": [line("10", currency="USD")]}, r"lines\[0\].unit_price=.*must be in EUR"),
        (
            {"method": CreditMethod.FULL, "lines": [line("1.00")]},
            "only a PARTIAL credit note takes its own lines",
        ),
    ],
)
def test_rl4_bad_reverse_input_is_refused_and_changes_nothing(
    desk: Desk, blender_invoice: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message), assert_unchanged(desk.backend):
        desk.app.refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT, **kwargs)


def test_g7_unknown_ids_are_not_found(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    with (
        pytest.raises(NotFound, match="invoice inv-nope does not exist"),
        assert_unchanged(desk.backend),
    ):
        refunds.reverse(desk.ticket.id, "inv-nope", actor=AGENT)
    with pytest.raises(NotFound, match="ticket ticket-nope does not exist"):
        refunds.reverse("ticket-nope", blender_invoice.id, actor=AGENT)
    with pytest.raises(NotFound, match="invoice cn-nope does not exist"):
        refunds.confirm("cn-nope", actor=AGENT)
    with pytest.raises(NotFound, match="invoice inv-nope does not exist"):
        refunds.credit_methods(desk.ticket.id, "inv-nope", actor=AGENT)
    with pytest.raises(NotFound, match="product product-nope does not exist"):
        refunds.reverse(
            desk.ticket.id,
            blender_invoice.id,
            lines=[line("1.00", product_id="product-nope")],
            actor=AGENT,
        )
    with pytest.raises(InvalidInput, match="invoice_id=None: is not a valid id"):
        refunds.reverse(desk.ticket.id, None, actor=AGENT)  # type: ignore[arg-type]


# -- RF-9: editing a draft ------------------------------------------------------------------------


def test_rf9_a_draft_can_be_edited_lines_quantities_and_prices(
    desk: Desk, blender_invoice: Any
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    [original] = draft.lines

    one_blender = attrs.evolve(original, quantity=Decimal(1))
    discount = line("5.00", 2, taxes=["21%"], description="Goodwill")
    edited = refunds.update_draft(draft.id, lines=[one_blender, discount], actor=AGENT)

    assert edited.state is InvoiceState.DRAFT
    assert edited.lines == (one_blender, discount)
    assert edited.total == money("72.54")  # 60.44 + 12.10
    assert desk.stored(draft.id) == edited
    cheaper = attrs.evolve(original, unit_price=money("40.00"))
    assert refunds.update_draft(draft.id, lines=[cheaper], actor=AGENT).total == money("96.80")


def test_rf9_a_posted_credit_note_cannot_be_edited(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    note = refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    ).credit_note
    with (
        pytest.raises(InvalidState, match="is already posted; a posted credit note cannot be"),
        assert_unchanged(desk.backend),
    ):
        refunds.update_draft(note.id, lines=[line("1.00")], actor=AGENT)


def test_rf9_a_cancelled_credit_note_cannot_be_edited_or_posted(
    desk: Desk, blender_invoice: Any
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    refunds.cancel(draft.id, actor=AGENT)
    with pytest.raises(InvalidState, match="cancelled"), assert_unchanged(desk.backend):
        refunds.update_draft(draft.id, lines=[line("1.00")], actor=AGENT)
    with pytest.raises(InvalidState, match="cancelled"), assert_unchanged(desk.backend):
        refunds.confirm(draft.id, actor=AGENT)
    with pytest.raises(InvalidState, match="cancelled"), assert_unchanged(desk.backend):
        refunds.cancel(draft.id, actor=AGENT)


def test_rf9_an_invoice_is_not_a_credit_note_to_edit(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    with pytest.raises(InvalidOperation, match="not a credit note"), assert_unchanged(desk.backend):
        refunds.update_draft(blender_invoice.id, lines=[line("1.00")], actor=AGENT)
    with pytest.raises(InvalidOperation, match="not a credit note"):
        refunds.confirm(blender_invoice.id, actor=AGENT)
    with pytest.raises(InvalidOperation, match="not a credit note"):
        refunds.cancel(blender_invoice.id, actor=AGENT)


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        ([], InvalidInput, "at least one line"),
        ([line("1.00", 0)], InvalidInput, "greater than zero"),
        ([line("1", currency="JPY")], InvalidInput, "must be in EUR"),
        ([line("120.89")], QuantityExceeded, r"asked 120.89 EUR, only 120.88 EUR available"),
    ],
)
def test_rf9_rf7_bad_edits_are_refused_and_change_nothing(
    desk: Desk, blender_invoice: Any, lines: list[Any], error: type[Exception], message: str
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    with pytest.raises(error, match=message), assert_unchanged(desk.backend):
        refunds.update_draft(draft.id, lines=lines, actor=AGENT)


def test_cancel_frees_the_credit_for_another_refund(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    with pytest.raises(QuantityExceeded), assert_unchanged(desk.backend):
        refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT)

    cancelled = refunds.cancel(draft.id, actor=AGENT)

    assert cancelled.state is InvoiceState.CANCELLED
    again = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT)
    assert again.credit_note.total == money("120.88")


def test_a_posted_credit_note_cannot_be_cancelled(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    note = refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    ).credit_note
    with pytest.raises(InvalidState, match="already posted"), assert_unchanged(desk.backend):
        refunds.cancel(note.id, actor=AGENT)


# -- RF-10 --------------------------------------------------------------------------------------


def test_rf10_the_credit_note_references_the_invoice_and_the_ticket(
    scenario: Scenario, app: AfterSales
) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, reason="Blender broken", actor=AGENT
    ).credit_note
    assert note.reversed_invoice_id == scenario.invoice.id
    assert note.ticket_id == scenario.ticket.id
    assert note.reference == "Reversal of: INV/2026/00001, Blender broken"
    assert note.sale_order_id == scenario.order.id


def test_rf10_default_reference_names_the_ticket(scenario: Scenario, app: AfterSales) -> None:
    note = app.refunds.reverse(scenario.ticket.id, scenario.invoice.id, actor=AGENT).credit_note
    assert note.reference == f"Reversal of: INV/2026/00001, Ticket #{scenario.ticket.ref}"


# -- RF-11 --------------------------------------------------------------------------------------


def test_rf11_the_ticket_view_counts_lists_and_trails_refunds(
    desk: Desk, blender_invoice: Any
) -> None:
    app, refunds, clock = desk.app, desk.app.refunds, desk.clock
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    second = desk.invoice([(kettle, 2)])

    first_note = refunds.reverse(
        desk.ticket.id, blender_invoice.id, lines=[line("49.95", taxes=["21%"])], actor=AGENT
    ).credit_note
    clock.advance(minutes=1)
    refunds.confirm(first_note.id, actor=AGENT)
    clock.advance(minutes=1)
    corrected = refunds.reverse(
        desk.ticket.id, second.id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT
    )
    clock.advance(minutes=1)
    dropped = refunds.reverse(
        desk.ticket.id, blender_invoice.id, lines=[line("1.00")], actor=AGENT
    ).credit_note
    clock.advance(minutes=1)
    refunds.cancel(dropped.id, actor=AGENT)

    view = app.tickets.view(desk.ticket.id, actor=AGENT)

    assert view.counts.credit_notes == 3
    assert view.counts.invoices == 1  # the re-invoice draft
    assert "Refund" in view.actions
    assert [(doc.kind, doc.document_id, doc.name, doc.state) for doc in view.documents] == [
        (DocumentKind.CREDIT_NOTE, first_note.id, "RINV/2026/00001", "posted"),
        (DocumentKind.CREDIT_NOTE, corrected.credit_note.id, "RINV/2026/00002", "posted"),
        (
            DocumentKind.INVOICE,
            corrected.new_invoice.id if corrected.new_invoice else "",
            "Draft",
            "draft",
        ),
        (DocumentKind.CREDIT_NOTE, dropped.id, "Draft", "cancelled"),
    ]
    trail = [(m.body.split(":")[0], m.document_id, m.author_id) for m in view.trail]
    assert trail == [
        ("Refund cancelled", dropped.id, AGENT.user_id),
        ("Refund created", dropped.id, AGENT.user_id),
        ("Invoice created", corrected.new_invoice.id if corrected.new_invoice else "", "agent"),
        ("Refund created", corrected.credit_note.id, AGENT.user_id),
        ("Refund posted", first_note.id, AGENT.user_id),
        ("Refund created", first_note.id, AGENT.user_id),
    ]
    assert view.trail[-1].body == (
        "Refund created: draft credit note of 60.44 EUR for INV/2026/00001 "
        f"(Ticket #{desk.ticket.ref})"
    )
    assert view.trail[-2].body == "Refund posted: RINV/2026/00001 of 60.44 EUR for INV/2026/00001"
    assert view.trail[3].body == (
        "Refund created: credit note RINV/2026/00002 of 40.00 EUR for INV/2026/00002, "
        f"posted and reconciled (Ticket #{desk.ticket.ref})"
    )
    assert refunds.credit_notes(desk.ticket.id, actor=AGENT) == (
        desk.stored(first_note.id),
        corrected.credit_note,
        desk.stored(dropped.id),
    )


def test_rf11_an_edit_is_on_the_trail_and_in_the_audit(desk: Desk, blender_invoice: Any) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    desk.clock.advance(minutes=1)
    refunds.update_draft(draft.id, lines=[line("10.00")], actor=AGENT, idempotency_key="e-1")

    view = desk.app.tickets.view(desk.ticket.id, actor=AGENT)
    assert view.trail[0].body == (
        "Refund updated: draft credit note for INV/2026/00001 now credits 10.00 EUR "
        "(was 120.88 EUR)"
    )
    audit = desk.app.hooks.audit_list(desk.ticket.id)
    assert [(e.action, e.document_ids, e.idempotency_key) for e in audit] == [
        ("credit_note created", (draft.id,), None),
        ("credit_note updated", (draft.id,), "e-1"),
    ]


def test_rf11_events_reach_subscribers_after_commit(backend: Any, clock: FrozenClock) -> None:
    from aftersales import hookimpl
    from aftersales.models import DocumentChanged, DocumentCreated

    seen: list[object] = []

    class Listener:
        @hookimpl
        def aftersales_on_document_created(self, event: DocumentCreated) -> None:
            seen.append(("created", event.kind, event.document_id))

        @hookimpl
        def aftersales_on_document_changed(self, event: DocumentChanged) -> None:
            seen.append((event.change, event.kind, event.document_id))

    app = AfterSales(backend, clock=clock, plugins=[Listener()])
    desk = make_desk(app, backend, clock)
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    invoice = desk.invoice([(kettle, 1)])

    note = app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT).credit_note
    app.refunds.confirm(note.id, actor=AGENT)
    with pytest.raises(InvalidState):
        app.refunds.confirm(note.id, actor=AGENT)  # refused: no event

    assert seen == [
        ("created", DocumentKind.CREDIT_NOTE, note.id),
        ("posted", DocumentKind.CREDIT_NOTE, note.id),
    ]


# -- RF-12 --------------------------------------------------------------------------------------


def test_rf12_three_refunds_in_a_row_from_one_ticket(desk: Desk) -> None:
    refunds = desk.app.refunds
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
    invoices = [desk.invoice([(kettle, n)]) for n in (1, 2, 3)]

    first = refunds.reverse(desk.ticket.id, invoices[0].id, lines=[line("10.00")], actor=AGENT)
    refunds.confirm(first.credit_note.id, actor=AGENT)
    second = refunds.reverse(desk.ticket.id, invoices[1].id, method=CreditMethod.FULL, actor=AGENT)
    third = refunds.reverse(
        desk.ticket.id, invoices[2].id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT
    )
    fourth = refunds.reverse(desk.ticket.id, invoices[0].id, lines=[line("1.00")], actor=AGENT)

    notes = refunds.credit_notes(desk.ticket.id, actor=AGENT)
    assert [n.id for n in notes] == [
        first.credit_note.id,
        second.credit_note.id,
        third.credit_note.id,
        fourth.credit_note.id,
    ]
    assert [n.number for n in notes] == [
        "RINV/2026/00001",
        "RINV/2026/00002",
        "RINV/2026/00003",
        None,
    ]
    assert desk.app.tickets.view(desk.ticket.id, actor=AGENT).counts.credit_notes == 4


def test_rf12_three_partial_refunds_of_one_invoice_from_one_ticket(
    desk: Desk, blender_invoice: Any
) -> None:
    refunds = desk.app.refunds
    for amount in ("20.00", "30.00", "70.88"):
        note = refunds.reverse(
            desk.ticket.id, blender_invoice.id, lines=[line(amount)], actor=AGENT
        ).credit_note
        refunds.confirm(note.id, actor=AGENT)
    invoice = desk.stored(blender_invoice.id)
    assert invoice.residual == money(0)
    assert invoice.payment_state is PaymentState.REVERSED
    assert len(refunds.credit_notes(desk.ticket.id, actor=AGENT)) == 3


# -- AC-2, G-2, AC-3: who may refund ------------------------------------------------------------


BILLING_ONLY = Actor(user_id="accountant", groups=frozenset({Group.BILLING}))


def _calls(scenario: Scenario, app: AfterSales, note_id: str) -> dict[str, Any]:
    ticket, invoice = scenario.ticket.id, scenario.invoice.id
    return {
        "invoices_to_refund": lambda a: app.refunds.invoices_to_refund(ticket, actor=a),
        "credit_methods": lambda a: app.refunds.credit_methods(ticket, invoice, actor=a),
        "credit_notes": lambda a: app.refunds.credit_notes(ticket, actor=a),
        "reverse": lambda a: app.refunds.reverse(ticket, invoice, lines=[line("1")], actor=a),
        "update_draft": lambda a: app.refunds.update_draft(note_id, lines=[line("2")], actor=a),
        "confirm": lambda a: app.refunds.confirm(note_id, actor=a),
        "cancel": lambda a: app.refunds.cancel(note_id, actor=a),
    }


CALLS = [
    "invoices_to_refund",
    "credit_methods",
    "credit_notes",
    "reverse",
    "update_draft",
    "confirm",
    "cancel",
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    ("who", "missing"),
    [
        (Actors().helpdesk_only, "billing"),
        (BILLING_ONLY, "helpdesk_user"),
        (Actors().nobody, "billing, helpdesk_user"),
        (Actors().manager, "billing"),
    ],
)
def test_ac2_refunds_need_helpdesk_user_and_billing(
    scenario: Scenario, app: AfterSales, backend: Any, call: str, who: Actor, missing: str
) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1")], actor=AGENT
    ).credit_note
    with (
        pytest.raises(AccessDenied, match=rf"^refund: user {who.user_id} .*: {missing}$"),
        assert_unchanged(backend),
    ):
        _calls(scenario, app, note.id)[call](who)


@pytest.mark.parametrize("call", CALLS)
def test_ac2_the_system_actor_may_refund(scenario: Scenario, app: AfterSales, call: str) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1")], actor=AGENT
    ).credit_note
    _calls(scenario, app, note.id)[call](Actors().system)


@pytest.mark.parametrize("call", CALLS)
def test_g2_refunds_off_on_the_team_is_refused(
    scenario: Scenario, app: AfterSales, backend: Any, call: str
) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1")], actor=AGENT
    ).credit_note
    off = attrs.evolve(scenario.team, services=scenario.team.services - {Service.REFUNDS})
    backend.builder().put(off)
    with (
        pytest.raises(ServiceDisabled, match="the refunds service is not enabled on team"),
        assert_unchanged(backend),
    ):
        _calls(scenario, app, note.id)[call](AGENT)


@pytest.mark.parametrize("call", CALLS)
def test_g2_a_locked_database_refuses_every_refund_call(
    scenario: Scenario, app: AfterSales, backend: Any, clock: FrozenClock, call: str
) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1")], actor=AGENT
    ).credit_note
    ended = clock.now() - timedelta(days=1)
    app.hooks.subscription_save(
        Subscription(state=SubscriptionState.TRIAL, trial_started_at=ended, trial_ends_at=ended)
    )
    before = {t: backend.snapshot().get(t) for t in ("invoices", "matches", "links", "messages")}
    with pytest.raises(DatabaseLocked, match="the database is locked"):
        _calls(scenario, app, note.id)[call](AGENT)
    after = {t: backend.snapshot().get(t) for t in before}
    assert after == before


@pytest.mark.parametrize("call", [c for c in CALLS if c != "credit_methods"])
def test_ac3_a_members_only_team_hides_its_refunds(
    scenario: Scenario, app: AfterSales, backend: Any, call: str
) -> None:
    note = app.refunds.reverse(
        scenario.ticket.id, scenario.invoice.id, lines=[line("1")], actor=AGENT
    ).credit_note
    backend.builder().put(
        attrs.evolve(scenario.team, members_only=True, member_ids=frozenset({"someone"}))
    )
    with (
        pytest.raises(AccessDenied, match="restricted to its members"),
        assert_unchanged(backend),
    ):
        _calls(scenario, app, note.id)[call](AGENT)


def test_an_actor_is_required(scenario: Scenario, app: AfterSales, backend: Any) -> None:
    with (
        pytest.raises(InvalidInput, match="every call needs an explicit Actor"),
        assert_unchanged(backend),
    ):
        app.refunds.reverse(
            scenario.ticket.id,
            scenario.invoice.id,
            actor="agent",  # type: ignore[arg-type]
        )


# -- docs ------------------------------------------------------------------------------------------


def test_the_refunds_guide_example_runs() -> None:
    """docs/refunds.md: its Python example runs and its assertions hold."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "refunds.md").read_text("utf-8")
    [example] = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    exec(compile(example, "docs/refunds.md", "exec"), {})
