"""The ``aftersales`` command: a demo, the ticket view, installed plugins, migrations.

Exit codes: 0 success, 1 a refusal or failure with its message (no traceback), 2 a usage
error. Read commands take ``--json``. The command acts as the system actor (a back-office
script) unless ``--user`` names a user and ``--groups`` their groups.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, TextIO

from aftersales.app import AfterSales
from aftersales.clock import SystemClock
from aftersales.demo import Section, render_table, run_demo, ticket_view_sections
from aftersales.errors import AfterSalesError, ConfigurationError
from aftersales.models import Actor, Service
from aftersales.plugins import REQUIRED_HOOKS, installed_backends
from aftersales.serialization import converter

__all__ = ["DEMO_DATABASE", "main"]

#: Where ``aftersales demo`` keeps its database unless told otherwise (rebuilt each run).
DEMO_DATABASE = "aftersales-demo.db"


def _print_section(section: Section, out: TextIO) -> None:
    out.write(f"\n== {section.title}\n")
    for line in section.lines:
        out.write(f"{line}\n")
    for headers, rows in section.tables:
        out.write(render_table(headers, rows) + "\n")


def _backend(args: argparse.Namespace) -> Any:
    if getattr(args, "memory", False):
        from aftersales.backends.memory import MemoryBackend

        return MemoryBackend()
    try:
        from aftersales.backends.sql import SqlBackend
    except ImportError as exc:
        raise ConfigurationError(
            f"the SQL backend needs its extra ({exc}): pip install 'aftersales[sql]', "
            "or run with --memory"
        ) from exc
    return SqlBackend(args.db)


def _actor(args: argparse.Namespace) -> Actor:
    if args.user is None:
        return Actor.system()
    groups = [g.strip() for g in (args.groups or "").split(",") if g.strip()]
    return Actor(user_id=args.user, groups=tuple(groups))  # InvalidInput lists the groups


def _json(data: object, out: TextIO) -> None:
    out.write(json.dumps(converter.unstructure(data), indent=2, ensure_ascii=False) + "\n")


# -- commands ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, out: TextIO) -> None:
    """Run every after-sales flow on a fresh world and print what happened."""
    if not args.memory and args.db is None:
        args.db = DEMO_DATABASE
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                Path(DEMO_DATABASE + suffix).unlink()
    backend = _backend(args)
    where = "the in-memory reference backend" if args.memory else f"SQL database {args.db}"
    out.write(f"aftersales demo on {where}\n")
    try:
        app = AfterSales(backend, clock=SystemClock())
        sc = run_demo(app, backend.builder(app.clock), lambda s: _print_section(s, out))
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if not args.memory:
        out.write(
            f"\nThe data stays in {args.db}; show the ticket again with:\n"
            f"  aftersales ticket show {sc.ticket.ref} --db {args.db}\n"
        )


def cmd_ticket_show(args: argparse.Namespace, out: TextIO) -> None:
    """Print the ticket view (actions, counts, documents, trail) of one ticket."""
    backend = _backend(args)
    try:
        app = AfterSales(backend, clock=SystemClock())
        actor = _actor(args)
        ticket_id = args.ticket
        if ticket_id.startswith("#") or ticket_id.isdigit():
            ticket_id = app.tickets.find(ticket_id, actor=actor).id
        view = app.tickets.view(ticket_id, actor=actor)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if args.json:
        _json(view, out)
        return
    for section in ticket_view_sections(view):
        _print_section(section, out)


def cmd_plugins(args: argparse.Namespace, out: TextIO) -> None:
    """Installed backends, the hooks each implements, what each service still misses."""
    report: list[dict[str, Any]] = []
    for name, entry_point in sorted(installed_backends().items()):
        try:
            plugin = entry_point.load()
        except ImportError as exc:
            report.append({"name": name, "target": entry_point.value, "error": str(exc)})
            continue
        hooks = sorted(
            attr
            for attr in dir(plugin)
            if attr.startswith("aftersales_") and hasattr(getattr(plugin, attr), "aftersales_impl")
        )
        missing = {
            part: sorted(set(needed) - set(hooks))
            for part, needed in REQUIRED_HOOKS.items()
            if set(needed) - set(hooks)
        }
        report.append(
            {"name": name, "target": entry_point.value, "hooks": hooks, "missing": missing}
        )
    if args.json:
        out.write(json.dumps(report, indent=2) + "\n")
        return
    for item in report:
        out.write(f"\n== {item['name']} ({item['target']})\n")
        if "error" in item:
            out.write(f"cannot be imported: {item['error']}\n")
            continue
        out.write(f"implements {len(item['hooks'])} hooks\n")
        parts = ["core", *(s.value for s in Service)]
        rows = [
            (
                part,
                "ready"
                if part not in item["missing"]
                else "missing: " + ", ".join(item["missing"][part]),
            )
            for part in parts
        ]
        out.write(render_table(["needed by", "status"], rows) + "\n")


def cmd_db(args: argparse.Namespace, out: TextIO) -> None:
    """``aftersales db upgrade|version``: migrate or inspect a SQL database."""
    from aftersales.backends.sql import SCHEMA_VERSION, current_version, upgrade
    from aftersales.backends.sql.engine import Database

    db = Database(args.db or args.url)
    try:
        if args.action == "upgrade":
            before, after = upgrade(db)
            change = "already current" if before == after else f"upgraded from {before}"
            result = {"database": db.safe_url, "version": after, "previous": before}
            text = f"{db.safe_url}: schema version {after} ({change})"
        else:
            with db.connection(writes=False) as conn:
                version = current_version(conn)
            state = "current" if version == SCHEMA_VERSION else f"code needs {SCHEMA_VERSION}"
            result = {"database": db.safe_url, "version": version, "required": SCHEMA_VERSION}
            text = f"{db.safe_url}: schema version {version} ({state})"
    finally:
        db.dispose()
    if args.json:
        out.write(json.dumps(result, indent=2) + "\n")
    else:
        out.write(text + "\n")


# -- parsing -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftersales",
        description="After-sales services from a helpdesk ticket.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def database_options(command: argparse.ArgumentParser, *, memory: bool) -> None:
        where = command.add_mutually_exclusive_group()
        where.add_argument(
            "--db",
            metavar="URL",
            help="a SQLite file path or a postgresql:// URL (default: $AFTERSALES_DATABASE_URL,"
            " else ./aftersales.db)",
        )
        if memory:
            where.add_argument(
                "--memory", action="store_true", help="use the in-memory reference backend"
            )

    def actor_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--user", help="act as this user (default: the system actor)")
        command.add_argument(
            "--groups", help="comma-separated groups of --user, e.g. helpdesk_user,billing"
        )

    demo = commands.add_parser("demo", help="run every after-sales flow on a small world")
    database_options(demo, memory=True)
    demo.set_defaults(run=cmd_demo, json=False)

    ticket = commands.add_parser("ticket", help="read a ticket")
    ticket_commands = ticket.add_subparsers(dest="ticket_command", required=True, metavar="ACTION")
    show = ticket_commands.add_parser("show", help="the ticket view: actions, documents, trail")
    show.add_argument("ticket", metavar="TICKET", help="the ticket's number (#12 or 12) or id")
    database_options(show, memory=False)
    actor_options(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=cmd_ticket_show, memory=False)

    plugins = commands.add_parser("plugins", help="installed backends and what they implement")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(run=cmd_plugins)

    db = commands.add_parser("db", help="migrate or inspect the SQL backend's database")
    db.add_argument("action", choices=("upgrade", "version"))
    db.add_argument("url", nargs="?", help="the database (same as --db)")
    db.add_argument("--db", metavar="URL", help="a SQLite file path or a postgresql:// URL")
    db.add_argument("--json", action="store_true", help="print JSON")
    db.set_defaults(run=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``aftersales`` console script; returns the exit code."""
    stream = out or sys.stdout
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace, TextIO], None] = args.run
    try:
        run(args, stream)
    except (AfterSalesError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
        with suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open until exit
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
