"""The paging contract: `Page`, the opaque keyset cursor and the page size, and
each paged list on the memory backend, SQLite and PostgreSQL: order, stability under inserts
between pages, the last page, a bad cursor, a bad size, records unchanged on refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales import AfterSales, FrozenClock, Service
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import InvalidInput
from aftersales.models import DocumentKind, Invoice, Picking, TicketMessage
from aftersales.models.queries import PickingQuery
from aftersales.paging import MAX_PAGE_SIZE, Page, decode_cursor, encode_cursor, page_size
from aftersales.serialization import converter
from aftersales.testing import assert_unchanged
from tests.refunds_support import AGENT, Desk, line, make_desk

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# -- the concept ---------------------------------------------------------------------------


def test_a_cursor_is_url_safe_and_reads_back_its_key() -> None:
    cursor = encode_cursor("things", ("2026-01-05", None, "inv/1 ü"))
    assert all(c.isalnum() or c in "-_" for c in cursor)
    assert decode_cursor("things", cursor, 3) == ("2026-01-05", None, "inv/1 ü")
    assert decode_cursor("things", None, 3) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # one character edited
        lambda c: c[:-3],  # truncated
        lambda c: "x" + c,
        lambda c: "not a cursor!",
        lambda c: "",
        lambda c: 42,
    ],
)
def test_a_tampered_or_garbage_cursor_is_refused(mangle: Callable[[str], object]) -> None:
    cursor = encode_cursor("things", ("a", "b"))
    with pytest.raises(InvalidInput, match=r"not a cursor of this list \(things\); pass the next"):
        decode_cursor("things", mangle(cursor), 2)


def test_a_cursor_of_another_list_is_refused() -> None:
    cursor = encode_cursor("links", ("a", "b"))
    with pytest.raises(InvalidInput, match="not a cursor of this list"):
        decode_cursor("things", cursor, 2)


@pytest.mark.parametrize("size", [0, -1, MAX_PAGE_SIZE + 1, "10", 2.0, True, None])
def test_a_bad_page_size_is_refused(size: object) -> None:
    with pytest.raises(InvalidInput, match="page_size"):
        page_size(size)


def test_a_page_serialises_with_the_converter() -> None:
    page = Page(items=(1, 2), next_cursor="abc")
    assert converter.unstructure(page) == {"items": [1, 2], "next_cursor": "abc"}
    assert converter.structure({"items": [1], "next_cursor": None}, Page[int]) == Page(items=(1,))


# -- the paged lists on every backend ------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def desk(request: pytest.FixtureRequest, new_sqlite: Callable[[], str]) -> Iterator[Desk]:
    clock = FrozenClock(START)
    backend: Any
    if request.param == "memory":
        backend = MemoryBackend()
    elif request.param == "sqlite":
        backend = SqlBackend(new_sqlite())
    else:
        backend = SqlBackend(request.getfixturevalue("new_postgres")())
    try:
        app = AfterSales(backend, clock=clock)
        yield make_desk(app, backend, clock, services=(Service.REFUNDS, Service.RETURNS))
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def _invoices(desk: Desk, days: list[int | None]) -> list[Invoice]:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    made = []
    for n, day in enumerate(days):
        made.append(
            desk.world.invoice(
                customer=desk.customer,
                lines=[(kettle, n + 1)],
                invoice_date=None if day is None else date(2026, 1, day),
            )
        )
        desk.clock.advance(seconds=1)
    return made


def _all_pages(desk: Desk, size: int) -> list[Page[Invoice]]:
    pages = [desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=size, actor=AGENT)]
    while pages[-1].next_cursor is not None:
        pages.append(
            desk.app.refunds.invoices_to_refund_page(
                desk.ticket.id, page_size=size, cursor=pages[-1].next_cursor, actor=AGENT
            )
        )
    return pages


def test_refundable_invoices_page_newest_first_to_the_last_page(desk: Desk) -> None:
    # equal dates order by created_at (None: the builder dates a posted invoice today)
    made = _invoices(desk, [3, 9, None, 9, 1, None, 5])
    whole = desk.app.refunds.invoices_to_refund(desk.ticket.id, actor=AGENT)

    pages = _all_pages(desk, 3)

    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert pages[-1].next_cursor is None
    paged = [i.id for p in pages for i in p.items]
    expected = [made[n].id for n in (5, 2, 3, 1, 6, 0, 4)]
    assert paged == expected
    assert {i.id for i in whole} == set(expected)


def test_an_exact_last_page_has_no_cursor(desk: Desk) -> None:
    _invoices(desk, [1, 2, 3, 4])
    page = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=4, actor=AGENT)
    assert len(page.items) == 4 and page.next_cursor is None
    empty = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=2, actor=AGENT)
    assert empty.next_cursor is not None


def test_an_invoice_inserted_between_pages_never_shifts_the_next_page(desk: Desk) -> None:
    made = _invoices(desk, [1, 2, 3, 4, 5])
    first = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=2, actor=AGENT)
    assert [i.id for i in first.items] == [made[4].id, made[3].id]

    _invoices(desk, [10, 3, 1])  # newer, between the pages, and older than every one
    second = desk.app.refunds.invoices_to_refund_page(
        desk.ticket.id, page_size=2, cursor=first.next_cursor, actor=AGENT
    )

    # the invoice of day 3 made later sorts before made[2] (later created_at): it is listed
    # in its place after the cursor; the newer one (day 10) is not, and nothing repeats.
    ids = [i.id for i in second.items]
    assert made[4].id not in ids and made[3].id not in ids
    assert len(ids) == 2 and ids[1] == made[2].id


def test_fully_credited_invoices_are_skipped_without_short_pages(desk: Desk) -> None:
    made = _invoices(desk, [1, 2, 3, 4, 5])
    for invoice in made[2:4]:
        result = desk.app.refunds.reverse(
            desk.ticket.id,
            invoice.id,
            lines=[line(str(20 * (made.index(invoice) + 1)))],
            actor=AGENT,
        )
        desk.app.refunds.confirm(result.credit_note.id, actor=AGENT)

    pages = _all_pages(desk, 2)

    assert [[i.id for i in p.items] for p in pages] == [
        [made[4].id, made[1].id],
        [made[0].id],
    ]


@pytest.mark.parametrize("size", [0, MAX_PAGE_SIZE + 1, "5"])
def test_a_bad_page_size_leaves_every_record_unchanged(desk: Desk, size: Any) -> None:
    _invoices(desk, [1, 2])
    with pytest.raises(InvalidInput, match="page_size"), assert_unchanged(desk.backend):
        desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=size, actor=AGENT)


def test_a_bad_cursor_leaves_every_record_unchanged(desk: Desk) -> None:
    _invoices(desk, [1, 2, 3])
    first = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=1, actor=AGENT)
    assert first.next_cursor is not None
    forged = first.next_cursor[:-2] + ("AA" if first.next_cursor[-2:] != "AA" else "BB")
    with pytest.raises(InvalidInput, match="cursor"), assert_unchanged(desk.backend):
        desk.app.refunds.invoices_to_refund_page(
            desk.ticket.id, page_size=1, cursor=forged, actor=AGENT
        )


def _post(desk: Desk, n: int, *, step: int = 1) -> list[TicketMessage]:
    made = []
    with desk.app.runtime.unit(writes=True) as uow:
        for k in range(n):
            message = TicketMessage(
                id=f"msg-{desk.clock.now():%H%M%S}-{k}",
                ticket_id=desk.ticket.id,
                at=desk.clock.now(),
                author_id="agent",
                body=f"note {k}",
            )
            desk.app.hooks.post_message(message)
            made.append(message)
            if step:
                desk.clock.advance(seconds=step)
        uow.commit()
    return made


def test_the_trail_pages_newest_first_stable_under_new_messages(desk: Desk) -> None:
    made = _post(desk, 5)
    first = desk.app.tickets.trail_page(desk.ticket.id, page_size=2, actor=AGENT)
    assert [m.id for m in first.items] == [made[4].id, made[3].id]

    _post(desk, 2)  # newer: on no page after the first
    second = desk.app.tickets.trail_page(
        desk.ticket.id, page_size=2, cursor=first.next_cursor, actor=AGENT
    )
    third = desk.app.tickets.trail_page(
        desk.ticket.id, page_size=2, cursor=second.next_cursor, actor=AGENT
    )

    assert [m.id for m in second.items] == [made[2].id, made[1].id]
    assert [m.id for m in third.items] == [made[0].id]
    assert third.next_cursor is None


def test_messages_of_one_moment_page_by_id(desk: Desk) -> None:
    made = _post(desk, 3, step=0)
    pages = [desk.app.tickets.trail_page(desk.ticket.id, page_size=1, actor=AGENT)]
    while pages[-1].next_cursor is not None:
        pages.append(
            desk.app.tickets.trail_page(
                desk.ticket.id, page_size=1, cursor=pages[-1].next_cursor, actor=AGENT
            )
        )
    listed = [m.id for p in pages for m in p.items]
    assert listed == sorted((m.id for m in made), reverse=True)


def test_a_cursor_of_the_invoices_is_refused_by_the_trail(desk: Desk) -> None:
    _invoices(desk, [1, 2])
    _post(desk, 2)
    invoices = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=1, actor=AGENT)
    with pytest.raises(InvalidInput, match="ticket trail"), assert_unchanged(desk.backend):
        desk.app.tickets.trail_page(
            desk.ticket.id, page_size=1, cursor=invoices.next_cursor, actor=AGENT
        )
    with pytest.raises(InvalidInput, match="page_size"), assert_unchanged(desk.backend):
        desk.app.tickets.trail_page(desk.ticket.id, page_size=0, actor=AGENT)


# -- returnable deliveries -------------------------------------------------------------------


def _deliveries(desk: Desk, n: int, *, step: int = 1) -> list[Picking]:
    kettle = desk.world.product(name="Kettle", price=Decimal("20.00"))
    made = []
    for _ in range(n):
        made.append(desk.world.delivery(customer=desk.customer, lines=[(kettle, 2)]))
        desk.clock.advance(seconds=step)
    return made


def _delivery_pages(desk: Desk, size: int, **kwargs: Any) -> list[Page[Picking]]:
    returns = desk.app.returns
    pages = [returns.deliveries_page(desk.ticket.id, page_size=size, actor=AGENT, **kwargs)]
    while pages[-1].next_cursor is not None:
        pages.append(
            returns.deliveries_page(
                desk.ticket.id, page_size=size, cursor=pages[-1].next_cursor, actor=AGENT, **kwargs
            )
        )
    return pages


def test_returnable_deliveries_page_newest_first_to_the_last_page(desk: Desk) -> None:
    made = _deliveries(desk, 4) + _deliveries(desk, 3, step=0)  # the last three: one moment
    pages = _delivery_pages(desk, 3)

    assert [len(p.items) for p in pages] == [3, 3, 1]
    tied = sorted((p.id for p in made[4:]), reverse=True)
    assert [p.id for page in pages for p in page.items] == [*tied, *(p.id for p in made[3::-1])]
    whole = desk.app.returns.deliveries(desk.ticket.id, actor=AGENT)
    assert {p.id for p in whole} == {p.id for p in made}


def test_a_delivery_made_between_pages_never_shifts_the_next_page(desk: Desk) -> None:
    made = _deliveries(desk, 5)
    first = desk.app.returns.deliveries_page(desk.ticket.id, page_size=2, actor=AGENT)
    assert [p.id for p in first.items] == [made[4].id, made[3].id]

    _deliveries(desk, 2)  # newer: on no page after the first
    second = desk.app.returns.deliveries_page(
        desk.ticket.id, page_size=2, cursor=first.next_cursor, actor=AGENT
    )
    third = desk.app.returns.deliveries_page(
        desk.ticket.id, page_size=2, cursor=second.next_cursor, actor=AGENT
    )

    assert [p.id for p in second.items] == [made[2].id, made[1].id]
    assert [p.id for p in third.items] == [made[0].id]
    assert third.next_cursor is None


def test_deliveries_with_nothing_returnable_are_skipped_without_short_pages(desk: Desk) -> None:
    made = _deliveries(desk, 2)
    for delivery in _deliveries(desk, 3):  # newer, but with no move that can be sent back
        scrapped = tuple(attrs.evolve(m, scrapped=True) for m in delivery.moves)
        desk.world.put(attrs.evolve(delivery, moves=scrapped))
    made += _deliveries(desk, 1)

    pages = _delivery_pages(desk, 2)

    assert [[p.id for p in page.items] for page in pages] == [
        [made[2].id, made[1].id],
        [made[0].id],
    ]


def test_the_returnable_check_and_the_page_read_the_stock_port_by_pages(desk: Desk) -> None:
    """RT-1 and the page ask the port for pages, never for the customer's whole history."""
    _deliveries(desk, 3)
    asked: list[PickingQuery] = []
    stock = desk.backend.stock
    read = stock.returnable_deliveries

    def spy(query: PickingQuery) -> Any:
        asked.append(query)
        return read(query)

    stock.returnable_deliveries = spy
    try:
        desk.app.returns.deliveries_page(desk.ticket.id, page_size=2, actor=AGENT)
        desk.app.tickets.view(desk.ticket.id, actor=AGENT)
    finally:
        del stock.returnable_deliveries
    assert asked and all(q.limit is not None for q in asked)


