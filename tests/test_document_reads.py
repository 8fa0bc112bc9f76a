"""Reading one linked document through its ticket (RF-11, RT-8, RP-12, FS-4, AC-2 … AC-4), and
the installed modules for the settings page (ST-3), on the memory backend, SQLite and
PostgreSQL: the view a page needs, the rights of the ticket, unlinked ids refused, nothing
changed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import AccessDenied, InvalidInput, NotFound
from aftersales.models import (
    Actor,
    CreditMethod,
    Group,
    InvoiceKind,
    InvoiceState,
    MoveState,
    PaymentState,
    PickingState,
    Service,
)
from aftersales.serialization import converter, dumps, loads
from aftersales.services.field_service import TaskView
from aftersales.services.refunds import InvoiceView
from aftersales.services.returns import ReturnView
from aftersales.settings import InstalledModule
from aftersales.testing import Scenario, assert_unchanged, build_scenario

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

HELPDESK_ONLY = Actor(user_id="helpdesk-only", groups={Group.HELPDESK_USER})
BILLING = Actor(user_id="billing", groups={Group.HELPDESK_USER, Group.BILLING})
STOCK = Actor(user_id="stock", groups={Group.HELPDESK_USER, Group.STOCK_USER})
MANAGER = Actor(user_id="manager", groups={Group.HELPDESK_MANAGER})


@attrs.frozen(kw_only=True)
class Desk:
    """A scenario on one backend with one document of each kind made from its ticket, and
    the same kinds of documents made from another ticket of the same customer."""

    app: AfterSales
    backend: Any
    sc: Scenario
    credit_note_id: str
    invoice_id: str
    return_id: str
    repair_id: str
    task_id: str
    other_ticket_id: str
    other_credit_note_id: str
    other_return_id: str
    other_task_id: str
    closed_ticket_id: str


def _documents(app: AfterSales, sc: Scenario, ticket_id: str) -> dict[str, str]:
    agent = sc.actors.agent
    refund = app.refunds.reverse(
        ticket_id, sc.invoice.id, method=CreditMethod.FULL_AND_REINVOICE, actor=agent
    )
    assert refund.new_invoice is not None
    delivery = sc.delivery
    ret = app.returns.create(
        ticket_id, delivery.id, {delivery.moves[0].id: Decimal(1)}, actor=agent
    )
    return {
        "credit_note_id": refund.credit_note.id,
        "invoice_id": refund.new_invoice.id,
        "return_id": ret.id,
        "repair_id": app.repairs.create(ticket_id, actor=agent).id,
        "task_id": app.field_service.create_task(ticket_id, actor=agent).id,
    }


@pytest.fixture(
    scope="module",
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    clock = FrozenClock(START)
    backend: Any
    if request.param == "memory":
        backend = MemoryBackend()
    elif request.param == "sqlite":
        backend = SqlBackend(tmp_path_factory.mktemp("reads") / "reads.db")
    else:
        backend = SqlBackend(request.getfixturevalue("aftersales_postgres").create_database())
    try:
        app = AfterSales(backend, clock=clock)
        world = backend.builder(clock)
        sc = build_scenario(world)
        mine = _documents(app, sc, sc.ticket.id)
        other_ticket = world.ticket(team=sc.team, title="Kettle too", customer=sc.customer)
        other_invoice = world.invoice(customer=sc.customer, lines=[(sc.kettle, 1)])
        other_note = app.refunds.reverse(
            other_ticket.id, other_invoice.id, method=CreditMethod.FULL, actor=sc.actors.agent
        ).credit_note
        other_delivery = world.delivery(customer=sc.customer, lines=[(sc.kettle, 1)])
        other_return = app.returns.create(
            other_ticket.id,
            other_delivery.id,
            {other_delivery.moves[0].id: Decimal(1)},
            actor=sc.actors.agent,
        )
        other_task = app.field_service.create_task(other_ticket.id, actor=sc.actors.agent)
        closed = world.team(
            name="Closed", services=set(Service), members=["someone-else"], members_only=True
        )
        closed_ticket = world.ticket(team=closed, title="Private", customer=sc.customer)
        yield Desk(
            app=app,
            backend=backend,
            sc=sc,
            other_ticket_id=other_ticket.id,
            other_credit_note_id=other_note.id,
            other_return_id=other_return.id,
            other_task_id=other_task.id,
            closed_ticket_id=closed_ticket.id,
            **mine,
        )
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def _round_trips(record: object, kind: type[Any]) -> None:
    assert loads(dumps(record), kind) == record
    json.dumps(converter.unstructure(record))


# -- what each read gives -------------------------------------------------------------------


def test_a_credit_note_reads_with_its_state_residual_payment_state_and_reference(
    desk: Desk,
) -> None:
    with assert_unchanged(desk.backend):
        view = desk.app.refunds.invoice(desk.sc.ticket.id, desk.credit_note_id, actor=BILLING)
    note = view.invoice
    assert (view.ticket_id, view.ticket_ref) == (desk.sc.ticket.id, desk.sc.ticket.ref)
    assert note.id == desk.credit_note_id and note.kind is InvoiceKind.CREDIT_NOTE
    assert note.state is InvoiceState.POSTED and note.number
    assert note.payment_state is PaymentState.PAID
    assert note.residual.amount == Decimal(0)
    assert note.reference
    assert view.amounts.total == note.total == desk.sc.invoice.total
    assert view.customer_name == desk.sc.customer.name
    assert (view.kind_label, view.state_label, view.payment_state_label) == (
        "Credit note",
        "Posted",
        "Paid",
    )
    _round_trips(view, InvoiceView)


def test_a_linked_invoice_reads_as_an_invoice(desk: Desk) -> None:
    view = desk.app.refunds.invoice(desk.sc.ticket.id, desk.invoice_id, actor=BILLING)
    assert view.invoice.kind is InvoiceKind.INVOICE and view.invoice.state is InvoiceState.DRAFT
    assert (view.kind_label, view.state_label, view.payment_state_label) == (
        "Invoice",
        "Draft",
        "Not paid",
    )


def test_a_return_reads_with_its_lines_and_partner(desk: Desk) -> None:
    with assert_unchanged(desk.backend):
        view = desk.app.returns.picking(desk.sc.ticket.id, desk.return_id, actor=STOCK)
    assert view.picking.id == desk.return_id and view.picking.state is PickingState.READY
    assert view.state_label == "Ready"
    assert view.partner_name == desk.sc.customer.name
    [line] = view.lines
    assert (line.product_name, line.uom, line.quantity) == ("Blender", "Units", Decimal(1))
    assert line.move_id == view.picking.moves[0].id and line.state is MoveState.CONFIRMED
    _round_trips(view, ReturnView)


def test_a_task_reads_with_its_project_and_route(desk: Desk) -> None:
    with assert_unchanged(desk.backend):
        view = desk.app.field_service.task(desk.sc.ticket.id, desk.task_id, actor=HELPDESK_ONLY)
    assert view.task.id == desk.task_id and view.task.ticket_id == desk.sc.ticket.id
    assert (view.project_id, view.project_name) == (desk.sc.project.id, "Field Service")
    assert view.route == f"/tasks/{desk.task_id}"
    _round_trips(view, TaskView)


def test_a_repair_reads_through_its_ticket_with_ticket_visibility_only(desk: Desk) -> None:
    with assert_unchanged(desk.backend):
        repair = desk.app.repairs.repair(desk.sc.ticket.id, desk.repair_id, actor=HELPDESK_ONLY)
    assert repair.id == desk.repair_id and repair.ticket_id == desk.sc.ticket.id


def test_the_installed_modules_name_their_label_application_and_service(desk: Desk) -> None:
    with assert_unchanged(desk.backend):
        modules = desk.app.settings.modules(actor=MANAGER)
    by_name = {m.name: m for m in modules}
    assert [m.name for m in modules] == sorted(by_name)
    assert by_name["helpdesk_account"] == InstalledModule(
        name="helpdesk_account",
        label="Helpdesk Refunds",
        application=False,
        depends=("helpdesk_sale", "account"),
        service=Service.REFUNDS,
    )
    assert by_name["account"].application and by_name["account"].service is None
    assert "website_sale" not in by_name
    assert loads(dumps(modules), tuple[InstalledModule, ...]) == modules


# -- refusals: rights, visibility, unlinked and malformed ids ---------------------------------


def _reads(desk: Desk) -> dict[str, tuple[Callable[..., object], str, str]]:
    """Each read: the call, the document of the ticket, and the same kind of another ticket's."""
    app = desk.app
    return {
        "invoice": (app.refunds.invoice, desk.credit_note_id, desk.other_credit_note_id),
        "return": (app.returns.picking, desk.return_id, desk.other_return_id),
        "task": (app.field_service.task, desk.task_id, desk.other_task_id),
    }


