"""One paging concept for every list: a `Page` of items and an opaque keyset cursor.

A paged list is read newest first (or in its natural order) by a **key** that is unique
and total, e.g. `(invoice_date, created_at, id)`. A page holds at most `page_size` items
and, when more may follow, a `next_cursor`: the key of its last item, encoded as an
opaque, URL-safe string. The next page starts strictly after that key, so a record
inserted after a page was read never shifts or repeats the items of the next page (it
sorts before the cursor, or appears on a later page in its place).

A cursor names the list it belongs to and carries a check sum: a cursor edited by hand,
truncated, or given to another list is refused with `InvalidInput`, as is a page size
outside `1..MAX_PAGE_SIZE`.

The list implementations (services, stock and accounting ports) use three functions:
`page_size()` to check the size argument, `decode_cursor()` to read the key to start
after, and `page_of()` to build the `Page` from the `page_size + 1` items fetched. A
service that leaves out some of what a port's page holds (invoices with nothing left to
credit) reads the port's pages lazily with `walk()` and keeps the first `page_size + 1`
it wants with `fill()`: a record left out is skipped, never counted, so no page comes
short while more follow.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

import attrs

from aftersales.errors import InvalidInput

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Key",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "fill",
    "page_of",
    "page_size",
    "walk",
]

T = TypeVar("T")
K = TypeVar("K")

#: The page size a paged list uses when none is given.
DEFAULT_PAGE_SIZE = 50
#: The largest page size a paged list accepts.
MAX_PAGE_SIZE = 500

#: A keyset key: its parts are strings, or `None` (e.g. an undated invoice).
Key = tuple[str | None, ...]

_CHECK = 6  # bytes of check sum in a cursor


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list: `items` in the list's order and the cursor of the next page.

    `next_cursor` is `None` on the last page. Pass it back as `cursor=` to read the page
    that follows. The JSON form (the project's converter) is
    `{"items": [...], "next_cursor": "..." | null}`.
    """

    items: tuple[T, ...] = attrs.field(converter=tuple)
    next_cursor: str | None = None


def page_size(value: object, field: str = "page_size") -> int:
    """`value` as a page size: an `int` in `1..MAX_PAGE_SIZE`.

    Raises:
        InvalidInput: `value` is not an integer in that range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, value, f"give a whole number from 1 to {MAX_PAGE_SIZE}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidInput(
            field, value, f"a page holds 1 to {MAX_PAGE_SIZE} items (default {DEFAULT_PAGE_SIZE})"
        )
    return value


def _check(kind: str, body: bytes) -> bytes:
    digest = hashlib.blake2b(body, digest_size=_CHECK, person=b"aftersales-page", key=kind.encode())
    return digest.digest()


def encode_cursor(kind: str, key: Key) -> str:
    """The opaque cursor of the list `kind` starting after `key`."""
    body = json.dumps(list(key), separators=(",", ":")).encode()
    raw = _check(kind, body) + body
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: object, parts: int, field: str = "cursor") -> Key | None:
    """The key a `cursor` of the list `kind` starts after (`None` for no cursor).

    Raises:
        InvalidInput: `cursor` is not a cursor this list gave out (edited, truncated, or of
            another list).
    """
    if cursor is None:
        return None
    refusal = InvalidInput(
        field,
        cursor,
        f"not a cursor of this list ({kind}); pass the next_cursor of a page of it, "
        "unchanged, or none for the first page",
    )
    if not isinstance(cursor, str) or not cursor or len(cursor) > 2048:
        raise refusal
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise refusal from None
    check, body = raw[:_CHECK], raw[_CHECK:]
    if len(check) != _CHECK or check != _check(kind, body):
        raise refusal
    try:
        key = json.loads(body)
    except ValueError:
        raise refusal from None
    if (
        not isinstance(key, list)
        or len(key) != parts
        or not all(k is None or isinstance(k, str) for k in key)
    ):
        raise refusal
    return tuple(key)


def page_of(kind: str, fetched: Sequence[T], size: int, key: Callable[[T], Key]) -> Page[T]:
    """The page of `fetched` (up to `size + 1` items read in order): its first `size`
    items, and a cursor after the last of them when an item more was read."""
    items = tuple(fetched[:size])
    more = len(fetched) > size and items
    return Page(items=items, next_cursor=encode_cursor(kind, key(items[-1])) if more else None)


def walk(
    read: Callable[[K | None, int], Sequence[T]],
    key: Callable[[T], K],
    start: K | None,
    batch: int,
) -> Iterator[T]:
    """The records of a port's paged list after `start`, read `batch` at a time with
    `read(after, limit)` only as they are consumed; `key` gives a record's key to read
    the next batch after."""
    after = start
    while True:
        found = read(after, batch)
        yield from found
        if len(found) < batch:
            return
        after = key(found[-1])


def fill(items: Iterable[T], size: int) -> list[T]:
    """The first `size + 1` of `items`: what `page_of()` takes to build a page of `size`
    and tell whether more follow."""
    return list(itertools.islice(items, size + 1))


def moment(value: datetime) -> str:
    """An aware datetime as a key part that sorts as the datetime does (UTC, fixed width)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def day(value: date | None) -> str | None:
    """A date as a key part (`None` stays `None`)."""
    return None if value is None else value.isoformat()
