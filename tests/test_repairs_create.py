"""Creating repair orders from a ticket (RP-1 … RP-5, RP-7) and the general rules around it."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Generator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.erp import repair as repair_erp
from aftersales.errors import (
    BackendError,
    DuplicateKey,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
)
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    DocumentCreated,
    DocumentKind,
    DocumentLink,
    InvoiceMethod,
    Money,
    OperationLine,
    PartAction,
    PartLine,
    PickingKind,
    PickingState,
    ProductKind,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairState,
    Tax,
)
from aftersales.serialization import converter, dumps, loads
from aftersales.services.repairs import _CLEAN, RepairService
from aftersales.testing import Scenario, assert_unchanged
from tests.repairs_support import INTERNAL, QUOTE, Kit


@pytest.fixture
def kit(app: AfterSales, backend: Any, scenario: Scenario, clock: FrozenClock) -> Kit:
    return Kit.build(app, backend, scenario, clock)


# -- RP-1: every field -----------------------------------------------------------------------------


def test_rp1_create_with_every_field(kit: Kit) -> None:
    w = kit.world
    ret = kit.return_picking()
    repair = kit.create(
        product_id=w.blender.id,
        quantity=Decimal(2),
        lot="SN-0042",
        customer_id=w.colleague.id,
        description="Motor smells burnt.\nStops after 10 s.",
        sale_order_id=w.order.id,
        return_id=ret.id,
        invoice_method=InvoiceMethod.AFTER_REPAIR,
        invoice_address_id=w.company.id,
        internal_notes=INTERNAL,
        quotation_notes=QUOTE,
        responsible_user_id="tech-7",
        scheduled_date=date(2026, 12, 3),
        warranty_expiration=date(2027, 6, 1),
    )
    assert repair.reference == "RO/00001"
    assert repair.state is RepairState.DRAFT
    assert repair.ticket_id == w.ticket.id
    assert repair.product_id == w.blender.id
    assert repair.quantity == Decimal(2)
    assert repair.lot == "SN-0042"
    assert repair.customer_id == w.colleague.id
    assert repair.description.startswith("Motor smells burnt.")
    assert repair.sale_order_id == w.order.id
    assert repair.return_id == ret.id
    assert repair.invoice_method is InvoiceMethod.AFTER_REPAIR
    assert repair.invoice_address_id == w.company.id
    assert repair.internal_notes == INTERNAL
    assert repair.quotation_notes == QUOTE
    assert repair.responsible_user_id == "tech-7"
    assert repair.scheduled_date == date(2026, 12, 3)
    assert repair.warranty_expiration == date(2027, 6, 1)
    assert repair.currency == "EUR"
    assert repair.created_at == kit.clock.now()
    assert len(repair.parts) == 2
    assert len(repair.operations) == 1
    assert kit.stored(repair.id) == repair


def test_rp1_defaults(kit: Kit) -> None:
    """Quantity 1, the ticket's customer, no invoice, no address, a draft."""
    repair = kit.app.repairs.create(kit.world.ticket.id, actor=kit.agent)
    assert repair.quantity == Decimal(1)
    assert repair.customer_id == kit.world.customer.id
    assert repair.invoice_method is InvoiceMethod.NONE
    assert repair.invoice_address_id is None
    assert repair.state is RepairState.DRAFT
    assert (repair.parts, repair.operations) == ((), ())
    assert repair.sale_order_id is None  # not pre-filled: the agent picks it (RP-1)


def test_rp1_a_consumable_product_can_be_repaired(kit: Kit) -> None:
    lamp = kit.builder.product(name="Lamp", price=Decimal(5), kind=ProductKind.CONSUMABLE)
    repair = kit.app.repairs.create(kit.world.ticket.id, product_id=lamp.id, actor=kit.agent)
    assert repair.product_id == lamp.id


