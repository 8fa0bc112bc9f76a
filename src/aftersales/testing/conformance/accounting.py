"""Contract of the accounting port: invoices, credit notes, matches and sequences."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import NotFound
from aftersales.models import (
    CreditMethod,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Match,
    MatchKind,
    Money,
    PaymentState,
)
from aftersales.models.queries import InvoiceQuery

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["AccountingContract"]


def _credit_note(kit: Kit, invoice: Invoice, number: int, *, posted: bool = True) -> Invoice:
    line = invoice.lines[0]
    return Invoice(
        id=f"cn-{invoice.id}-{number}",
        kind=InvoiceKind.CREDIT_NOTE,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        lines=(attrs.evolve(line, quantity=Decimal(1)),),
        state=InvoiceState.POSTED if posted else InvoiceState.DRAFT,
        created_at=kit.clock.now(),
        invoice_date=kit.clock.today() if posted else None,
        post_on=None if posted else kit.clock.today() + timedelta(days=3),
        reversed_invoice_id=invoice.id,
        ticket_id="ticket-1",
        reason="Broken on arrival",
        reference=f"Reversal of {invoice.number}",
        journal="SALES",
        note="Credit note\nsecond line",
    )


class AccountingContract(ContractBase):
    """`aftersales_accounting_*` and `aftersales_sequence_next`."""

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
        assert stored.lines == invoice.lines
        assert stored.total == invoice.total
        assert stored.residual == invoice.residual
        assert stored.payment_state is PaymentState.PARTIAL
        assert kit.read(lambda h: h.get_invoice(invoice.id, lock=True)) == invoice
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_invoice("inv-missing"))

    def test_saving_an_invoice_replaces_its_lines(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        draft = kit.world.invoice(customer=ana, lines=[(blender, 1), (kettle, 2)], posted=False)
        fewer = attrs.evolve(
            draft,
            lines=(
                InvoiceLine(
                    description="Kettle (discounted)",
                    quantity=Decimal(1),
                    unit_price=Money(amount=Decimal("15.00"), currency="EUR"),
                    product_id=kettle.id,
                ),
            ),
            note="changed",
        )
        kit.write(lambda h: h.save_invoice(fewer))
        assert kit.read(lambda h: h.get_invoice(draft.id)) == fewer
        found = kit.read(
            lambda h: list(
                h.find_invoices(InvoiceQuery(customer_ids={ana.id}, product_id=blender.id))
            )
        )
        assert found == []

    def test_find_invoices_filters_and_orders_newest_first(self, kit: Kit) -> None:
        company = kit.world.company(name="Pérez")
        ana = kit.world.customer(name="Ana", company=company)
        luis = kit.world.customer(name="Luis", company=company)
        other = kit.world.customer(name="Other")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        kettle = kit.world.product(name="Kettle", price=Decimal("20.00"))
        order = kit.world.sale_order(customer=ana)
        old = kit.world.invoice(
            customer=ana, lines=[(blender, 1)], invoice_date=date(2026, 1, 5), sale_order=order
        )
        newer = kit.world.invoice(customer=luis, lines=[(kettle, 1)], invoice_date=date(2026, 3, 1))
        kit.clock.advance(minutes=5)
        same_day_later = kit.world.invoice(
            customer=ana, lines=[(kettle, 2)], invoice_date=date(2026, 3, 1)
        )
        draft = kit.world.invoice(customer=ana, lines=[(blender, 1)], posted=False)
        kit.world.invoice(customer=other, lines=[(blender, 1)])
        note = _credit_note(kit, old, 1)
        kit.write(lambda h: h.save_invoice(note))

        def ids(**conditions: object) -> list[str]:
            query = InvoiceQuery(customer_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(lambda h: [i.id for i in h.find_invoices(query)])

        assert ids(kind=InvoiceKind.INVOICE) == [same_day_later.id, newer.id, old.id, draft.id]
        assert ids(kind=InvoiceKind.INVOICE, state=InvoiceState.POSTED) == [
            same_day_later.id,
            newer.id,
            old.id,
        ]
        assert ids(state=InvoiceState.DRAFT) == [draft.id]
        assert ids(sale_order_id=order.id) == [old.id]
        assert ids(product_id=kettle.id, kind=InvoiceKind.INVOICE) == [
            same_day_later.id,
            newer.id,
        ]
        assert ids(kind=InvoiceKind.CREDIT_NOTE) == [note.id]
        assert kit.read(lambda h: list(h.find_invoices(InvoiceQuery(customer_ids=set())))) == []

    def test_equally_new_invoices_come_later_stored_first(self, kit: Kit) -> None:
        """Ties on date and creation time: the invoice stored last comes first."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        made = [kit.world.invoice(customer=ana, lines=[(blender, n)]) for n in (1, 2, 3)]
        query = InvoiceQuery(customer_ids={ana.id})
        found = kit.read(lambda h: [i.id for i in h.find_invoices(query)])
        assert found == [i.id for i in reversed(made)]

    def test_a_credit_note_keeps_its_credit_method(self, kit: Kit) -> None:
        """RF-4, RF-6: a FULL credit note kept in draft still posts as FULL later."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        notes = [
            attrs.evolve(_credit_note(kit, invoice, n, posted=False), credit_method=method)
            for n, method in enumerate(CreditMethod, start=1)
        ]

        def save(h: object) -> None:
            for note in notes:
                kit.hooks.save_invoice(note)

        kit.write(save)
        assert kit.read(lambda h: list(h.list_credit_notes(invoice.id))) == notes
        assert [n.credit_method for n in notes] == list(CreditMethod)

    def test_credit_notes_of_an_invoice(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 3)])
        unrelated = kit.world.invoice(customer=ana, lines=[(blender, 1)])
        notes = [_credit_note(kit, invoice, 1), _credit_note(kit, invoice, 2, posted=False)]
        reinvoice = attrs.evolve(
            invoice, id="inv-again", kind=InvoiceKind.INVOICE, reversed_invoice_id=invoice.id
        )

        def save(h: object) -> None:
            for record in (*notes, reinvoice, _credit_note(kit, unrelated, 1)):
                kit.hooks.save_invoice(record)

        kit.write(save)
        assert kit.read(lambda h: list(h.list_credit_notes(invoice.id))) == notes
        assert kit.read(lambda h: list(h.list_credit_notes("inv-none"))) == []

    def test_matches_are_listed_oldest_first_and_removed(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)], paid=Decimal("20.00"))
        paid_match = kit.read(lambda h: list(h.list_matches(invoice.id)))
        assert len(paid_match) == 1
        assert paid_match[0].kind is MatchKind.PAYMENT
        assert paid_match[0].amount == Money(amount=Decimal("20.00"), currency="EUR")
        credit = Match(
            id="match-cn",
            invoice_id=invoice.id,
            kind=MatchKind.CREDIT_NOTE,
            counterpart_id="cn-1",
            amount=Money(amount=Decimal("30.87"), currency="EUR"),
            created_at=kit.clock.advance(minutes=1),
        )
        kit.write(lambda h: h.add_match(credit))
        assert kit.read(lambda h: list(h.list_matches(invoice.id))) == [*paid_match, credit]
        assert kit.write(lambda h: h.remove_match(paid_match[0].id)) == paid_match[0]
        assert kit.read(lambda h: list(h.list_matches(invoice.id))) == [credit]
        assert kit.backend.aftersales_accounting_remove_match(match_id="match-none") is None

    def test_sequences_start_at_one_and_count_per_code(self, kit: Kit) -> None:
        assert kit.write(lambda h: [h.sequence_next("RINV/2026") for _ in range(3)]) == [1, 2, 3]
        assert kit.write(lambda h: h.sequence_next("RMA")) == 1
        assert kit.write(lambda h: h.sequence_next("RINV/2026")) == 4

    def test_a_rolled_back_unit_gives_its_number_back(self, kit: Kit) -> None:
        assert kit.write(lambda h: h.sequence_next("RMA")) == 1
        with kit.unit() as _uow:
            assert kit.hooks.sequence_next("RMA") == 2
        assert kit.write(lambda h: h.sequence_next("RMA")) == 2

    def test_concurrent_units_never_share_a_number(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)

        def draw(_i: int) -> list[int]:
            return [kit.write(lambda h: h.sequence_next("RINV")) for _ in range(5)]

        numbers = [n for batch in run_threads(4, draw) for n in batch]
        assert sorted(numbers) == list(range(1, 21))

    def test_a_locked_invoice_is_read_fresh_after_the_holder_commits(self, kit: Kit) -> None:
        """RL-3: `lock=True` holds the invoice; the next locker sees the committed change."""
        kit.require(Capability.THREADS)
        import threading

        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        locked = threading.Event()
        waiting = threading.Event()

        def holder() -> None:
            with kit.unit() as uow:
                current = kit.hooks.get_invoice(invoice.id, lock=True)
                locked.set()
                waiting.wait(10)
                # Give the other unit time to block on the lock (bounded, not a clock).
                threading.Event().wait(0.2)
                kit.hooks.save_invoice(attrs.evolve(current, reason="held"))
                uow.commit()

        def contender() -> str:
            locked.wait(10)
            waiting.set()
            with kit.unit() as uow:
                seen = kit.hooks.get_invoice(invoice.id, lock=True)
                kit.hooks.save_invoice(attrs.evolve(seen, reason=seen.reason + "+next"))
                uow.commit()
                return seen.reason

        def run(i: int) -> str | None:
            if i == 0:
                holder()
                return None
            return contender()

        assert run_threads(2, run)[1] == "held"
        assert kit.read(lambda h: h.get_invoice(invoice.id)).reason == "held+next"
