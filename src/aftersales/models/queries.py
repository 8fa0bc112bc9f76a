"""Request objects passed to query hooks: frozen, typed, and free to grow new fields."""

from __future__ import annotations

from datetime import date, datetime

import attrs

from aftersales.models._fields import to_frozenset
from aftersales.models.accounting import InvoiceKind, InvoiceState
from aftersales.models.stock import PickingKind, PickingState

__all__ = ["InvoiceKey", "InvoiceQuery", "PickingQuery"]

#: Where an invoice sorts in a paged list: `(invoice_date, created_at, id)`, newest first
#: (latest date, undated last, then latest `created_at`, then greatest id).
InvoiceKey = tuple[date | None, datetime, str]


@attrs.frozen(kw_only=True)
class InvoiceQuery:
    """Invoices of any of `customer_ids` matching every condition that is set."""

    customer_ids: frozenset[str] = attrs.field(converter=to_frozenset)
    kind: InvoiceKind | None = None
    state: InvoiceState | None = None
    sale_order_id: str | None = None
    product_id: str | None = None
    #: Page: only invoices after this key in the paged order (see `InvoiceKey`).
    after: InvoiceKey | None = None
    #: Page: at most this many invoices, in the paged order (see `InvoiceKey`).
    limit: int | None = None


@attrs.frozen(kw_only=True)
class PickingQuery:
    """Pickings of any of `partner_ids` matching every condition that is set."""

    partner_ids: frozenset[str] = attrs.field(converter=to_frozenset)
    kind: PickingKind | None = None
    state: PickingState | None = None
    sale_order_id: str | None = None
    product_id: str | None = None
