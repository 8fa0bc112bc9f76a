"""aftersales: after-sales services from a helpdesk ticket.

Refunds by credit note, coupons, product returns, repair orders and field-service tasks,
over any ERP through pluggy hooks. Start with [`AfterSales`][aftersales.app.AfterSales].
"""

from aftersales.app import AfterSales
from aftersales.clock import Clock, FrozenClock, SystemClock
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    Actor,
    CreditMethod,
    DocumentKind,
    Group,
    InvoiceMethod,
    Money,
    Service,
)
from aftersales.runtime import Config

__all__ = [
    "Actor",
    "AfterSales",
    "Clock",
    "Config",
    "CreditMethod",
    "DocumentKind",
    "FrozenClock",
    "Group",
    "InvoiceMethod",
    "Money",
    "Service",
    "SystemClock",
    "__version__",
    "hookimpl",
]

__version__ = "0.1.0"
