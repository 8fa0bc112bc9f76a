"""The paging contract (issue 21.5): `Page`, the opaque keyset cursor and the page size, and
each paged list on the memory backend, SQLite and PostgreSQL: order, stability under inserts
between pages, the last page, a bad cursor, a bad size, records unchanged on refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.backends.sql import SqlBackend
from aftersales.errors import InvalidInput
from aftersales.models import Invoice, TicketMessage
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
        yield make_desk(app, backend, clock)
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
