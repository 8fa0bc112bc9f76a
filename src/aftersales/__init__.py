"""aftersales: after-sales services from a helpdesk ticket.

Refunds by credit note, coupons, product returns, repair orders and field-service tasks,
over any ERP through pluggy hooks. Start with [`AfterSales`][aftersales.app.AfterSales].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aftersales._lazy import attach

if TYPE_CHECKING:
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

#: The module of each public name. A name is imported when it is first used (PEP 562), so
#: that importing one submodule (the pytest plugin, `aftersales.errors`) does not load
#: the whole library.
_EXPORTS = {
    "Actor": "aftersales.models",
    "AfterSales": "aftersales.app",
    "Clock": "aftersales.clock",
    "Config": "aftersales.runtime",
    "CreditMethod": "aftersales.models",
    "DocumentKind": "aftersales.models",
    "FrozenClock": "aftersales.clock",
    "Group": "aftersales.models",
    "InvoiceMethod": "aftersales.models",
    "Money": "aftersales.models",
    "Service": "aftersales.models",
    "SystemClock": "aftersales.clock",
    "hookimpl": "aftersales.hookspecs",
}


__getattr__, __dir__ = attach(__name__, _EXPORTS)
