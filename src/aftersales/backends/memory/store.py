"""Tables in dicts, secondary indexes (in insertion order or sorted), and an undo log for
rollback.

The store is guarded by one re-entrant lock. A unit of work holds it from begin to end, so
units run one at a time (which makes every cap hold under threads), and rollback replays the
undo log: its cost follows what the unit changed, never the size of the store.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["MISSING", "MemoryStore", "MemoryTransaction"]

#: Marks a key that did not exist before a write (its undo is a delete).
MISSING: Any = object()

IndexKeys = Callable[[Any], Iterable[object]]
#: A sorted index: the values a record is indexed under, and its sort key under them: a
#: tuple whose last item is the record's key in its table (so two records never share it).
Sorted = tuple[IndexKeys, Callable[[Any], tuple[Any, ...]]]
_Buckets = dict[object, list[tuple[Any, ...]]]


class MemoryStore:
    """Named tables of records with secondary indexes and transactional writes."""

    def __init__(
        self,
        indexes: Mapping[str, Mapping[str, IndexKeys]],
        sorted_indexes: Mapping[str, Mapping[str, Sorted]] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        #: Per table, each sorted index: value → its records' sort keys in ascending order.
        self._sorted: dict[tuple[str, str], _Buckets] = {}
        self._sorted_of: dict[str, list[tuple[_Buckets, Sorted]]] = {}
        for table, named in (sorted_indexes or {}).items():
            for name, spec in named.items():
                buckets: _Buckets = {}
                self._sorted[(table, name)] = buckets
                self._sorted_of.setdefault(table, []).append((buckets, spec))
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

    def newest(
        self,
        table: str,
        index: str,
        value: object,
        *,
        before: Any = None,
        limit: int | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> list[Any]:
        """Records of `table` under `value` in the sorted `index`, greatest sort key first:
        only those whose key is less than `before` (when given) and that `match` accepts,
        at most `limit` of them. Its cost follows what it walks, not the bucket's size."""
        with self.lock:
            bucket = self._sorted[(table, index)].get(value)
            if not bucket:
                return []
            rows = self._tables[table]
            end = len(bucket) if before is None else bisect.bisect_left(bucket, before)
            found: list[Any] = []
            for position in range(end - 1, -1, -1):
                if limit is not None and len(found) >= limit:
                    break
                record = rows[bucket[position][-1]]
                if match is None or match(record):
                    found.append(record)
            return found

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
        for buckets in self._sorted.values():
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
        for buckets, (values_of, sort_of) in self._sorted_of.get(table, ()):
            old = () if previous is MISSING else tuple(values_of(previous))
            new = () if record is MISSING else tuple(values_of(record))
            old_key = None if previous is MISSING else sort_of(previous)
            new_key = None if record is MISSING else sort_of(record)
            if old == new and old_key == new_key:
                continue  # an update that keeps its place (a payment state, a residual)
            if old_key is not None:
                _unsort(buckets, old, old_key)
            if new_key is not None:
                for value in new:
                    bisect.insort(buckets.setdefault(value, []), new_key)
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


def _unsort(buckets: _Buckets, values: Iterable[object], entry: tuple[Any, ...]) -> None:
    """Take `entry` out of the buckets of `values` of a sorted index."""
    for value in values:
        bucket = buckets.get(value)
        if bucket is None:
            continue
        position = bisect.bisect_left(bucket, entry)
        if position < len(bucket) and bucket[position] == entry:
            del bucket[position]
        if not bucket:
            del buckets[value]


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
