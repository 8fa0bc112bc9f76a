"""Contract of the reference ERP's storage: a `Ledger`.

Not part of `BackendContract`: it is for a backend that serves the accounting port
with the reference ERP (`ReferenceAccounting`) over its own
storage and exposes that storage as `backend.ledger`, as the memory and the SQL backends
do. An ERP backend with its own accounting has no ledger and runs `AccountingContract`
only. Every call runs in a unit of work, as the reference accounting makes them.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import attrs

from aftersales.erp.ledger import Ledger
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

__all__ = ["LedgerContract"]


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


def _ledger(kit: Kit) -> Ledger:
    ledger: Ledger = kit.backend.ledger
    return ledger


def _stored(kit: Kit, invoice_id: str, lock: bool = False) -> Invoice:
    found = _ledger(kit).get_invoice(invoice_id, lock)
    assert found is not None, f"no invoice {invoice_id!r} in the ledger"
    return found


class LedgerContract(ContractBase):
    """`backend.ledger`: what the reference accounting stores."""

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
        stored = kit.read(lambda h: _ledger(kit).get_invoice(invoice.id, False))
        assert stored == invoice
        assert stored.lines == invoice.lines
        assert stored.total == invoice.total
        assert stored.residual == invoice.residual
        assert stored.payment_state is PaymentState.PARTIAL
        assert kit.read(lambda h: _ledger(kit).get_invoice(invoice.id, True)) == invoice
        assert kit.read(lambda h: _ledger(kit).get_invoice("inv-missing", False)) is None

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
        kit.write(lambda h: _ledger(kit).save_invoice(fewer))
        assert kit.read(lambda h: _ledger(kit).get_invoice(draft.id, False)) == fewer
        found = kit.read(
            lambda h: list(
                _ledger(kit).find_invoices(
                    InvoiceQuery(customer_ids={ana.id}, product_id=blender.id)
                )
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
        kit.write(lambda h: _ledger(kit).save_invoice(note))

        def ids(**conditions: object) -> list[str]:
            query = InvoiceQuery(customer_ids={ana.id, luis.id}, **conditions)  # type: ignore[arg-type]
            return kit.read(lambda h: [i.id for i in _ledger(kit).find_invoices(query)])

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
        assert (
            kit.read(lambda h: list(_ledger(kit).find_invoices(InvoiceQuery(customer_ids=set()))))
            == []
        )

    def test_equally_new_invoices_come_later_stored_first(self, kit: Kit) -> None:
        """Ties on date and creation time: the invoice stored last comes first."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        made = [kit.world.invoice(customer=ana, lines=[(blender, n)]) for n in (1, 2, 3)]
        query = InvoiceQuery(customer_ids={ana.id})
        found = kit.read(lambda h: [i.id for i in _ledger(kit).find_invoices(query)])
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
                _ledger(kit).save_invoice(note)

        kit.write(save)
        assert kit.read(lambda h: list(_ledger(kit).credit_notes([invoice.id]))) == notes
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
                _ledger(kit).save_invoice(record)

        kit.write(save)
        assert kit.read(lambda h: list(_ledger(kit).credit_notes([invoice.id]))) == notes
        assert kit.read(lambda h: list(_ledger(kit).credit_notes(["inv-none"]))) == []

    def test_matches_are_listed_oldest_first_and_removed(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)], paid=Decimal("20.00"))
        paid_match = kit.read(lambda h: list(_ledger(kit).matches(invoice.id)))
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
        kit.write(lambda h: _ledger(kit).add_match(credit))
        assert kit.read(lambda h: list(_ledger(kit).matches(invoice.id))) == [*paid_match, credit]
        assert kit.write(lambda h: _ledger(kit).remove_match(paid_match[0].id)) == paid_match[0]
        assert kit.read(lambda h: list(_ledger(kit).matches(invoice.id))) == [credit]
        assert kit.write(lambda h: _ledger(kit).remove_match("match-none")) is None

    def test_series_start_at_one_and_count_per_series(self, kit: Kit) -> None:
        assert kit.write(lambda h: [_ledger(kit).next_number("RINV/2026") for _ in range(3)]) == [
            1,
            2,
            3,
        ]
        assert kit.write(lambda h: _ledger(kit).next_number("RMA")) == 1
        assert kit.write(lambda h: _ledger(kit).next_number("RINV/2026")) == 4

    def test_a_rolled_back_unit_gives_its_number_back(self, kit: Kit) -> None:
        assert kit.write(lambda h: _ledger(kit).next_number("RMA")) == 1
        with kit.unit() as _uow:
            assert _ledger(kit).next_number("RMA") == 2
        assert kit.write(lambda h: _ledger(kit).next_number("RMA")) == 2

    def test_concurrent_units_never_share_a_number(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)

        def draw(_i: int) -> list[int]:
            return [kit.write(lambda h: _ledger(kit).next_number("RINV")) for _ in range(5)]

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
                current = _stored(kit, invoice.id, True)
                locked.set()
                waiting.wait(10)
                # Give the other unit time to block on the lock (bounded, not a clock).
                threading.Event().wait(0.2)
                _ledger(kit).save_invoice(attrs.evolve(current, reason="held"))
                uow.commit()

        def contender() -> str:
            locked.wait(10)
            waiting.set()
            with kit.unit() as uow:
                seen = _stored(kit, invoice.id, True)
                _ledger(kit).save_invoice(attrs.evolve(seen, reason=seen.reason + "+next"))
                uow.commit()
                return seen.reason

        def run(i: int) -> str | None:
            if i == 0:
                holder()
                return None
            return contender()

        assert run_threads(2, run)[1] == "held"
        assert kit.read(lambda h: _stored(kit, invoice.id)).reason == "held+next"

    def test_documents_are_found_by_their_operation_reference(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 3)])
        first = attrs.evolve(_credit_note(kit, invoice, 1), operation_ref="op-1")
        second = attrs.evolve(_credit_note(kit, invoice, 2), operation_ref="op-1")
        other = attrs.evolve(_credit_note(kit, invoice, 3), operation_ref="op-2")

        def save(h: object) -> None:
            for note in (first, other, second):
                _ledger(kit).save_invoice(note)

        kit.write(save)
        assert kit.read(lambda h: list(_ledger(kit).find_by_reference("op-1"))) == [first, second]
        assert kit.read(lambda h: list(_ledger(kit).find_by_reference("op-none"))) == []
        moved = attrs.evolve(first, operation_ref="op-2")
        kit.write(lambda h: _ledger(kit).save_invoice(moved))
        assert kit.read(lambda h: list(_ledger(kit).find_by_reference("op-1"))) == [second]
        assert kit.read(lambda h: _ledger(kit).get_invoice(first.id, False)) == moved

    def test_credit_notes_of_many_invoices_in_one_call(self, kit: Kit) -> None:
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoices = [kit.world.invoice(customer=ana, lines=[(blender, 2)]) for _ in range(3)]
        notes = [_credit_note(kit, invoice, 1) for invoice in invoices[:2]]

        def save(h: object) -> None:
            for note in notes:
                _ledger(kit).save_invoice(note)

        kit.write(save)
        ids = [invoice.id for invoice in invoices]
        assert kit.read(lambda h: list(_ledger(kit).credit_notes(ids))) == notes
        assert kit.read(lambda h: list(_ledger(kit).credit_notes([]))) == []
