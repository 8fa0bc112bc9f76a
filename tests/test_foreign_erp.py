"""An ERP that ids and numbers its documents in its own style: refunds and returns still work.

The accounting port is served by the reference accounting built with integer ids (``17``,
``18``, …) and one ``CN-000017``-style series, the stock port by the reference stock with
integer ids (from 900) and ``RET-000017`` names, and the repair port by the reference repairs
with integer ids and ``REP-000017`` references, over the memory backend. The kit's refund,
return and repair flows and its accounting, stock and repair contracts run green on it, and
the documents carry the ERP's ids and numbers, never ones the library made.
A second check reads the services' source: none makes an ERP id, formats a document
number, a return name or a repair reference, computes a payment state, builds stock moves or
moves a repair's state itself.
"""

from __future__ import annotations

import ast
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aftersales import AfterSales, CreditMethod, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.builder import Builder
from aftersales.erp import (
    Ledger,
    ReferenceAccounting,
    ReferenceRepairs,
    ReferenceStock,
    RepairStorage,
    StockLedger,
)
from aftersales.models import (
    DocumentKind,
    InvoiceMethod,
    InvoiceState,
    OperationLine,
    PaymentState,
    PickingState,
    ProductKind,
    RepairState,
)
from aftersales.testing.conformance import (
    AccountingContract,
    RefundFlow,
    RepairContract,
    ReturnFlow,
    StockContract,
    TicketViewFlow,
)
from aftersales.testing.scenario import AGENT, build_scenario

SERVICES = Path(__file__).resolve().parents[1] / "src" / "aftersales" / "services"


def foreign_accounting(ledger: Ledger, start: int = 17) -> ReferenceAccounting:
    """Integer ids from ``start`` and ``CN-000017``-style numbers in one series."""
    counter = itertools.count(start)
    return ReferenceAccounting(
        ledger,
        ids=lambda _kind: str(next(counter)),
        series=lambda _journal, _day: "CN",
        number=lambda series, n: f"{series}-{n + 16:06d}",
    )


def foreign_stock(ledger: StockLedger, start: int = 900) -> ReferenceStock:
    """Integer ids from ``start`` and ``RET-000017``-style names from the ``RET`` sequence."""
    counter = itertools.count(start)
    return ReferenceStock(
        ledger,
        ids=lambda _kind: str(next(counter)),
        name=lambda sequence, n: f"{sequence}-{n + 16:06d}",
        sequence="RET",
    )


def foreign_repairs(storage: RepairStorage, start: int = 17) -> ReferenceRepairs:
    """Integer ids from ``start`` and ``REP-000017``-style references."""
    counter = itertools.count(start)
    return ReferenceRepairs(
        storage,
        ids=lambda _kind: str(next(counter)),
        reference=lambda store: f"REP-{store.draw('REP') + 16:06d}",
    )


def foreign_backend() -> MemoryBackend:
    return MemoryBackend(
        accounting=foreign_accounting, stock=foreign_stock, repairs=foreign_repairs
    )


class TestForeignStyleErp(
    AccountingContract,
    StockContract,
    RepairContract,
    RefundFlow,
    ReturnFlow,
    TicketViewFlow,
):
    """The kit's accounting, stock and repair contracts and refund and return flows, on the
    foreign-style ERP."""

    @pytest.fixture
    def aftersales_backend(self) -> Any:
        return foreign_backend()


@pytest.fixture
def erp() -> tuple[AfterSales, Any, Builder]:
    backend = foreign_backend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    world = backend.builder(clock)
    return AfterSales(backend, clock=clock), build_scenario(world), world


