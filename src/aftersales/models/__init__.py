"""The domain records: frozen attrs classes and enums, one module per concept."""

from attrs import evolve

from aftersales.models.access import Actor, Group
from aftersales.models.accounting import (
    CreditMethod,
    Invoice,
    InvoiceDraft,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    Match,
    MatchKind,
    Payment,
    PaymentState,
    Refundable,
    Reversal,
    ReversalResult,
)
from aftersales.models.audit import AuditEntry
from aftersales.models.events import (
    DocumentChanged,
    DocumentCreated,
    EmailDelivery,
    Event,
    ServicesConfigured,
    SubscriptionChanged,
)
from aftersales.models.helpdesk import (
    DocumentKind,
    DocumentLink,
    Service,
    Team,
    TeamConfig,
    Ticket,
    TicketMessage,
)
from aftersales.models.idempotency import IdempotencyRecord
from aftersales.models.loyalty import (
    Coupon,
    CouponProgram,
    CouponRule,
    CouponState,
    CouponUse,
    ProgramTrigger,
    ProgramType,
    Reward,
    RewardKind,
)
from aftersales.models.mail import DeliveryReport, EmailState, OutgoingEmail
from aftersales.models.money import Money
from aftersales.models.orders import Order, OrderLine
from aftersales.models.partners import Partner
from aftersales.models.products import LineAmounts, Product, ProductKind, Quantity, Tax
from aftersales.models.projects import FieldServiceTask, Project, TaskStage
from aftersales.models.repairs import (
    InvoiceMethod,
    OperationLine,
    PartAction,
    PartLine,
    RepairInvoiced,
    RepairOperation,
    RepairOrder,
    RepairPart,
    RepairState,
)
from aftersales.models.sales import SaleOrder
from aftersales.models.stock import MoveState, Picking, PickingKind, PickingState, StockMove
from aftersales.models.subscription import Subscription, SubscriptionState

__all__ = [
    "Actor",
    "AuditEntry",
    "Coupon",
    "CouponProgram",
    "CouponRule",
    "CouponState",
    "CouponUse",
    "CreditMethod",
    "DeliveryReport",
    "DocumentChanged",
    "DocumentCreated",
    "DocumentKind",
    "DocumentLink",
    "EmailDelivery",
    "EmailState",
    "Event",
    "FieldServiceTask",
    "Group",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceDraft",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceMethod",
    "InvoiceState",
    "LineAmounts",
    "Match",
    "MatchKind",
    "Money",
    "MoveState",
    "OperationLine",
    "Order",
    "OrderLine",
    "OutgoingEmail",
    "PartAction",
    "PartLine",
    "Partner",
    "Payment",
    "PaymentState",
    "Picking",
    "PickingKind",
    "PickingState",
    "Product",
    "ProductKind",
    "ProgramTrigger",
    "ProgramType",
    "Project",
    "Quantity",
    "Refundable",
    "RepairInvoiced",
    "RepairOperation",
    "RepairOrder",
    "RepairPart",
    "RepairState",
    "Reversal",
    "ReversalResult",
    "Reward",
    "RewardKind",
    "SaleOrder",
    "Service",
    "ServicesConfigured",
    "StockMove",
    "Subscription",
    "SubscriptionChanged",
    "SubscriptionState",
    "TaskStage",
    "Tax",
    "Team",
    "TeamConfig",
    "Ticket",
    "TicketMessage",
    "evolve",
]
