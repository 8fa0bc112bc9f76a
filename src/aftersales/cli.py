"""The `aftersales` command: a demo, the ticket view, installed plugins, migrations.

Exit codes: 0 success, 1 a refusal or failure with its message (no traceback), 2 a usage
error (reported as argparse reports its own). Read commands take `--json` and never create
or migrate a database. The command acts as the system actor (a back-office script) unless
`--user` names a user and `--groups` their groups.

`--db` (else `$AFTERSALES_DATABASE_URL`, else `./aftersales.db`) is a URL when it
holds `://` (`postgresql://…` or `sqlite:///…`) and a SQLite file path otherwise; a
path with `:` in it is refused as a mistyped URL (`sqlite:///<path>` opens such a file).

`aftersales demo` builds its world anew on each run, in `./aftersales-demo.db` unless
`--db` names another database: one that does not exist yet (or is empty), or one a
previous demo built, which it replaces; any other database is refused and left untouched.
A run cut short (an error, Ctrl-C, its reader gone as in `aftersales demo | head`) leaves
the database as it was: a SQLite file is built beside its place and moved there at the end,
a PostgreSQL database in one transaction.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shlex
import sqlite3
import sys
from collections.abc import Callable, Sequence
from contextlib import closing, suppress
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aftersales.app import AfterSales
from aftersales.clock import SystemClock
from aftersales.demo import Section, render_table, run_demo, ticket_view_sections
from aftersales.errors import AfterSalesError, ConfigurationError
from aftersales.models import Actor, Group, Service
from aftersales.plugins import REQUIRED_HOOKS, installed_backends
from aftersales.ports import PORTS, Owner
from aftersales.serialization import converter
from aftersales.testing.scenario import Scenario

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["DATABASE_ENV", "DEMO_APPLICATION_ID", "DEMO_DATABASE", "UsageError", "main"]

#: Where `aftersales demo` keeps its database unless told otherwise (rebuilt each run).
DEMO_DATABASE = "aftersales-demo.db"

#: The SQLite application id (`PRAGMA application_id`) marking a file the demo built.
DEMO_APPLICATION_ID = 0x41465344  # "AFSD"

#: PostgreSQL: the comment on the `schema_version` table of a database the demo built.
_DEMO_COMMENT = "built by aftersales demo"


def _print_section(section: Section, out: TextIO) -> None:
    out.write(f"\n== {section.title}\n")
    for line in section.lines:
        out.write(f"{line}\n")
    for headers, rows in section.tables:
        out.write(render_table(headers, rows) + "\n")


def _shown(url: URL) -> str:
    """A database for messages: a SQLite file's path, a server URL without its password."""
    if url.get_backend_name() == "sqlite":
        return url.database or ""
    return url.render_as_string(hide_password=True)


def _existing_version(url: URL) -> int:
    """The schema version of an existing database, opened only to read it (0 when it
    holds no aftersales schema); `no database at …` when a SQLite file does not exist."""
    from aftersales.backends.sql import current_version
    from aftersales.backends.sql.engine import Database

    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.is_file():
            raise ConfigurationError(f"no database at {path}")
        if path.stat().st_size == 0:  # opening it would write SQLite's header
            return 0
    db = Database(url)
    try:
        with db.connection(writes=False) as conn:
            return current_version(conn)
    finally:
        db.dispose()


def _reading_backend(args: argparse.Namespace) -> Any:
    """The backend a read command works on: an existing database at the current schema
    version, opened without creating or migrating anything."""
    from aftersales.backends.sql import SqlBackend
    from aftersales.backends.sql.engine import normalize_url

    url = normalize_url(args.db)
    if _existing_version(url) == 0:
        raise ConfigurationError(
            f"no aftersales database at {_shown(url)} (it holds no aftersales schema; "
            "`aftersales db upgrade` creates one)"
        )
    return SqlBackend(url, migrate=False)