def test_a_bad_delivery_cursor_or_size_is_refused_and_changes_nothing(desk: Desk) -> None:
    _deliveries(desk, 3)
    _invoices(desk, [1, 2])
    invoices = desk.app.refunds.invoices_to_refund_page(desk.ticket.id, page_size=1, actor=AGENT)
    with pytest.raises(InvalidInput, match="returnable deliveries"), assert_unchanged(desk.backend):
        desk.app.returns.deliveries_page(
            desk.ticket.id, page_size=1, cursor=invoices.next_cursor, actor=AGENT
        )
    sizes: tuple[Any, ...] = (0, MAX_PAGE_SIZE + 1, "5")
    for size in sizes:
        with pytest.raises(InvalidInput, match="page_size"), assert_unchanged(desk.backend):
            desk.app.returns.deliveries_page(desk.ticket.id, page_size=size, actor=AGENT)


# -- a ticket's documents ----------------------------------------------------------------------


def _documents(desk: Desk) -> list[tuple[DocumentKind, str]]:
    """Two returns and two credit notes linked to the ticket, one second apart, oldest
    first; the last two in one moment."""
    delivery = _deliveries(desk, 1)[0]
    invoices = _invoices(desk, [1, 2])
    made: list[tuple[DocumentKind, str]] = []
    for n in range(2):
        ret = desk.app.returns.create(
            desk.ticket.id, delivery.id, {delivery.moves[0].id: Decimal(1)}, actor=AGENT
        )
        made.append((DocumentKind.RETURN, ret.id))
        note = desk.app.refunds.reverse(
            desk.ticket.id, invoices[n].id, lines=[line("1.00")], actor=AGENT
        )
        made.append((DocumentKind.CREDIT_NOTE, note.credit_note.id))
        if n == 0:
            desk.clock.advance(seconds=1)
    return made


