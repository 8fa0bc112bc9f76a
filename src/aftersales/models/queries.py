"""Request objects passed to query hooks: frozen, typed, and free to grow new fields.

Paged lists read newest first by a total key, strictly after a key (`after`) and at most
`limit` records: `keyset_page()` is that rule for records already in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import attrs

from aftersales.models._fields import id_field, to_frozenset
from aftersales.models.accounting import Invoice, InvoiceKind, InvoiceState
from aftersales.models.helpdesk import DocumentKind, DocumentLink, TicketMessage
from aftersales.models.stock import Picking, PickingKind, PickingState

__all__ = [
    "InvoiceKey",
    "InvoiceQuery",
    "LinkKey",
    "LinkQuery",
    "MessageKey",
    "MessageQuery",
    "PickingKey",
    "PickingQuery",
    "history_after",
    "history_order",
    "invoice_key",
    "keyset_page",
    "link_key",
    "message_key",
    "paged",
    "picking_key",
]

T = TypeVar("T")
K = TypeVar("K")

#: Where an invoice sorts in a paged list: `(invoice_date, created_at, id)`, newest first
#: (latest date, undated last, then latest `created_at`, then greatest id).
InvoiceKey = tuple[date | None, datetime, str]
#: Where a picking sorts in a paged list: `(done_at, created_at, id)`, newest first
#: (latest `done_at`, not done last, then latest `created_at`, then greatest id).
PickingKey = tuple[datetime | None, datetime, str]
#: Where a link sorts in a ticket's paged documents: `(created_at, kind, document_id)`,
#: newest first (the kind as its value).
LinkKey = tuple[datetime, str, str]
#: Where a message sorts in a ticket's paged trail: `(at, id)`, newest first.
MessageKey = tuple[datetime, str]

_EARLIEST = datetime.min.replace(year=1, tzinfo=UTC)


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


@attrs.frozen(kw_only=True)
class PickingQuery:
    """Pickings of any of `partner_ids` matching every condition that is set."""

    partner_ids: frozenset[str] = attrs.field(converter=to_frozenset)
    kind: PickingKind | None = None
    state: PickingState | None = None
    sale_order_id: str | None = None
    product_id: str | None = None
    #: Page: only pickings after this key in the paged order (see `PickingKey`).
    after: PickingKey | None = None
    #: Page: at most this many pickings, in the paged order (see `PickingKey`).
    limit: int | None = None


def picking_key(picking: Picking) -> PickingKey:
    """Where `picking` sorts in a paged list of pickings."""
    return (picking.done_at, picking.created_at, picking.id)


@attrs.frozen(kw_only=True)
class LinkQuery:
    """One page of the documents linked to `ticket_id` (of `kind` when set), newest first
    by `LinkKey`: those after `after`, at most `limit` of them."""

    ticket_id: str = attrs.field(validator=id_field)
    kind: DocumentKind | None = None
    after: LinkKey | None = None
    limit: int


def link_key(link: DocumentLink) -> LinkKey:
    """Where `link` sorts in a ticket's paged documents."""
    return (link.created_at, link.kind.value, link.document_id)


@attrs.frozen(kw_only=True)
class MessageQuery:
    """One page of the trail of `ticket_id`, newest first by `MessageKey`: the messages
    after `after`, at most `limit` of them."""

    ticket_id: str = attrs.field(validator=id_field)
    after: MessageKey | None = None
    limit: int


def message_key(message: TicketMessage) -> MessageKey:
    """Where `message` sorts in a ticket's paged trail."""
    return (message.at, message.id)


def keyset_page(
    records: Iterable[T], key: Callable[[T], K], after: K | None, limit: int | None
) -> list[T]:
    """`records` newest first by `key` (a total, comparable key), only those strictly
    after `after` in that order, at most `limit` of them: the keyset rule of every paged
    list, for a store or ERP that holds the records in memory or cannot page in its API."""
    ordered: Callable[[T], Any] = key  # a key the caller promises comparable
    found = [r for r in records if after is None or ordered(r) < after]
    # insertion order is mostly key order: the sort finds one run, close to a scan
    found.sort(key=ordered, reverse=True)
    return found if limit is None else found[:limit]


def history_order(record: Invoice | Picking) -> tuple[Any, ...]:
    """Where an invoice or a picking sorts in its paged list, as a comparable key in
    ascending order (an undated invoice or a picking not done sorts first: newest first,
    it comes last)."""
    if isinstance(record, Invoice):
        return _invoice_order(invoice_key(record))
    return _picking_order(picking_key(record))


def history_after(query: InvoiceQuery | PickingQuery) -> tuple[Any, ...] | None:
    """`query.after` as a `history_order()` key (`None` when the query has none)."""
    if isinstance(query, InvoiceQuery):
        return None if query.after is None else _invoice_order(query.after)
    return None if query.after is None else _picking_order(query.after)


def _invoice_order(key: InvoiceKey) -> tuple[date, datetime, str]:
    return (key[0] or date.min, key[1], key[2])


def _picking_order(key: PickingKey) -> tuple[datetime, datetime, str]:
    return (key[0] or _EARLIEST, key[1], key[2])


def paged(records: Iterable[T], query: InvoiceQuery | PickingQuery) -> list[T]:
    """`records` (invoices of an `InvoiceQuery`, pickings of a `PickingQuery`) in the paged
    order, after `query.after` and at most `query.limit` of them: for an ERP that filters
    the rest of the query itself but cannot page in its own API."""
    order: Callable[[Any], tuple[Any, ...]] = history_order
    return keyset_page(records, order, history_after(query), query.limit)
