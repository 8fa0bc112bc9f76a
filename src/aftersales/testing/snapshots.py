"""Whole-store snapshots: the proof that a refused call changed nothing (G-3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

__all__ = ["Snapshotting", "assert_unchanged", "diff"]


@runtime_checkable
class Snapshotting(Protocol):
    """A backend that can copy its whole store (every conformance backend can)."""

    def snapshot(self) -> dict[str, dict[Any, Any]]: ...


def diff(before: dict[str, dict[Any, Any]], after: dict[str, dict[Any, Any]]) -> str:
    """Which keys of which tables were added, removed or changed."""
    lines: list[str] = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        added = [k for k in new if k not in old]
        removed = [k for k in old if k not in new]
        changed = [k for k in new if k in old and new[k] != old[k]]
        for label, keys in (("added", added), ("removed", removed), ("changed", changed)):
            if keys:
                lines.append(f"{table}: {label} {keys[:5]!r}{' …' if len(keys) > 5 else ''}")
    return "\n".join(lines)


@contextmanager
def assert_unchanged(backend: Snapshotting) -> Iterator[None]:
    """Fail unless the store is exactly the same after the block as before it.

    Examples:
        >>> # with pytest.raises(InvalidInput), assert_unchanged(backend): ...
    """
    before = backend.snapshot()
    try:
        yield
    finally:
        after = backend.snapshot()
        if after != before:
            raise AssertionError("the store changed:\n" + diff(before, after))
