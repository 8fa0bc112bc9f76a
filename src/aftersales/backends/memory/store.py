"""Tables in dicts, secondary indexes, and an undo log for rollback.

An index maps a value to the keys of the records holding it, in insertion order; an
ordered index keeps each value's records sorted by an order key, so that a page of them,
newest first from a key on, costs the page and not the whole bucket (`newest()`).

The store is guarded by one re-entrant lock. A unit of work holds it from begin to end, so
units run one at a time (which makes every cap hold under threads), and rollback replays the
undo log: its cost follows what the unit changed, never the size of the store.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["MISSING", "MemoryStore", "MemoryTransaction", "Ordered"]

#: Marks a key that did not exist before a write (its undo is a delete).
MISSING: Any = object()

IndexKeys = Callable[[Any], Iterable[object]]


class Ordered:
    """An ordered index: a record is under each value `keys_of(record)` gives, sorted
    by `order(record)`, a tuple whose last item is the record's key in its table (so
    unique per record)."""

    __slots__ = ("keys_of", "order")

    def __init__(self, keys_of: IndexKeys, order: Callable[[Any], Any]) -> None:
        self.keys_of = keys_of
        self.order = order


#: Per value, the order keys of its records, ascending (each ends with the record's key).
_Buckets = dict[object, list[tuple[Any, ...]]]


class MemoryStore:
    """Named tables of records with secondary indexes and transactional writes."""

    def __init__(
        self,
        indexes: Mapping[str, Mapping[str, IndexKeys]],
        ordered: Mapping[str, Mapping[str, Ordered]] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self._tables: dict[str, dict[object, Any]] = {}
        self._index_keys = indexes
        self._indexes: dict[tuple[str, str], dict[object, dict[object, None]]] = {
            (table, name): {} for table, named in indexes.items() for name in named
        }
        #: Per table, each index with the function giving a record's keys in it.
        self._maintained: dict[str, tuple[tuple[dict[object, dict[object, None]], IndexKeys], ...]]
        self._maintained = {
            table: tuple((self._indexes[(table, name)], keys_of) for name, keys_of in named.items())
            for table, named in indexes.items()
        }
        self._ordered: dict[tuple[str, str], _Buckets] = {}
        self._ordered_by_table: dict[str, tuple[tuple[_Buckets, Ordered], ...]] = {}
        for table, named in (ordered or {}).items():
            for name in named:
                self._ordered[(table, name)] = {}
            self._ordered_by_table[table] = tuple(
                (self._ordered[(table, name)], spec) for name, spec in named.items()
            )
        self._local = threading.local()

    # -- transactions ---------------------------------------------------------------------

    @property
    def transaction(self) -> MemoryTransaction | None:
        tx: MemoryTransaction | None = getattr(self._local, "tx", None)
        return tx

    def begin(self) -> MemoryTransaction:
        """Take the lock and start recording undo entries for this thread."""
        self.lock.acquire()
        tx = MemoryTransaction(self)
        self._local.tx = tx
        return tx

    def _end(self, tx: MemoryTransaction) -> None:
        if getattr(self._local, "tx", None) is tx:
            self._local.tx = None
        self.lock.release()

    # -- reads ----------------------------------------------------------------------------

    def table(self, name: str) -> dict[object, Any]:
        return self._tables.setdefault(name, {})

    def get(self, table: str, key: object) -> Any:
        if getattr(self._local, "tx", None) is None:  # else this thread holds the lock
            with self.lock:
                return self.table(table).get(key)
        rows = self._tables.get(table)
        return None if rows is None else rows.get(key)

    def values(self, table: str) -> list[Any]:
        with self.lock:
            return list(self.table(table).values())

    def by_index(self, table: str, index: str, value: object) -> list[Any]:
        """Records of `table` whose `index` holds `value`, in insertion order."""
        if getattr(self._local, "tx", None) is None:  # else this thread holds the lock
            with self.lock:
                return self._by_index(table, index, value)
        return self._by_index(table, index, value)

    def _by_index(self, table: str, index: str, value: object) -> list[Any]:
        keys = self._indexes[(table, index)].get(value)
        if not keys:
            return []
        rows = self._tables[table]
        return [rows[key] for key in keys]

    def newest(self, table: str, index: str, value: object, before: Any = None) -> Iterator[Any]:
        """The records of `table` under `value` in the ordered `index`, greatest order key
        first, from the first one below `before` on (all when `None`): a generator, read
        with the store's lock held (inside a unit of work, or under `lock`)."""
        bucket = self._ordered[(table, index)].get(value)
        if not bucket:
            return
        rows = self._tables[table]
        end = len(bucket) if before is None else bisect_left(bucket, before)
        for position in range(end - 1, -1, -1):
            yield rows[bucket[position][-1]]

    def snapshot(self) -> dict[str, dict[object, Any]]:
        """A copy of every non-empty table (records are immutable, so this is cheap)."""
        with self.lock:
            return {name: dict(rows) for name, rows in self._tables.items() if rows}

    def reset(self, tables: Mapping[str, Mapping[object, Any]] | None = None) -> None:
        """Empty every table and index, then load `tables` (a `snapshot()`) if given.

        Everything the store holds starts over: the lock and the per-thread transaction are
        new too, so a unit of work a test left open cannot block the next one. Its cost
        follows the size of `tables`, never what was stored before.
        """
        self.lock = threading.RLock()
        self._local = threading.local()
        self._tables = {}
        for index in self._indexes.values():
            index.clear()
        for buckets in self._ordered.values():
            buckets.clear()
        for name, rows in (tables or {}).items():
            for key, record in rows.items():
                self._write(name, key, MISSING, record)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    # -- writes ---------------------------------------------------------------------------

    def put(self, table: str, key: object, record: Any) -> None:
        """Insert or replace `record` under `key` (logged for undo)."""
        with self.lock:
            rows = self._tables.get(table)
            if rows is None:
                rows = self.table(table)
            previous = rows.get(key, MISSING)
            self._log(table, key, previous)
            self._write(table, key, previous, record)

    def delete(self, table: str, key: object) -> Any:
        """Delete `key` from `table`; return the old record or `None`."""
        with self.lock:
            rows = self.table(table)
            previous = rows.get(key, MISSING)
            if previous is MISSING:
                return None
            self._log(table, key, previous)
            self._write(table, key, previous, MISSING)
            return previous

    def _log(self, table: str, key: object, previous: Any) -> None:
        tx: MemoryTransaction | None = getattr(self._local, "tx", None)
        if tx is not None:
            tx.undo.append((table, key, previous))

    def _write(self, table: str, key: object, previous: Any, record: Any) -> None:
        rows = self.table(table)
        for index, keys_of in self._maintained.get(table, ()):
            new = tuple(keys_of(record)) if record is not MISSING else ()
            # A record that stays under an index value keeps its place there, so lookups
            # stay in insertion order ("oldest first") when a record is updated.
            if previous is not MISSING:
                for value in keys_of(previous):
                    if value in new:
                        continue
                    bucket = index.get(value)
                    if bucket is not None:
                        bucket.pop(key, None)
                        if not bucket:
                            del index[value]
            for value in new:
                bucket = index.get(value)
                if bucket is None:
                    index[value] = {key: None}
                elif key not in bucket:
                    bucket[key] = None
        for buckets, spec in self._ordered_by_table.get(table, ()):
            _reorder(buckets, spec, previous, record)
        if record is MISSING:
            rows.pop(key, None)
        else:
            rows[key] = record

    def undo(self, entries: list[tuple[str, object, Any]]) -> None:
        """Restore what `entries` recorded, newest first."""
        with self.lock:
            for table, key, previous in reversed(entries):
                current = self.table(table).get(key, MISSING)
                self._write(table, key, current, previous)


def _entries(spec: Ordered, record: Any) -> set[tuple[object, tuple[Any, ...]]]:
    if record is MISSING:
        return set()
    order = spec.order(record)
    return {(value, order) for value in spec.keys_of(record)}


def _reorder(buckets: _Buckets, spec: Ordered, previous: Any, record: Any) -> None:
    """Move a record in an ordered index from where `previous` sorted to where `record`
    does."""
    old = _entries(spec, previous)
    new = _entries(spec, record)
    if old == new:
        return
    for value, order in old - new:
        bucket = buckets[value]
        del bucket[bisect_left(bucket, order)]
        if not bucket:
            del buckets[value]
    for value, order in new - old:
        insort(buckets.setdefault(value, []), order)


class MemoryTransaction:
    """One unit of work on the memory store: commit forgets the undo log, rollback replays it."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.undo: list[tuple[str, object, Any]] = []
        self._open = True

    def commit(self) -> None:
        if self._open:
            self._open = False
            self.undo.clear()
            self.store._end(self)

    def rollback(self) -> None:
        if self._open:
            self._open = False
            try:
                self.store.undo(self.undo)
            finally:
                self.undo.clear()
                self.store._end(self)
