"""Contract of the accounting port: the operations an ERP performs on invoices.

Everything is checked through the port's own reads (`get_invoice`, `get_refundable`,
`refundable_invoices`, `find_by_reference`), never through a backend's tables, so an ERP
backend with its own accounting — its own ids, its own numbers — passes it as the reference
ERP does. Numbers are only required to exist and differ; ids to be the ERP's.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import (
    CreditMethod,
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Money,
    PaymentState,
    Reversal,
    ReversalResult,
)
from aftersales.models.queries import InvoiceQuery

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["AccountingContract"]


def _eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def _reversal(
    kit: Kit,
    invoice: Invoice,
    method: CreditMethod = CreditMethod.PARTIAL,
    *,
    post: bool = False,
    reference: str = "op-kit",
    lines: tuple[InvoiceLine, ...] | None = None,
    day: date | None = None,
) -> Reversal:
    today = kit.clock.today()
    when = day or today
    return Reversal(
        invoice_id=invoice.id,
        method=method,
        reversal_date=when,
        reason="Broken on arrival",
        lines=lines,
        ticket_id="ticket-1",
        post=post,
        post_on=when if when > today else None,
        at=kit.clock.now(),
        reference=reference,
    )


def _reverse(kit: Kit, reversal: Reversal) -> ReversalResult:
    return kit.write(lambda h: h.reverse_invoice(reversal))


class AccountingContract(ContractBase):
    """`aftersales_accounting_*`: reverse, update, post and cancel credit notes, list what
    may be refunded, create and cancel draft invoices, find documents by reference."""

    def test_invoice_round_trip_keeps_lines_and_amounts(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"), taxes=("10% incl",))
        order = kit.world.sale_order(customer=ana)
        invoice = kit.world.invoice(
            customer=ana,
            lines=[(blender, 2), (kettle, Decimal("1.5"), Decimal("19.99"))],
            sale_order=order,
            paid=Decimal("10.00"),
        )
        stored = kit.read(lambda h: h.get_invoice(invoice.id))
        assert stored == invoice
        assert stored.total == invoice.total
        assert stored.payment_state is PaymentState.PARTIAL
        assert kit.read(lambda h: h.get_invoice(invoice.id, lock=True)) == invoice
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_invoice("inv-missing"))
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_refundable("inv-missing"))

    def test_refundable_invoices_are_posted_invoices_newest_first_with_credited(
        self, kit: Kit
    ) -> None:
        company = kit.world.company(name="Pérez")
        ana = kit.world.customer(name="Ana", company=company)
        luis = kit.world.customer(name="Luis", company=company)
        other = kit.world.customer(name="Other")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        order = kit.world.sale_order(customer=ana)
        old = kit.world.invoice(
            customer=ana, lines=[(blender, 2)], invoice_date=date(2026, 1, 5), sale_order=order
        )
        newer = kit.world.invoice(customer=luis, lines=[(kettle, 1)], invoice_date=date(2026, 3, 1))
        kit.clock.advance(minutes=5)
        same_day_later = kit.world.invoice(
            customer=ana, lines=[(kettle, 2)], invoice_date=date(2026, 3, 1)
        )
        kit.world.invoice(customer=ana, lines=[(blender, 1)], posted=False)
        kit.world.invoice(customer=other, lines=[(blender, 1)])
        one = (attrs.evolve(old.lines[0], quantity=Decimal(1)),)
        _reverse(kit, _reversal(kit, old, lines=one, reference="op-a"))
        cancelled = _reverse(kit, _reversal(kit, old, lines=one, reference="op-b")).credit_note
        kit.write(lambda h: h.cancel_credit_note(cancelled.id, "op-c"))

        def found(**conditions: object) -> list[tuple[str, Money]]:
            query = InvoiceQuery(customer_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(
                lambda h: [(r.invoice.id, r.credited) for r in h.refundable_invoices(query)]
            )

        zero = _eur("0.00")
        assert found() == [
            (same_day_later.id, zero),
            (newer.id, zero),
            (old.id, _eur("49.95")),
        ]
        assert found(sale_order_id=order.id) == [(old.id, _eur("49.95"))]
        assert found(product_id=kettle.id) == [(same_day_later.id, zero), (newer.id, zero)]
        assert (
            kit.read(lambda h: list(h.refundable_invoices(InvoiceQuery(customer_ids=set())))) == []
        )
        refundable = kit.read(lambda h: h.get_refundable(old.id, lock=True))
        assert (refundable.invoice, refundable.credited) == (old, _eur("49.95"))
        assert refundable.left_to_credit == _eur("49.95")

    #: The dates the paging test posts its invoices on, in the order it makes them, and the
    #: date of the one it stores between two pages. Out of date order by default (the date
    #: decides before the time made); an ERP that numbers invoices in date order (Tryton)
    #: overrides them with dates in order.
    paging_dates: tuple[date, ...] = tuple(date(2026, 2, d) for d in (1, 4, 4, 2, 9))
    paging_date_between: date = date(2026, 3, 1)

    def test_refundable_invoices_come_in_pages_after_a_key(self, kit: Kit) -> None:
        """`after` and `limit`: one page in the paged order, newest first by
        `(invoice_date, created_at, id)`, strictly after the key; an invoice stored between
        two pages never shifts the next one (third-party ERPs must page)."""
        ana = kit.world.customer(name="Ana")
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        made = []
        for day in self.paging_dates:
            made.append(kit.world.invoice(customer=ana, lines=[(kettle, 1)], invoice_date=day))
            kit.clock.advance(seconds=1)
        order = sorted(made, key=lambda i: (i.invoice_date, i.created_at), reverse=True)

        def page(after: Invoice | None, limit: int) -> list[str]:
            key = None if after is None else (after.invoice_date, after.created_at, after.id)
            query = InvoiceQuery(customer_ids={ana.id}, after=key, limit=limit)
            return kit.read(lambda h: [r.invoice.id for r in h.refundable_invoices(query)])

        assert page(None, 2) == [i.id for i in order[:2]]
        kit.world.invoice(customer=ana, lines=[(kettle, 1)], invoice_date=self.paging_date_between)
        assert page(order[1], 2) == [i.id for i in order[2:4]]
        assert page(order[3], 2) == [order[4].id]
        assert page(order[4], 2) == []
        assert page(None, 10)[1:] == [i.id for i in order]

    def test_a_partial_reversal_is_a_draft_copy_found_by_its_reference(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        made = _reverse(kit, _reversal(kit, invoice, reference="op-partial"))
        note = made.credit_note
        assert note.id not in {invoice.id, ""}
        assert (note.kind, note.state, note.number) == (
            InvoiceKind.CREDIT_NOTE,
            InvoiceState.DRAFT,
            None,
        )
        assert (note.reversed_invoice_id, note.credit_method, note.ticket_id) == (
            invoice.id,
            CreditMethod.PARTIAL,
            "ticket-1",
        )
        assert (note.lines, note.total, note.customer_id) == (
            invoice.lines,
            invoice.total,
            invoice.customer_id,
        )
        assert note.reference == f"Reversal of: {invoice.number}, Broken on arrival"
        assert note.invoice_date == kit.clock.today()
        assert (made.invoice, made.new_invoice) == (invoice, None)
        assert made.customer_credit == made.released == _eur("0.00")
        assert kit.read(lambda h: h.get_invoice(note.id)) == note
        assert kit.read(lambda h: list(h.find_by_reference("op-partial"))) == [note]
        assert kit.read(lambda h: list(h.find_by_reference("op-none"))) == []
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == invoice.total

    def test_update_then_post_numbers_matches_and_settles(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        note = _reverse(kit, _reversal(kit, invoice)).credit_note
        one = (attrs.evolve(invoice.lines[0], quantity=Decimal(1)),)
        edited = kit.write(lambda h: h.update_credit_note(note.id, one, "op-edit"))
        assert (edited.id, edited.state, edited.total) == (
            note.id,
            InvoiceState.DRAFT,
            _eur("60.44"),
        )
        assert kit.read(lambda h: h.get_invoice(note.id)) == edited
        posted = kit.write(lambda h: h.post_credit_note(note.id, kit.clock.now(), "op-post"))
        assert posted.credit_note.state is InvoiceState.POSTED
        assert posted.credit_note.number
        assert (posted.invoice.residual, posted.invoice.payment_state) == (
            _eur("60.44"),
            PaymentState.PARTIAL,
        )
        assert posted.customer_credit == _eur("0.00")
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == posted.invoice
        assert kit.read(lambda h: h.get_invoice(note.id)) == posted.credit_note
        assert kit.read(lambda h: list(h.find_by_reference("op-post"))) == [posted.credit_note]
        second = _reverse(kit, _reversal(kit, invoice, lines=one)).credit_note
        again = kit.write(lambda h: h.post_credit_note(second.id, kit.clock.now(), "op-2"))
        assert again.credit_note.number
        assert again.credit_note.number != posted.credit_note.number
        assert (again.invoice.residual, again.invoice.payment_state) == (
            _eur("0.00"),
            PaymentState.REVERSED,
        )

    def test_a_full_reversal_posts_and_turns_payments_into_customer_credit(self, kit: Kit) -> None:
        """RF-4a: 120.88 with 50.00 paid → credit note 120.88 posted and matched, invoice
        REVERSED with residual 0, customer credit 50.00."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)], paid=Decimal("50.00"))
        made = _reverse(kit, _reversal(kit, invoice, CreditMethod.FULL, post=True))
        note = made.credit_note
        assert (note.state, note.credit_method, note.total) == (
            InvoiceState.POSTED,
            CreditMethod.FULL,
            _eur("120.88"),
        )
        assert note.number
        assert (made.invoice.residual, made.invoice.payment_state) == (
            _eur("0.00"),
            PaymentState.REVERSED,
        )
        assert made.customer_credit == made.released == _eur("50.00")
        assert len(made.released_from) == 1
        assert made.new_invoice is None
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == made.invoice

    def test_full_and_reinvoice_makes_a_draft_copy_with_the_same_reference(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        made = _reverse(
            kit,
            _reversal(kit, invoice, CreditMethod.FULL_AND_REINVOICE, post=True, reference="op-r"),
        )
        copy = made.new_invoice
        assert copy is not None
        assert copy.id not in {invoice.id, made.credit_note.id}
        assert (copy.kind, copy.state, copy.number, copy.lines, copy.customer_id) == (
            InvoiceKind.INVOICE,
            InvoiceState.DRAFT,
            None,
            invoice.lines,
            invoice.customer_id,
        )
        assert kit.read(lambda h: h.get_invoice(copy.id)) == copy
        found = kit.read(lambda h: list(h.find_by_reference("op-r")))
        assert sorted(i.id for i in found) == sorted([copy.id, made.credit_note.id])

    def test_a_reversal_dated_later_stays_a_draft_and_matches_nothing(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)], paid=Decimal("30.00"))
        later = kit.clock.today() + timedelta(days=7)
        made = _reverse(kit, _reversal(kit, invoice, CreditMethod.FULL, day=later))
        assert (made.credit_note.state, made.credit_note.post_on) == (InvoiceState.DRAFT, later)
        assert made.credit_note.credit_method is CreditMethod.FULL
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == invoice
        kit.clock.advance(days=7)
        posted = kit.write(
            lambda h: h.post_credit_note(made.credit_note.id, kit.clock.now(), "op-later")
        )
        assert posted.customer_credit == _eur("30.00")
        assert posted.invoice.payment_state is PaymentState.REVERSED

    def test_cancelling_a_draft_credits_nothing_any_more(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        note = _reverse(kit, _reversal(kit, invoice)).credit_note
        cancelled = kit.write(lambda h: h.cancel_credit_note(note.id, "op-cancel"))
        assert (cancelled.id, cancelled.state) == (note.id, InvoiceState.CANCELLED)
        assert kit.read(lambda h: h.get_invoice(note.id)) == cancelled
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("0.00")
        with pytest.raises(NotFound):
            kit.write(lambda h: h.cancel_credit_note("cn-missing", "op-x"))

    def test_draft_invoices_are_created_and_cancelled_with_the_erps_ids(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        lines = kit.world.invoice(customer=ana, lines=[(blender, 2)], posted=False).lines
        draft = InvoiceDraft(
            customer_id=ana.id,
            currency="EUR",
            lines=lines,
            ticket_id="ticket-1",
            reference="RO/00001",
            note="Quotation notes",
            at=kit.clock.now(),
        )
        made = kit.write(lambda h: h.create_invoice(draft, "op-repair"))
        assert (made.kind, made.state, made.number, made.lines) == (
            InvoiceKind.INVOICE,
            InvoiceState.DRAFT,
            None,
            lines,
        )
        assert (made.customer_id, made.ticket_id, made.reference, made.note) == (
            ana.id,
            "ticket-1",
            "RO/00001",
            "Quotation notes",
        )
        assert kit.read(lambda h: h.get_invoice(made.id)) == made
        assert kit.read(lambda h: list(h.find_by_reference("op-repair"))) == [made]
        cancelled = kit.write(lambda h: h.cancel_invoice(made.id, "op-cancel-repair"))
        assert (cancelled.id, cancelled.state) == (made.id, InvoiceState.CANCELLED)
        assert kit.read(lambda h: h.get_invoice(made.id)) == cancelled

    def test_a_rolled_back_reversal_leaves_nothing_at_the_erp(self, kit: Kit) -> None:
        """Seen through the port's own reads, not a snapshot of the backend."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)], paid=Decimal("10.00"))
        with kit.unit() as _uow:
            kit.hooks.reverse_invoice(
                _reversal(
                    kit, invoice, CreditMethod.FULL_AND_REINVOICE, post=True, reference="op-rb"
                )
            )
        assert kit.read(lambda h: list(h.find_by_reference("op-rb"))) == []
        assert kit.read(lambda h: h.get_invoice(invoice.id)) == invoice
        assert kit.read(lambda h: h.get_refundable(invoice.id)).credited == _eur("0.00")
        first = _reverse(kit, _reversal(kit, invoice, CreditMethod.FULL, post=True))
        assert first.invoice.payment_state is PaymentState.REVERSED

    def test_concurrent_postings_never_share_a_number(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoices = [kit.world.invoice(customer=ana, lines=[(blender, 1)]) for _ in range(8)]

        def post(i: int) -> str | None:
            reversal = _reversal(
                kit, invoices[i], CreditMethod.FULL, post=True, reference=f"op-{i}"
            )
            return _reverse(kit, reversal).credit_note.number

        numbers = run_threads(8, post)
        assert None not in numbers
        assert len(set(numbers)) == 8
