"""Hook calls and SQL statements per flow: what one call of each flow asks of the backends.

``python -m benchmarks.counts`` runs every flow of :mod:`benchmarks.flows` once to warm up,
then once more counting, and prints one line per flow:

* **hook calls** on the memory backend: every ``aftersales_*`` hook call reaching the
  plugin manager, counted with pluggy's public ``add_hookcall_monitoring``;
* **SQL statements** on a throw-away SQLite file: everything SQLAlchemy sends to the driver
  (``before_cursor_execute``), ``BEGIN`` and savepoints included, and how many of them are
  transaction control.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

from aftersales.backends.memory import MemoryBackend

from .flows import FLOWS, Flow, make_world

__all__ = ["hook_calls", "main", "statements"]


def hook_calls(flow: Flow) -> int:
    """The hook calls of one call of ``flow`` on the memory backend."""
    world = make_world(MemoryBackend())
    cases = flow.setup(world, 2)
    flow.call(world, cases[0])
    seen: list[str] = []

    def before(name: str, *_args: Any) -> None:
        if name.startswith("aftersales_"):
            seen.append(name)

    undo = world.app.pm.add_hookcall_monitoring(before, lambda *_args: None)
    try:
        flow.call(world, cases[1])
    finally:
        undo()
    return len(seen)


def statements(flow: Flow, folder: Path) -> tuple[int, int]:
    """The statements of one call of ``flow`` on SQLite, and how many are ``BEGIN`` /
    ``SAVEPOINT`` / ``RELEASE`` / ``ROLLBACK TO``."""
    from aftersales.backends.sql import SqlBackend

    backend = SqlBackend(str(folder / f"{flow.name}.db"))
    try:
        world = make_world(backend)
        cases = flow.setup(world, 2)
        flow.call(world, cases[0])
        sent: list[str] = []

        def seen(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
            sent.append(sql)

        event.listen(backend.db.engine, "before_cursor_execute", seen)
        try:
            flow.call(world, cases[1])
        finally:
            event.remove(backend.db.engine, "before_cursor_execute", seen)
    finally:
        backend.close()
    control = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")
    return len(sent), sum(1 for sql in sent if sql.lstrip().upper().startswith(control))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.counts",
        description="Hook calls (memory backend) and SQL statements (SQLite) per flow.",
    )
    parser.add_argument("--flow", action="append", default=[], metavar="TEXT")
    args = parser.parse_args(argv)
    flows = [f for f in FLOWS if not args.flow or any(p in f.name for p in args.flow)]
    print("| flow | hook calls (memory) | SQL statements (SQLite) | of which BEGIN/savepoints |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for flow in flows:
            sql, control = statements(flow, Path(folder))
            print(f"| `{flow.name}` | {hook_calls(flow)} | {sql} | {control} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
