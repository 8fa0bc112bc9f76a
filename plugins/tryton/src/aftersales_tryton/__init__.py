"""A Tryton backend for aftersales: Tryton's own records, ids and numbers through proteus.

The backend (:class:`aftersales_tryton.backend.TrytonBackend`, entry point ``tryton``)
serves the accounting port (:mod:`aftersales_tryton.accounting`), the stock port
(:mod:`aftersales_tryton.stock`), the project port (:mod:`aftersales_tryton.tasks`), the
modules port and a subscription with no plan. The typed gateway over the Tryton operations
(:mod:`aftersales_tryton.invoices`, :mod:`~aftersales_tryton.shipments`,
:mod:`~aftersales_tryton.coupons`, :mod:`~aftersales_tryton.projects`,
:mod:`~aftersales_tryton.modules`) is tested against a real Tryton database; coupons are
wired to their port once it is redesigned.

Importing this package does not import proteus; the gateway modules do.
"""

from __future__ import annotations

__all__ = ["TRYTON_SERIES", "__version__"]

__version__ = "0.1.0"

#: The Tryton series the gateway is written and tested against (server, modules, proteus).
TRYTON_SERIES = "8.2"