def test_rp1_a_service_cannot_be_the_product_to_repair(kit: Kit) -> None:
    with (
        pytest.raises(InvalidInput, match=r"product_id.*service") as err,
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.create(kit.world.ticket.id, product_id=kit.labour.id, actor=kit.agent)
    assert err.value.field == "product_id"


def test_rp1_unknown_product_or_customer_is_not_found(kit: Kit) -> None:
    with pytest.raises(NotFound, match="product nope"), assert_unchanged(kit.backend):
        kit.app.repairs.create(kit.world.ticket.id, product_id="nope", actor=kit.agent)
    with pytest.raises(NotFound, match="partner ghost"), assert_unchanged(kit.backend):
        kit.app.repairs.create(kit.world.ticket.id, customer_id="ghost", actor=kit.agent)


def test_rp1_ticket_without_customer_needs_one(kit: Kit) -> None:
    ticket = kit.builder.ticket(team=kit.world.team, title="Found in a box", product=kit.motor)
    with (
        pytest.raises(InvalidInput, match=r"customer_id.*no customer"),
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.create(ticket.id, actor=kit.agent)
    repair = kit.app.repairs.create(ticket.id, customer_id=kit.world.customer.id, actor=kit.agent)
    assert repair.customer_id == kit.world.customer.id


# -- RP-2: the product comes from the ticket -------------------------------------------------------


def test_rp2_product_is_prefilled_from_the_ticket(kit: Kit) -> None:
    repair = kit.app.repairs.create(kit.world.ticket.id, actor=kit.agent)
    assert repair.product_id == kit.world.ticket.product_id == kit.world.blender.id


def test_rp2_an_explicit_product_wins_over_the_ticket(kit: Kit) -> None:
    repair = kit.app.repairs.create(
        kit.world.ticket.id, product_id=kit.world.kettle.id, actor=kit.agent
    )
    assert repair.product_id == kit.world.kettle.id


def test_rp2_without_a_product_on_the_ticket_one_must_be_chosen(kit: Kit) -> None:
    w = kit.world
    ticket = kit.builder.ticket(team=w.team, title="Something broke", customer=w.customer)
    with (
        pytest.raises(InvalidInput, match=r"product_id=None.*has no product") as err,
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.create(ticket.id, actor=kit.agent)
    assert err.value.field == "product_id"
    repair = kit.app.repairs.create(ticket.id, product_id=w.kettle.id, actor=kit.agent)
    assert repair.product_id == w.kettle.id


# -- RP-3: sale order and return reference ---------------------------------------------------------


def test_rp3_sale_order_of_the_customers_commercial_entity(kit: Kit) -> None:
    """The order is Ana's; Luis works for the same company, so it is his entity's order."""
    w = kit.world
    repair = kit.app.repairs.create(
        w.ticket.id, customer_id=w.colleague.id, sale_order_id=w.order.id, actor=kit.agent
    )
    assert repair.sale_order_id == w.order.id


def test_rp3_sale_order_of_another_customer_is_refused(kit: Kit) -> None:
    w = kit.world
    foreign = kit.builder.sale_order(customer=w.other_customer)
    with (
        pytest.raises(InvalidInput, match=r"sale_order_id.*commercial entity") as err,
        assert_unchanged(kit.backend),
    ):
        kit.app.repairs.create(w.ticket.id, sale_order_id=foreign.id, actor=kit.agent)
    assert err.value.value == foreign.id
    with pytest.raises(NotFound, match="sale order"), assert_unchanged(kit.backend):
        kit.app.repairs.create(w.ticket.id, sale_order_id="so-missing", actor=kit.agent)


def test_rp3_return_of_the_customer_containing_the_product(kit: Kit) -> None:
    ret = kit.return_picking(customer=kit.world.colleague)  # same commercial entity
    repair = kit.create(return_id=ret.id)
    assert repair.return_id == ret.id


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other customer", "not a return of Ana"),
        ("without the product", "does not contain Blender"),
        ("a delivery", "is a delivery, not a return"),
        ("cancelled", "is cancelled"),
    ],
)
def test_rp3_return_reference_is_checked(kit: Kit, case: str, message: str) -> None:
    w = kit.world
    if case == "other customer":
        picking = kit.return_picking(customer=w.other_customer)
    elif case == "without the product":
        picking = kit.return_picking(products=(w.kettle,))
    elif case == "a delivery":
        picking = kit.return_picking(kind=PickingKind.DELIVERY)
    else:
        picking = kit.return_picking(state=PickingState.CANCELLED)
    with pytest.raises(InvalidInput, match=message) as err, assert_unchanged(kit.backend):
        kit.create(return_id=picking.id)
    assert err.value.field == "return_id"


def test_rp3_unknown_return_is_not_found(kit: Kit) -> None:
    with pytest.raises(NotFound, match="ret-missing"), assert_unchanged(kit.backend):
        kit.create(return_id="ret-missing")


# -- RP-4: invoice method and address --------------------------------------------------------------


@pytest.mark.parametrize("method", [InvoiceMethod.BEFORE_REPAIR, InvoiceMethod.AFTER_REPAIR])
def test_rp4_invoicing_needs_an_address_defaulting_to_the_customer(
    kit: Kit, method: InvoiceMethod
) -> None:
    repair = kit.create(invoice_method=method)
    assert repair.invoice_method is method
    assert repair.invoice_address_id == kit.world.customer.id


def test_rp4_invoice_method_by_value(kit: Kit) -> None:
    repair = kit.create(invoice_method="after_repair")
    assert repair.invoice_method is InvoiceMethod.AFTER_REPAIR


def test_rp4_unknown_invoice_method_is_refused(kit: Kit) -> None:
    with (
        pytest.raises(InvalidInput, match=r"invoice_method=sometimes.*before_repair"),
        assert_unchanged(kit.backend),
    ):
        kit.create(invoice_method="sometimes")


def test_rp4_invoice_address_outside_the_customers_entity_is_refused(kit: Kit) -> None:
    """Stricter than the reference: never invoice an unrelated partner by mistake."""
    with (
        pytest.raises(InvalidInput, match=r"invoice_address_id.*not a contact") as err,
        assert_unchanged(kit.backend),
    ):
        kit.create(
            invoice_method=InvoiceMethod.BEFORE_REPAIR,
            invoice_address_id=kit.world.other_customer.id,
        )
    assert err.value.value == kit.world.other_customer.id


# -- RP-5: parts and operations --------------------------------------------------------------------


def test_rp5_lines_take_the_products_price_and_taxes(kit: Kit) -> None:
    repair = kit.create()
    add, remove = repair.parts
    assert add == RepairPart(
        action=PartAction.ADD,
        product_id=kit.motor.id,
        quantity=Decimal(1),
        unit_price=Money.of("18.50", "EUR"),
        taxes=kit.motor.taxes,
    )
    assert remove.action is PartAction.REMOVE
    assert remove.lot == "OLD-1"
    (labour,) = repair.operations
    assert labour == RepairOperation(
        product_id=kit.labour.id,
        quantity=Decimal("1.50"),
        unit_price=Money.of("30", "EUR"),
        taxes=kit.labour.taxes,
        description="Labour",
    )


def test_rp5_explicit_price_taxes_and_description(kit: Kit) -> None:
    zero = Tax(name="0%", percent=Decimal(0))
    repair = kit.create(
        parts=(
            PartLine(
                action=PartAction.ADD,
                product_id=kit.motor.id,
                quantity=Decimal(2),
                unit_price=Money.of("15.00", "EUR"),
                taxes=(zero,),
                lot="NEW-9",
            ),
        ),
        operations=(
            OperationLine(
                product_id=kit.labour.id,
                unit_price=Money.of("0", "EUR"),
                description="Diagnosis (free under warranty)",
            ),
        ),
    )
    assert repair.parts[0].unit_price == Money.of("15.00", "EUR")
    assert repair.parts[0].taxes == (zero,)
    assert repair.parts[0].lot == "NEW-9"
    assert repair.operations[0].description == "Diagnosis (free under warranty)"
    assert repair.operations[0].quantity == Decimal(1)


def test_rp5_repair_records_are_accepted_as_lines(kit: Kit) -> None:
    """The lines of a repair can be passed back as they are (e.g. to keep some)."""
    first = kit.create()
    second = kit.create(parts=first.parts[:1], operations=first.operations)
    assert second.parts == first.parts[:1]
    assert second.operations == first.operations


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal(-1), Decimal("-0.5")])
def test_rp5_zero_or_negative_quantities_are_refused(kit: Kit, quantity: Decimal) -> None:
    with (
        pytest.raises(InvalidInput, match=r"quantity.*greater than zero"),
        assert_unchanged(kit.backend),
    ):
        kit.create(
            parts=(PartLine(action=PartAction.ADD, product_id=kit.motor.id, quantity=quantity),)
        )
    with (
        pytest.raises(InvalidInput, match=r"quantity.*greater than zero"),
        assert_unchanged(kit.backend),
    ):
        kit.create(operations=(OperationLine(product_id=kit.labour.id, quantity=quantity),))
    with (
        pytest.raises(InvalidInput, match=r"quantity.*greater than zero"),
        assert_unchanged(kit.backend),
    ):
        kit.create(quantity=quantity)