def test_the_documents_carry_the_erps_ids_and_numbers(
    erp: tuple[AfterSales, Any, Builder],
) -> None:
    app, scenario, world = erp
    ticket, invoice = scenario.ticket, scenario.invoice
    refunds = app.refunds
    assert refunds.invoices_to_refund(ticket.id, actor=AGENT) == (scenario.invoice,)
    assert refunds.credit_methods(ticket.id, invoice.id, actor=AGENT) == tuple(CreditMethod)

    draft = refunds.reverse(
        ticket.id, invoice.id, lines=[invoice.lines[0]], actor=AGENT
    ).credit_note
    assert (draft.id, draft.number, draft.state) == ("17", None, InvoiceState.DRAFT)
    edited = refunds.update_draft(draft.id, lines=[invoice.lines[1]], actor=AGENT)
    assert edited.id == "17"
    posted = refunds.confirm(draft.id, actor=AGENT)
    assert (posted.credit_note.id, posted.credit_note.number) == ("17", "CN-000017")
    assert posted.invoice.payment_state is PaymentState.PARTIAL

    other = world.invoice(customer=scenario.customer, lines=[(scenario.blender, 2)])
    full = refunds.reverse(ticket.id, other.id, method=CreditMethod.FULL_AND_REINVOICE, actor=AGENT)
    # 18 went to the first note's match; then the note, the new draft, their match
    assert full.new_invoice is not None
    assert (full.credit_note.id, full.new_invoice.id) == ("19", "20")
    assert full.credit_note.number == "CN-000018"
    assert (full.invoice.residual.amount, full.invoice.payment_state) == (
        Decimal("0.00"),
        PaymentState.REVERSED,
    )

    cancelled = refunds.reverse(ticket.id, invoice.id, lines=[invoice.lines[0]], actor=AGENT)
    assert cancelled.credit_note.id == "22"
    assert refunds.cancel("22", actor=AGENT).state is InvoiceState.CANCELLED
    to_refund = refunds.invoices_to_refund(ticket.id, actor=AGENT)
    assert invoice.id in {i.id for i in to_refund}
    assert other.id not in {i.id for i in to_refund}

    view = app.tickets.view(ticket.id, actor=AGENT)
    assert (view.counts.credit_notes, view.counts.invoices) == (3, 1)
    names = [(d.kind, d.name) for d in view.documents if d.kind is DocumentKind.CREDIT_NOTE]
    assert {n for _, n in names} >= {"CN-000017", "CN-000018"}
    assert not any("RINV" in message.body for message in view.trail)
    assert any("CN-000018" in message.body for message in view.trail)


def test_repairs_carry_the_erps_ids_and_references(
    erp: tuple[AfterSales, Any, Builder],
) -> None:
    """The repair flows on the foreign-style ERP: create, edit, move, invoice, cancel and
    delete, with the ERP's ``17``-style ids and ``REP-000017`` references everywhere."""
    app, scenario, world = erp
    repairs, ticket = app.repairs, scenario.ticket
    labour = world.product(name="Labour", kind=ProductKind.SERVICE, price=Decimal("30.00"))
    first = repairs.create(ticket.id, invoice_method=InvoiceMethod.AFTER_REPAIR, actor=AGENT)
    assert (first.id, first.reference, first.state) == ("17", "REP-000017", RepairState.DRAFT)
    edited = repairs.update(
        first.id, operations=[OperationLine(product_id=labour.id, quantity=Decimal(2))], actor=AGENT
    )
    assert (edited.id, edited.reference) == ("17", "REP-000017")
    states = [
        step(first.id, actor=AGENT).state for step in (repairs.confirm, repairs.start, repairs.end)
    ]
    assert states == [RepairState.CONFIRMED, RepairState.UNDER_REPAIR, RepairState.TO_INVOICE]
    invoiced = repairs.create_invoice(first.id, actor=AGENT)
    assert invoiced.repair.state is RepairState.DONE
    assert invoiced.invoice.reference == "REP-000017"
    assert invoiced.repair.invoice_id == invoiced.invoice.id == "17"  # the accounting's own ids

    second = repairs.create(ticket.id, actor=AGENT)
    assert (second.id, second.reference) == ("18", "REP-000018")
    assert repairs.cancel(second.id, actor=AGENT).state is RepairState.CANCELLED
    assert repairs.delete(second.id, actor=AGENT).reference == "REP-000018"
    assert repairs.repairs(ticket.id, actor=AGENT) == (invoiced.repair,)
    assert "REP-000017" in repairs.quotation(first.id, actor=AGENT, format="text")

    view = app.tickets.view(ticket.id, actor=AGENT)
    assert [d.name for d in view.documents if d.kind is DocumentKind.REPAIR] == ["REP-000017"]
    bodies = [message.body for message in view.trail]
    assert not any("RO/" in body for body in bodies)
    assert "Repair deleted: REP-000018" in bodies
    assert world.next_number("RO") == 1  # the reference series was never drawn from


def test_a_foreign_numbering_does_not_touch_the_reference_series(
    erp: tuple[AfterSales, Any, Builder],
) -> None:
    app, scenario, world = erp
    done = app.refunds.reverse(
        scenario.ticket.id,
        scenario.invoice.id,
        method=CreditMethod.FULL,
        reversal_date=date(2026, 11, 28),
        actor=AGENT,
    )
    assert done.credit_note.number == "CN-000017"
    assert world.next_number("RINV/2026") == 1


