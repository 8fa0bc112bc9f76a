"""Refund worked examples with real numbers (RF-4, RF-4a, RF-4b, RF-7, G-5, G-8).

Every amount below is worked out by hand in the comments; the tests check the library
arrives at exactly the same figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.erp import settle
from aftersales.errors import BackendError, InvalidOperation, QuantityExceeded
from aftersales.models import (
    Invoice,
    InvoiceKind,
    InvoiceState,
    Match,
    MatchKind,
    PaymentState,
)
from aftersales.testing import Scenario, assert_unchanged
from tests.refunds_support import AGENT, Desk, line, make_desk, money

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


@pytest.fixture
def desk(app: AfterSales, backend: Any, clock: FrozenClock) -> Desk:
    return make_desk(app, backend, clock)


def _unmatched_payments(desk: Desk) -> Decimal:
    """What the customer paid that no invoice holds any more: their outstanding credit."""
    payments = desk.backend.store.values("payments")
    matched: dict[str, Decimal] = {}
    for match in desk.backend.store.values("matches"):
        if match.kind is MatchKind.PAYMENT:
            matched[match.counterpart_id] = (
                matched.get(match.counterpart_id, Decimal(0)) + match.amount.amount
            )
    return sum((p.amount.amount - matched.get(p.id, Decimal(0)) for p in payments), Decimal(0))


# -- EUR: 2 × 49.95 + 21 %, partly paid, then each method --------------------------------------


@pytest.fixture
def blender_invoice(desk: Desk) -> Invoice:
    """2 × 49.95 = 99.90 untaxed; 21 % of it is 20.979 → 20.98; total 120.88 EUR.

    50.00 is paid, so 70.88 is left to pay (payment state PARTIAL).
    """
    blender = desk.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
    invoice = desk.invoice([(blender, 2)], paid=Decimal("50.00"))
    assert (invoice.amounts.untaxed, invoice.amounts.tax, invoice.total) == (
        money("99.90"),
        money("20.98"),
        money("120.88"),
    )
    assert (invoice.residual, invoice.payment_state) == (money("70.88"), PaymentState.PARTIAL)
    return invoice


def test_eur_partial_one_blender_of_a_partly_paid_invoice(
    desk: Desk, blender_invoice: Invoice
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note
    assert draft.total == money("120.88")  # a copy of the invoice, to edit

    [copied] = draft.lines
    edited = refunds.update_draft(
        draft.id, lines=[attrs.evolve(copied, quantity=Decimal(1))], actor=AGENT
    )
    # 1 × 49.95 = 49.95; 21 % = 10.4895 → 10.49; total 60.44
    assert (edited.amounts.untaxed, edited.amounts.tax, edited.total) == (
        money("49.95"),
        money("10.49"),
        money("60.44"),
    )

    result = refunds.confirm(draft.id, actor=AGENT)

    # 70.88 left to pay - 60.44 credited = 10.44; a payment and a credit note are matched
    assert result.invoice.residual == money("10.44")
    assert result.invoice.payment_state is PaymentState.PARTIAL
    assert result.credit_note.residual == money(0)
    assert result.credit_note.payment_state is PaymentState.PAID
    assert result.customer_credit == money(0)
    assert _unmatched_payments(desk) == 0


def test_eur_partial_for_the_whole_invoice_leaves_the_paid_part_as_credit(
    desk: Desk, blender_invoice: Invoice
) -> None:
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, blender_invoice.id, actor=AGENT).credit_note

    result = refunds.confirm(draft.id, actor=AGENT)

    # The residual (70.88) absorbs 70.88 of the 120.88 credit; 50.00 stays open on the
    # credit note: the customer's credit. The payment stays matched, so the invoice is PAID.
    assert result.invoice.residual == money(0)
    assert result.invoice.payment_state is PaymentState.PAID
    assert [m.amount for m in desk.matches(blender_invoice.id)] == [
        money("50.00"),
        money("70.88"),
    ]
    assert result.credit_note.residual == money("50.00")
    assert result.credit_note.payment_state is PaymentState.PARTIAL
    assert result.customer_credit == money("50.00")


def test_eur_full_releases_the_payment_as_customer_credit(
    desk: Desk, blender_invoice: Invoice
) -> None:
    result = desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL, actor=AGENT
    )

    assert result.credit_note.total == money("120.88")
    assert result.credit_note.residual == money(0)
    assert result.invoice.residual == money(0)
    assert result.invoice.payment_state is PaymentState.REVERSED
    [match] = desk.matches(blender_invoice.id)
    assert (match.kind, match.amount) == (MatchKind.CREDIT_NOTE, money("120.88"))
    assert result.customer_credit == money("50.00")
    assert _unmatched_payments(desk) == Decimal("50.00")
    audit = desk.app.hooks.audit_list(desk.ticket.id)
    assert [e.action for e in audit] == ["invoice payments unmatched", "credit_note created"]
    assert audit[0].detail == "50.00 EUR paid on INV/2026/00001 is now customer credit"


def test_eur_full_and_reinvoice_corrects_the_invoice(desk: Desk, blender_invoice: Invoice) -> None:
    result = desk.app.refunds.reverse(
        desk.ticket.id, blender_invoice.id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT
    )

    assert result.invoice.payment_state is PaymentState.REVERSED
    assert result.customer_credit == money("50.00")
    assert result.new_invoice is not None
    assert result.new_invoice.total == money("120.88")
    assert result.new_invoice.residual == money(0)  # a draft owes nothing yet
    assert result.new_invoice.state is InvoiceState.DRAFT


# -- RF-4a: the reference behaviour -------------------------------------------------------------


@pytest.mark.parametrize("method", [CreditMethod.FULL, CreditMethod.FULL_AND_REINVOICE])
def test_rf4a_1410_with_500_paid(desk: Desk, method: CreditMethod) -> None:
    """Invoice 1410.00 with 500.00 paid → credit note 1410.00 posted and matched, invoice
    residual 0 and REVERSED, customer credit 500.00."""
    sofa = desk.world.product(name="Sofa", price=Decimal("1165.29"), taxes=("21%",))
    invoice = desk.invoice([(sofa, 1)], paid=Decimal("500.00"))
    assert invoice.total == money("1410.00")  # 1165.29 + 244.7109 → 244.71

    result = desk.app.refunds.reverse(desk.ticket.id, invoice.id, method=method, actor=AGENT)

    note = result.credit_note
    assert (note.total, note.state, note.residual) == (
        money("1410.00"),
        InvoiceState.POSTED,
        money(0),
    )
    [match] = desk.matches(invoice.id)
    assert (match.kind, match.counterpart_id, match.amount) == (
        MatchKind.CREDIT_NOTE,
        note.id,
        money("1410.00"),
    )
    assert (result.invoice.residual, result.invoice.payment_state) == (
        money(0),
        PaymentState.REVERSED,
    )
    assert result.invoice.state is InvoiceState.POSTED
    assert result.customer_credit == money("500.00")
    assert _unmatched_payments(desk) == Decimal("500.00")


# -- RF-4b: payment state follows from the matches ------------------------------------------------


def test_rf4b_1000_with_a_credit_note_of_500_and_a_payment_of_400(desk: Desk) -> None:
    service = desk.world.product(name="Consulting", price=Decimal("1000.00"))
    invoice = desk.invoice([(service, 1)], paid=Decimal("400.00"))
    refunds = desk.app.refunds
    note = refunds.reverse(desk.ticket.id, invoice.id, lines=[line("500.00")], actor=AGENT)

    result = refunds.confirm(note.credit_note.id, actor=AGENT)

    assert result.invoice.payment_state is PaymentState.PARTIAL
    assert result.invoice.residual == money("100.00")


def test_rf4b_1000_with_two_credit_notes_of_500(desk: Desk) -> None:
    service = desk.world.product(name="Consulting", price=Decimal("1000.00"))
    invoice = desk.invoice([(service, 1)])
    refunds = desk.app.refunds
    states = []
    for _ in range(2):
        draft = refunds.reverse(desk.ticket.id, invoice.id, lines=[line("500.00")], actor=AGENT)
        after = refunds.confirm(draft.credit_note.id, actor=AGENT).invoice
        states.append((after.residual, after.payment_state))

    assert states == [
        (money("500.00"), PaymentState.PARTIAL),
        (money(0), PaymentState.REVERSED),
    ]


def test_rf4b_a_payment_among_the_matches_makes_it_paid(desk: Desk) -> None:
    service = desk.world.product(name="Consulting", price=Decimal("1000.00"))
    invoice = desk.invoice([(service, 1)], paid=Decimal("600.00"))
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, invoice.id, lines=[line("400.00")], actor=AGENT)

    after = refunds.confirm(draft.credit_note.id, actor=AGENT).invoice

    assert (after.residual, after.payment_state) == (money(0), PaymentState.PAID)


def _invoice(total: str, currency: str = "EUR") -> Invoice:
    return Invoice(
        id="inv-1",
        kind=InvoiceKind.INVOICE,
        customer_id="c-1",
        currency=currency,
        lines=[line(total, currency=currency)],
        state=InvoiceState.POSTED,
        created_at=NOW,
    )


def _match(kind: MatchKind, amount: str, n: int) -> Match:
    return Match(
        id=f"m-{n}",
        invoice_id="inv-1",
        kind=kind,
        counterpart_id=f"x-{n}",
        amount=money(amount),
        created_at=NOW,
    )


C, P, M = MatchKind.CREDIT_NOTE, MatchKind.PAYMENT, MatchKind.MANUAL


@pytest.mark.parametrize(
    ("matched", "residual", "state"),
    [
        ([], "1000.00", PaymentState.NOT_PAID),
        ([(P, "400.00")], "600.00", PaymentState.PARTIAL),
        ([(C, "500.00"), (P, "400.00")], "100.00", PaymentState.PARTIAL),
        ([(C, "500.00"), (C, "500.00")], "0.00", PaymentState.REVERSED),
        ([(C, "700.00"), (M, "300.00")], "0.00", PaymentState.REVERSED),
        ([(M, "1000.00")], "0.00", PaymentState.REVERSED),
        ([(C, "500.00"), (P, "500.00")], "0.00", PaymentState.PAID),
        ([(P, "1000.00")], "0.00", PaymentState.PAID),
        ([(C, "0.01")], "999.99", PaymentState.PARTIAL),
    ],
)
def test_rf4b_settle_table(
    matched: list[tuple[MatchKind, str]], residual: str, state: PaymentState
) -> None:
    matches = [_match(kind, amount, n) for n, (kind, amount) in enumerate(matched)]
    settled = settle(_invoice("1000.00"), matches)
    assert (settled.residual, settled.payment_state) == (money(residual), state)


def test_rf4b_more_matched_than_invoiced_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match=r"matched for 1,000\.01 EUR, more than its total"):
        settle(_invoice("1000.00"), [_match(P, "1000.00", 1), _match(C, "0.01", 2)])


# -- JPY: no decimals ----------------------------------------------------------------------------


def test_jpy_three_rice_cookers_partly_paid(desk: Desk) -> None:
    """3 × 1980 JPY = 5940; 10 % tax = 594; total 6534 JPY; 2000 paid → 4534 left."""
    cooker = desk.world.product(
        name="Rice cooker", price=Decimal("1980"), currency="JPY", taxes=("10%",)
    )
    invoice = desk.invoice([(cooker, 3)], paid=Decimal("2000"))
    assert (invoice.total, invoice.residual) == (money(6534, "JPY"), money(4534, "JPY"))
    assert str(invoice.total) == "6,534 JPY"
    refunds = desk.app.refunds

    # One cooker back: 1980 + 198 = 2178 JPY → 4534 - 2178 = 2356 JPY left to pay.
    draft = refunds.reverse(
        desk.ticket.id, invoice.id, lines=[line(1980, currency="JPY", taxes=["10%"])], actor=AGENT
    ).credit_note
    assert draft.total == money(2178, "JPY")
    after = refunds.confirm(draft.id, actor=AGENT).invoice
    assert (after.residual, after.payment_state) == (money(2356, "JPY"), PaymentState.PARTIAL)

    # 6534 - 2178 = 4356 JPY is all that can still be credited.
    with (
        pytest.raises(QuantityExceeded, match="asked 6,534 JPY, only 4,356 JPY available"),
        assert_unchanged(desk.backend),
    ):
        refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT)


def test_jpy_tax_rounds_to_whole_yen(desk: Desk) -> None:
    """999 JPY + 8 % = 999 + 79.92 → 80 = 1079 JPY; FULL releases the 500 JPY paid."""
    tea = desk.world.product(name="Tea set", price=Decimal("999"), currency="JPY", taxes=("8%",))
    invoice = desk.invoice([(tea, 1)], paid=Decimal("500"))
    assert invoice.total == money(1079, "JPY")

    result = desk.app.refunds.reverse(
        desk.ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT
    )

    assert result.credit_note.total == money(1079, "JPY")
    assert result.invoice.payment_state is PaymentState.REVERSED
    assert result.customer_credit == money(500, "JPY")
    assert result.customer_credit.amount.as_tuple().exponent == 0


# -- KWD: three decimals -------------------------------------------------------------------------


def test_kwd_two_lamps_partly_paid_then_credited_in_two_steps(desk: Desk) -> None:
    """2 × 12.345 = 24.690; 5 % = 1.2345 → 1.235; total 25.925 KWD; 10.000 paid."""
    lamp = desk.world.product(name="Lamp", price=Decimal("12.345"), currency="KWD", taxes=("5%",))
    invoice = desk.invoice([(lamp, 2)], paid=Decimal("10.000"))
    assert (invoice.total, invoice.residual) == (money("25.925", "KWD"), money("15.925", "KWD"))
    refunds = desk.app.refunds

    # One lamp: 12.345 + 0.61725 → 0.617 = 12.962 KWD; 15.925 - 12.962 = 2.963 left.
    first = refunds.reverse(
        desk.ticket.id,
        invoice.id,
        lines=[line("12.345", currency="KWD", taxes=["5%"])],
        actor=AGENT,
    ).credit_note
    assert first.total == money("12.962", "KWD")
    after = refunds.confirm(first.id, actor=AGENT).invoice
    assert after.residual == money("2.963", "KWD")

    # 25.925 - 12.962 = 12.963 KWD can still be credited, not a fils more.
    with (
        pytest.raises(QuantityExceeded, match=r"asked 12.964 KWD, only 12.963 KWD available"),
        assert_unchanged(desk.backend),
    ):
        refunds.reverse(
            desk.ticket.id, invoice.id, lines=[line("12.964", currency="KWD")], actor=AGENT
        )
    second = refunds.reverse(
        desk.ticket.id, invoice.id, lines=[line("12.963", currency="KWD")], actor=AGENT
    ).credit_note
    result = refunds.confirm(second.id, actor=AGENT)

    # The residual absorbs 2.963; the other 10.000 is the customer's money back.
    assert (result.invoice.residual, result.invoice.payment_state) == (
        money(0, "KWD"),
        PaymentState.PAID,
    )
    assert result.credit_note.residual == money("10.000", "KWD")
    assert result.customer_credit == money("10.000", "KWD")
    assert str(result.customer_credit) == "10.000 KWD"


# -- taxes included in the price -----------------------------------------------------------------


def test_tax_included_price_is_credited_as_invoiced(desk: Desk) -> None:
    """121.00 with 21 % included: 100.00 untaxed + 21.00 tax = 121.00."""
    kettle = desk.world.product(name="Kettle", price=Decimal("121.00"), taxes=("21% incl",))
    invoice = desk.invoice([(kettle, 1)])
    note = desk.app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT).credit_note
    assert (note.amounts.untaxed, note.amounts.tax, note.total) == (
        money("100.00"),
        money("21.00"),
        money("121.00"),
    )


# -- RF-7: several credit notes on one invoice ---------------------------------------------------


def test_rf7_several_credit_notes_never_exceed_the_invoice(
    scenario: Scenario, app: AfterSales, backend: Any
) -> None:
    """The scenario invoice: 2 blenders (120.88) + 1 kettle (20.00 + 4.20 = 24.20) = 145.08."""
    refunds, ticket, invoice = app.refunds, scenario.ticket.id, scenario.invoice
    assert invoice.total == money("145.08")
    blender = line("49.95", taxes=["21%"], product_id=scenario.blender.id)  # 60.44
    kettle = line("20.00", taxes=["21%"], product_id=scenario.kettle.id)  # 24.20

    posted = refunds.reverse(ticket, invoice.id, lines=[blender], actor=AGENT).credit_note
    refunds.confirm(posted.id, actor=AGENT)
    kettle_draft = refunds.reverse(ticket, invoice.id, lines=[kettle], actor=AGENT).credit_note
    refunds.reverse(ticket, invoice.id, lines=[blender], actor=AGENT)
    # 60.44 posted + 24.20 draft + 60.44 draft = 145.08: the whole invoice, drafts included.

    with (
        pytest.raises(QuantityExceeded, match=r"asked 0.01 EUR, only 0.00 EUR available"),
        assert_unchanged(backend),
    ):
        refunds.reverse(ticket, invoice.id, lines=[line("0.01")], actor=AGENT)
    with (
        pytest.raises(QuantityExceeded, match=r"already in credit notes 120.88 EUR\): asked"),
        assert_unchanged(backend),
    ):
        refunds.update_draft(kettle_draft.id, lines=[kettle, line("0.01")], actor=AGENT)
    with pytest.raises(QuantityExceeded), assert_unchanged(backend):
        refunds.reverse(ticket, invoice.id, method=CreditMethod.FULL, actor=AGENT)

    refunds.cancel(kettle_draft.id, actor=AGENT)  # frees 24.20
    with pytest.raises(QuantityExceeded, match=r"only 24.20 EUR available"):
        refunds.reverse(ticket, invoice.id, lines=[line("24.21")], actor=AGENT)
    last = refunds.reverse(ticket, invoice.id, lines=[line("24.20")], actor=AGENT)
    assert last.credit_note.total == money("24.20")


def test_rf7_full_after_a_partial_credit_is_refused_naming_what_is_left(desk: Desk) -> None:
    service = desk.world.product(name="Consulting", price=Decimal("1000.00"))
    invoice = desk.invoice([(service, 1)])
    refunds = desk.app.refunds
    draft = refunds.reverse(desk.ticket.id, invoice.id, lines=[line("200.00")], actor=AGENT)
    refunds.confirm(draft.credit_note.id, actor=AGENT)

    with (
        pytest.raises(
            QuantityExceeded,
            match=(
                r"credit on invoice INV/2026/00001 \(invoiced 1,000.00 EUR, already in credit "
                r"notes 200.00 EUR\): asked 1,000.00 EUR, only 800.00 EUR available"
            ),
        ),
        assert_unchanged(desk.backend),
    ):
        refunds.reverse(desk.ticket.id, invoice.id, method=CreditMethod.FULL, actor=AGENT)


def test_rf7_a_zero_invoice_gives_no_credit_note(desk: Desk) -> None:
    sample = desk.world.product(name="Free sample", price=Decimal("0.00"))
    invoice = desk.invoice([(sample, 1)])
    with (
        pytest.raises(InvalidOperation, match="a credit note of zero is not allowed"),
        assert_unchanged(desk.backend),
    ):
        desk.app.refunds.reverse(desk.ticket.id, invoice.id, actor=AGENT)