@pytest.mark.parametrize(
    ("read", "actor", "missing"),
    [
        ("invoice", HELPDESK_ONLY, "billing"),
        ("invoice", STOCK, "billing"),
        ("return", HELPDESK_ONLY, "stock_user"),
        ("return", BILLING, "stock_user"),
        ("task", Actor(user_id="billing-only", groups={Group.BILLING}), "helpdesk_user"),
    ],
)
def test_a_read_needs_the_rights_of_its_kind(
    desk: Desk, read: str, actor: Actor, missing: str
) -> None:
    call, document_id, _ = _reads(desk)[read]
    with assert_unchanged(desk.backend), pytest.raises(AccessDenied, match=missing):
        call(desk.sc.ticket.id, document_id, actor=actor)


@pytest.mark.parametrize("read", ["invoice", "return", "task"])
def test_a_document_of_another_ticket_is_not_found_naming_kind_and_id(
    desk: Desk, read: str
) -> None:
    call, _, other_id = _reads(desk)[read]
    with assert_unchanged(desk.backend), pytest.raises(NotFound) as refused:
        call(desk.sc.ticket.id, other_id, actor=desk.sc.actors.agent)
    assert refused.value.kind == read and refused.value.id == other_id
    assert refused.value.to_dict() == {
        "code": "not_found",
        "message": f"{read} {other_id} does not exist",
        "status": 404,
        "kind": read,
        "id": other_id,
    }


