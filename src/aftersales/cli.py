"""The ``aftersales`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aftersales.app import AfterSales
from aftersales.backends.memory import MemoryBackend
from aftersales.clock import SystemClock
from aftersales.errors import BackendError, ConfigurationError, DomainError
from aftersales.models import Service
from aftersales.testing.scenario import build_scenario

__all__ = ["main"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(out)


def demo(out: list[str]) -> None:
    """Build a small world on the reference backend and show the after-sales set-up."""
    backend = MemoryBackend()
    clock = SystemClock()
    app = AfterSales(backend, clock=clock)
    world = backend.builder(clock)
    sc = build_scenario(world, services=frozenset())
    manager, agent = sc.actors.manager, sc.actors.agent

    plan = app.settings.plan(sc.team.id, enable=set(Service), actor=manager)
    out.append("== Enabling every after-sales service on team 'Support'")
    out.append(plan.warning or "Every module needed is already installed.")
    settings = app.settings.configure(sc.team.id, enable=set(Service), actor=manager)
    out.append(
        _table(
            ["service", "on"],
            [(s.label, "yes" if settings.team.has(s) else "no") for s in Service],
        )
    )
    status = app.subscription.status(actor=manager)
    out.append(f"Subscription: {status.state.value}")

    view = app.tickets.view(sc.ticket.id, actor=agent)
    out.append(f"\n== Ticket #{view.ticket.ref}: {view.ticket.title} ({view.customer_name})")
    out.append("Actions: " + (", ".join(view.actions) or "none"))
    counts = view.counts
    out.append(
        _table(
            ["credit notes", "coupons", "returns", "repairs", "tasks"],
            [(counts.credit_notes, counts.coupons, counts.returns, counts.repairs, counts.tasks)],
        )
    )


def database(command: str, url: str | None, out: list[str]) -> None:
    """``aftersales db upgrade|version``: migrate or inspect a SQL database."""
    from aftersales.backends.sql import SCHEMA_VERSION, current_version, upgrade
    from aftersales.backends.sql.engine import Database

    db = Database(url)
    try:
        if command == "upgrade":
            before, after = upgrade(db)
            change = "already current" if before == after else f"upgraded from {before}"
            out.append(f"{db.safe_url}: schema version {after} ({change})")
        else:
            with db.connection(writes=False) as conn:
                version = current_version(conn)
            state = "current" if version == SCHEMA_VERSION else f"code needs {SCHEMA_VERSION}"
            out.append(f"{db.safe_url}: schema version {version} ({state})")
    finally:
        db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aftersales`` console script."""
    parser = argparse.ArgumentParser(prog="aftersales", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the after-sales flows on the reference backend")
    db = commands.add_parser("db", help="migrate or inspect the SQL backend's database")
    db.add_argument("action", choices=("upgrade", "version"))
    db.add_argument(
        "url",
        nargs="?",
        help="a SQLite file path or postgresql:// URL (default: $AFTERSALES_DATABASE_URL, "
        "else ./aftersales.db)",
    )
    args = parser.parse_args(argv)
    out: list[str] = []
    try:
        if args.command == "demo":
            demo(out)
        elif args.command == "db":
            database(args.action, args.url, out)
    except (DomainError, ConfigurationError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
