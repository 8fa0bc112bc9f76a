"""Invoices and credit notes against a real Tryton database (in process)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aftersales.errors import InvalidInput, InvalidState, NotFound
from aftersales_tryton import invoices
from conftest import Tryton


@pytest.fixture(scope="module")
def customer(tryton: Tryton) -> int:
    return tryton.world.customer("Ana Pérez", email="ana@example.com")


@pytest.fixture(scope="module")
def blender(tryton: Tryton) -> int:
    return tryton.world.product("Blender", Decimal("10.00"))


def _posted(tryton: Tryton, customer: int, product: int, quantity: int = 3) -> invoices.Invoice:
    draft = invoices.create_customer_invoice(tryton.config, customer, [(product, quantity)])
    return invoices.post_invoice(tryton.config, draft.id)


def test_a_posted_invoice_has_trytons_number_and_amounts(
    tryton: Tryton, customer: int, blender: int
) -> None:
    draft = invoices.create_customer_invoice(
        tryton.config, customer, [(blender, 3)], reference="INV-REF-1"
    )
    assert draft.state == "draft" and draft.number is None
    posted = invoices.post_invoice(tryton.config, draft.id)
    assert posted.state == "posted"
    assert posted.number  # Tryton's sequence, not ours
    assert posted.untaxed_amount == Decimal("30.00")
    assert posted.tax_amount == Decimal("6.30")
    assert posted.total_amount == Decimal("36.30")
    assert posted.amount_to_pay == Decimal("36.30")
    assert posted.currency == "EUR" and posted.reference == "INV-REF-1"
    assert isinstance(posted.id, int) and not posted.is_credit_note
    assert invoices.read_invoice(tryton.config, posted.id) == posted


def test_credit_without_refund_is_a_draft_crediting_every_line(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender)
    credit = invoices.credit_invoice(
        tryton.config, invoice.id, with_refund=False, reference="as-ref-partial-1"
    )
    note = credit.credit_note
    assert note.state == "draft" and note.number is None and note.is_credit_note
    assert note.total_amount == Decimal("-36.30")
    assert note.reference == "as-ref-partial-1"
    (line,) = note.lines
    assert line.quantity == Decimal(-3) and line.credited_line_id == invoice.lines[0].id
    assert credit.invoice.state == "posted"  # untouched

    changed = invoices.set_line_quantities(tryton.config, note.id, {line.id: 1})
    assert changed.total_amount == Decimal("-12.10")
    posted = invoices.post_invoice(tryton.config, note.id)
    assert posted.state == "posted" and posted.number and posted.number != invoice.number
    assert posted.total_amount == Decimal("-12.10")


def test_tryton_credits_more_than_was_invoiced_so_the_caller_must_cap(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender)
    note = invoices.credit_invoice(tryton.config, invoice.id, with_refund=False).credit_note
    over = invoices.set_line_quantities(tryton.config, note.id, {note.lines[0].id: 5})
    assert over.lines[0].quantity == Decimal(-5)  # 5 of 3 units: Tryton says nothing
    posted = invoices.post_invoice(tryton.config, note.id)
    assert posted.state == "posted"
    # What the library reads to cap: the credit notes of the invoice, by line origin.
    (found,) = invoices.credit_notes_of(tryton.config, invoice.id)
    assert found == posted
    assert found.lines[0].credited_line_id == invoice.lines[0].id


def test_credit_with_refund_posts_the_note_and_cancels_the_invoice(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender, quantity=1)
    credit = invoices.credit_invoice(
        tryton.config, invoice.id, with_refund=True, reference="as-ref-full-1"
    )
    assert credit.credit_note.state == "paid"  # reconciled with the invoice at once
    assert credit.credit_note.number
    assert credit.credit_note.total_amount == -invoice.total_amount
    assert credit.invoice.state == "cancelled"
    assert [i.id for i in invoices.find_by_reference(tryton.config, "as-ref-full-1")] == [
        credit.credit_note.id
    ]
    assert invoices.credit_notes_of(tryton.config, invoice.id) == (credit.credit_note,)


def test_full_and_reinvoice_is_a_refund_then_trytons_copy_as_draft(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender, quantity=2)
    invoices.credit_invoice(tryton.config, invoice.id, with_refund=True)
    copy = invoices.copy_as_draft(tryton.config, invoice.id, reference="as-ref-reinvoice-1")
    assert copy.id != invoice.id and copy.state == "draft"
    assert copy.number is None and copy.invoice_date is None
    assert copy.total_amount == invoice.total_amount
    assert [line.quantity for line in copy.lines] == [Decimal(2)]
    assert invoices.find_by_reference(tryton.config, "as-ref-reinvoice-1") == (copy,)


def test_a_cancelled_draft_credit_note_stays_cancelled(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender, quantity=1)
    note = invoices.credit_invoice(tryton.config, invoice.id, with_refund=False).credit_note
    assert invoices.cancel_invoice(tryton.config, note.id).state == "cancelled"
    with pytest.raises(InvalidState, match="only a draft"):
        invoices.cancel_invoice(tryton.config, invoice.id)


def test_the_reference_finds_nothing_else(tryton: Tryton) -> None:
    assert invoices.find_by_reference(tryton.config, "as-ref-never-used") == ()


def test_bad_input_is_refused_and_changes_nothing(
    tryton: Tryton, customer: int, blender: int
) -> None:
    invoice = _posted(tryton, customer, blender, quantity=1)
    before = invoices.read_invoice(tryton.config, invoice.id)
    with pytest.raises(NotFound):
        invoices.read_invoice(tryton.config, 999_999)
    with pytest.raises(InvalidInput, match="positive integer"):
        invoices.credit_invoice(tryton.config, True, with_refund=False)
    with pytest.raises(InvalidInput, match="greater than zero"):
        invoices.create_customer_invoice(tryton.config, customer, [(blender, 0)])
    with pytest.raises(InvalidInput, match="Decimal or an int"):
        invoices.create_customer_invoice(tryton.config, customer, [(blender, 1.5)])  # type: ignore[list-item]
    with pytest.raises(InvalidState, match="not a draft"):
        invoices.post_invoice(tryton.config, invoice.id)
    note = invoices.credit_invoice(tryton.config, invoice.id, with_refund=False).credit_note
    with pytest.raises(InvalidInput, match="not lines of credit note"):
        invoices.set_line_quantities(tryton.config, note.id, {invoice.lines[0].id: 1})
    assert invoices.read_invoice(tryton.config, invoice.id) == before
    assert invoices.read_invoice(tryton.config, note.id).lines == note.lines