@pytest.mark.parametrize("read", ["invoice", "return", "task"])
def test_a_document_of_another_kind_or_none_is_not_found(desk: Desk, read: str) -> None:
    call, _, _ = _reads(desk)[read]
    for wrong in (desk.repair_id, f"{read}-does-not-exist"):
        with assert_unchanged(desk.backend), pytest.raises(NotFound, match=read):
            call(desk.sc.ticket.id, wrong, actor=desk.sc.actors.agent)


def test_the_uninvoiced_original_invoice_is_not_linked_to_the_ticket(desk: Desk) -> None:
    with pytest.raises(NotFound, match="invoice"):
        desk.app.refunds.invoice(desk.sc.ticket.id, desk.sc.invoice.id, actor=BILLING)


@pytest.mark.parametrize("read", ["invoice", "return", "task"])
def test_a_ticket_of_a_members_only_team_is_refused(desk: Desk, read: str) -> None:
    call, document_id, _ = _reads(desk)[read]
    with assert_unchanged(desk.backend), pytest.raises(AccessDenied, match="restricted"):
        call(desk.closed_ticket_id, document_id, actor=desk.sc.actors.agent)


@pytest.mark.parametrize("read", ["invoice", "return", "task"])
def test_a_malformed_id_is_invalid_input_naming_it(desk: Desk, read: str) -> None:
    call, _, _ = _reads(desk)[read]
    with assert_unchanged(desk.backend), pytest.raises(InvalidInput) as refused:
        call(desk.sc.ticket.id, "id\x00", actor=desk.sc.actors.agent)
    assert refused.value.field.endswith("_id") and refused.value.field != "ticket_id"


def test_a_portal_user_cannot_read_a_document(desk: Desk) -> None:
    portal = Actor(user_id="ana", groups={Group.PORTAL}, partner_id=desk.sc.customer.id)
    for call, document_id, _ in _reads(desk).values():
        with pytest.raises(AccessDenied):
            call(desk.sc.ticket.id, document_id, actor=portal)


def test_the_modules_are_for_helpdesk_managers(desk: Desk) -> None:
    with assert_unchanged(desk.backend), pytest.raises(AccessDenied, match="helpdesk_manager"):
        desk.app.settings.modules(actor=desk.sc.actors.agent)


def test_documents_stay_readable_when_the_team_turns_the_services_off(desk: Desk) -> None:
    app, sc = desk.app, desk.sc
    app.settings.configure(sc.team.id, disable=set(Service), actor=MANAGER)
    try:
        assert app.tickets.view(sc.ticket.id, actor=sc.actors.agent).counts.returns == 1
        for call, document_id, _ in _reads(desk).values():
            call(sc.ticket.id, document_id, actor=sc.actors.agent)
    finally:
        app.settings.configure(sc.team.id, enable=set(Service), actor=MANAGER)


def test_a_module_the_catalogue_does_not_know_is_listed_by_its_name(
    app: AfterSales, backend: Any
) -> None:
    backend.builder().install("l10n_es")
    modules = {m.name: m for m in app.settings.modules(actor=MANAGER)}
    assert modules["l10n_es"] == InstalledModule(name="l10n_es", label="l10n_es", application=False)
