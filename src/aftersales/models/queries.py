"""Request objects passed to query hooks: frozen, typed, and free to grow new fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import attrs

from aftersales.models._fields import to_frozenset
from aftersales.models.accounting import Invoice, InvoiceKind, InvoiceState
from aftersales.models.stock import PickingKind, PickingState

__all__ = ["InvoiceKey", "InvoiceQuery", "PickingQuery", "ascending", "invoice_key", "paged"]

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


def invoice_key(invoice: Invoice) -> InvoiceKey:
    """Where `invoice` sorts in a paged list of invoices."""
    return (invoice.invoice_date, invoice.created_at, invoice.id)


def ascending(key: InvoiceKey) -> tuple[date, datetime, str]:
    """`key` as it sorts in ascending order (undated first): the paged order, reversed."""
    return (key[0] or date.min, key[1], key[2])


def paged(invoices: Iterable[Invoice], query: InvoiceQuery) -> list[Invoice]:
    """`invoices` in the paged order, after `query.after` and at most `query.limit` of them:
    for an ERP that filters the rest of the query itself but cannot page in its own API."""
    found = list(invoices)
    if query.after is not None:
        after = ascending(query.after)
        found = [inv for inv in found if ascending(invoice_key(inv)) < after]
    found.sort(key=lambda inv: ascending(invoice_key(inv)), reverse=True)
    return found if query.limit is None else found[: query.limit]


@attrs.frozen(kw_only=True)
class PickingQuery:
    """Pickings of any of `partner_ids` matching every condition that is set."""

    partner_ids: frozenset[str] = attrs.field(converter=to_frozenset)
    kind: PickingKind | None = None
    state: PickingState | None = None
    sale_order_id: str | None = None
    product_id: str | None = None
