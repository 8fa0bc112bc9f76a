"""Sale orders, as far as after-sales services need them."""

from __future__ import annotations

from datetime import datetime

import attrs

from aftersales.models._fields import aware, id_field, text

__all__ = ["SaleOrder"]


@attrs.frozen(kw_only=True)
class SaleOrder:
    """A confirmed sale order of a customer; invoices and deliveries may name it."""

    id: str = attrs.field(validator=id_field)
    name: str = attrs.field(validator=text())
    customer_id: str = attrs.field(validator=id_field)
    ordered_at: datetime = attrs.field(validator=aware)
