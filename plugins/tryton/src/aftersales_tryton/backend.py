"""The ``tryton`` entry point of the ``aftersales.backends`` group.

The ERP ports are being reshaped (operations the ERP performs, with its own ids and
numbers); the Tryton backend is wired to them once they settle. Until then the entry point
exists, so ``aftersales plugins`` lists it, and building it refuses with a
:class:`~aftersales.errors.ConfigurationError` that says so, instead of pretending.
"""

from __future__ import annotations

from aftersales.errors import ConfigurationError

__all__ = ["TrytonBackend"]


class TrytonBackend:
    """The Tryton backend (not usable yet: its ports are not wired to the gateway)."""

    name = "tryton"

    def __init__(self, **options: object) -> None:
        given = ", ".join(sorted(options)) or "none"
        raise ConfigurationError(
            "the Tryton backend cannot serve the after-sales ports yet: they are not wired to "
            "the Tryton gateway (aftersales_tryton.invoices, .shipments, .coupons, .projects, "
            f".modules). Options given: {given}. Use the 'memory' or 'sql' backend for now; "
            "docs/tryton.md says what exists."
        )