def test_documents_page_newest_first_as_the_view_lists_them(desk: Desk) -> None:
    made = _documents(desk)
    # one moment: the kind (its value), then the document id decides
    newest = sorted(made[2:], key=lambda d: (d[0].value, d[1]), reverse=True)
    oldest = sorted(made[:2], key=lambda d: (d[0].value, d[1]), reverse=True)
    first = desk.app.tickets.documents_page(desk.ticket.id, page_size=3, actor=AGENT)
    second = desk.app.tickets.documents_page(
        desk.ticket.id, page_size=3, cursor=first.next_cursor, actor=AGENT
    )

    listed = [(d.kind, d.document_id) for p in (first, second) for d in p.items]
    assert listed == [*newest, *oldest]
    assert second.next_cursor is None
    view = desk.app.tickets.view(desk.ticket.id, actor=AGENT)
    by_id = {d.document_id: d for d in view.documents}
    assert [by_id[d.document_id] for p in (first, second) for d in p.items] == [
        *first.items,
        *second.items,
    ]


def test_documents_page_of_one_kind_stable_under_new_links(desk: Desk) -> None:
    made = _documents(desk)
    returns = [doc for kind, doc in made if kind is DocumentKind.RETURN]
    first = desk.app.tickets.documents_page(
        desk.ticket.id, kind=DocumentKind.RETURN, page_size=1, actor=AGENT
    )
    assert [d.document_id for d in first.items] == [returns[1]]

    desk.clock.advance(seconds=5)
    _documents(desk)  # newer documents: on no page after the first
    as_text: Any = "return"  # a kind may be given by its value
    second = desk.app.tickets.documents_page(
        desk.ticket.id, kind=as_text, page_size=1, cursor=first.next_cursor, actor=AGENT
    )
    assert [d.document_id for d in second.items] == [returns[0]]
    assert second.next_cursor is None


