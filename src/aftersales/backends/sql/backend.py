"""The SQL backend: every hook of [`aftersales.hookspecs`][aftersales.hookspecs] on SQLAlchemy
Core.

It behaves like the memory backend (`aftersales.backends.memory`), the reference:
same orderings, same [`DuplicateKey`][aftersales.errors.DuplicateKey] for coupon codes, repair
references and idempotency keys. What differs is durability and concurrency: data lives in
a database shared by every process that opens it, one unit of work is one transaction, and
`lock=True` takes a row lock on PostgreSQL (SQLite serializes writing units instead).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa
from cattrs.errors import BaseValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.sql.expression import ClauseElement

from aftersales.backends.sql import mapping
from aftersales.backends.sql.builder import SqlBuilder
from aftersales.backends.sql.coupons import SqlCoupons
from aftersales.backends.sql.engine import Database
from aftersales.backends.sql.imports import SqlImports
from aftersales.backends.sql.ledger import SqlLedger
from aftersales.backends.sql.mapping import Row, RowData
from aftersales.backends.sql.migrations import (
    DEFAULT_MODULES,
    current_version,
    installed,
    seed,
    upgrade,
)
from aftersales.backends.sql.repairs import SqlRepairs
from aftersales.backends.sql.schema import SCHEMA_VERSION, metadata
from aftersales.backends.sql.statements import (
    MAX_IN,
    Prepared,
    Statements,
    chunked,
    in_list,
    padded,
)
from aftersales.backends.sql.tasks import SqlTasks
from aftersales.clock import Clock
from aftersales.erp import (
    AccountingPort,
    CouponStore,
    Ledger,
    LoyaltyPort,
    ProjectPort,
    ReferenceAccounting,
    ReferenceLoyalty,
    ReferenceRepairs,
    ReferenceStock,
    RepairPort,
    RepairStorage,
    StockLedger,
    StockPort,
)
from aftersales.erp.imports import ImportPort, ReferenceImports
from aftersales.erp.project import ReferenceProject, TaskStore
from aftersales.errors import BackendError, ConfigurationError, ConflictError, DuplicateKey
from aftersales.formatting import show
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    DocumentKind,
    DocumentLink,
    EmailState,
    FieldServiceTask,
    IdempotencyRecord,
    Invoice,
    Match,
    OutgoingEmail,
    Partner,
    Payment,
    Picking,
    Product,
    Project,
    RepairOrder,
    SaleOrder,
    Subscription,
    Team,
    TeamConfig,
    Ticket,
    TicketMessage,
)
from aftersales.models.queries import InvoiceQuery, LinkQuery, MessageQuery, PickingQuery
from aftersales.unit_of_work import UnitOfWork

__all__ = ["SqlBackend"]

T = TypeVar("T")
R = TypeVar("R")

_t = metadata.tables
PARTNERS, PRODUCTS, SALE_ORDERS = _t["partners"], _t["products"], _t["sale_orders"]
TEAMS, TICKETS, LINKS, MESSAGES = _t["teams"], _t["tickets"], _t["links"], _t["messages"]
TEAM_SETTINGS = _t["team_settings"]
INVOICES, LINES, PAYMENTS, MATCHES = (
    _t["invoices"],
    _t["invoice_lines"],
    _t["payments"],
    _t["matches"],
)
SEQUENCES, MODULES, SUBSCRIPTION = _t["sequences"], _t["modules"], _t["subscription"]
PROGRAMS, COUPONS, USES = _t["programs"], _t["coupons"], _t["coupon_uses"]
PICKINGS, MOVES, REPAIRS = _t["pickings"], _t["stock_moves"], _t["repairs"]
PROJECTS, TASKS, AUDIT = _t["projects"], _t["tasks"], _t["audit"]
OUTBOX, DELIVERED, IDEMPOTENCY = _t["outbox"], _t["mail_delivered"], _t["idempotency_keys"]
CLAIMS = _t["claims"]

#: How snapshot keys rows: tables with a `seq` key by `id` unless listed here.
_SNAPSHOT_KEYS: dict[str, tuple[str, ...]] = {
    "links": ("ticket_id", "kind", "document_id"),
    "team_settings": ("team_id",),
}

#: The table of the records whose children a child table holds (what the unit of work
#: forgets of the parent table when its children are written).
_PARENTS = {LINES.name: INVOICES.name, MOVES.name: PICKINGS.name}

_EARLIEST = datetime.min.replace(year=1)
_LINK_KEY = ("ticket_id", "kind", "document_id")
_LINK_PAGE = ("created_at", "kind", "document_id")  # the order of a ticket's documents


def _snapshot_tables() -> list[tuple[str, tuple[str, ...]]]:
    """Each table a snapshot reads, with the columns that key its rows."""
    return [
        (
            table.name,
            _SNAPSHOT_KEYS.get(table.name)
            or (("id",) if "seq" in table.c else tuple(c.name for c in table.primary_key)),
        )
        for table in metadata.sorted_tables
        if table.name != "schema_version"
    ]


def _invoice_order(invoice: Invoice) -> tuple[date, datetime]:
    return (invoice.invoice_date or date.min, invoice.created_at)


def _invoice_key(invoice: Invoice) -> tuple[date, datetime, str]:
    return (invoice.invoice_date or date.min, invoice.created_at, invoice.id)


def _picking_order(picking: Picking) -> tuple[datetime, datetime]:
    return (
        picking.done_at or _EARLIEST.replace(tzinfo=picking.created_at.tzinfo),
        picking.created_at,
    )


def _loaded(table: sa.Table, row: RowData, load: Callable[[RowData], R]) -> R:
    """`load(row)`; a stored row that its record refuses (written by hand, or by a version
    that validated less) is a backend error naming the row, not the caller's bad input."""
    try:
        return load(row)
    except (ValueError, TypeError, KeyError, BaseValidationError) as exc:
        key = row.get("id", row.get("key", row.get("name")))
        raise BackendError(
            f"the row {key!r} of table {table.name!r} is not a valid record: {exc}"
        ) from exc


def _newest(items: Iterable[T], owner: Callable[[T], str], key: Callable[[T], Any]) -> list[T]:
    """Newest first by `key`; ties in the memory backend's order: the later owner id
    first, then the later-inserted record first. `items` come in insertion order."""
    by_owner = sorted(items, key=owner)  # stable: insertion order within an owner
    later_first = by_owner[::-1]
    return sorted(later_first, key=key, reverse=True)