def test_rp5_a_quantity_that_rounds_to_zero_is_refused(kit: Kit) -> None:
    """Motors are counted in units (0 decimals): 0.4 rounds to 0 (RT-6)."""
    line = PartLine(action=PartAction.ADD, product_id=kit.motor.id, quantity=Decimal("0.4"))
    with (
        pytest.raises(InvalidInput, match=r"parts\[0\]\.quantity.*rounds to 0") as err,
        assert_unchanged(kit.backend),
    ):
        kit.create(parts=(line,))
    assert err.value.field == "parts[0].quantity"


def test_rp5_quantities_are_rounded_to_the_unit(kit: Kit) -> None:
    repair = kit.create(
        quantity=Decimal("1.4"),
        operations=(OperationLine(product_id=kit.labour.id, quantity=Decimal("0.125")),),
    )
    assert repair.quantity == Decimal(1)
    assert repair.operations[0].quantity == Decimal("0.13")


def test_rp5_services_go_in_operations_and_goods_in_parts(kit: Kit) -> None:
    service_part = PartLine(action=PartAction.ADD, product_id=kit.labour.id, quantity=Decimal(1))
    with (
        pytest.raises(InvalidInput, match=r"parts\[0\]\.product_id.*operations"),
        assert_unchanged(kit.backend),
    ):
        kit.create(parts=(service_part,))
    goods_operation = OperationLine(product_id=kit.motor.id)
    with (
        pytest.raises(InvalidInput, match=r"operations\[0\]\.product_id.*parts"),
        assert_unchanged(kit.backend),
    ):
        kit.create(operations=(goods_operation,))


