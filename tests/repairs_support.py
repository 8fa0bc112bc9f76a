"""Helpers for the repair tests: a kit that builds repairs in any state and extra records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from aftersales import AfterSales, FrozenClock
from aftersales.builder import Builder
from aftersales.errors import NotFound
from aftersales.models import (
    Actor,
    Invoice,
    InvoiceMethod,
    InvoiceState,
    MoveState,
    OperationLine,
    PartAction,
    PartLine,
    Partner,
    Picking,
    PickingKind,
    PickingState,
    Product,
    ProductKind,
    RepairOrder,
    RepairState,
    StockMove,
)
from aftersales.testing import Scenario

INTERNAL = "INTERNAL-ONLY: customer was rude, waive nothing"
QUOTE = "Parts are guaranteed for 6 months."


@attrs.define
class Kit:
    """The app, the backend, the standard world and a few repair-specific records."""

    app: AfterSales
    backend: Any
    world: Scenario
    clock: FrozenClock
    builder: Builder
    motor: Product
    labour: Product
    agent: Actor

    @classmethod
    def build(cls, app: AfterSales, backend: Any, world: Scenario, clock: FrozenClock) -> Kit:
        builder: Builder = backend.builder(clock)
        motor = builder.product(name="Motor", price=Decimal("18.50"), taxes=("21%",))
        labour = builder.product(
            name="Labour",
            price=Decimal("30.00"),
            taxes=("21%",),
            kind=ProductKind.SERVICE,
            uom="Hours",
            uom_digits=2,
        )
        return cls(app, backend, world, clock, builder, motor, labour, world.actors.agent)

    # -- records --------------------------------------------------------------------------

    def return_picking(
        self,
        *,
        customer: Partner | None = None,
        products: tuple[Product, ...] | None = None,
        state: PickingState = PickingState.DONE,
        kind: PickingKind = PickingKind.RETURN,
        ticket_id: str | None = None,
    ) -> Picking:
        """A return (by default of the scenario's customer, with a blender)."""
        customer = customer or self.world.customer
        products = products if products is not None else (self.world.blender,)
        now = self.clock.now()
        picking = Picking(
            id=f"ret-{self.builder.next_number('test-ret')}",
            kind=kind,
            reference=f"WH/RET/{self.builder.next_number('WH/RET'):05d}",
            partner_id=customer.id,
            source_location="Partners/Customers",
            destination_location="WH/Stock",
            state=state,
            moves=tuple(
                StockMove(
                    id=f"rmove-{self.builder.next_number('test-rmove')}",
                    product_id=p.id,
                    quantity=Decimal(1),
                    state=MoveState.DONE,
                )
                for p in products
            ),
            created_at=now,
            done_at=now if state is PickingState.DONE else None,
            return_of_id=self.world.delivery.id,
            ticket_id=ticket_id,
        )
        self.builder.put(picking)
        return picking

    def post(self, invoice: Invoice) -> Invoice:
        """What the billing team does with a draft invoice: post it."""
        posted = attrs.evolve(
            invoice,
            state=InvoiceState.POSTED,
            number="INV/2026/09999",
            invoice_date=self.clock.now().date(),
            residual=invoice.total,
        )
        self.builder.put(posted)
        return posted

    # -- repairs --------------------------------------------------------------------------

    def lines(self) -> dict[str, Any]:
        """One added motor, one removed motor, 1.5 hours of labour."""
        return {
            "parts": (
                PartLine(action=PartAction.ADD, product_id=self.motor.id, quantity=Decimal(1)),
                PartLine(
                    action=PartAction.REMOVE,
                    product_id=self.motor.id,
                    quantity=Decimal(1),
                    lot="OLD-1",
                ),
            ),
            "operations": (OperationLine(product_id=self.labour.id, quantity=Decimal("1.5")),),
        }

    def create(self, **fields: Any) -> RepairOrder:
        """A draft repair on the scenario's ticket, with the standard lines."""
        values: dict[str, Any] = {**self.lines(), **fields}
        return self.app.repairs.create(self.world.ticket.id, actor=self.agent, **values)

    def in_state(
        self, state: RepairState, method: InvoiceMethod = InvoiceMethod.NONE, **fields: Any
    ) -> RepairOrder:
        """A repair driven through the public calls until it is in ``state``."""
        repairs = self.app.repairs
        actor = self.agent
        if state is RepairState.TO_INVOICE and method is InvoiceMethod.NONE:
            method = InvoiceMethod.BEFORE_REPAIR
        if state is RepairState.READY:
            method = InvoiceMethod.BEFORE_REPAIR
        repair = self.create(invoice_method=method, **fields)
        if state is RepairState.DRAFT:
            return repair
        if state is RepairState.CANCELLED:
            return repairs.cancel(repair.id, actor=actor)
        repair = repairs.confirm(repair.id, actor=actor)
        if state is repair.state:
            return repair
        if repair.state is RepairState.TO_INVOICE:
            repair = repairs.create_invoice(repair.id, actor=actor).repair
            if state is repair.state:
                return repair
        repair = repairs.start(repair.id, actor=actor)
        if state is repair.state:
            return repair
        repair = repairs.end(repair.id, actor=actor)
        if state is repair.state:
            return repair
        repair = repairs.create_invoice(repair.id, actor=actor).repair
        assert repair.state is state, (repair.state, state)
        return repair

    def stored(self, repair_id: str) -> RepairOrder | None:
        """The repair as the backend holds it, or ``None`` when it does not exist."""
        hooks = self.app.hooks

        def read(_uow: Any) -> RepairOrder | None:
            try:
                return hooks.get_repair(repair_id)
            except NotFound:
                return None

        return self.app.runtime.read(read)

    def invoice(self, invoice_id: str) -> Invoice:
        return self.app.runtime.read(lambda _uow: self.app.hooks.get_invoice(invoice_id))
