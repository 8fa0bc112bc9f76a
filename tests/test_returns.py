"""Returns from a ticket (returns.md RT-1 … RT-9, with AC-2, G-3, G-4, RL-2, RL-4).

The standard scenario: Ana Pérez (company Pérez Hogar) received delivery WH/OUT/00001 of
sale order S00001 — 2 Blenders and 1 Kettle — and opened ticket #1 "Blender broken" about
the Blender of that order, on team Support (every service on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.builder import Builder
from aftersales.errors import (
    AccessDenied,
    DatabaseLocked,
    IdempotencyConflict,
    InvalidInput,
    InvalidOperation,
    InvalidState,
    NotFound,
    QuantityExceeded,
    ServiceDisabled,
)
from aftersales.models import (
    Actor,
    DocumentChanged,
    DocumentCreated,
    DocumentKind,
    Group,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    Quantity,
    Service,
    Subscription,
    SubscriptionState,
    TeamConfig,
)
from aftersales.models._fields import MAX_TEXT
from aftersales.serialization import dumps, loads
from aftersales.services.returns import ReturnDraft, ReturnLine
from aftersales.services.tickets import TicketAction
from aftersales.testing import Scenario, Witness, assert_unchanged, build_scenario

STOCK_ONLY = Actor(user_id="stock-only", groups=frozenset({Group.STOCK_USER}))


@pytest.fixture
def world(backend: MemoryBackend, clock: FrozenClock) -> Builder:
    """One builder for the scenario and the extra records of a test (ids stay unique)."""
    return backend.builder(clock)


@pytest.fixture
def scenario(world: Builder) -> Scenario:
    return build_scenario(world)


@pytest.fixture
def recorder() -> Witness:
    return Witness()


@pytest.fixture
def app(backend: MemoryBackend, clock: FrozenClock, recorder: Witness) -> AfterSales:
    return AfterSales(backend, clock=clock, plugins=[recorder])


@pytest.fixture
def agent(scenario: Scenario) -> Actor:
    return scenario.actors.agent


def move_of(picking: Picking, product_id: str) -> str:
    return next(m.id for m in picking.moves if m.product_id == product_id)


def line_of(draft: ReturnDraft, move_id: str) -> ReturnLine:
    return next(line for line in draft.lines if line.move_id == move_id)


def lines_by_product(draft: ReturnDraft) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    return {
        line.product_name: (line.delivered, line.returned, line.reserved, line.quantity)
        for line in draft.lines
    }


# -------------------------------------------------------------------------------------------
# RT-1: when a return is possible
# -------------------------------------------------------------------------------------------


def test_rt1_ticket_offers_return_when_customer_has_validated_delivery(
    app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    view = app.tickets.view(scenario.ticket.id, actor=agent)
    assert TicketAction.RETURN in view.actions


def test_rt1_return_not_offered_and_refused_when_team_has_returns_off(
    backend: MemoryBackend, world: Builder, app: AfterSales
) -> None:
    scenario = build_scenario(world, services=frozenset(Service) - {Service.RETURNS})
    agent = scenario.actors.agent
    ticket, delivery = scenario.ticket, scenario.delivery
    assert TicketAction.RETURN not in app.tickets.view(ticket.id, actor=agent).actions
    calls: list[Callable[[], object]] = [
        lambda: app.returns.deliveries(ticket.id, actor=agent),
        lambda: app.returns.prepare(ticket.id, actor=agent),
        lambda: app.returns.create(
            ticket.id, delivery.id, {delivery.moves[0].id: Decimal(1)}, actor=agent
        ),
    ]
    for call in calls:
        with (
            pytest.raises(ServiceDisabled, match="returns service is not enabled on team Support"),
            assert_unchanged(backend),
        ):
            call()


def test_rt1_customer_without_validated_delivery_is_refused(
    backend: MemoryBackend, world: Builder, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    """A delivery that is not done yet does not make the Return action available."""
    world.delivery(customer=scenario.other_customer, lines=[(scenario.blender, 1)], done=False)
    ticket = world.ticket(
        team=scenario.team, title="Where is my blender?", customer=scenario.other_customer
    )
    assert TicketAction.RETURN not in app.tickets.view(ticket.id, actor=agent).actions
    with (
        pytest.raises(InvalidOperation, match="the customer has no validated delivery"),
        assert_unchanged(backend),
    ):
        app.returns.deliveries(ticket.id, actor=agent)
    with (
        pytest.raises(InvalidOperation, match="the customer has no validated delivery"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(ticket.id, actor=agent)
    with (
        pytest.raises(InvalidOperation, match="the customer has no validated delivery"),
        assert_unchanged(backend),
    ):
        app.returns.create(
            ticket.id,
            scenario.delivery.id,
            {scenario.delivery.moves[0].id: Decimal(1)},
            actor=agent,
        )


def test_rt1_ticket_without_customer_is_refused(
    backend: MemoryBackend, world: Builder, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket = world.ticket(team=scenario.team, title="Anonymous call")
    assert TicketAction.RETURN not in app.tickets.view(ticket.id, actor=agent).actions
    with (
        pytest.raises(
            InvalidOperation, match=r"no validated delivery: ticket #\d+ has no customer"
        ),
        assert_unchanged(backend),
    ):
        app.returns.prepare(ticket.id, actor=agent)


def test_rt1_done_delivery_without_done_quantities_does_not_count(
    backend: MemoryBackend, world: Builder, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    """Only cancelled, scrapped or zero moves: nothing was validated to the customer."""
    delivery = world.delivery(
        customer=scenario.other_customer, lines=[(scenario.blender, 1), (scenario.kettle, 0)]
    )
    world.put(
        attrs.evolve(
            delivery,
            moves=(
                attrs.evolve(delivery.moves[0], state=MoveState.CANCELLED),
                delivery.moves[1],
            ),
        )
    )
    ticket = world.ticket(
        team=scenario.team, title="Nothing came", customer=scenario.other_customer
    )
    assert TicketAction.RETURN not in app.tickets.view(ticket.id, actor=agent).actions
    with (
        pytest.raises(InvalidOperation, match="the customer has no validated delivery"),
        assert_unchanged(backend),
    ):
        app.returns.deliveries(ticket.id, actor=agent)


def test_rt1_return_not_offered_to_user_without_stock_rights(
    app: AfterSales, scenario: Scenario
) -> None:
    view = app.tickets.view(scenario.ticket.id, actor=scenario.actors.helpdesk_only)
    assert TicketAction.RETURN not in view.actions
    assert TicketAction.COUPON in view.actions


def test_rt1_missing_delivery_and_empty_selection_are_clear_errors(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket = scenario.ticket
    with (
        pytest.raises(NotFound, match="picking no-such-delivery does not exist"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(ticket.id, "no-such-delivery", actor=agent)
    with (
        pytest.raises(NotFound, match="picking no-such-delivery does not exist"),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket.id, "no-such-delivery", {"m-1": Decimal(1)}, actor=agent)
    with (
        pytest.raises(InvalidInput, match="specify at least one non-zero quantity"),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket.id, scenario.delivery.id, {}, actor=agent)
    with (
        pytest.raises(NotFound, match="ticket no-such-ticket does not exist"),
        assert_unchanged(backend),
    ):
        app.returns.prepare("no-such-ticket", actor=agent)


# -------------------------------------------------------------------------------------------
# RT-2: the deliveries offered and the default one
# -------------------------------------------------------------------------------------------


def test_rt2_deliveries_of_the_commercial_entity_newest_first(
    app: AfterSales, world: Builder, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    clock.advance(days=1)
    by_colleague = world.delivery(
        customer=scenario.colleague, lines=[(scenario.blender, 1)], sale_order=scenario.order
    )
    clock.advance(days=1)
    newest = world.delivery(
        customer=scenario.customer, lines=[(scenario.blender, 3)], sale_order=scenario.order
    )
    # Not offered: another customer's, not done, and a delivery without the ticket's product.
    world.delivery(
        customer=scenario.other_customer, lines=[(scenario.blender, 1)], sale_order=scenario.order
    )
    world.delivery(
        customer=scenario.customer,
        lines=[(scenario.blender, 1)],
        sale_order=scenario.order,
        done=False,
    )
    world.delivery(
        customer=scenario.customer, lines=[(scenario.kettle, 1)], sale_order=scenario.order
    )
    offered = app.returns.deliveries(scenario.ticket.id, actor=agent)
    assert [d.id for d in offered] == [newest.id, by_colleague.id, scenario.delivery.id]
    assert all(d.kind is PickingKind.DELIVERY and d.state is PickingState.DONE for d in offered)
    assert app.returns.prepare(scenario.ticket.id, actor=agent).delivery_id == newest.id


def test_rt2_narrowed_to_the_ticket_sale_order_by_default_or_the_one_given(
    app: AfterSales, world: Builder, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    other_order = world.sale_order(customer=scenario.customer)
    clock.advance(hours=1)
    later = world.delivery(
        customer=scenario.customer, lines=[(scenario.blender, 1)], sale_order=other_order
    )
    ticket = scenario.ticket
    assert [d.id for d in app.returns.deliveries(ticket.id, actor=agent)] == [scenario.delivery.id]
    assert [
        d.id for d in app.returns.deliveries(ticket.id, actor=agent, sale_order_id=other_order.id)
    ] == [later.id]
    # A ticket without sale order or product is offered every done delivery.
    plain = world.ticket(team=scenario.team, title="Question", customer=scenario.customer)
    assert [d.id for d in app.returns.deliveries(plain.id, actor=agent)] == [
        later.id,
        scenario.delivery.id,
    ]


def test_rt2_narrowed_to_the_ticket_product(
    app: AfterSales, world: Builder, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    clock.advance(hours=1)
    kettles = world.delivery(customer=scenario.customer, lines=[(scenario.kettle, 2)])
    about_kettle = world.ticket(
        team=scenario.team,
        title="Kettle leaks",
        customer=scenario.customer,
        product=scenario.kettle,
    )
    offered = app.returns.deliveries(about_kettle.id, actor=agent)
    assert [d.id for d in offered] == [kettles.id, scenario.delivery.id]
    about_blender = world.ticket(
        team=scenario.team, title="Blender", customer=scenario.customer, product=scenario.blender
    )
    assert [d.id for d in app.returns.deliveries(about_blender.id, actor=agent)] == [
        scenario.delivery.id
    ]


def test_rt2_foreign_or_unknown_sale_order_is_refused(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    foreign = world.sale_order(customer=scenario.other_customer)
    with (
        pytest.raises(InvalidInput, match="is not an order of the customer"),
        assert_unchanged(backend),
    ):
        app.returns.deliveries(scenario.ticket.id, actor=agent, sale_order_id=foreign.id)
    with pytest.raises(NotFound, match="sale order so-nope does not exist"):
        app.returns.deliveries(scenario.ticket.id, actor=agent, sale_order_id="so-nope")


def test_rt2_no_delivery_matches_the_ticket(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    """The customer has deliveries, none of the ticket's product: an empty list, and
    ``prepare`` without a delivery says so instead of crashing."""
    toaster = world.product(name="Toaster", price=Decimal("25.00"))
    ticket = world.ticket(
        team=scenario.team, title="Toaster", customer=scenario.customer, product=toaster
    )
    assert app.returns.deliveries(ticket.id, actor=agent) == ()
    with (
        pytest.raises(InvalidOperation, match="choose a delivery explicitly"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(ticket.id, actor=agent)
    # Any done delivery of the customer may still be chosen explicitly.
    draft = app.returns.prepare(ticket.id, scenario.delivery.id, actor=agent)
    assert draft.delivery_id == scenario.delivery.id


# -------------------------------------------------------------------------------------------
# RT-3: only done deliveries
# -------------------------------------------------------------------------------------------


def test_rt3_delivery_not_done_is_refused(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    waiting = world.delivery(customer=scenario.customer, lines=[(scenario.blender, 1)], done=False)
    with (
        pytest.raises(InvalidState, match="only done deliveries can be returned"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(scenario.ticket.id, waiting.id, actor=agent)
    with (
        pytest.raises(InvalidState, match=r"only done deliveries can be returned: WH/OUT/\d+ is"),
        assert_unchanged(backend),
    ):
        app.returns.create(
            scenario.ticket.id, waiting.id, {waiting.moves[0].id: Decimal(1)}, actor=agent
        )


def test_rt3_delivery_of_another_customer_or_a_return_is_refused(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    foreign = world.delivery(customer=scenario.other_customer, lines=[(scenario.blender, 1)])
    with (
        pytest.raises(InvalidInput, match="is not a delivery of the ticket's customer"),
        assert_unchanged(backend),
    ):
        app.returns.create(
            scenario.ticket.id, foreign.id, {foreign.moves[0].id: Decimal(1)}, actor=agent
        )
    ret = app.returns.create(
        scenario.ticket.id,
        scenario.delivery.id,
        {scenario.delivery.moves[0].id: Decimal(1)},
        actor=agent,
    )
    with (
        pytest.raises(InvalidInput, match="is a return, not a delivery"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(scenario.ticket.id, ret.id, actor=agent)


# -------------------------------------------------------------------------------------------
# RT-4: the lines and their default quantities
# -------------------------------------------------------------------------------------------


def test_rt4_default_quantity_is_delivered_minus_returned_minus_reserved(
    app: AfterSales, world: Builder, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    """Worked example: 5 Blenders and 3 Kettles delivered; a done return of 2 Blenders and
    an open one of 1 Blender and 3 Kettles leave 2 Blenders and no Kettle."""
    clock.advance(hours=1)
    delivery = world.delivery(
        customer=scenario.customer,
        lines=[(scenario.blender, 5), (scenario.kettle, 3)],
        sale_order=scenario.order,
    )
    ticket = scenario.ticket.id
    blender, kettle = move_of(delivery, scenario.blender.id), move_of(delivery, scenario.kettle.id)
    draft = app.returns.prepare(ticket, actor=agent)
    assert draft.delivery_id == delivery.id
    assert draft.delivery_reference == delivery.reference
    assert draft.source_location == "Partners/Customers"
    assert draft.return_location == "WH/Stock"
    assert lines_by_product(draft) == {
        "Blender": (Decimal(5), Decimal(0), Decimal(0), Decimal(5)),
        "Kettle": (Decimal(3), Decimal(0), Decimal(0), Decimal(3)),
    }
    first = app.returns.create(ticket, delivery.id, {blender: Decimal(2)}, actor=agent)
    app.returns.validate(first.id, actor=agent)
    app.returns.create(ticket, delivery.id, {blender: Decimal(1), kettle: Decimal(3)}, actor=agent)
    draft = app.returns.prepare(ticket, delivery.id, actor=agent)
    assert lines_by_product(draft) == {
        "Blender": (Decimal(5), Decimal(2), Decimal(1), Decimal(2)),
        "Kettle": (Decimal(3), Decimal(0), Decimal(3), Decimal(0)),  # shown with 0
    }
    assert draft.quantities() == {blender: Decimal(2), kettle: Decimal(0)}


def test_rt4_cancelled_and_scrapped_moves_are_not_lines(
    app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    toaster = world.product(name="Toaster", price=Decimal("25.00"))
    delivery = world.delivery(
        customer=scenario.customer,
        lines=[(scenario.blender, 1), (scenario.kettle, 1), (toaster, 1)],
    )
    blender, kettle, toasters = delivery.moves
    world.put(
        attrs.evolve(
            delivery,
            moves=(
                blender,
                attrs.evolve(kettle, state=MoveState.CANCELLED),
                attrs.evolve(toasters, scrapped=True),
            ),
        )
    )
    draft = app.returns.prepare(scenario.ticket.id, delivery.id, actor=agent)
    assert [line.move_id for line in draft.lines] == [blender.id]
    for excluded in (kettle.id, toasters.id):
        with pytest.raises(InvalidInput, match="is not a returnable line"):
            app.returns.create(scenario.ticket.id, delivery.id, {excluded: Decimal(1)}, actor=agent)


def test_rt4_nothing_left_to_return(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    draft = app.returns.prepare(ticket, actor=agent)
    app.returns.create(ticket, delivery.id, draft.quantities(), actor=agent)
    with (
        pytest.raises(InvalidOperation, match="nothing left to return on delivery WH/OUT/00001"),
        assert_unchanged(backend),
    ):
        app.returns.prepare(ticket, actor=agent)


def test_rt4_cancelled_returns_take_nothing(
    app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    ret = app.returns.create(ticket, delivery.id, {delivery.moves[0].id: Decimal(2)}, actor=agent)
    app.returns.cancel(ret.id, actor=agent)
    draft = app.returns.prepare(ticket, actor=agent)
    assert lines_by_product(draft)["Blender"] == (Decimal(2), Decimal(0), Decimal(0), Decimal(2))


# -------------------------------------------------------------------------------------------
# RT-5: edited quantities
# -------------------------------------------------------------------------------------------


def test_rt5_agent_edits_quantities(app: AfterSales, scenario: Scenario, agent: Actor) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    kettle = move_of(delivery, scenario.kettle.id)
    ret = app.returns.create(
        ticket, delivery.id, {blender: Decimal(1), kettle: Decimal(0)}, actor=agent
    )
    assert [(m.origin_move_id, m.quantity) for m in ret.moves] == [(blender, Decimal(1))]
    draft = app.returns.prepare(ticket, actor=agent)
    assert draft.quantities() == {blender: Decimal(1), kettle: Decimal(1)}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal(-1), "must not be negative"),
        (Decimal("-0.5"), "must not be negative"),
        (1.0, "expected a Decimal quantity"),
        (True, "expected a Decimal quantity"),
        ("1", "expected a Decimal quantity"),
        (None, "expected a Decimal quantity"),
        (Decimal("NaN"), "must be a finite number"),
        (Decimal("Infinity"), "must be a finite number"),
    ],
)
def test_rt5_bad_quantity_is_refused(
    backend: MemoryBackend,
    app: AfterSales,
    scenario: Scenario,
    agent: Actor,
    value: object,
    message: str,
) -> None:
    delivery = scenario.delivery
    move = delivery.moves[0].id
    with pytest.raises(InvalidInput, match=message) as info, assert_unchanged(backend):
        app.returns.create(scenario.ticket.id, delivery.id, {move: value}, actor=agent)  # type: ignore[dict-item]
    assert info.value.field == f"quantities[{move}]"


def test_rt5_all_zero_is_refused(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    delivery = scenario.delivery
    zeros = {m.id: Decimal(0) for m in delivery.moves}
    with (
        pytest.raises(InvalidInput, match="specify at least one non-zero quantity"),
        assert_unchanged(backend),
    ):
        app.returns.create(scenario.ticket.id, delivery.id, zeros, actor=agent)


def test_rt5_line_not_on_the_delivery_is_refused(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    other = world.delivery(customer=scenario.customer, lines=[(scenario.blender, 1)])
    delivery = scenario.delivery
    for foreign in (other.moves[0].id, "move-unknown"):
        quantities = {delivery.moves[0].id: Decimal(1), foreign: Decimal(1)}
        with (
            pytest.raises(InvalidInput, match="is not a returnable line of delivery WH/OUT/00001"),
            assert_unchanged(backend),
        ):
            app.returns.create(scenario.ticket.id, delivery.id, quantities, actor=agent)


@pytest.mark.parametrize("quantities", [[("m", Decimal(1))], "m=1", {1: Decimal(1)}])
def test_rt5_quantities_must_be_a_mapping_of_move_ids(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor, quantities: Any
) -> None:
    with pytest.raises(InvalidInput, match="quantities"), assert_unchanged(backend):
        app.returns.create(scenario.ticket.id, scenario.delivery.id, quantities, actor=agent)


def test_rt5_above_what_is_left_is_refused_naming_product_asked_and_available(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    """Stricter than the reference: it would let 3 of 2 delivered Blenders through."""
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    with pytest.raises(QuantityExceeded) as info, assert_unchanged(backend):
        app.returns.create(ticket, delivery.id, {blender: Decimal(3)}, actor=agent)
    units = scenario.blender.uom
    assert (info.value.kind, info.value.asked, info.value.available) == (
        "quantity",
        Quantity(quantity=Decimal(3), uom=units),
        Quantity(quantity=Decimal(2), uom=units),
    )
    assert str(info.value) == (
        f"return of Blender from WH/OUT/00001: asked 3 {units}, only 2 {units} available"
    )
    assert info.value.to_dict()["asked"] == {"quantity": "3", "uom": units}

    app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    with (
        pytest.raises(QuantityExceeded, match=r"Blender .*: asked 2 \w+, only 1 \w+ available"),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket, delivery.id, {blender: Decimal(2)}, actor=agent)
    # Exactly what is left is fine.
    app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    with (
        pytest.raises(QuantityExceeded, match=r"asked 1 \w+, only 0 \w+ available"),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)


# -------------------------------------------------------------------------------------------
# RT-6: units of measure
# -------------------------------------------------------------------------------------------


def test_rt6_quantities_in_the_product_unit_precision(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    """Coffee is sold by the kilogram with 2 decimals: 2.5 kg delivered."""
    coffee = world.product(name="Coffee beans", price=Decimal("18.00"), uom="kg", uom_digits=2)
    delivery = world.delivery(customer=scenario.customer, lines=[(coffee, Decimal("2.5"))])
    move = delivery.moves[0].id
    ticket = scenario.ticket.id
    draft = app.returns.prepare(ticket, delivery.id, actor=agent)
    (line,) = draft.lines
    assert (line.uom, line.delivered, line.quantity) == ("kg", Decimal("2.50"), Decimal("2.50"))
    assert str(line.quantity) == "2.50"

    ret = app.returns.create(ticket, delivery.id, {move: Decimal("1.235")}, actor=agent)
    assert ret.moves[0].quantity == Decimal("1.24")  # half up to the hundredth
    assert str(ret.moves[0].quantity) == "1.24"
    assert line_of(app.returns.prepare(ticket, delivery.id, actor=agent), move).quantity == Decimal(
        "1.26"
    )
    with (
        pytest.raises(InvalidInput, match="specify at least one non-zero quantity"),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket, delivery.id, {move: Decimal("0.004")}, actor=agent)
    with (
        pytest.raises(
            QuantityExceeded, match=r"Coffee beans .*: asked 1\.27 kg, only 1\.26 kg available"
        ),
        assert_unchanged(backend),
    ):
        app.returns.create(ticket, delivery.id, {move: Decimal("1.265")}, actor=agent)


def test_rt6_units_are_whole(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    delivery = scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    with (
        pytest.raises(InvalidInput, match="specify at least one non-zero quantity"),
        assert_unchanged(backend),
    ):
        app.returns.create(scenario.ticket.id, delivery.id, {blender: Decimal("0.4")}, actor=agent)
    ret = app.returns.create(
        scenario.ticket.id, delivery.id, {blender: Decimal("1.5")}, actor=agent
    )
    assert ret.moves[0].quantity == Decimal(2)


# -------------------------------------------------------------------------------------------
# RT-7: the return operation; validating it
# -------------------------------------------------------------------------------------------


def test_rt7_return_operation(
    app: AfterSales, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    kettle = move_of(delivery, scenario.kettle.id)
    ret = app.returns.create(
        ticket.id, delivery.id, {kettle: Decimal(1), blender: Decimal(2)}, actor=agent
    )
    assert ret.kind is PickingKind.RETURN
    assert ret.reference == "WH/RET/00001"
    assert ret.state is PickingState.READY
    assert ret.source_location == delivery.destination_location == "Partners/Customers"
    assert ret.destination_location == delivery.source_location == "WH/Stock"
    assert ret.origin == "Return of WH/OUT/00001"
    assert ret.partner_id == delivery.partner_id
    assert ret.sale_order_id == delivery.sale_order_id == scenario.order.id
    assert ret.return_of_id == delivery.id
    assert ret.ticket_id == ticket.id
    assert ret.created_at == clock.now()
    assert ret.done_at is None
    # One move per non-zero line, in the delivery's order, linked to the original move.
    assert [(m.origin_move_id, m.product_id, m.quantity, m.state) for m in ret.moves] == [
        (blender, scenario.blender.id, Decimal(2), MoveState.CONFIRMED),
        (kettle, scenario.kettle.id, Decimal(1), MoveState.CONFIRMED),
    ]
    assert app.hooks.get_picking(ret.id) == ret
    assert app.hooks.list_returns(delivery.id) == [ret]


def test_rt7_references_follow_the_sequence(
    app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    refs = [
        app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent).reference
        for _ in range(2)
    ]
    assert refs == ["WH/RET/00001", "WH/RET/00002"]


def test_rt7_return_location_can_be_chosen(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    quantities = {delivery.moves[0].id: Decimal(1)}
    ret = app.returns.create(
        ticket, delivery.id, quantities, return_location="WH/Repair", actor=agent
    )
    assert ret.destination_location == "WH/Repair"
    bad_locations: tuple[Any, ...] = ("", "   ", "WH/\x00Stock", 42)
    for bad in bad_locations:
        with pytest.raises(InvalidInput, match="return_location"), assert_unchanged(backend):
            app.returns.create(ticket, delivery.id, quantities, return_location=bad, actor=agent)


def test_rt7_validating_makes_it_done_and_counts_as_returned(
    app: AfterSales, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    ret = app.returns.create(ticket, delivery.id, {blender: Decimal(2)}, actor=agent)
    assert line_of(app.returns.prepare(ticket, actor=agent), blender).reserved == Decimal(2)
    clock.advance(days=2)
    done = app.returns.validate(ret.id, actor=agent)
    assert done.state is PickingState.DONE
    assert done.done_at == clock.now()
    assert all(m.state is MoveState.DONE for m in done.moves)
    assert app.hooks.get_picking(ret.id) == done
    line = line_of(app.returns.prepare(ticket, actor=agent), blender)
    assert (line.returned, line.reserved, line.quantity) == (Decimal(2), Decimal(0), Decimal(0))


def test_rt7_only_open_returns_can_be_validated(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    quantities = {delivery.moves[0].id: Decimal(1)}
    done = app.returns.create(ticket, delivery.id, quantities, actor=agent)
    app.returns.validate(done.id, actor=agent)
    cancelled = app.returns.create(ticket, delivery.id, quantities, actor=agent)
    app.returns.cancel(cancelled.id, actor=agent)
    with (
        pytest.raises(
            InvalidState, match="return WH/RET/00001 is done; only open returns can be validated"
        ),
        assert_unchanged(backend),
    ):
        app.returns.validate(done.id, actor=agent)
    with (
        pytest.raises(InvalidState, match="is cancelled; only open returns can be validated"),
        assert_unchanged(backend),
    ):
        app.returns.validate(cancelled.id, actor=agent)
    with (
        pytest.raises(InvalidOperation, match="WH/OUT/00001 is a delivery, not a return"),
        assert_unchanged(backend),
    ):
        app.returns.validate(delivery.id, actor=agent)
    with (
        pytest.raises(NotFound, match="picking ret-nope does not exist"),
        assert_unchanged(backend),
    ):
        app.returns.validate("ret-nope", actor=agent)
    with pytest.raises(InvalidInput, match="return_id"), assert_unchanged(backend):
        app.returns.validate(None, actor=agent)  # type: ignore[arg-type]


def test_rt7_return_not_created_from_a_ticket_is_refused(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    delivery = scenario.delivery
    stray = Picking(
        id="ret-stray",
        kind=PickingKind.RETURN,
        reference="WH/RET/09999",
        partner_id=delivery.partner_id,
        source_location=delivery.destination_location,
        destination_location=delivery.source_location,
        state=PickingState.READY,
        moves=(),
        created_at=delivery.created_at,
        return_of_id=delivery.id,
    )
    world.put(stray)
    with (
        pytest.raises(InvalidOperation, match="is not linked to a ticket"),
        assert_unchanged(backend),
    ):
        app.returns.cancel(stray.id, actor=agent)


# -------------------------------------------------------------------------------------------
# RT-8: the ticket view, the trail, the audit and the events
# -------------------------------------------------------------------------------------------


def test_rt8_ticket_view_counts_and_lists_returns(
    app: AfterSales, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    assert app.tickets.view(ticket, actor=agent).counts.returns == 0
    first = app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    clock.advance(minutes=5)
    second = app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    app.returns.validate(first.id, actor=agent)
    view = app.tickets.view(ticket, actor=agent)
    assert view.counts.returns == 2
    docs = [(d.kind, d.name, d.state, d.detail) for d in view.documents]
    assert docs == [
        (DocumentKind.RETURN, "WH/RET/00001", "done", "Return of WH/OUT/00001"),
        (DocumentKind.RETURN, "WH/RET/00002", "ready", "Return of WH/OUT/00001"),
    ]
    assert [r.id for r in app.returns.returns(ticket, actor=agent)] == [first.id, second.id]


def test_rt8_trail_on_create_and_done(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    kettle = move_of(delivery, scenario.kettle.id)
    first = app.returns.create(
        ticket, delivery.id, {blender: Decimal(2), kettle: Decimal(1)}, actor=agent
    )
    clock.advance(minutes=1)
    app.returns.validate(first.id, actor=agent)
    trail = app.tickets.view(ticket, actor=agent).trail
    assert [m.body for m in trail] == [
        "Return done: WH/RET/00001 (Return of WH/OUT/00001) by agent",
        "Return created: WH/RET/00001 (Return of WH/OUT/00001: Blender × 2, Kettle × 1) by agent",
    ]
    assert all(
        (m.author_id, m.document_kind, m.document_id) == ("agent", DocumentKind.RETURN, first.id)
        for m in trail
    )
    audit = [(e.action, e.document_ids) for e in backend.aftersales_store_audit_list(ticket)]
    assert audit == [("return created", (first.id,)), ("return done", (first.id,))]


def test_rt8_rt9_trail_on_cancel(
    app: AfterSales, backend: MemoryBackend, clock: FrozenClock, scenario: Scenario
) -> None:
    boss = Actor(
        user_id="warehouse-lead", groups=frozenset({Group.HELPDESK_USER, Group.STOCK_USER})
    )
    ticket, delivery = scenario.ticket.id, scenario.delivery
    ret = app.returns.create(
        ticket, delivery.id, {delivery.moves[1].id: Decimal(1)}, actor=scenario.actors.agent
    )
    clock.advance(minutes=1)
    app.returns.cancel(ret.id, actor=boss)
    latest = app.tickets.view(ticket, actor=boss).trail[0]
    assert latest.body == (
        "Return cancelled: WH/RET/00001 (Return of WH/OUT/00001) by warehouse-lead; "
        "its reserved quantities are released"
    )
    assert latest.author_id == "warehouse-lead"
    assert backend.aftersales_store_audit_list(ticket)[-1].action == "return cancelled"


def test_rt8_events_after_commit_only(
    app: AfterSales, backend: MemoryBackend, recorder: Witness, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    with pytest.raises(QuantityExceeded):
        app.returns.create(ticket, delivery.id, {blender: Decimal(9)}, actor=agent)
    assert recorder.events == []
    ret = app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    app.returns.validate(ret.id, actor=agent)
    other = app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    app.returns.cancel(other.id, actor=agent)
    summary = [
        (type(e).__name__, e.document_id, getattr(e, "change", None))
        for e in recorder.events
        if isinstance(e, DocumentCreated | DocumentChanged)
    ]
    assert summary == [
        ("DocumentCreated", ret.id, None),
        ("DocumentChanged", ret.id, "done"),
        ("DocumentCreated", other.id, None),
        ("DocumentChanged", other.id, "cancelled"),
    ]
    assert all(getattr(e, "kind", None) is DocumentKind.RETURN for e in recorder.events)


def test_rt8_counts_stay_right_after_failed_calls(
    app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    """AC-6: a refused call links nothing."""
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    for quantities in ({blender: Decimal(5)}, {blender: Decimal(-1)}, {}):
        with pytest.raises((QuantityExceeded, InvalidInput)):
            app.returns.create(ticket, delivery.id, quantities, actor=agent)
    view = app.tickets.view(ticket, actor=agent)
    assert view.counts.returns == len(view.documents) == 1
    assert len(view.trail) == 1


# -------------------------------------------------------------------------------------------
# RT-9: cancelling releases the reservation
# -------------------------------------------------------------------------------------------


def test_rt9_cancel_releases_the_reserved_quantity(
    app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    ret = app.returns.create(ticket, delivery.id, {blender: Decimal(2)}, actor=agent)
    with pytest.raises(QuantityExceeded, match="only 0 Units available"):
        app.returns.create(ticket, delivery.id, {blender: Decimal(1)}, actor=agent)
    cancelled = app.returns.cancel(ret.id, actor=agent)
    assert cancelled.state is PickingState.CANCELLED
    assert cancelled.done_at is None
    assert all(m.state is MoveState.CANCELLED for m in cancelled.moves)
    line = line_of(app.returns.prepare(ticket, actor=agent), blender)
    assert (line.reserved, line.quantity) == (Decimal(0), Decimal(2))
    again = app.returns.create(ticket, delivery.id, {blender: Decimal(2)}, actor=agent)
    assert again.reference == "WH/RET/00002"


def test_rt9_done_or_cancelled_returns_cannot_be_cancelled(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    quantities = {delivery.moves[0].id: Decimal(1)}
    done = app.returns.validate(
        app.returns.create(ticket, delivery.id, quantities, actor=agent).id, actor=agent
    )
    cancelled = app.returns.cancel(
        app.returns.create(ticket, delivery.id, quantities, actor=agent).id, actor=agent
    )
    for ret in (done, cancelled):
        with (
            pytest.raises(InvalidState, match="only open returns can be cancelled"),
            assert_unchanged(backend),
        ):
            app.returns.cancel(ret.id, actor=agent)


# -------------------------------------------------------------------------------------------
# Rights (AC-2, AC-3, AC-4), the database lock (G-2) and nothing changing (G-3)
# -------------------------------------------------------------------------------------------


@pytest.fixture
def a_return(app: AfterSales, scenario: Scenario, agent: Actor) -> Picking:
    delivery = scenario.delivery
    return app.returns.create(
        scenario.ticket.id, delivery.id, {delivery.moves[0].id: Decimal(1)}, actor=agent
    )


def every_call(
    app: AfterSales, scenario: Scenario, ret: Picking, actor: Actor
) -> Iterator[Callable[[], object]]:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    yield lambda: app.returns.deliveries(ticket, actor=actor)
    yield lambda: app.returns.prepare(ticket, actor=actor)
    yield lambda: app.returns.create(
        ticket, delivery.id, {delivery.moves[1].id: Decimal(1)}, actor=actor
    )
    yield lambda: app.returns.validate(ret.id, actor=actor)
    yield lambda: app.returns.cancel(ret.id, actor=actor)
    yield lambda: app.returns.returns(ticket, actor=actor)


@pytest.mark.parametrize(
    ("groups", "missing"),
    [
        ({Group.HELPDESK_USER}, "stock_user"),
        ({Group.HELPDESK_MANAGER, Group.BILLING}, "stock_user"),
        ({Group.STOCK_USER}, "helpdesk_user"),
        ({Group.PORTAL}, "helpdesk_user, stock_user"),
        (set(), "helpdesk_user, stock_user"),
    ],
)
def test_ac2_returns_need_helpdesk_user_and_stock_user(
    backend: MemoryBackend,
    app: AfterSales,
    scenario: Scenario,
    a_return: Picking,
    groups: set[Group],
    missing: str,
) -> None:
    actor = Actor(user_id="someone", groups=frozenset(groups))
    for call in every_call(app, scenario, a_return, actor):
        with (
            pytest.raises(
                AccessDenied, match=f"return: user someone is not in group\\(s\\): {missing}"
            ),
            assert_unchanged(backend),
        ):
            call()


def test_ac2_system_actor_may_return(
    app: AfterSales, scenario: Scenario, a_return: Picking, actors: Any
) -> None:
    system, ticket, delivery = actors.system, scenario.ticket.id, scenario.delivery
    assert app.returns.deliveries(ticket, actor=system) == (delivery,)
    assert app.returns.prepare(ticket, actor=system).delivery_id == delivery.id
    ret = app.returns.create(ticket, delivery.id, {delivery.moves[1].id: Decimal(1)}, actor=system)
    assert app.returns.validate(ret.id, actor=system).state is PickingState.DONE
    assert app.returns.cancel(a_return.id, actor=system).state is PickingState.CANCELLED
    assert app.returns.returns(ticket, actor=system) == (
        app.hooks.get_picking(a_return.id),
        app.hooks.get_picking(ret.id),
    )


def test_ac3_members_only_team(
    backend: MemoryBackend, app: AfterSales, world: Builder, scenario: Scenario, agent: Actor
) -> None:
    private = world.team(
        name="VIP", services=frozenset(Service), members=["vip-agent"], members_only=True
    )
    ticket = world.ticket(
        team=private, title="VIP blender", customer=scenario.customer, product=scenario.blender
    )
    vip = Actor(user_id="vip-agent", groups=agent.groups)
    ret = app.returns.create(
        ticket.id, scenario.delivery.id, {scenario.delivery.moves[0].id: Decimal(1)}, actor=vip
    )
    for call in every_call(app, attrs.evolve(scenario, ticket=ticket), ret, agent):
        with (
            pytest.raises(AccessDenied, match="restricted to its members"),
            assert_unchanged(backend),
        ):
            call()


def test_g2_locked_database_refuses_returns(
    backend: MemoryBackend,
    app: AfterSales,
    clock: FrozenClock,
    scenario: Scenario,
    a_return: Picking,
    agent: Actor,
) -> None:
    backend.aftersales_subscription_save(
        Subscription(
            state=SubscriptionState.EXPIRED,
            trial_started_at=clock.now() - timedelta(days=20),
            trial_ends_at=clock.now() - timedelta(days=5),
        )
    )
    for call in every_call(app, scenario, a_return, agent):
        with pytest.raises(DatabaseLocked), assert_unchanged(backend):
            call()


def test_g2_service_turned_off_after_a_return(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, a_return: Picking, agent: Actor
) -> None:
    """Validating or cancelling needs the service on; the list stays readable."""
    backend.aftersales_store_save_team_config(TeamConfig(team_id=scenario.team.id))  # all off
    calls: list[Callable[[], object]] = [
        lambda: app.returns.validate(a_return.id, actor=agent),
        lambda: app.returns.cancel(a_return.id, actor=agent),
    ]
    for call in calls:
        with pytest.raises(ServiceDisabled), assert_unchanged(backend):
            call()
    assert app.returns.returns(scenario.ticket.id, actor=agent) == (a_return,)


# -------------------------------------------------------------------------------------------
# Idempotency (RL-2) and records that round-trip
# -------------------------------------------------------------------------------------------


def test_rl2_create_with_the_same_key_returns_the_first_return(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, agent: Actor
) -> None:
    ticket, delivery = scenario.ticket.id, scenario.delivery
    blender = move_of(delivery, scenario.blender.id)
    first = app.returns.create(
        ticket, delivery.id, {blender: Decimal(1)}, actor=agent, idempotency_key="req-1"
    )
    with assert_unchanged(backend):
        again = app.returns.create(
            ticket, delivery.id, {blender: Decimal("1.0")}, actor=agent, idempotency_key="req-1"
        )
    assert again == first
    with (
        pytest.raises(IdempotencyConflict, match="req-1 was used with different arguments"),
        assert_unchanged(backend),
    ):
        app.returns.create(
            ticket, delivery.id, {blender: Decimal(2)}, actor=agent, idempotency_key="req-1"
        )
    with (
        pytest.raises(IdempotencyConflict, match=r"req-1 was used for returns\.create"),
        assert_unchanged(backend),
    ):
        app.returns.validate(first.id, actor=agent, idempotency_key="req-1")
    assert app.tickets.view(ticket, actor=agent).counts.returns == 1


def test_rl2_validate_and_cancel_replay(
    backend: MemoryBackend, app: AfterSales, scenario: Scenario, a_return: Picking, agent: Actor
) -> None:
    done = app.returns.validate(a_return.id, actor=agent, idempotency_key="val-1")
    with assert_unchanged(backend):
        assert app.returns.validate(a_return.id, actor=agent, idempotency_key="val-1") == done
    delivery = scenario.delivery
    other = app.returns.create(
        scenario.ticket.id, delivery.id, {delivery.moves[1].id: Decimal(1)}, actor=agent
    )
    cancelled = app.returns.cancel(other.id, actor=agent, idempotency_key="can-1")
    with assert_unchanged(backend):
        assert app.returns.cancel(other.id, actor=agent, idempotency_key="can-1") == cancelled


def test_records_round_trip_through_the_converter(
    app: AfterSales, scenario: Scenario, a_return: Picking, agent: Actor
) -> None:
    draft = app.returns.prepare(scenario.ticket.id, actor=agent)
    assert loads(dumps(draft), ReturnDraft) == draft
    assert loads(dumps(a_return), Picking) == a_return
    offered = app.returns.deliveries(scenario.ticket.id, actor=agent)
    assert loads(dumps(offered), tuple[Picking, ...]) == offered
    assert attrs.has(ReturnLine)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        draft.delivery_id = "x"  # type: ignore[misc]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_g4_a_long_trail_summary_is_cut_and_the_ticket_stays_readable(
    kind: str, clock: FrozenClock, new_sqlite: Callable[[], str]
) -> None:
    """A return of 90 products with long names: its trail message would be longer than a
    message holds (MAX_TEXT). The return is made, the message and the audit entry are cut
    with an ellipsis, and the ticket view (which reads the trail back) still works."""
    backend: Any = MemoryBackend() if kind == "memory" else SqlBackend(new_sqlite())
    world = backend.builder(clock)
    sc = build_scenario(world)
    products = [
        world.product(name=f"P{i:03d} " + "x" * 240, price=Decimal("1.00")) for i in range(90)
    ]
    delivery = world.delivery(customer=sc.customer, lines=[(p, 1) for p in products])
    app = AfterSales(backend, clock=clock)
    made = app.returns.create(
        sc.ticket.id, delivery.id, {m.id: Decimal(1) for m in delivery.moves}, actor=sc.actors.agent
    )
    view = app.tickets.view(sc.ticket.id, actor=sc.actors.agent)
    assert view.counts.returns == 1
    (message,) = [m for m in app.hooks.list_messages(sc.ticket.id) if m.document_id == made.id]
    assert len(message.body) == MAX_TEXT
    assert message.body.endswith("…")
    (entry,) = [e for e in app.hooks.audit_list(sc.ticket.id) if made.id in e.document_ids]
    assert len(entry.detail) == MAX_TEXT
    attrs.validate(message)
    attrs.validate(entry)
    if kind == "sqlite":
        backend.close()