def test_rp5_lines_must_be_in_the_repairs_currency(kit: Kit) -> None:
    line = PartLine(
        action=PartAction.ADD,
        product_id=kit.motor.id,
        quantity=Decimal(1),
        unit_price=Money.of("20", "USD"),
    )
    with (
        pytest.raises(InvalidInput, match=r"parts\[0\]\.unit_price.*EUR"),
        assert_unchanged(kit.backend),
    ):
        kit.create(parts=(line,))


def test_rp5_lines_of_the_wrong_type_are_refused(kit: Kit) -> None:
    with pytest.raises(InvalidInput, match=r"parts\[1\].*PartLine"), assert_unchanged(kit.backend):
        kit.create(parts=(kit.lines()["parts"][0], {"product_id": kit.motor.id}))
    with (
        pytest.raises(InvalidInput, match=r"operations.*list or tuple"),
        assert_unchanged(kit.backend),
    ):
        kit.create(operations="labour")


def test_rp5_unknown_line_product_is_not_found(kit: Kit) -> None:
    line = PartLine(action=PartAction.ADD, product_id="product-x", quantity=Decimal(1))
    with pytest.raises(NotFound, match="product product-x"), assert_unchanged(kit.backend):
        kit.create(parts=(line,))


def test_rp5_lines_can_be_a_generator(kit: Kit) -> None:
    repair = kit.create(parts=(p for p in kit.lines()["parts"]))
    assert len(repair.parts) == 2