def test_the_returns_carry_the_erps_ids_and_names(erp: tuple[AfterSales, Any, Builder]) -> None:
    app, scenario, world = erp
    ticket, delivery = scenario.ticket, scenario.delivery
    blender, kettle = (move.id for move in delivery.moves)
    made = app.returns.create(
        ticket.id, delivery.id, {blender: Decimal(1), kettle: Decimal(1)}, actor=AGENT
    )
    # the moves take 900 and 901, the return 902: its ids and name are the ERP's
    assert (made.id, made.reference) == ("902", "RET-000017")
    assert [m.id for m in made.moves] == ["900", "901"]
    second = app.returns.create(ticket.id, delivery.id, {blender: Decimal(1)}, actor=AGENT)
    assert (second.id, second.reference) == ("904", "RET-000018")
    assert app.returns.validate(made.id, actor=AGENT).state is PickingState.DONE
    assert app.returns.cancel(second.id, actor=AGENT).state is PickingState.CANCELLED
    left = app.returns.prepare(ticket.id, delivery.id, actor=AGENT).lines
    assert [(line.returned, line.reserved) for line in left] == [
        (Decimal(1), Decimal(0)),
        (Decimal(1), Decimal(0)),
    ]
    view = app.tickets.view(ticket.id, actor=AGENT)
    names = [d.name for d in view.documents if d.kind is DocumentKind.RETURN]
    assert names == ["RET-000017", "RET-000018"]
    assert not any("WH/RET" in message.body for message in view.trail)
    assert any("RET-000017" in message.body for message in view.trail)
    # the reference series of the reference ERP was never drawn from
    assert world.next_number("WH/RET") == 1


# -- the services' source --------------------------------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0] if node.args else None
            if (
                name == "new_id"
                and isinstance(first, ast.Constant)
                and first.value in {"inv", "rinv", "match"}
            ):
                found.append(f"{where}: new_id({first.value!r}) makes an ERP id")
            if name in {"save_invoice", "add_match", "remove_match", "list_matches", "settle"}:
                found.append(f"{where}: {name}() is the ERP's business")
            if (
                name == "new_id"
                and isinstance(first, ast.Constant)
                and first.value in {"ret", "move", "pick"}
            ):
                found.append(f"{where}: new_id({first.value!r}) makes a stock id")
            if name in {"save_picking", "list_returns", "find_pickings", "StockMove", "Picking"}:
                found.append(f"{where}: {name}() is the ERP's business")
            if name == "sequence_next" and path.name in {"refunds.py", "returns.py", "repairs.py"}:
                found.append(f"{where}: sequence_next() numbers an ERP document")
            if name == "new_id" and isinstance(first, ast.Constant) and first.value == "repair":
                found.append(f"{where}: new_id('repair') makes a repair id")
            if name in {"save_repair", "next_state"}:
                found.append(f"{where}: {name}() is the ERP's business")
            if name == "RepairOrder":
                found.append(f"{where}: RepairOrder(...) makes a repair order")
            if (
                path.name == "repairs.py"
                and name in {"evolve", "RepairOrder"}
                and any(k.arg in {"state", "reference"} for k in node.keywords)
            ):
                found.append(f"{where}: sets a repair's state or reference, which the ERP does")
            for keyword in node.keywords:
                if keyword.arg in {"payment_state", "residual", "number"}:
                    found.append(f"{where}: sets {keyword.arg}=, which the ERP computes")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docs
            and ("RINV" in node.value or "WH/RET" in node.value)
        ):
            found.append(f"{where}: formats an ERP document number")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docs
            and node.value.startswith("RO/")
        ):
            found.append(f"{where}: formats an RO/ repair reference")
    return found


def test_no_service_makes_erp_ids_numbers_or_payment_states() -> None:
    modules = sorted(SERVICES.glob("*.py"))
    assert {p.name for p in modules} >= {"refunds.py", "repairs.py", "returns.py"}
    assert [offence for path in modules for offence in _offences(path)] == []


#: The services' old code, per module, and how many offences the check finds in it.
_OLD_CODE = {
    "refunds.py": (
        "def f(hooks, day, n):\n"
        "    note_id = new_id('rinv')\n"
        "    number = f\"RINV/{day.year}/{hooks.sequence_next('RINV'):05d}\"\n"
        "    hooks.save_invoice(evolve(n, number=number, payment_state=None))\n",
        7,  # "RINV" twice
    ),
    "returns.py": (
        "def f(hooks, delivery, move):\n"
        "    ret = Picking(id=new_id('ret'), moves=[StockMove(id=new_id('move'))],\n"
        "        reference=f\"WH/RET/{hooks.sequence_next('WH/RET'):05d}\")\n"
        "    hooks.list_returns(delivery.id)\n"
        "    hooks.save_picking(ret)\n",
        9,  # "WH/RET" twice
    ),
    "repairs.py": (
        "def f(hooks, repair, target):\n"
        "    made = RepairOrder(id=new_id('repair'), reference='RO/%05d' % 1)\n"
        "    ref = f\"RO/{hooks.sequence_next('RO'):05d}\"\n"
        "    hooks.save_repair(evolve(repair, state=next_state(repair, target)))\n",
        9,
    ),
}


@pytest.mark.parametrize("module", sorted(_OLD_CODE))
def test_the_source_check_catches_what_the_services_did_before(module: str, tmp_path: Path) -> None:
    source, offences = _OLD_CODE[module]
    old = tmp_path / module
    old.write_text(source, encoding="utf-8")
    found = _offences(old)
    assert len(found) == offences, found
