"""A Tryton backend for aftersales: Tryton's own records, ids and numbers through proteus.

So far this distribution holds the typed gateway over the Tryton operations the ERP ports
need (:mod:`aftersales_tryton.invoices`, :mod:`~aftersales_tryton.shipments`,
:mod:`~aftersales_tryton.coupons`, :mod:`~aftersales_tryton.projects`,
:mod:`~aftersales_tryton.modules`), each tested against a real Tryton database. The backend
itself (:class:`aftersales_tryton.backend.TrytonBackend`, entry point ``tryton``) refuses to
start until the ports are wired to the gateway.

Importing this package does not import proteus; the gateway modules do.
"""

from __future__ import annotations

__all__ = ["TRYTON_SERIES", "__version__"]

__version__ = "0.1.0"

#: The Tryton series the gateway is written and tested against (server, modules, proteus).
TRYTON_SERIES = "8.2"