# -- RL-4: bad input is refused early and clearly --------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("quantity", 1.5, "Decimal"),
        ("quantity", Decimal("NaN"), "finite"),
        ("quantity", True, "Decimal"),
        ("lot", "x" * 65, "longer than 64"),
        ("lot", "", "blank"),
        ("description", "bell\x07", "control character"),
        ("internal_notes", 42, "expected text"),
        ("quotation_notes", "x" * 20_001, "longer than"),
        ("scheduled_date", datetime(2026, 12, 1, 9, 0), "expected a date"),
        ("warranty_expiration", "2027-01-01", "expected a date"),
        ("responsible_user_id", "has space", "valid id"),
        ("customer_id", 7, "valid id"),
    ],
)
def test_rl4_bad_fields_name_the_field_and_change_nothing(
    kit: Kit, field: str, value: object, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason) as err, assert_unchanged(kit.backend):
        kit.create(**{field: value})
    assert err.value.field == field


def test_rl4_unknown_ticket_is_not_found(kit: Kit) -> None:
    with pytest.raises(NotFound, match="ticket ticket-nope"), assert_unchanged(kit.backend):
        kit.app.repairs.create("ticket-nope", actor=kit.agent)


# -- RP-7: references ------------------------------------------------------------------------------


def test_rp7_references_follow_the_sequence(kit: Kit) -> None:
    refs = [kit.create().reference for _ in range(3)]
    assert refs == ["RO/00001", "RO/00002", "RO/00003"]


def test_rp7_a_refused_call_gives_its_number_back(kit: Kit) -> None:
    kit.create()
    with pytest.raises(InvalidInput, match="quantity"), assert_unchanged(kit.backend):
        kit.create(quantity=Decimal(0))
    assert kit.create().reference == "RO/00002"


def test_rp7_references_are_unique_under_concurrency(kit: Kit) -> None:
    threads_n, per_thread = 8, 5
    made: list[RepairOrder] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def worker() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                repair = kit.app.repairs.create(kit.world.ticket.id, actor=kit.agent)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            else:
                with lock:
                    made.append(repair)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    refs = sorted(r.reference for r in made)
    assert refs == [f"RO/{n:05d}" for n in range(1, threads_n * per_thread + 1)]
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.repairs == threads_n * per_thread  # AC-6


def _imported(kit: Kit, number: int) -> RepairOrder:
    """An order stored outside the sequence (imported), holding ``RO/<number>``."""
    squatter = RepairOrder(
        id=f"repair-imported-{number}",
        reference=f"RO/{number:05d}",
        product_id=kit.world.blender.id,
        customer_id=kit.world.customer.id,
        currency="EUR",
        created_at=kit.clock.now(),
    )
    kit.builder.put(squatter)
    return squatter


def test_rp7_a_reference_taken_outside_the_sequence_is_skipped(kit: Kit) -> None:
    """Imported orders hold RO/00001 and RO/00002: the new order gets RO/00003, and the
    next one RO/00004 (the skipped numbers stay used)."""
    _imported(kit, 1)
    _imported(kit, 2)
    assert kit.create().reference == "RO/00003"
    assert kit.create().reference == "RO/00004"


def test_rp7_an_import_of_many_orders_is_passed_once(kit: Kit) -> None:
    """Sixty imported orders hold RO/00001 … RO/00060: the first new order passes them
    all, and the sequence then stays past them."""
    for number in range(1, 61):
        _imported(kit, number)
    assert kit.create().reference == "RO/00061"
    assert kit.create().reference == "RO/00062"