def _history(
    owner: sa.Column[Any],
    owners: Sequence[str],
    query: InvoiceQuery | PickingQuery,
    parent: sa.Column[Any],
    product: sa.Column[Any],
) -> tuple[Hashable, Callable[[], sa.ColumnElement[bool]], dict[str, Any]]:
    """The statement key, WHERE clause and parameters of a customer's invoices or pickings:
    `owner` among `owners`, and the filters `query` gives (kind, state, sale order;
    a product through the `parent` and `product` columns of the lines or moves)."""
    size, params = padded(owners)
    table = owner.table
    filters = {
        "kind": None if query.kind is None else query.kind.value,
        "state": None if query.state is None else query.state.value,
        "sale_order_id": query.sale_order_id,
        "product_id": query.product_id,
    }
    given = tuple(name for name, value in filters.items() if value is not None)
    params.update({name: filters[name] for name in given})

    def where() -> sa.ColumnElement[bool]:
        clauses = [in_list(owner, size)]
        for name in given:
            if name == "product_id":
                clauses.append(
                    sa.exists().where(parent == table.c.id, product == sa.bindparam("product_id"))
                )
            else:
                clauses.append(table.c[name] == sa.bindparam(name))
        return sa.and_(*clauses)

    return ("find", size, given), where, params


def _older(columns: Sequence[sa.ColumnElement[Any]], bound: Sequence[Any]) -> Any:
    """Rows after the key `bound` in the order of `columns`, each descending (none NULL)."""
    first, value = columns[0], bound[0]
    if len(columns) == 1:
        return first < value
    return sa.or_(first < value, sa.and_(first == value, _older(columns[1:], bound[1:])))


def _keyset(
    table: sa.Table,
    where: sa.ColumnElement[bool],
    key: Sequence[str],
    after: Sequence[object] | None,
    limit: int | None,
    *,
    nullable_first: bool = False,
) -> sa.Select[Any]:
    """The keyset page of every paged list: the rows of `table` matching `where`, newest
    first by the columns `key` (each descending; the first one NULLS LAST when
    `nullable_first`), strictly after the key bound as `after_0`, `after_1`, … when
    `after` is given, at most `:limit` rows when `limit` is. The statement depends on
    `after` and `limit` only through `_keyset_shape()`."""
    columns = [table.c[name] for name in key]
    bound: list[sa.BindParameter[Any]] = [sa.bindparam(f"after_{n}") for n in range(len(key))]
    clauses = [where]
    if after is not None and not nullable_first:
        clauses.append(_older(columns, bound))
    elif after is not None and after[0] is None:  # after the NULLs: only NULLs are left
        clauses.append(sa.and_(columns[0].is_(None), _older(columns[1:], bound[1:])))
    elif after is not None:
        clauses.append(
            sa.or_(
                columns[0] < bound[0],
                sa.and_(columns[0] == bound[0], _older(columns[1:], bound[1:])),
                columns[0].is_(None),
            )
        )
    order = [column.desc() for column in columns]
    if nullable_first:
        order[0] = columns[0].desc().nulls_last()
    stmt = sa.select(table).where(sa.and_(*clauses)).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(sa.bindparam("limit", type_=sa.Integer))
    return stmt


def _keyset_shape(after: Sequence[object] | None, limit: int | None) -> Hashable:
    """What of `after` and `limit` decides the statement `_keyset()` builds."""
    return (after is not None, after is not None and after[0] is None, limit is not None)


def _keyset_params(after: Sequence[object] | None, limit: int | None) -> dict[str, Any]:
    """The parameters of `_keyset()`'s statement for `after` and `limit`."""
    params: dict[str, Any] = {} if after is None else {f"after_{n}": v for n, v in enumerate(after)}
    if limit is not None:
        params["limit"] = limit
    return params


@attrs.frozen
class _Paged:
    """A history table read in pages: invoices of a customer or pickings of a partner."""

    table: sa.Table
    owner: str  # the column of the customer or partner
    key: tuple[str, str, str]  # the paged order's columns, the first one nullable
    children: sa.Table
    parent: str  # the children's column naming their record
    load: Callable[[RowData, list[Row]], Any]
    order: Callable[[Any], Any]  # the paged order in Python, ascending (None first)


_INVOICE_PAGE = _Paged(
    INVOICES,
    "customer_id",
    ("invoice_date", "created_at", "id"),
    LINES,
    "invoice_id",
    mapping.invoice,
    _invoice_key,
)
_PICKING_PAGE = _Paged(
    PICKINGS,
    "partner_id",
    ("done_at", "created_at", "id"),
    MOVES,
    "picking_id",
    mapping.picking,
    lambda picking: (*_picking_order(picking), picking.id),
)


@attrs.frozen
class _With:
    """A record read with another one, in the same statement: the row of `table` whose
    column `key` is the other's column `by` (none when there is no such row)."""

    table: sa.Table
    key: str
    by: str
    load: Callable[[RowData], Any]


def _select_with(table: sa.Table, column: str, with_: Sequence[_With]) -> sa.Select[Any]:
    """The rows of `table` whose `column` is `:value`, oldest first, each with the rows
    `with_` names (their columns `with<n>_<name>`; NULL when there is none)."""
    joined: Any = table
    labelled: list[Any] = []
    for n, other in enumerate(with_):
        joined = joined.outerjoin(other.table, other.table.c[other.key] == table.c[other.by])
        labelled.extend(c.label(f"with{n}_{c.name}") for c in other.table.c)
    return (
        sa.select(table, *labelled)
        .select_from(joined)
        .where(table.c[column] == sa.bindparam("value"))
        .order_by(table.c.seq)
    )


#: A team is read with its after-sales settings; a ticket with its team, those, and its
#: customer (what every ticket call checks next).
_TEAM_SETTINGS = (_With(TEAM_SETTINGS, "team_id", "id", mapping.team_config),)
_TICKET_TEAM = (
    _With(TEAMS, "id", "team_id", mapping.team),
    _With(TEAM_SETTINGS, "team_id", "team_id", mapping.team_config),
    _With(PARTNERS, "id", "customer_id", mapping.partner),
)


