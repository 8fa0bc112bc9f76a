"""The after-sales services: pure business rules over the hooks, one module per service."""

from aftersales.services.coupons import CouponService
from aftersales.services.field_service import FieldServiceService
from aftersales.services.idempotency import IdempotencyService
from aftersales.services.outbox import OutboxService
from aftersales.services.refunds import RefundService
from aftersales.services.repairs import RepairService
from aftersales.services.returns import ReturnService
from aftersales.services.tickets import TicketViewService

__all__ = [
    "CouponService",
    "FieldServiceService",
    "IdempotencyService",
    "OutboxService",
    "RefundService",
    "RepairService",
    "ReturnService",
    "TicketViewService",
]