def test_rp7_a_run_of_taken_references_ends_in_duplicate_key(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend refusing every reference it is given does not loop: after
    ``REFERENCE_TRIES`` numbers the call raises, and nothing remains."""
    monkeypatch.setattr(repair_erp, "REFERENCE_TRIES", 5)
    for number in range(1, 6):
        _imported(kit, number)
    with pytest.raises(DuplicateKey, match="RO/00005"), assert_unchanged(kit.backend):
        kit.create()


# -- RL-1, RL-2, G-4 -------------------------------------------------------------------------------


class FailingLinks:
    """A plugin whose ticket links fail: the call must leave nothing behind."""

    @hookimpl(wrapper=True)
    def aftersales_store_add_link(
        self, link: DocumentLink
    ) -> Generator[None, DocumentLink, DocumentLink]:
        yield from ()  # a wrapper (it owns no port) that fails before the call
        raise BackendError(f"link store down ({link.kind.value})")


def test_rl1_a_failure_after_saving_leaves_nothing(
    backend: Any, scenario: Scenario, clock: FrozenClock
) -> None:
    app = AfterSales(backend, clock=clock, plugins=[FailingLinks()])
    kit = Kit.build(app, backend, scenario, clock)
    with pytest.raises(BackendError, match="link store down"), assert_unchanged(backend):
        kit.create()


def test_rl2_same_key_same_result_once(kit: Kit) -> None:
    first = kit.create(idempotency_key="rep-1", quotation_notes=QUOTE)
    again = kit.create(idempotency_key="rep-1", quotation_notes=QUOTE)
    assert again == first
    assert len(kit.app.repairs.repairs(kit.world.ticket.id, actor=kit.agent)) == 1


def test_rl2_same_key_other_arguments_conflicts(kit: Kit) -> None:
    kit.create(idempotency_key="rep-1")
    with (
        pytest.raises(IdempotencyConflict, match="different arguments"),
        assert_unchanged(kit.backend),
    ):
        kit.create(idempotency_key="rep-1", quantity=Decimal(2))


def test_g4_created_repair_is_linked_counted_and_on_the_trail(kit: Kit) -> None:
    events: list[DocumentCreated] = []

    class Listener:
        @hookimpl
        def aftersales_on_document_created(self, event: DocumentCreated) -> None:
            events.append(event)

    kit.app.pm.register(Listener())
    repair = kit.create()
    view = kit.app.tickets.view(kit.world.ticket.id, actor=kit.agent)
    assert view.counts.repairs == 1
    (doc,) = [d for d in view.documents if d.kind is DocumentKind.REPAIR]
    assert (doc.document_id, doc.name, doc.state) == (repair.id, "RO/00001", "draft")
    message = view.trail[0]
    assert message.body == "Repair created: RO/00001 (Blender)"
    assert message.author_id == kit.agent.user_id
    assert message.document_id == repair.id
    assert [(e.kind, e.document_id) for e in events] == [(DocumentKind.REPAIR, repair.id)]
    audit = kit.app.runtime.read(lambda _uow: kit.app.hooks.audit_list(kit.world.ticket.id))
    assert [a.action for a in audit] == ["repair created"]


# -- records round-trip ----------------------------------------------------------------------------


def test_repair_records_round_trip_through_json(kit: Kit) -> None:
    repair = kit.create(
        invoice_method=InvoiceMethod.AFTER_REPAIR,
        scheduled_date=date(2026, 12, 1),
        lot="SN-1",
    )
    assert loads(dumps(repair), RepairOrder) == repair
    line = kit.lines()["parts"][1]
    assert converter.structure(converter.unstructure(line), PartLine) == line
    op = OperationLine(product_id=kit.labour.id, unit_price=Money.of("1", "EUR"), taxes=())
    assert loads(dumps(op), OperationLine) == op


@pytest.mark.parametrize(
    ("method", "target"), [(RepairService.create, "ticket_id"), (RepairService.update, "repair_id")]
)
def test_create_and_update_take_exactly_the_described_fields(method: Any, target: str) -> None:
    """Both gather their fields by name from the one description (``_CLEAN``): a renamed
    parameter would otherwise only fail when called."""
    parameters = set(inspect.signature(method).parameters)
    assert parameters - set(_CLEAN) == {"self", target, "actor", "idempotency_key"}
    assert set(_CLEAN) <= parameters