class SqlBackend(AccountingPort, StockPort, LoyaltyPort, ProjectPort, RepairPort, ImportPort):
    """Every hook on a SQL database: a SQLite file (the default) or PostgreSQL.

    The accounting port is the reference ERP
    (`ReferenceAccounting`) over `ledger`;
    `accounting` builds another one over that ledger. The stock port is the reference
    ERP's stock (`ReferenceStock`) over the same `ledger`; `stock` builds another one.
    The loyalty port is the reference ERP (`ReferenceLoyalty`) over `coupons`;
    `loyalty` builds another one over them.
    The project port is the reference ERP (`ReferenceProject`) over `tasks`;
    `project` builds another one over them.
    The repair port is the reference ERP's (`ReferenceRepairs`) over the `repairs` table;
    `repairs` builds another one. The import port is the reference ERP's
    (`ReferenceImports`), inserting documents by the host's external ids.

    `url` is a file path or `sqlite:///path`, or `postgresql://user:pw@host/db`
    (psycopg 3); without it, `AFTERSALES_DATABASE_URL` or `./aftersales.db`. The schema
    is created or upgraded on open unless `migrate=False`, in which case a database not
    at the current version is refused. `installed_modules` (with `base` and `mail`)
    seeds a database that has no modules yet, on every open: a new one, one whose first open
    was interrupted, one made by `aftersales db upgrade`.

    Examples:
        >>> backend = SqlBackend("/tmp/aftersales-doctest.db")  # doctest: +SKIP
        >>> app = AfterSales(backend)                            # doctest: +SKIP
    """

    name = "sql"
    #: Optional conformance-kit capabilities this backend has (see the kit).
    capabilities = frozenset({"delivered_log", "threads", "multi_process", "persistent"})

    def __init__(
        self,
        url: str | Path | URL | None = None,
        *,
        installed_modules: Iterable[str] = DEFAULT_MODULES,
        migrate: bool = True,
        busy_timeout: float = 30.0,
        lock_timeout: float = 10.0,
        engine_options: dict[str, Any] | None = None,
        accounting: Callable[[Ledger], ReferenceAccounting] = ReferenceAccounting,
        stock: Callable[[StockLedger], ReferenceStock] = ReferenceStock,
        loyalty: Callable[[CouponStore], ReferenceLoyalty] = ReferenceLoyalty,
        project: Callable[[TaskStore], ReferenceProject] = ReferenceProject,
        repairs: Callable[[RepairStorage], ReferenceRepairs] = ReferenceRepairs,
    ) -> None:
        self.ledger = SqlLedger(self)
        self.accounting = accounting(self.ledger)
        self.stock = stock(self.ledger)
        self.coupons = SqlCoupons(self)
        self.loyalty = loyalty(self.coupons)
        self.tasks = SqlTasks(self)
        self.project = project(self.tasks)
        self.repairs = repairs(SqlRepairs(self))
        self.imports = ReferenceImports(SqlImports(self))
        self.db = Database(
            url,
            busy_timeout=busy_timeout,
            lock_timeout=lock_timeout,
            engine_options=engine_options,
        )
        self._statements = Statements(self.db.engine.dialect, self._forget)
        self._seed_modules = tuple(installed_modules)
        try:
            self._open(migrate)
        except BaseException:
            self.db.dispose()
            raise

    def _open(self, migrate: bool) -> None:
        if migrate:
            upgrade(self.db, modules=self._seed_modules)  # seeds in its last transaction
            return
        with self.db.connection(writes=False) as conn:
            version = current_version(conn)
            seeded = version == SCHEMA_VERSION and "base" in installed(conn)
        if version != SCHEMA_VERSION:
            raise ConfigurationError(
                f"the database {self.db.safe_url} is at schema version {version}, "
                f"this aftersales needs {SCHEMA_VERSION}: run `aftersales db upgrade` "
                "or open it once with SqlBackend(url) to upgrade it"
            )
        if not seeded:  # written only when needed: a read-only role can open a seeded one
            with self.db.connection() as conn:
                seed(conn, self._seed_modules)

    def __repr__(self) -> str:
        return f"SqlBackend({self.db.safe_url!r})"

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self.db.dialect

    def close(self) -> None:
        """Close every pooled connection; the backend must not be used afterwards."""
        self.db.dispose()

    # -- test support ----------------------------------------------------------------------

    def reset(self) -> None:
        """Delete every row (the schema stays) and seed the modules again, as a new
        database: much faster than creating one, for tests that each need an empty store."""
        with self.db.connection() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name != "schema_version":
                    self._forget(table.name)
                    conn.execute(table.delete())
            self.ledger.restart_sequences(conn)
            seed(conn, self._seed_modules)

    def builder(self, clock: Clock | None = None) -> SqlBuilder:
        """A `Builder` writing into this database."""
        return SqlBuilder(self, clock)

    def snapshot(self) -> dict[str, dict[object, Any]]:
        """Every non-empty table as `{key: row}`: equal snapshots mean nothing changed.

        Rows hold the values as the database stores them (text, numbers, `None`; the
        insertion counter `seq` left out), read as the driver returns them
        (`exec_driver_sql`) in one transaction: comparing stored values is at least as
        strict as comparing records, and fast enough to take before and after every call of a sweep.
        """
        found: dict[str, dict[object, Any]] = {}
        quote = self.db.engine.dialect.identifier_preparer.quote
        with self.db.connection(writes=False) as conn:
            for table, keys in _snapshot_tables():
                result = conn.exec_driver_sql(f"SELECT * FROM {quote(table)}")
                names = list(result.keys())
                where = [names.index(k) for k in keys]
                rows: dict[object, Any] = {}
                for values in result.all():
                    key = tuple(values[i] for i in where)
                    rows[key[0] if len(key) == 1 else key] = {
                        name: value
                        for name, value in zip(names, values, strict=True)
                        if name != "seq"
                    }
                if rows:
                    found[table] = rows
        return found

    @property
    def delivered(self) -> list[OutgoingEmail]:
        """Emails handed to the local delivery log (after their unit of work committed)."""
        return self._all(DELIVERED, mapping.delivered)

    # -- helpers ---------------------------------------------------------------------------

    def _statement(self, key: Hashable, build: Callable[[], ClauseElement]) -> Prepared:
        return self._statements.get(key, build)

    def _remembered(
        self, table: sa.Table, key: Hashable, lock: bool, read: Callable[[], R]
    ) -> tuple[R, bool]:
        """The record of `table` under `key` as this unit of work read it, or `read()`
        and kept (`SqlTransaction.records`): one read per record per unit. A write to the
        table forgets its records (`_forget()`), any rollback all of them. A read with
        `lock` on PostgreSQL is made again when the kept one was not locked (SQLite locks
        the whole database for a writing unit). Also says whether the record was read
        just now."""
        records = self.db.records()
        if records is None:
            return read(), True
        kept = records.get(table.name)
        if kept is None:
            kept = records[table.name] = {}
        found = kept.get(key)
        if found is not None and (found[1] or not lock or self.db.dialect != "postgresql"):
            if lock and not found[1]:
                kept[key] = (found[0], True)
            return found[0], False
        record = read()
        kept[key] = (record, lock)
        return record, True

    def _read(self, table: sa.Table, key: Hashable) -> bool:
        """Whether this unit of work read a record of `table` under `key` (and kept it)."""
        records = self.db.records()
        found = None if records is None else records.get(table.name, {}).get(key)
        return found is not None and found[0] is not None

    def _forget(self, table: str) -> None:
        """Forget what the unit of work read of `table` (about to be written), and of the
        table of its parent records."""
        records = self.db.records()
        if records:
            records.pop(table, None)
            parent = _PARENTS.get(table)
            if parent is not None:
                records.pop(parent, None)

    def _insert(self, table: sa.Table) -> Any:
        """An `INSERT` of the database's dialect, without the implicit `RETURNING` of
        the row counter PostgreSQL would add (nothing reads it)."""
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        return dialect.insert(table).inline()

    def _values(self, table: sa.Table, columns: Sequence[str]) -> Any:
        return self._insert(table).values({name: sa.bindparam(name) for name in columns})

    def _upsert(
        self, table: sa.Table, columns: Sequence[str], key: Sequence[str] = ("id",)
    ) -> Prepared:
        """`INSERT … ON CONFLICT (key) DO UPDATE` of `columns` (parameters by name)."""

        def build() -> Any:  # a dialect's INSERT … ON CONFLICT
            stmt = self._values(table, columns)
            changes = {name: stmt.excluded[name] for name in columns if name not in key}
            return stmt.on_conflict_do_update(index_elements=list(key), set_=changes)

        return self._statement(("upsert", table.name, tuple(columns), tuple(key)), build)

    def _insert_new(self, table: sa.Table, columns: Sequence[str]) -> Prepared:
        """`INSERT … ON CONFLICT DO NOTHING`: changes no row when a unique key is taken."""
        return self._statement(
            ("insert new", table.name, tuple(columns)),
            lambda: self._values(table, columns).on_conflict_do_nothing(),
        )

    def _select(self, table: sa.Table, lock: bool = False) -> sa.Select[Any]:
        stmt = sa.select(table)
        if lock and self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return stmt

    def _by(self, table: sa.Table, column: str, lock: bool = False) -> Prepared:
        """The rows of `table` whose `column` is the parameter `value`, oldest first."""
        return self._statement(
            ("by", table.name, column, lock),
            lambda: (
                self._select(table, lock)
                .where(table.c[column] == sa.bindparam("value"))
                .order_by(
                    table.c.seq if "seq" in table.c else table.primary_key.columns.values()[0]
                )
            ),
        )

    def _one(
        self,
        table: sa.Table,
        column: str,
        value: object,
        load: Callable[[RowData], R],
        lock: bool = False,
        with_: Sequence[_With] = (),
    ) -> R | None:
        """The first row of `table` whose `column` is `value` (read once per unit of work,
        see `_remembered()`), read with the records `with_` names (kept for the unit)."""
        return self._remembered(
            table,
            (column, value),
            lock,
            lambda: self._first(table, column, value, load, lock, with_),
        )[0]

    def _first(
        self,
        table: sa.Table,
        column: str,
        value: object,
        load: Callable[[RowData], R],
        lock: bool,
        with_: Sequence[_With],
    ) -> R | None:
        if not with_:
            stmt = self._by(table, column, lock)
        else:  # never locked: only the helpdesk's reads, never locked, name other records
            stmt = self._statement(
                ("by with", table.name, column, tuple(w.table.name for w in with_)),
                lambda: _select_with(table, column, with_),
            )
        with self.db.connection(writes=False) as conn:
            row = stmt.first(conn, {"value": value})
        if row is None:
            return None
        if with_:
            row = self._keep_with(row, with_)
        return _loaded(table, row, load)

    def _keep_with(self, row: Row, with_: Sequence[_With]) -> Row:
        """`row` without the columns of the records `with_` names; those records kept for
        the unit of work (unless it already has them: a locked one stays as it is)."""
        records = self.db.records()
        for n, joined in enumerate(with_):
            prefix = f"with{n}_"
            part = {c.name: row.pop(f"{prefix}{c.name}") for c in joined.table.c}
            if records is None:
                continue
            named = row[joined.by]
            record = None if part[joined.key] is None else _loaded(joined.table, part, joined.load)
            kept = records.setdefault(joined.table.name, {})
            kept.setdefault((joined.key, named), (record, False))
        return row

    def _many(
        self, table: sa.Table, column: str, value: object, load: Callable[[RowData], R]
    ) -> list[R]:
        stmt = self._by(table, column)
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, {"value": value})
        return [_loaded(table, row, load) for row in rows]

    def _among(
        self, table: sa.Table, column: str, values: Iterable[str], load: Callable[[RowData], R]
    ) -> list[R]:
        """The rows whose `column` is one of `values`, oldest first."""
        wanted = sorted(values)
        rows: list[Row] = []
        with self.db.connection(writes=False) as conn:
            for part in chunked(wanted):
                size, params = padded(part)
                stmt = self._statement(
                    ("among", table.name, column, size),
                    lambda: (
                        sa.select(table)
                        .where(in_list(table.c[column], size))  # noqa: B023 (built at once)
                        .order_by(table.c.seq)
                    ),
                )
                rows.extend(stmt.rows(conn, params))
        if len(wanted) > MAX_IN:  # chunks each come oldest first
            rows.sort(key=lambda row: row["seq"])
        return [_loaded(table, row, load) for row in rows]

    def _all(self, table: sa.Table, load: Callable[[RowData], R]) -> list[R]:
        stmt = self._statement(("all", table.name), lambda: sa.select(table).order_by(table.c.seq))
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn)
        return [_loaded(table, row, load) for row in rows]

    def _save(self, table: sa.Table, row: Row) -> None:
        stmt = self._upsert(table, tuple(row))
        with self.db.connection() as conn:
            stmt.run(conn, row)

    def _append(self, table: sa.Table, row: Row, what: str, value: object) -> None:
        """Insert a new row; [`DuplicateKey`][aftersales.errors.DuplicateKey] naming `what` and
        `value` when one of its unique keys is taken (no savepoint needed: the statement changes
        nothing then, and the transaction stays usable)."""
        stmt = self._insert_new(table, tuple(row))
        with self.db.connection() as conn:
            if stmt.run(conn, row) == 0:
                raise DuplicateKey(what, value)

    def _delete_by(self, table: sa.Table, column: str) -> Prepared:
        return self._statement(
            ("delete", table.name, column),
            lambda: table.delete().where(table.c[column] == sa.bindparam("value")),
        )

    def _removed(
        self, table: sa.Table, column: str, value: object, load: Callable[[RowData], R]
    ) -> R | None:
        """Delete the row whose `column` is `value` (locked first); the record it was."""
        select, delete = self._by(table, column, lock=True), self._delete_by(table, column)
        with self.db.connection() as conn:
            row = select.first(conn, {"value": value})
            if row is None:
                return None
            delete.run(conn, {"value": value})
        return _loaded(table, row, load)

    def _children(
        self, conn: Connection, table: sa.Table, parent: str, ids: Sequence[str]
    ) -> dict[str, list[Row]]:
        found: dict[str, list[Row]] = defaultdict(list)
        column = table.c[parent]
        for part in chunked(ids):  # a parent's rows all come in the chunk holding its id
            size, params = padded(part)
            stmt = self._statement(
                ("children", table.name, size),
                lambda: (
                    sa.select(table)
                    .where(in_list(column, size))  # noqa: B023 (built at once)
                    .order_by(column, table.c.position)
                ),
            )
            for row in stmt.rows(conn, params):
                found[row[parent]].append(row)
        return found

    def _parents(
        self,
        table: sa.Table,
        key: Hashable,
        where: Callable[[], sa.ColumnElement[bool]],
        params: Mapping[str, Any],
        lock: bool,
        children: sa.Table,
        parent: str,
    ) -> tuple[list[Row], dict[str, list[Row]]]:
        """The rows of `table` matching `where` (keyed by `key`), oldest first, and
        their `children` rows by parent id."""
        stmt = self._statement(
            ("parents", table.name, key, lock),
            lambda: self._select(table, lock).where(where()).order_by(table.c.seq),
        )
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, params)
            found = self._children(conn, children, parent, [r["id"] for r in rows])
        return rows, found

    def _with_children(
        self,
        table: sa.Table,
        record_id: str,
        lock: bool,
        children: sa.Table,
        parent: str,
        load: Callable[[RowData, list[Row]], R],
        child_rows: Callable[[R], list[Row]],
    ) -> R | None:
        """The record `record_id` of `table` with its `children` rows (their column
        `parent` naming it), in one statement: a LEFT JOIN, one row per child in order
        (one with NULL children when it has none). `lock` locks the record's row on
        PostgreSQL, as `_invoices()` does, and remembers the children read
        (`_read_for_update()`)."""

        def build() -> sa.Select[Any]:
            stmt = (
                sa.select(table, *(c.label(f"child_{c.name}") for c in children.c))
                .select_from(table.outerjoin(children, children.c[parent] == table.c.id))
                .where(table.c.id == sa.bindparam("id"))
                .order_by(children.c.position)
            )
            if lock and self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(of=table)
            return stmt

        stmt = self._statement(("with children", table.name, lock), build)
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, {"id": record_id})
        if not rows:
            return None
        names = [c.name for c in children.c]
        kids = [{name: row.pop(f"child_{name}") for name in names} for row in rows]
        kids = [kid for kid in kids if kid[parent] is not None]
        record = _loaded(table, rows[0], lambda r: load(r, kids))
        if lock:
            self._read_for_update(children, (record,), child_rows)
        return record

    def _invoices(
        self,
        key: Hashable,
        where: Callable[[], sa.ColumnElement[bool]],
        params: Mapping[str, Any],
        lock: bool = False,
    ) -> list[Invoice]:
        rows, lines = self._parents(INVOICES, key, where, params, lock, LINES, "invoice_id")
        found = [
            _loaded(INVOICES, row, lambda r: mapping.invoice(r, lines.get(r["id"], [])))
            for row in rows
        ]
        if lock:
            self._read_for_update(LINES, found, mapping.invoice_line_rows)
        return found

    def _pickings(
        self,
        key: Hashable,
        where: Callable[[], sa.ColumnElement[bool]],
        params: Mapping[str, Any],
        lock: bool = False,
    ) -> list[Picking]:
        rows, moves = self._parents(PICKINGS, key, where, params, lock, MOVES, "picking_id")
        found = [
            _loaded(PICKINGS, row, lambda r: mapping.picking(r, moves.get(r["id"], [])))
            for row in rows
        ]
        if lock:
            self._read_for_update(MOVES, found, mapping.move_rows)
        return found

    def _read_for_update(
        self, children: sa.Table, records: Sequence[Any], rows: Callable[[Any], list[Row]]
    ) -> None:
        """Remember, for the open transaction, the child rows of `records` read locked
        (what saving them unchanged would write), so that such a save leaves them as
        they are (`_save_with_children()`)."""
        known = self.db.written()
        if known is not None:
            for record in records:
                known[(children.name, record.id)] = rows(record)

    def _save_with_children(
        self,
        conn: Connection,
        parent: sa.Table,
        rows: Sequence[Row],
        children: sa.Table,
        child_rows: Sequence[Row],
        foreign_key: str,
    ) -> None:
        """Upsert the parent `rows` and replace their children with `child_rows` (the
        children of each parent's last row): one statement per step, many rows each.

        Children this transaction already wrote, unchanged, are left as they are (a
        credit note posted after it was saved keeps its lines): the open transaction
        remembers the child rows it read locked or wrote per parent
        (`Database.written()`), and forgets them on any rollback. One parent this
        transaction knows nothing of is inserted first (`INSERT … ON CONFLICT DO
        NOTHING`): a new one, the most common case, has no children to delete."""
        if not rows:
            return
        ids = list(dict.fromkeys(row["id"] for row in rows))
        wanted: dict[Any, list[Row]] = {i: [] for i in ids}
        for child in child_rows:
            wanted[child[foreign_key]].append(child)
        known = self.db.written()
        if known is None:  # outside a transaction: `conn` is one of its own
            known = {}
        new = (
            len(rows) == 1
            and (children.name, ids[0]) not in known
            and not self._read(parent, ids[0])
            and self._insert_new(parent, tuple(rows[0])).run(conn, rows[0]) == 1
        )
        if not new:
            self._upsert(parent, tuple(rows[0])).run_many(conn, rows)
        stale = [i for i in ids if not new and known.get((children.name, i)) != wanted[i]]
        known.update(((children.name, i), wanted[i]) for i in wanted)
        if stale:
            self._delete_by(children, foreign_key).run_many(conn, [{"value": i} for i in stale])
        changed = [child for i in (ids if new else stale) for child in wanted[i]]
        if changed:
            insert = self._statement(
                ("insert", children.name, tuple(changed[0])),
                lambda: self._values(children, tuple(changed[0])),
            )
            insert.run_many(conn, changed)

    def _save_invoices(self, conn: Connection, invoices: Sequence[Invoice]) -> None:
        last = {invoice.id: invoice for invoice in invoices}
        self._save_with_children(
            conn,
            INVOICES,
            [mapping.invoice_row(invoice) for invoice in invoices],
            LINES,
            [line for invoice in last.values() for line in mapping.invoice_line_rows(invoice)],
            "invoice_id",
        )

    def _save_pickings(self, conn: Connection, pickings: Sequence[Picking]) -> None:
        last = {picking.id: picking for picking in pickings}
        self._save_with_children(
            conn,
            PICKINGS,
            [mapping.picking_row(picking) for picking in pickings],
            MOVES,
            [move for picking in last.values() for move in mapping.move_rows(picking)],
            "picking_id",
        )

    def put(self, record: object) -> None:
        """Store one builder record (insert or replace by id)."""
        self.put_many((record,))

    def put_many(self, records: Iterable[object]) -> None:
        """Store builder records (each inserted or replaced by id) as `put()` would one
        by one, in one transaction (or the current unit of work) with one `executemany`
        per table: how the benchmark loads 100,000 invoices in seconds."""
        groups: dict[type[Any], list[Any]] = {}
        for record in _with_team_configs(records):
            kind = type(record)
            if kind not in _PUTS and kind not in (Invoice, Picking):
                raise TypeError(f"the builder cannot store a {kind.__name__}")
            groups.setdefault(kind, []).append(record)
        if not groups:
            return
        with self.db.connection() as conn:
            for kind, items in groups.items():
                if kind is Invoice:
                    self._save_invoices(conn, items)
                elif kind is Picking:
                    self._save_pickings(conn, items)
                else:
                    table, to_row = _PUTS[kind]
                    rows = [to_row(item) for item in items]
                    key = ("team_id",) if table is TEAM_SETTINGS else ("id",)
                    self._upsert(table, tuple(rows[0]), key).run_many(conn, rows)

    # -- transactions ----------------------------------------------------------------------

    @hookimpl
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        uow.enlist(self.db.begin(writes=uow.writes))

    # -- idempotency -----------------------------------------------------------------------

    @hookimpl
    def aftersales_store_idempotency_claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        # The insert waits while another transaction holds the same (actor, key): it goes
        # through if that one rolls back, and changes nothing if it commits.
        row = mapping.idempotency_row(record)
        claim = self._insert_new(IDEMPOTENCY, tuple(row))
        with self.db.connection() as conn:
            if claim.run(conn, row) == 1:
                return record
            found = self._idempotency_by_key().first(
                conn, {"actor_id": record.actor_id, "key": record.key}
            )
        if found is None:  # deleted by a purge between the two statements
            raise ConflictError(f"idempotency key {show(record.key)} changed while it was claimed")
        return _loaded(IDEMPOTENCY, found, mapping.idempotency)

    @hookimpl
    def aftersales_store_idempotency_complete(self, record: IdempotencyRecord) -> IdempotencyRecord:
        row = mapping.idempotency_row(record)
        with self.db.connection() as conn:
            self._upsert(IDEMPOTENCY, tuple(row), key=("actor_id", "key")).run(conn, row)
        return record

    @hookimpl
    def aftersales_store_claim(self, kind: str, document_id: str) -> bool:
        # One statement: the claim's row is inserted or updated, and so locked until the
        # unit ends; a concurrent claim of it waits (PostgreSQL), or the unit is alone
        # already (SQLite's BEGIN IMMEDIATE).
        def build() -> Any:  # a dialect's INSERT … ON CONFLICT
            stmt = self._insert(CLAIMS).values(
                kind=sa.bindparam("kind"), document_id=sa.bindparam("document_id"), claims=1
            )
            return stmt.on_conflict_do_update(
                index_elements=["kind", "document_id"], set_={"claims": CLAIMS.c.claims + 1}
            )

        stmt = self._statement(("claim",), build)
        with self.db.connection() as conn:
            stmt.run(conn, {"kind": kind, "document_id": document_id})
        return True

    @hookimpl
    def aftersales_store_idempotency_purge(self, before: datetime) -> int:
        purge = self._statement(
            ("purge", IDEMPOTENCY.name),
            lambda: IDEMPOTENCY.delete().where(IDEMPOTENCY.c.created_at < sa.bindparam("before")),
        )
        with self.db.connection() as conn:
            removed: int = purge.run(conn, {"before": before})
        return removed

    def _idempotency_by_key(self) -> Prepared:
        return self._statement(
            ("idempotency by key",),
            lambda: sa.select(IDEMPOTENCY).where(
                IDEMPOTENCY.c.actor_id == sa.bindparam("actor_id"),
                IDEMPOTENCY.c.key == sa.bindparam("key"),
            ),
        )

    # -- helpdesk --------------------------------------------------------------------------

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        return self._one(TEAMS, "id", team_id, mapping.team, with_=_TEAM_SETTINGS)

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> list[Team]:
        return self._all(TEAMS, mapping.team)

    @hookimpl
    def aftersales_helpdesk_save_team(self, team: Team) -> Team:
        self._save(TEAMS, mapping.team_row(team))
        return team

    @hookimpl
    def aftersales_store_get_team_config(self, team_id: str) -> TeamConfig | None:
        return self._one(TEAM_SETTINGS, "team_id", team_id, mapping.team_config)

    @hookimpl
    def aftersales_store_save_team_config(self, config: TeamConfig) -> TeamConfig:
        row = mapping.team_config_row(config)
        stmt = self._upsert(TEAM_SETTINGS, tuple(row), key=("team_id",))
        with self.db.connection() as conn:
            stmt.run(conn, row)
        return config

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        return self._one(TICKETS, "id", ticket_id, mapping.ticket, with_=_TICKET_TEAM)

    @hookimpl
    def aftersales_helpdesk_find_ticket(self, ref: str) -> Ticket | None:
        return self._one(TICKETS, "ref", ref, mapping.ticket)

    @hookimpl
    def aftersales_helpdesk_find_tickets(self, customer_ids: frozenset[str]) -> list[Ticket]:
        found = self._among(TICKETS, "customer_id", customer_ids, mapping.ticket)
        return _newest(found, lambda t: t.customer_id or "", lambda t: (t.created_at,))

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        return self._one(PARTNERS, "id", partner_id, mapping.partner)

    @hookimpl
    def aftersales_helpdesk_list_contacts(self, commercial_entity_id: str) -> list[Partner]:
        return self._many(PARTNERS, "commercial_entity_id", commercial_entity_id, mapping.partner)

    @hookimpl
    def aftersales_sales_get_product(self, product_id: str) -> Product | None:
        return self._one(PRODUCTS, "id", product_id, mapping.product)

    @hookimpl
    def aftersales_sales_get_sale_order(self, sale_order_id: str) -> SaleOrder | None:
        return self._one(SALE_ORDERS, "id", sale_order_id, mapping.sale_order)

    @hookimpl
    def aftersales_store_add_link(self, link: DocumentLink) -> DocumentLink:
        row = mapping.link_row(link)
        stmt = self._upsert(LINKS, tuple(row), _LINK_KEY)
        with self.db.connection() as conn:
            stmt.run(conn, row)
        return link

    def _link_where(self) -> sa.ColumnElement[bool]:
        return sa.and_(*(LINKS.c[name] == sa.bindparam(name) for name in _LINK_KEY))

    @hookimpl
    def aftersales_store_remove_link(
        self, ticket_id: str, kind: DocumentKind, document_id: str
    ) -> DocumentLink | None:
        params = {"ticket_id": ticket_id, "kind": kind.value, "document_id": document_id}
        select = self._statement(
            ("link", "select"), lambda: self._select(LINKS, lock=True).where(self._link_where())
        )
        delete = self._statement(
            ("link", "delete"), lambda: LINKS.delete().where(self._link_where())
        )
        with self.db.connection() as conn:
            row = select.first(conn, params)
            if row is None:
                return None
            delete.run(conn, params)
        return _loaded(LINKS, row, mapping.link)

    @hookimpl
    def aftersales_store_list_links(self, ticket_id: str) -> list[DocumentLink]:
        return self._many(LINKS, "ticket_id", ticket_id, mapping.link)

    @hookimpl
    def aftersales_store_links_page(self, query: LinkQuery) -> list[DocumentLink]:
        where = {"ticket_id": query.ticket_id}
        if query.kind is not None:
            where["kind"] = query.kind.value
        return self._ticket_page(LINKS, where, _LINK_PAGE, query.after, query.limit, mapping.link)

    @hookimpl
    def aftersales_store_post_message(self, message: TicketMessage) -> TicketMessage:
        self._append(MESSAGES, mapping.message_row(message), "ticket message", message.id)
        return message

    @hookimpl
    def aftersales_store_list_messages(self, ticket_id: str) -> list[TicketMessage]:
        return self._many(MESSAGES, "ticket_id", ticket_id, mapping.message)

    @hookimpl
    def aftersales_store_messages_page(self, query: MessageQuery) -> list[TicketMessage]:
        where = {"ticket_id": query.ticket_id}
        return self._ticket_page(
            MESSAGES, where, ("at", "id"), query.after, query.limit, mapping.message
        )

    def _ticket_page(
        self,
        table: sa.Table,
        where: Mapping[str, object],
        key: Sequence[str],
        after: Sequence[object] | None,
        limit: int,
        load: Callable[[RowData], R],
    ) -> list[R]:
        """One page of a ticket's rows of `table` (the columns of `where` equal to its
        values), newest first by the columns `key`, after `after`: one statement along the
        table's page index (version 15)."""
        names = tuple(where)
        stmt = self._statement(
            ("ticket page", table.name, names, _keyset_shape(after, limit)),
            lambda: _keyset(
                table,
                sa.and_(*(table.c[name] == sa.bindparam(name) for name in names)),
                key,
                after,
                limit,
            ),
        )
        params = {**where, **_keyset_params(after, limit)}
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, params)
        return [_loaded(table, row, load) for row in rows]

    # -- accounting: the reference ERP over the SQL ledger (AccountingPort) ---------------

    def _find_invoices(self, query: InvoiceQuery) -> list[Invoice]:
        if query.limit is not None or query.after is not None:
            return self._history_page(_INVOICE_PAGE, query)
        found: list[Invoice] = []
        for customers in chunked(sorted(query.customer_ids)):
            key, where, params = _history(
                INVOICES.c.customer_id, customers, query, LINES.c.invoice_id, LINES.c.product_id
            )
            found.extend(self._invoices(key, where, params))
        # a customer's invoices all come in one chunk, oldest first: what _newest needs
        return _newest(found, lambda i: i.customer_id, _invoice_order)

    def _history_page(self, paged: _Paged, query: InvoiceQuery | PickingQuery) -> list[Any]:
        """The invoices or pickings of `query` in the paged order (see `InvoiceKey`,
        `PickingKey`): one statement per owner, ordered and limited by the database along
        the page index (keyset after `query.after`), merged. (One statement for every
        owner would have to read and sort all their records: an `IN` list cannot walk one
        index in order.)"""
        owners = query.customer_ids if isinstance(query, InvoiceQuery) else query.partner_ids
        found: list[Any] = []
        for owner in sorted(owners):
            found.extend(self._owner_page(paged, owner, query))
        found.sort(key=paged.order, reverse=True)
        return found if query.limit is None else found[: query.limit]

    def _owner_page(
        self, paged: _Paged, owner: str, query: InvoiceQuery | PickingQuery
    ) -> list[Any]:
        """One owner's page of `_history_page()`, with the children of its records."""
        table, children = paged.table, paged.children
        key, where, params = _history(
            table.c[paged.owner], [owner], query, children.c[paged.parent], children.c.product_id
        )
        params.update(_keyset_params(query.after, query.limit))
        stmt = self._statement(
            ("history page", table.name, key, _keyset_shape(query.after, query.limit)),
            lambda: _keyset(
                table, where(), paged.key, query.after, query.limit, nullable_first=True
            ),
        )
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, params)
            kids = self._children(conn, children, paged.parent, [r["id"] for r in rows])
        return [_loaded(table, row, lambda r: paged.load(r, kids.get(r["id"], []))) for row in rows]

    # -- loyalty: the reference ERP over the SQL coupons (LoyaltyPort) ---------------------

    # -- stock: the reference ERP over the SQL ledger (StockPort) --------------------------

    def _find_pickings(self, query: PickingQuery) -> list[Picking]:
        if query.limit is not None or query.after is not None:
            return self._history_page(_PICKING_PAGE, query)
        found: list[Picking] = []
        for partners in chunked(sorted(query.partner_ids)):
            key, where, params = _history(
                PICKINGS.c.partner_id, partners, query, MOVES.c.picking_id, MOVES.c.product_id
            )
            found.extend(self._pickings(key, where, params))
        # a partner's pickings all come in one chunk, oldest first: what _newest needs
        return _newest(found, lambda p: p.partner_id, _picking_order)

    # -- repair: the reference ERP over the repairs table (RepairPort) -------------------

    # -- project: the reference ERP over the SQL tasks (ProjectPort) ------------------

    # -- mail ------------------------------------------------------------------------------

    @hookimpl
    def aftersales_store_mail_enqueue(self, email: OutgoingEmail) -> OutgoingEmail:
        self._save(OUTBOX, mapping.email_row(email))
        return email

    @hookimpl
    def aftersales_store_mail_save(self, email: OutgoingEmail) -> OutgoingEmail:
        self._save(OUTBOX, mapping.email_row(email))
        return email

    @hookimpl
    def aftersales_store_mail_get(self, email_id: str, lock: bool) -> OutgoingEmail | None:
        return self._one(OUTBOX, "id", email_id, mapping.email, lock)

    @hookimpl
    def aftersales_store_mail_list_outbox(self, pending_only: bool) -> list[OutgoingEmail]:
        if not pending_only:
            return self._all(OUTBOX, mapping.email)
        stmt = self._statement(
            ("pending mail",),
            lambda: (
                sa.select(OUTBOX)
                .where(OUTBOX.c.state.not_in([sa.bindparam("sent"), sa.bindparam("dead")]))
                .order_by(OUTBOX.c.seq)
            ),
        )
        with self.db.connection(writes=False) as conn:
            rows = stmt.rows(conn, {"sent": EmailState.SENT.value, "dead": EmailState.DEAD.value})
        return [_loaded(OUTBOX, row, mapping.email) for row in rows]

    @hookimpl
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        # The local delivery log: a real transport plugin registered after this backend
        # answers first (see docs/sql-backend.md).
        self._save(DELIVERED, mapping.delivered_row(email))
        return True

    # -- modules and subscription ----------------------------------------------------------

    @hookimpl
    def aftersales_modules_installed(self) -> frozenset[str]:
        stmt = self._statement(("modules",), lambda: sa.select(MODULES.c.name))
        with self.db.connection(writes=False) as conn:
            return frozenset(row["name"] for row in stmt.rows(conn))

    @hookimpl
    def aftersales_modules_install(self, name: str) -> str:
        with self.db.connection() as conn:
            self._install(conn, name)
        return name

    def _install(self, conn: Connection, name: str) -> None:
        stmt = self._statement(
            ("install",),
            lambda: self._values(MODULES, ("name",)).on_conflict_do_nothing(
                index_elements=["name"]
            ),
        )
        stmt.run(conn, {"name": name})

    @hookimpl
    def aftersales_modules_uninstall(self, name: str) -> str | None:
        stmt = self._delete_by(MODULES, "name")
        with self.db.connection() as conn:
            removed = stmt.run(conn, {"value": name})
        return name if removed else None

    @hookimpl
    def aftersales_subscription_get(self) -> Subscription:
        found = self._one(SUBSCRIPTION, "name", "database", mapping.subscription)
        return found or Subscription()

    @hookimpl
    def aftersales_subscription_save(self, subscription: Subscription) -> Subscription:
        row = mapping.subscription_row(subscription)
        stmt = self._upsert(SUBSCRIPTION, tuple(row), ("name",))
        with self.db.connection() as conn:
            stmt.run(conn, row)
        return subscription

    # -- audit -----------------------------------------------------------------------------

    @hookimpl
    def aftersales_store_audit_append(self, entry: AuditEntry) -> AuditEntry:
        self._append(AUDIT, mapping.audit_row(entry), "audit entry", entry.id)
        return entry

    @hookimpl
    def aftersales_store_audit_list(self, ticket_id: str | None) -> list[AuditEntry]:
        if ticket_id is None:
            return self._all(AUDIT, mapping.audit)
        return self._many(AUDIT, "ticket_id", ticket_id, mapping.audit)


def _with_team_configs(records: Iterable[object]) -> Iterator[object]:
    """`records`, each team followed by its after-sales settings (the store's)."""
    for record in records:
        yield record
        if isinstance(record, Team):
            yield TeamConfig.of(record)


#: How `SqlBackend.put()` stores each builder record without children.
_PUTS: dict[type[Any], tuple[sa.Table, Callable[[Any], mapping.Row]]] = {
    Partner: (PARTNERS, mapping.partner_row),
    Product: (PRODUCTS, mapping.product_row),
    SaleOrder: (SALE_ORDERS, mapping.sale_order_row),
    Team: (TEAMS, mapping.team_row),
    TeamConfig: (TEAM_SETTINGS, mapping.team_config_row),
    Ticket: (TICKETS, mapping.ticket_row),
    Payment: (PAYMENTS, mapping.payment_row),
    Match: (MATCHES, mapping.match_row),
    CouponProgram: (PROGRAMS, mapping.program_row),
    Coupon: (COUPONS, mapping.coupon_row),
    Project: (PROJECTS, mapping.project_row),
    FieldServiceTask: (TASKS, mapping.task_row),
    RepairOrder: (REPAIRS, mapping.repair_row),
}