def _groups(value: str) -> frozenset[Group]:
    """`--groups`: comma-separated group names, each one of `Group`."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in set(Group)]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown group{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the groups are {', '.join(g.value for g in Group)}"
        )
    return frozenset(Group(name) for name in names)


def _actor(args: argparse.Namespace) -> Actor:
    if args.user is None:
        return Actor.system()
    return Actor(user_id=args.user, groups=args.groups or frozenset())


def _json(data: object, out: TextIO) -> None:
    out.write(json.dumps(converter.unstructure(data), indent=2, ensure_ascii=False) + "\n")


# -- commands ------------------------------------------------------------------------------


def _run_demo(backend: Any, out: TextIO) -> Scenario:
    app = AfterSales(backend, clock=SystemClock())
    return run_demo(app, backend.builder(app.clock), lambda s: _print_section(s, out))


def _is_demo_file(path: Path) -> bool:
    """Whether a SQLite file was built by `aftersales demo` (its header's application id)."""
    with path.open("rb") as file:
        header = file.read(100)
    return (
        header[:16] == b"SQLite format 3\x00"
        and int.from_bytes(header[68:72], "big") == DEMO_APPLICATION_ID
    )


def _demo_sqlite(path: Path, shown: str, out: TextIO) -> Scenario:
    """Build the demo in a new file beside `path`, then move it into place: whatever
    stops the run half-way (an error, Ctrl-C, a reader gone as in `| head`) leaves
    `path` as it was."""
    from aftersales.backends.sql import SqlBackend

    if path.is_file() and path.stat().st_size > 0 and not _is_demo_file(path):
        raise ConfigurationError(
            f"{shown} is not a database built by `aftersales demo`, which rebuilds only its "
            "own: give another --db, or delete the file"
        )
    out.write(f"aftersales demo on SQL database {shown}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}.building")
    leftovers = [Path(f"{building}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    try:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        backend = SqlBackend(building)
        try:
            sc = _run_demo(backend, out)
        finally:
            backend.close()
        with closing(sqlite3.connect(building)) as conn:
            conn.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm", "-journal"):  # the old file's: not the new one's
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(building, path)
    finally:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
    return sc


def _demo_postgresql(url: URL, out: TextIO) -> Scenario:
    """Build the demo in one transaction: whatever stops the run half-way leaves the
    database as it was. A new (empty) database is marked as the demo's first."""
    import sqlalchemy as sa

    from aftersales.backends.sql import SqlBackend
    from aftersales.backends.sql.engine import Database

    db = Database(url)
    try:
        with db.connection(writes=False) as conn:
            tables = sa.inspect(conn).get_table_names()
            marked = (
                "schema_version" in tables
                and conn.execute(
                    sa.text("SELECT obj_description('schema_version'::regclass, 'pg_class')")
                ).scalar()
                == _DEMO_COMMENT
            )
    finally:
        db.dispose()
    shown = _shown(url)
    if tables and not marked:
        raise ConfigurationError(
            f"{shown} is not a database built by `aftersales demo`, which rebuilds only its "
            "own (or an empty one): give another --db"
        )
    out.write(f"aftersales demo on SQL database {shown}\n")
    backend = SqlBackend(url)
    try:
        if not tables:
            with backend.db.connection() as conn:
                conn.execute(sa.text(f"COMMENT ON TABLE schema_version IS '{_DEMO_COMMENT}'"))
        tx = backend.db.begin(writes=True)  # every unit of work below is a savepoint of it
        try:
            if tables:
                backend.reset()
            sc = _run_demo(backend, out)
        except BaseException:
            tx.rollback()
            raise
        tx.commit()
    finally:
        backend.close()
    return sc


#: What installs the Tryton plugin, for the message when it is missing.
TRYTON_INSTALL = "pip install -e plugins/tryton (or the dev extra: pip install -e '.[dev]')"


def _demo_tryton(args: argparse.Namespace, out: TextIO) -> None:
    """The demo with Tryton as the ERP: a throw-away Tryton database in process
    (`--tryton-local`) or the one at `--tryton URL`; the store is a throw-away SQLite file."""
    import tempfile

    try:
        from aftersales_tryton import demo
    except ImportError as exc:
        raise ConfigurationError(
            f"the Tryton demo needs the aftersales-tryton plugin ({exc}): {TRYTON_INSTALL}"
        ) from None

    def emit(section: Section) -> None:
        _print_section(section, out)

    with tempfile.TemporaryDirectory(prefix="aftersales-tryton-demo-") as folder:
        if args.tryton_local:
            out.write(
                "aftersales demo on Tryton: a new Tryton database (SQLite, in process, "
                "thrown away at the end) as the ERP, a SQLite file as the store\n"
            )
            out.flush()
            demo.demo_local(Path(folder), emit)
        else:
            out.write(f"aftersales demo on Tryton at {args.tryton} as the ERP\n")
            demo.demo_over_rpc(
                args.tryton,
                user=args.tryton_user,
                password=args.tryton_password,
                folder=Path(folder),
                emit=emit,
            )
            out.write(
                f"\nThe customer, products, invoices and credit notes stay in {args.tryton}.\n"
            )


def cmd_demo(args: argparse.Namespace, out: TextIO) -> None:
    """Run every after-sales flow on a fresh world and print what happened.

    The world is built anew on each run, in the in-memory backend or in a database the demo
    owns: a new one, or one a previous run built (any other is refused, untouched). With
    Tryton as the ERP (`--tryton URL`, `--tryton-local`) it shows the flows Tryton serves.
    """
    if args.tryton or args.tryton_local:
        _demo_tryton(args, out)
        return
    if args.memory:
        from aftersales.backends.memory import MemoryBackend

        out.write("aftersales demo on the in-memory reference backend\n")
        _run_demo(MemoryBackend(), out)
        return
    url: URL = args.db
    if url.get_backend_name() == "sqlite":
        shown = args.db_given  # as typed: the command below works from here
        sc = _demo_sqlite(Path(url.database or ""), shown, out)
    else:
        shown = _shown(url)  # the password masked
        sc = _demo_postgresql(url, out)
    out.write(
        f"\nThe data stays in {shown}; show the ticket again with:\n"
        f"  aftersales ticket show {sc.ticket.ref} --db {shlex.quote(shown)}\n"
    )


def cmd_ticket_show(args: argparse.Namespace, out: TextIO) -> None:
    """Print the ticket view (actions, counts, documents, trail) of one ticket."""
    backend = _reading_backend(args)
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


PORT_OWNER_LABELS = {owner.value: owner.label for owner in Owner}


def cmd_plugins(args: argparse.Namespace, out: TextIO) -> None:
    """Installed backends, the hooks each implements, what each service still misses, and
    the ports each would own in an application built on it alone."""
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
        served: dict[str, dict[str, Any]] = {}
        for port in PORTS:
            mine = [hook for hook in port.hooks if hook in hooks]
            lacking = sorted(hook for hook in port.hooks if hook not in hooks and port.hooks[hook])
            served[port.name] = {
                "owner": port.owner.value,
                "served": bool(mine),
                "lacking": lacking if mine else [],
            }
        report.append(
            {
                "name": name,
                "target": entry_point.value,
                "hooks": hooks,
                "missing": missing,
                "ports": served,
            }
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
        port_rows = [
            (
                port,
                PORT_OWNER_LABELS[info["owner"]],
                (
                    item["name"]
                    if not info["lacking"]
                    else f"{item['name']} (lacks: " + ", ".join(info["lacking"]) + ")"
                )
                if info["served"]
                else "-",
            )
            for port, info in item["ports"].items()
        ]
        out.write(render_table(["port", "owner kind", "owner"], port_rows) + "\n")


def cmd_db(args: argparse.Namespace, out: TextIO) -> None:
    """`aftersales db upgrade|version`: migrate or inspect a SQL database."""
    from aftersales.backends.sql import SCHEMA_VERSION, upgrade
    from aftersales.backends.sql.engine import Database, normalize_url

    url = normalize_url(args.db)
    if args.action == "upgrade":
        db = Database(url)
        try:
            before, after = upgrade(db)
        finally:
            db.dispose()
        change = "already current" if before == after else f"upgraded from {before}"
        result = {"database": db.safe_url, "version": after, "previous": before}
        text = f"{db.safe_url}: schema version {after} ({change})"
    else:
        version = _existing_version(url)  # reading never creates a database
        safe_url = url.render_as_string(hide_password=True)
        state = "current" if version == SCHEMA_VERSION else f"code needs {SCHEMA_VERSION}"
        result = {"database": safe_url, "version": version, "required": SCHEMA_VERSION}
        text = f"{safe_url}: schema version {version} ({state})"
    if args.json:
        out.write(json.dumps(result, indent=2) + "\n")
    else:
        out.write(text + "\n")


# -- parsing -------------------------------------------------------------------------------

#: Read when a command is given no `--db`.
DATABASE_ENV = "AFTERSALES_DATABASE_URL"

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


class UsageError(Exception):
    """A command line the command cannot run: reported like argparse's own errors (exit 2)."""


def _database(value: str | None, *, memory: bool, source: str = "argument --db") -> URL:
    """The SQLAlchemy URL of `--db` (else `$AFTERSALES_DATABASE_URL`, else
    `./aftersales.db`); a `UsageError` when it is neither a SQLite file path nor a URL
    of a database this library supports, or when the driver it needs is not installed.

    A value is a URL when it holds `://`; any other value is a SQLite file path, in which
    no part may contain `:` (`postgresql:/db`, `::::` or `:memory:` are mistyped
    URLs far more often than file names; `sqlite:////path/with:colon.db` still opens such
    a file).
    """
    if value is None:
        value = os.environ.get(DATABASE_ENV) or None
        source = f"${DATABASE_ENV}"
    try:
        import sqlalchemy  # noqa: F401 - the 'sql' extra
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from aftersales.backends.sql.engine import DEFAULT_URL, normalize_url
    except ImportError as exc:
        raise UsageError(
            f"a SQL database needs the 'sql' extra ({exc}): pip install 'aftersales[sql]'"
            + (", or use --memory" if memory else "")
        ) from exc
    if value is None:
        value = DEFAULT_URL
    shown = _PASSWORD.sub(r"\1***@", value)
    if "://" in value:
        try:
            url = make_url(value)
        except ArgumentError:
            raise UsageError(
                f"{source}: {shown!r} is not a database URL "
                "(e.g. postgresql://user@host:5432/db, or a SQLite file path)"
            ) from None
        except ValueError:  # SQLAlchemy reads whatever follows the host's ':' as the port
            raise UsageError(
                f"{source}: {shown!r} has a port that is not a number from 1 to 65535"
            ) from None
        if url.port is not None and not 1 <= url.port <= 65535:
            raise UsageError(f"{source}: {shown!r} has a port that is not a number from 1 to 65535")
    else:
        path = Path(value)
        if not value.strip():
            raise UsageError(f"{source}: an empty path; give a SQLite file path or a URL")
        if value == ":memory:":
            raise UsageError(
                f"{source}: an in-memory SQLite database does not outlive the command"
                + ("; use --memory for the in-memory reference backend" if memory else "")
            )
        if any(":" in part for part in path.parts if part != path.anchor):
            raise UsageError(
                f"{source}: {value!r} is neither a database URL (postgresql://user@host/db) "
                "nor a SQLite file path (a path with ':' is taken for a mistyped URL; "
                "write sqlite:///<path> to open such a file)"
            )
        if path.expanduser().is_dir():
            raise UsageError(f"{source}: {value!r} is a folder, not a SQLite file")
    try:
        parsed = normalize_url(value)
    except ConfigurationError as exc:
        raise UsageError(f"{source}: {exc}") from None
    if parsed.get_backend_name() == "postgresql":
        try:
            importlib.import_module("psycopg")
        except ImportError as exc:
            raise UsageError(
                f"a PostgreSQL database needs psycopg 3 ({exc}): pip install 'aftersales[postgres]'"
            ) from None
    return parsed


def _check(args: argparse.Namespace) -> None:
    """What argparse cannot check alone; raises `UsageError`."""
    if getattr(args, "groups", None) is not None and args.user is None:
        raise UsageError("argument --groups: needs --user (the system actor has no groups)")
    if args.command == "db" and args.db is not None and args.url is not None:
        raise UsageError("give the database once: as URL or as --db, not both")
    if args.command == "demo":
        if args.tryton is None and (args.tryton_user or args.tryton_password):
            raise UsageError("arguments --tryton-user, --tryton-password: need --tryton URL")
        if args.tryton is not None:
            args.tryton_user = args.tryton_user or "admin"
            args.tryton_password = args.tryton_password or os.environ.get(
                "AFTERSALES_TRYTON_PASSWORD"
            )
            if args.tryton_password is None:
                raise UsageError(
                    "argument --tryton: needs --tryton-password or $AFTERSALES_TRYTON_PASSWORD"
                )
            return
        if args.tryton_local:
            return
        if not args.memory:
            args.db_given = DEMO_DATABASE if args.db is None else args.db  # not the env
            args.db = _database(args.db_given, memory=True)
        return
    if args.command == "db" and args.url is not None:
        args.db = _database(args.url, memory=False, source="argument URL")
    elif args.command in ("demo", "ticket", "db"):
        args.db = _database(args.db, memory=args.command == "demo")


def _version() -> str:
    try:
        return metadata.version("aftersales")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftersales",
        description="After-sales services from a helpdesk ticket.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def database_options(command: argparse.ArgumentParser, *, memory: bool) -> Any:
        where = command.add_mutually_exclusive_group()
        where.add_argument(
            "--db",
            metavar="URL",
            help="a new SQLite file path or postgresql:// URL, or one a previous demo built"
            f" (default: ./{DEMO_DATABASE})"
            if memory
            else "a SQLite file path or a postgresql:// URL (default: $AFTERSALES_DATABASE_URL,"
            " else ./aftersales.db)",
        )
        if memory:
            where.add_argument(
                "--memory", action="store_true", help="use the in-memory reference backend"
            )
        return where

    def actor_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--user", help="act as this user (default: the system actor)")
        command.add_argument(
            "--groups",
            type=_groups,
            help="comma-separated groups of --user, e.g. helpdesk_user,billing (one of: "
            + ", ".join(g.value for g in Group)
            + ")",
        )

    demo = commands.add_parser(
        "demo", help="run every after-sales flow on a small world, built anew on each run"
    )
    where = database_options(demo, memory=True)
    where.add_argument(
        "--tryton",
        metavar="URL",
        help="Tryton as the ERP: the database at this XML-RPC URL (http://host:port/<db>/rpc/),"
        " which has a company with its accounting, or no company at all",
    )
    where.add_argument(
        "--tryton-local",
        action="store_true",
        help="Tryton as the ERP: a new Tryton database in a temporary folder, in process",
    )
    demo.add_argument("--tryton-user", help="the Tryton user of --tryton (default: admin)")
    demo.add_argument(
        "--tryton-password",
        help="the password of --tryton-user (default: $AFTERSALES_TRYTON_PASSWORD)",
    )
    demo.set_defaults(command_parser=demo, run=cmd_demo, json=False)

    ticket = commands.add_parser("ticket", help="read a ticket")
    ticket_commands = ticket.add_subparsers(dest="ticket_command", required=True, metavar="ACTION")
    show = ticket_commands.add_parser("show", help="the ticket view: actions, documents, trail")
    show.add_argument("ticket", metavar="TICKET", help="the ticket's number (#12 or 12) or id")
    database_options(show, memory=False)
    actor_options(show)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(command_parser=show, run=cmd_ticket_show, memory=False)

    plugins = commands.add_parser("plugins", help="installed backends and what they implement")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(command_parser=plugins, run=cmd_plugins)

    db = commands.add_parser("db", help="migrate or inspect the SQL backend's database")
    db.add_argument("action", choices=("upgrade", "version"))
    db.add_argument("url", nargs="?", help="the database (same as --db)")
    db.add_argument(
        "--db",
        metavar="URL",
        help="a SQLite file path or a postgresql:// URL (default: $AFTERSALES_DATABASE_URL,"
        " else ./aftersales.db)",
    )
    db.add_argument("--json", action="store_true", help="print JSON")
    db.set_defaults(command_parser=db, run=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the `aftersales` console script; returns the exit code."""
    stream = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check(args)
    except UsageError as exc:
        args.command_parser.error(str(exc))  # exits with 2
    run: Callable[[argparse.Namespace, TextIO], None] = args.run
    try:
        run(args, stream)
    except (AfterSalesError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
        if stream is sys.stdout:  # what is still buffered must not fail at exit
            with suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