def test_a_bad_documents_cursor_kind_or_size_is_refused_and_changes_nothing(desk: Desk) -> None:
    _documents(desk)
    trail = desk.app.tickets.trail_page(desk.ticket.id, page_size=1, actor=AGENT)
    documents = desk.app.tickets.documents_page(desk.ticket.id, page_size=1, actor=AGENT)
    with pytest.raises(InvalidInput, match="ticket documents"), assert_unchanged(desk.backend):
        desk.app.tickets.documents_page(
            desk.ticket.id, page_size=1, cursor=trail.next_cursor, actor=AGENT
        )
    with pytest.raises(InvalidInput, match="ticket trail"), assert_unchanged(desk.backend):
        desk.app.tickets.trail_page(
            desk.ticket.id, page_size=1, cursor=documents.next_cursor, actor=AGENT
        )
    unknown: Any = "parcel"
    with pytest.raises(InvalidInput, match="kind"), assert_unchanged(desk.backend):
        desk.app.tickets.documents_page(desk.ticket.id, kind=unknown, actor=AGENT)
    sizes: tuple[Any, ...] = (0, MAX_PAGE_SIZE + 1, "5")
    for size in sizes:
        with pytest.raises(InvalidInput, match="page_size"), assert_unchanged(desk.backend):
            desk.app.tickets.documents_page(desk.ticket.id, page_size=size, actor=AGENT)
