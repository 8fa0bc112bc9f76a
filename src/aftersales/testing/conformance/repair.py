"""Contract of the repair port: repair orders with unique references (RP-7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import DuplicateKey, NotFound
from aftersales.models import (
    InvoiceMethod,
    Money,
    PartAction,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairState,
    Tax,
)

from ._kit import ContractBase, Kit

__all__ = ["RepairContract"]


def _repair(kit: Kit, number: int, reference: str | None = None) -> RepairOrder:
    eur = "EUR"
    vat = Tax(name="21%", percent=Decimal(21))
    return RepairOrder(
        id=f"repair-{number}",
        reference=reference or f"RO/{number:05d}",
        product_id="product-blender",
        customer_id="partner-ana",
        currency=eur,
        created_at=kit.clock.now(),
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


class RepairContract(ContractBase):
    """`aftersales_repair_*`."""

    def test_repair_round_trip_and_update(self, kit: Kit) -> None:
        repair = _repair(kit, 1)
        kit.write(lambda h: h.save_repair(repair))
        assert kit.read(lambda h: h.get_repair(repair.id)) == repair
        assert kit.read(lambda h: h.get_repair(repair.id, lock=True)) == repair
        confirmed = attrs.evolve(repair, state=RepairState.CONFIRMED, parts=(), invoice_id="inv-9")
        kit.write(lambda h: h.save_repair(confirmed))
        assert kit.read(lambda h: h.get_repair(repair.id)) == confirmed
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_repair("repair-missing"))

    def test_references_are_unique(self, kit: Kit) -> None:
        """RP-7: another order with a taken reference is refused; nothing changes."""
        kit.write(lambda h: h.save_repair(_repair(kit, 1, "RO/00001")))
        with kit.unchanged(), pytest.raises(DuplicateKey, match="repair reference RO/00001"):
            kit.write(lambda h: h.save_repair(_repair(kit, 2, "RO/00001")))

    def test_delete_returns_the_order_and_frees_its_reference(self, kit: Kit) -> None:
        repair = _repair(kit, 1)
        kit.write(lambda h: h.save_repair(repair))
        assert kit.write(lambda h: h.delete_repair(repair.id)) == repair
        with pytest.raises(NotFound):
            kit.read(lambda h: h.get_repair(repair.id))
        again = _repair(kit, 2, repair.reference)
        kit.write(lambda h: h.save_repair(again))
        assert kit.read(lambda h: h.get_repair(again.id)) == again
        assert kit.backend.aftersales_repair_delete_order(repair_id="repair-none") is None
