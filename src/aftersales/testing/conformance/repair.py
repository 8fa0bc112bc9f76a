"""Contract of the repair port: the ERP creates, changes, moves and deletes repair orders
(RP-7, RP-8, RP-10) and finds them by operation reference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales.errors import InvalidState, NotFound
from aftersales.models import (
    InvoiceMethod,
    Money,
    PartAction,
    RepairAction,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairRequest,
    RepairState,
    Tax,
)

from ._kit import ContractBase, Kit

__all__ = ["RepairContract"]


def _request(kit: Kit, **changes: Any) -> RepairRequest:
    eur = "EUR"
    vat = Tax(name="21%", percent=Decimal(21))
    request = RepairRequest(
        product_id="product-blender",
        customer_id="partner-ana",
        currency=eur,
        at=kit.clock.now(),
        quantity=Decimal("1"),
        lot="LOT-7",
        ticket_id="ticket-1",
        description="Motor stops\nafter a minute",
        sale_order_id="so-1",
        return_id="ret-1",
        invoice_method=InvoiceMethod.AFTER_REPAIR,
        invoice_address_id="partner-ana",
        parts=(
            RepairPart(
                action=PartAction.ADD,
                product_id="product-motor",
                quantity=Decimal("1"),
                unit_price=Money(amount=Decimal("15.50"), currency=eur),
                taxes=(vat,),
                lot="M-1",
            ),
            RepairPart(
                action=PartAction.REMOVE,
                product_id="product-old-motor",
                quantity=Decimal("1"),
                unit_price=Money(amount=Decimal("0"), currency=eur),
            ),
        ),
        operations=(
            RepairOperation(
                product_id="product-labour",
                quantity=Decimal("1.5"),
                unit_price=Money(amount=Decimal("30.00"), currency=eur),
                taxes=(vat,),
                description="Labour",
            ),
        ),
        internal_notes="Check the fuse",
        quotation_notes="Parts and labour",
        responsible_user_id="tech-1",
        scheduled_date=date(2026, 12, 2),
        warranty_expiration=date(2027, 11, 28),
    )
    return attrs.evolve(request, **changes)


def _kept(request: RepairRequest) -> dict[str, object]:
    """What an order made from `request` keeps of it."""
    return {name: getattr(request, name) for name in attrs.fields_dict(RepairRequest)} | {
        "at": None
    }


def _as_request(repair: RepairOrder) -> dict[str, object]:
    return {
        name: getattr(repair, name) for name in attrs.fields_dict(RepairRequest) if name != "at"
    } | {"at": None}


class RepairContract(ContractBase):
    """`aftersales_repair_*`: the ERP creates, changes, moves and deletes repair orders and
    answers with the order as it made it; every write carries its operation reference."""

    def _create(self, kit: Kit, reference: str = "op-create", **changes: Any) -> RepairOrder:
        request = _request(kit, **changes)
        return kit.write(lambda h: h.create_repair(request, reference))

    def test_a_new_order_is_a_draft_with_the_erps_id_and_reference(self, kit: Kit) -> None:
        request = _request(kit)
        made = kit.write(lambda h: h.create_repair(request, "op-1"))
        assert (made.state, made.operation_ref, made.invoice_id) == (
            RepairState.DRAFT,
            "op-1",
            None,
        )
        assert made.id
        assert made.reference
        assert _as_request(made) == _kept(request)
        assert made.created_at == request.at
        assert kit.read(lambda h: h.get_repair(made.id)) == made
        assert kit.read(lambda h: h.get_repair(made.id, lock=True)) == made
        assert kit.read(lambda h: list(h.find_repairs("op-1"))) == [made]
        assert kit.read(lambda h: list(h.find_repairs("op-none"))) == []
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_repair("repair-missing"))

    def test_references_and_ids_are_unique(self, kit: Kit) -> None:
        """RP-7: every new order has its own id and reference."""
        made = [self._create(kit, f"op-{n}") for n in range(3)]
        assert len({r.id for r in made}) == len({r.reference for r in made}) == 3

    def test_update_replaces_the_fields_and_refuses_what_the_state_forbids(self, kit: Kit) -> None:
        made = self._create(kit)
        request = _request(kit, description="Noisy", parts=(), quantity=Decimal(2))
        fields = frozenset({"description", "parts", "quantity"})
        updated = kit.write(lambda h: h.update_repair(made.id, request, fields, "op-edit"))
        assert (updated.description, updated.quantity) == ("Noisy", Decimal(2))
        assert updated.parts == ()
        assert (updated.id, updated.reference, updated.state) == (
            made.id,
            made.reference,
            RepairState.DRAFT,
        )
        assert updated.operation_ref == "op-edit"
        assert kit.read(lambda h: h.get_repair(made.id)) == updated
        assert kit.read(lambda h: list(h.find_repairs("op-edit"))) == [updated]
        confirmed = kit.write(
            lambda h: h.transition_repair(made.id, RepairAction.CONFIRM, "op-confirm")
        )
        other = _request(kit, product_id="product-kettle")
        with kit.unchanged(), pytest.raises(InvalidState, match="draft"):
            kit.write(
                lambda h: h.update_repair(made.id, other, frozenset({"product_id"}), "op-refused")
            )
        assert kit.read(lambda h: h.get_repair(made.id)) == confirmed
        with pytest.raises(NotFound):
            kit.write(lambda h: h.update_repair("repair-none", request, fields, "op-x"))

    def test_the_erp_moves_an_order_through_its_life_cycle(self, kit: Kit) -> None:
        """RP-8: confirm, start, end, create invoice; a move the life cycle lacks is refused
        and changes nothing."""
        made = self._create(kit)

        def move(action: RepairAction, ref: str, invoice_id: str | None = None) -> RepairOrder:
            return kit.write(lambda h: h.transition_repair(made.id, action, ref, invoice_id))

        with kit.unchanged(), pytest.raises(InvalidState):
            move(RepairAction.START, "op-early")
        assert move(RepairAction.CONFIRM, "op-a").state is RepairState.CONFIRMED
        assert move(RepairAction.START, "op-b").state is RepairState.UNDER_REPAIR
        ended = move(RepairAction.END, "op-c")
        assert ended.state is RepairState.TO_INVOICE
        invoiced = move(RepairAction.CREATE_INVOICE, "op-d", "inv-9")
        assert (invoiced.state, invoiced.invoice_id) == (RepairState.DONE, "inv-9")
        assert kit.read(lambda h: h.get_repair(made.id)) == invoiced
        assert kit.read(lambda h: list(h.find_repairs("op-d"))) == [invoiced]
        with kit.unchanged(), pytest.raises(InvalidState):
            move(RepairAction.CANCEL, "op-late")

    def test_cancel_and_reset_to_draft_forgets_the_invoice(self, kit: Kit) -> None:
        made = self._create(kit, invoice_method=InvoiceMethod.BEFORE_REPAIR)

        def move(action: RepairAction, ref: str, invoice_id: str | None = None) -> RepairOrder:
            return kit.write(lambda h: h.transition_repair(made.id, action, ref, invoice_id))

        assert move(RepairAction.CONFIRM, "op-a").state is RepairState.TO_INVOICE
        assert move(RepairAction.CREATE_INVOICE, "op-b", "inv-1").state is RepairState.READY
        cancelled = move(RepairAction.CANCEL, "op-c")
        assert (cancelled.state, cancelled.invoice_id) == (RepairState.CANCELLED, "inv-1")
        reset = move(RepairAction.RESET_TO_DRAFT, "op-d")
        assert (reset.state, reset.invoice_id) == (RepairState.DRAFT, None)
        with pytest.raises(NotFound):
            kit.write(lambda h: h.transition_repair("repair-none", RepairAction.CONFIRM, "op-x"))

    def test_delete_takes_only_drafts_and_cancelled_orders(self, kit: Kit) -> None:
        """RP-10: a confirmed order stays; a draft is deleted and returned as it was."""
        draft = self._create(kit, "op-1")
        kept = self._create(kit, "op-2")
        kept = kit.write(lambda h: h.transition_repair(kept.id, RepairAction.CONFIRM, "op-3"))
        with kit.unchanged(), pytest.raises(InvalidState, match="draft or cancelled"):
            kit.write(lambda h: h.delete_repair(kept.id, "op-4"))
        assert kit.write(lambda h: h.delete_repair(draft.id, "op-5")) == draft
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_repair(draft.id))
        assert kit.read(lambda h: list(h.find_repairs("op-1"))) == []
        assert kit.read(lambda h: h.get_repair(kept.id)) == kept
        assert (
            kit.backend.aftersales_repair_delete_repair(repair_id="repair-none", reference="op")
            is None
        )
