"""The SQL backend: every hook of :mod:`aftersales.hookspecs` on SQLAlchemy Core.

It behaves like the memory backend (:mod:`aftersales.backends.memory`), the reference:
same orderings, same :class:`~aftersales.errors.DuplicateKey` for coupon codes, repair
references and idempotency keys. What differs is durability and concurrency: data lives in
a database shared by every process that opens it, one unit of work is one transaction, and
``lock=True`` takes a row lock on PostgreSQL (SQLite serializes writing units instead).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from cattrs.errors import BaseValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection

from aftersales.backends.sql import mapping
from aftersales.backends.sql.builder import SqlBuilder
from aftersales.backends.sql.engine import Database
from aftersales.backends.sql.migrations import current_version, upgrade
from aftersales.backends.sql.schema import SCHEMA_VERSION, metadata
from aftersales.clock import Clock
from aftersales.errors import BackendError, ConfigurationError, DuplicateKey
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    CouponUse,
    DocumentKind,
    DocumentLink,
    EmailState,
    FieldServiceTask,
    IdempotencyRecord,
    Invoice,
    InvoiceKind,
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
    Ticket,
    TicketMessage,
)
from aftersales.models.queries import InvoiceQuery, PickingQuery
from aftersales.unit_of_work import UnitOfWork

__all__ = ["SqlBackend"]

T = TypeVar("T")
R = TypeVar("R")

_t = metadata.tables
PARTNERS, PRODUCTS, SALE_ORDERS = _t["partners"], _t["products"], _t["sale_orders"]
TEAMS, TICKETS, LINKS, MESSAGES = _t["teams"], _t["tickets"], _t["links"], _t["messages"]
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
OUTBOX, DELIVERED, IDEMPOTENCY = _t["outbox"], _t["mail_delivered"], _t["idempotency"]

#: How snapshot keys rows: tables with a ``seq`` key by ``id`` unless listed here.
_SNAPSHOT_KEYS: dict[str, tuple[str, ...]] = {"links": ("ticket_id", "kind", "document_id")}

_EARLIEST = datetime.min.replace(year=1)


def _invoice_order(invoice: Invoice) -> tuple[date, datetime]:
    return (invoice.invoice_date or date.min, invoice.created_at)


def _picking_order(picking: Picking) -> tuple[datetime, datetime]:
    return (
        picking.done_at or _EARLIEST.replace(tzinfo=picking.created_at.tzinfo),
        picking.created_at,
    )


def _loaded(table: sa.Table, row: sa.RowMapping, load: Callable[[sa.RowMapping], R]) -> R:
    """``load(row)``; a stored row that its record refuses (written by hand, or by a version
    that validated less) is a backend error naming the row, not the caller's bad input."""
    try:
        return load(row)
    except (ValueError, TypeError, KeyError, BaseValidationError) as exc:
        key = row.get("id", row.get("key", row.get("name")))
        raise BackendError(
            f"the row {key!r} of table {table.name!r} is not a valid record: {exc}"
        ) from exc


def _newest(items: Iterable[T], owner: Callable[[T], str], key: Callable[[T], Any]) -> list[T]:
    """Newest first by ``key``; ties in the memory backend's order: the later owner id
    first, then the later-inserted record first. ``items`` come in insertion order."""
    by_owner = sorted(items, key=owner)  # stable: insertion order within an owner
    later_first = by_owner[::-1]
    return sorted(later_first, key=key, reverse=True)


class SqlBackend:
    """Every hook on a SQL database: a SQLite file (the default) or PostgreSQL.

    ``url`` is a file path or ``sqlite:///path``, or ``postgresql://user:pw@host/db``
    (psycopg 3); without it, ``AFTERSALES_DATABASE_URL`` or ``./aftersales.db``. The schema
    is created or upgraded on open unless ``migrate=False``, in which case a database not
    at the current version is refused. ``installed_modules`` seeds a new database.

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
        installed_modules: Iterable[str] = ("base", "mail", "helpdesk"),
        migrate: bool = True,
        busy_timeout: float = 30.0,
        lock_timeout: float = 10.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.db = Database(
            url,
            busy_timeout=busy_timeout,
            lock_timeout=lock_timeout,
            engine_options=engine_options,
        )
        try:
            self._open(migrate, installed_modules)
        except BaseException:
            self.db.dispose()
            raise

    def _open(self, migrate: bool, installed_modules: Iterable[str]) -> None:
        if not migrate:
            with self.db.connection(writes=False) as conn:
                version = current_version(conn)
            if version != SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the database {self.db.safe_url} is at schema version {version}, "
                    f"this aftersales needs {SCHEMA_VERSION}: run `aftersales db upgrade` "
                    "or open it once with SqlBackend(url) to upgrade it"
                )
            return
        before, _ = upgrade(self.db)
        if before == 0:
            with self.db.connection() as conn:
                for module in installed_modules:
                    conn.execute(
                        self._insert(MODULES)
                        .values(name=module)
                        .on_conflict_do_nothing(index_elements=["name"])
                    )

    def __repr__(self) -> str:
        return f"SqlBackend({self.db.safe_url!r})"

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.db.dialect

    def close(self) -> None:
        """Close every pooled connection; the backend must not be used afterwards."""
        self.db.dispose()

    # -- test support ----------------------------------------------------------------------

    def builder(self, clock: Clock | None = None) -> SqlBuilder:
        """A :class:`~aftersales.builder.Builder` writing into this database."""
        return SqlBuilder(self, clock)

    def snapshot(self) -> dict[str, dict[object, Any]]:
        """Every non-empty table as ``{key: row}``: equal snapshots mean nothing changed."""
        found: dict[str, dict[object, Any]] = {}
        with self.db.connection(writes=False) as conn:
            for table in metadata.sorted_tables:
                if table.name == "schema_version":
                    continue
                keys = _SNAPSHOT_KEYS.get(table.name) or (
                    ("id",) if "seq" in table.c else tuple(c.name for c in table.primary_key)
                )
                rows: dict[object, Any] = {}
                for row in conn.execute(sa.select(table)).mappings():
                    key = tuple(row[k] for k in keys)
                    rows[key[0] if len(key) == 1 else key] = {
                        name: value for name, value in row.items() if name != "seq"
                    }
                if rows:
                    found[table.name] = rows
        return found

    @property
    def delivered(self) -> list[OutgoingEmail]:
        """Emails handed to the local delivery log (after their unit of work committed)."""
        return self._all(DELIVERED, mapping.delivered)

    # -- helpers ---------------------------------------------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert(
        self,
        table: sa.Table,
        row: Mapping[str, Any],
        key: Sequence[str] = ("id",),
    ) -> Any:
        stmt = self._insert(table).values(**row)
        changes = {name: stmt.excluded[name] for name in row if name not in key}
        return stmt.on_conflict_do_update(index_elements=list(key), set_=changes)

    def _select(self, table: sa.Table, lock: bool = False) -> sa.Select[Any]:
        stmt = sa.select(table)
        if lock and self.db.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return stmt

    def _one(
        self,
        table: sa.Table,
        where: sa.ColumnElement[bool],
        load: Callable[[sa.RowMapping], R],
        lock: bool = False,
    ) -> R | None:
        with self.db.connection(writes=False) as conn:
            row = conn.execute(self._select(table, lock).where(where)).mappings().first()
        return _loaded(table, row, load) if row is not None else None

    def _many(
        self,
        table: sa.Table,
        where: sa.ColumnElement[bool] | None,
        load: Callable[[sa.RowMapping], R],
    ) -> list[R]:
        stmt = sa.select(table).order_by(table.c.seq)
        if where is not None:
            stmt = stmt.where(where)
        with self.db.connection(writes=False) as conn:
            return [_loaded(table, row, load) for row in conn.execute(stmt).mappings()]

    def _all(self, table: sa.Table, load: Callable[[sa.RowMapping], R]) -> list[R]:
        return self._many(table, None, load)

    def _save(self, table: sa.Table, row: Mapping[str, Any]) -> None:
        with self.db.connection() as conn:
            conn.execute(self._upsert(table, row))

    def _append(self, table: sa.Table, row: Mapping[str, Any], what: str) -> None:
        with self.db.connection() as conn:
            self.db.unique(conn, table.insert().values(**row), what, row["id"])

    @staticmethod
    def _children(
        conn: Connection, table: sa.Table, parent: str, ids: Sequence[str]
    ) -> dict[str, list[sa.RowMapping]]:
        found: dict[str, list[sa.RowMapping]] = defaultdict(list)
        if ids:
            column = table.c[parent]
            stmt = sa.select(table).where(column.in_(ids)).order_by(column, table.c.position)
            for row in conn.execute(stmt).mappings():
                found[row[parent]].append(row)
        return found

    def _invoices(self, where: sa.ColumnElement[bool], lock: bool = False) -> list[Invoice]:
        stmt = self._select(INVOICES, lock).where(where).order_by(INVOICES.c.seq)
        with self.db.connection(writes=False) as conn:
            rows = list(conn.execute(stmt).mappings())
            lines = self._children(conn, LINES, "invoice_id", [r["id"] for r in rows])
        return [
            _loaded(INVOICES, row, lambda r: mapping.invoice(r, lines.get(r["id"], [])))
            for row in rows
        ]

    def _pickings(self, where: sa.ColumnElement[bool], lock: bool = False) -> list[Picking]:
        stmt = self._select(PICKINGS, lock).where(where).order_by(PICKINGS.c.seq)
        with self.db.connection(writes=False) as conn:
            rows = list(conn.execute(stmt).mappings())
            moves = self._children(conn, MOVES, "picking_id", [r["id"] for r in rows])
        return [
            _loaded(PICKINGS, row, lambda r: mapping.picking(r, moves.get(r["id"], [])))
            for row in rows
        ]

    def _save_with_children(
        self,
        parent: sa.Table,
        row: Mapping[str, Any],
        children: sa.Table,
        child_rows: list[dict[str, Any]],
        foreign_key: str,
    ) -> None:
        with self.db.connection() as conn:
            conn.execute(self._upsert(parent, row))
            conn.execute(children.delete().where(children.c[foreign_key] == row["id"]))
            if child_rows:
                conn.execute(children.insert(), child_rows)

    def put(self, record: object) -> None:
        """Store one builder record (insert or replace by id)."""
        if isinstance(record, Invoice):
            self.aftersales_accounting_save_invoice(record)
        elif isinstance(record, Picking):
            self.aftersales_stock_save_picking(record)
        else:
            table, to_row = _PUTS[type(record)]
            self._save(table, to_row(record))

    # -- transactions ----------------------------------------------------------------------

    @hookimpl
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        uow.enlist(self.db.begin(writes=uow.writes))

    # -- idempotency -----------------------------------------------------------------------

    @hookimpl
    def aftersales_idempotency_get(self, key: str) -> IdempotencyRecord | None:
        return self._one(IDEMPOTENCY, IDEMPOTENCY.c.key == key, mapping.idempotency)

    @hookimpl
    def aftersales_idempotency_save(self, record: IdempotencyRecord) -> IdempotencyRecord:
        row = mapping.idempotency_row(record)
        with self.db.connection() as conn:
            self.db.unique(conn, IDEMPOTENCY.insert().values(**row), "idempotency key", record.key)
        return record

    # -- helpdesk --------------------------------------------------------------------------

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        return self._one(TEAMS, TEAMS.c.id == team_id, mapping.team)

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> list[Team]:
        return self._all(TEAMS, mapping.team)

    @hookimpl
    def aftersales_helpdesk_save_team(self, team: Team) -> Team:
        self._save(TEAMS, mapping.team_row(team))
        return team

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        return self._one(TICKETS, TICKETS.c.id == ticket_id, mapping.ticket)

    @hookimpl
    def aftersales_helpdesk_find_ticket(self, ref: str) -> Ticket | None:
        return self._one(TICKETS, TICKETS.c.ref == ref, mapping.ticket)

    @hookimpl
    def aftersales_helpdesk_find_tickets(self, customer_ids: frozenset[str]) -> list[Ticket]:
        found = self._many(TICKETS, TICKETS.c.customer_id.in_(sorted(customer_ids)), mapping.ticket)
        return _newest(found, lambda t: t.customer_id or "", lambda t: (t.created_at,))

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        return self._one(PARTNERS, PARTNERS.c.id == partner_id, mapping.partner)

    @hookimpl
    def aftersales_helpdesk_list_contacts(self, commercial_entity_id: str) -> list[Partner]:
        return self._many(
            PARTNERS, PARTNERS.c.commercial_entity_id == commercial_entity_id, mapping.partner
        )

    @hookimpl
    def aftersales_helpdesk_get_product(self, product_id: str) -> Product | None:
        return self._one(PRODUCTS, PRODUCTS.c.id == product_id, mapping.product)

    @hookimpl
    def aftersales_helpdesk_get_sale_order(self, sale_order_id: str) -> SaleOrder | None:
        return self._one(SALE_ORDERS, SALE_ORDERS.c.id == sale_order_id, mapping.sale_order)

    @hookimpl
    def aftersales_helpdesk_add_link(self, link: DocumentLink) -> DocumentLink:
        with self.db.connection() as conn:
            key = ("ticket_id", "kind", "document_id")
            conn.execute(self._upsert(LINKS, mapping.link_row(link), key))
        return link

    @hookimpl
    def aftersales_helpdesk_remove_link(
        self, ticket_id: str, kind: DocumentKind, document_id: str
    ) -> DocumentLink | None:
        where = sa.and_(
            LINKS.c.ticket_id == ticket_id,
            LINKS.c.kind == kind.value,
            LINKS.c.document_id == document_id,
        )
        with self.db.connection() as conn:
            row = conn.execute(self._select(LINKS, lock=True).where(where)).mappings().first()
            if row is None:
                return None
            conn.execute(LINKS.delete().where(where))
        return _loaded(LINKS, row, mapping.link)

    @hookimpl
    def aftersales_helpdesk_list_links(self, ticket_id: str) -> list[DocumentLink]:
        return self._many(LINKS, LINKS.c.ticket_id == ticket_id, mapping.link)

    @hookimpl
    def aftersales_helpdesk_post_message(self, message: TicketMessage) -> TicketMessage:
        self._append(MESSAGES, mapping.message_row(message), "ticket message")
        return message

    @hookimpl
    def aftersales_helpdesk_list_messages(self, ticket_id: str) -> list[TicketMessage]:
        return self._many(MESSAGES, MESSAGES.c.ticket_id == ticket_id, mapping.message)

    # -- accounting ------------------------------------------------------------------------

    @hookimpl
    def aftersales_accounting_get_invoice(self, invoice_id: str, lock: bool) -> Invoice | None:
        found = self._invoices(INVOICES.c.id == invoice_id, lock)
        return found[0] if found else None

    @hookimpl
    def aftersales_accounting_find_invoices(self, query: InvoiceQuery) -> list[Invoice]:
        where: list[sa.ColumnElement[bool]] = [
            INVOICES.c.customer_id.in_(sorted(query.customer_ids))
        ]
        if query.kind is not None:
            where.append(INVOICES.c.kind == query.kind.value)
        if query.state is not None:
            where.append(INVOICES.c.state == query.state.value)
        if query.sale_order_id is not None:
            where.append(INVOICES.c.sale_order_id == query.sale_order_id)
        if query.product_id is not None:
            where.append(
                sa.exists().where(
                    LINES.c.invoice_id == INVOICES.c.id, LINES.c.product_id == query.product_id
                )
            )
        found = self._invoices(sa.and_(*where))
        return _newest(found, lambda i: i.customer_id, _invoice_order)

    @hookimpl
    def aftersales_accounting_list_credit_notes(self, invoice_id: str) -> list[Invoice]:
        return self._invoices(
            sa.and_(
                INVOICES.c.reversed_invoice_id == invoice_id,
                INVOICES.c.kind == InvoiceKind.CREDIT_NOTE.value,
            )
        )

    @hookimpl
    def aftersales_accounting_save_invoice(self, invoice: Invoice) -> Invoice:
        self._save_with_children(
            INVOICES,
            mapping.invoice_row(invoice),
            LINES,
            mapping.invoice_line_rows(invoice),
            "invoice_id",
        )
        return invoice

    @hookimpl
    def aftersales_accounting_list_matches(self, invoice_id: str) -> list[Match]:
        return self._many(MATCHES, MATCHES.c.invoice_id == invoice_id, mapping.match)

    @hookimpl
    def aftersales_accounting_add_match(self, match: Match) -> Match:
        self._save(MATCHES, mapping.match_row(match))
        return match

    @hookimpl
    def aftersales_accounting_remove_match(self, match_id: str) -> Match | None:
        with self.db.connection() as conn:
            row = (
                conn.execute(self._select(MATCHES, lock=True).where(MATCHES.c.id == match_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            conn.execute(MATCHES.delete().where(MATCHES.c.id == match_id))
        return _loaded(MATCHES, row, mapping.match)

    @hookimpl
    def aftersales_sequence_next(self, code: str) -> int:
        # One statement: the row is created or incremented under its row lock, so two
        # concurrent units never get the same number, and a rollback gives it back.
        stmt = self._insert(SEQUENCES).values(code=code, value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"], set_={"value": SEQUENCES.c.value + 1}
        ).returning(SEQUENCES.c.value)
        with self.db.connection() as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- loyalty ---------------------------------------------------------------------------

    @hookimpl
    def aftersales_loyalty_list_programs(self) -> list[CouponProgram]:
        return self._all(PROGRAMS, mapping.program)

    @hookimpl
    def aftersales_loyalty_get_program(self, program_id: str, lock: bool) -> CouponProgram | None:
        return self._one(PROGRAMS, PROGRAMS.c.id == program_id, mapping.program, lock)

    @hookimpl
    def aftersales_loyalty_get_coupon(self, coupon_id: str, lock: bool) -> Coupon | None:
        return self._one(COUPONS, COUPONS.c.id == coupon_id, mapping.coupon, lock)

    @hookimpl
    def aftersales_loyalty_find_coupon(self, code: str, lock: bool) -> Coupon | None:
        return self._one(COUPONS, COUPONS.c.code == code, mapping.coupon, lock)

    @hookimpl
    def aftersales_loyalty_create_coupon(self, coupon: Coupon) -> Coupon:
        with self.db.connection() as conn:
            try:
                insert = COUPONS.insert().values(**mapping.coupon_row(coupon))
                self.db.unique(conn, insert, "coupon code", coupon.code)
            except DuplicateKey:
                taken = conn.execute(
                    sa.select(COUPONS.c.id).where(COUPONS.c.code == coupon.code)
                ).first()
                if taken is None:
                    raise DuplicateKey("coupon id", coupon.id) from None
                raise
        return coupon

    @hookimpl
    def aftersales_loyalty_save_coupon(self, coupon: Coupon) -> Coupon:
        with self.db.connection() as conn:
            upsert = self._upsert(COUPONS, mapping.coupon_row(coupon))
            self.db.unique(conn, upsert, "coupon code", coupon.code)
        return coupon

    @hookimpl
    def aftersales_loyalty_add_use(self, use: CouponUse) -> CouponUse:
        self._save(USES, mapping.coupon_use_row(use))
        return use

    @hookimpl
    def aftersales_loyalty_count_uses(self, program_id: str) -> int:
        stmt = sa.select(sa.func.count()).select_from(USES).where(USES.c.program_id == program_id)
        with self.db.connection(writes=False) as conn:
            return int(conn.execute(stmt).scalar_one())

    # -- stock -----------------------------------------------------------------------------

    @hookimpl
    def aftersales_stock_get_picking(self, picking_id: str, lock: bool) -> Picking | None:
        found = self._pickings(PICKINGS.c.id == picking_id, lock)
        return found[0] if found else None

    @hookimpl
    def aftersales_stock_find_pickings(self, query: PickingQuery) -> list[Picking]:
        where: list[sa.ColumnElement[bool]] = [PICKINGS.c.partner_id.in_(sorted(query.partner_ids))]
        if query.kind is not None:
            where.append(PICKINGS.c.kind == query.kind.value)
        if query.state is not None:
            where.append(PICKINGS.c.state == query.state.value)
        if query.sale_order_id is not None:
            where.append(PICKINGS.c.sale_order_id == query.sale_order_id)
        if query.product_id is not None:
            where.append(
                sa.exists().where(
                    MOVES.c.picking_id == PICKINGS.c.id, MOVES.c.product_id == query.product_id
                )
            )
        found = self._pickings(sa.and_(*where))
        return _newest(found, lambda p: p.partner_id, _picking_order)

    @hookimpl
    def aftersales_stock_list_returns(self, delivery_id: str) -> list[Picking]:
        return self._pickings(PICKINGS.c.return_of_id == delivery_id)

    @hookimpl
    def aftersales_stock_save_picking(self, picking: Picking) -> Picking:
        self._save_with_children(
            PICKINGS, mapping.picking_row(picking), MOVES, mapping.move_rows(picking), "picking_id"
        )
        return picking

    # -- repair ----------------------------------------------------------------------------

    @hookimpl
    def aftersales_repair_get_order(self, repair_id: str, lock: bool) -> RepairOrder | None:
        return self._one(REPAIRS, REPAIRS.c.id == repair_id, mapping.repair, lock)

    @hookimpl
    def aftersales_repair_save_order(self, repair: RepairOrder) -> RepairOrder:
        with self.db.connection() as conn:
            upsert = self._upsert(REPAIRS, mapping.repair_row(repair))
            self.db.unique(conn, upsert, "repair reference", repair.reference)
        return repair

    @hookimpl
    def aftersales_repair_delete_order(self, repair_id: str) -> RepairOrder | None:
        with self.db.connection() as conn:
            row = (
                conn.execute(self._select(REPAIRS, lock=True).where(REPAIRS.c.id == repair_id))
                .mappings()
                .first()
            )
            if row is None:
                return None
            conn.execute(REPAIRS.delete().where(REPAIRS.c.id == repair_id))
        return _loaded(REPAIRS, row, mapping.repair)

    # -- project ---------------------------------------------------------------------------

    @hookimpl
    def aftersales_project_get_project(self, project_id: str) -> Project | None:
        return self._one(PROJECTS, PROJECTS.c.id == project_id, mapping.project)

    @hookimpl
    def aftersales_project_list_projects(self) -> list[Project]:
        return self._all(PROJECTS, mapping.project)

    @hookimpl
    def aftersales_project_get_task(self, task_id: str, lock: bool) -> FieldServiceTask | None:
        return self._one(TASKS, TASKS.c.id == task_id, mapping.task, lock)

    @hookimpl
    def aftersales_project_save_task(self, task: FieldServiceTask) -> FieldServiceTask:
        self._save(TASKS, mapping.task_row(task))
        return task

    # -- mail ------------------------------------------------------------------------------

    @hookimpl
    def aftersales_mail_enqueue(self, email: OutgoingEmail) -> OutgoingEmail:
        self._save(OUTBOX, mapping.email_row(email))
        return email

    @hookimpl
    def aftersales_mail_save(self, email: OutgoingEmail) -> OutgoingEmail:
        self._save(OUTBOX, mapping.email_row(email))
        return email

    @hookimpl
    def aftersales_mail_list_outbox(self, pending_only: bool) -> list[OutgoingEmail]:
        where = OUTBOX.c.state != EmailState.SENT.value if pending_only else None
        return self._many(OUTBOX, where, mapping.email)

    @hookimpl
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        # The local delivery log: a real transport plugin registered after this backend
        # answers first (see docs/sql-backend.md).
        self._save(DELIVERED, mapping.delivered_row(email))
        return True

    # -- modules and subscription ----------------------------------------------------------

    @hookimpl
    def aftersales_modules_installed(self) -> frozenset[str]:
        with self.db.connection(writes=False) as conn:
            return frozenset(conn.execute(sa.select(MODULES.c.name)).scalars())

    @hookimpl
    def aftersales_modules_install(self, name: str) -> str:
        with self.db.connection() as conn:
            conn.execute(
                self._insert(MODULES)
                .values(name=name)
                .on_conflict_do_nothing(index_elements=["name"])
            )
        return name

    @hookimpl
    def aftersales_modules_uninstall(self, name: str) -> str | None:
        with self.db.connection() as conn:
            removed = conn.execute(MODULES.delete().where(MODULES.c.name == name)).rowcount
        return name if removed else None

    @hookimpl
    def aftersales_subscription_get(self) -> Subscription:
        found = self._one(SUBSCRIPTION, SUBSCRIPTION.c.name == "database", mapping.subscription)
        return found or Subscription()

    @hookimpl
    def aftersales_subscription_save(self, subscription: Subscription) -> Subscription:
        with self.db.connection() as conn:
            row = mapping.subscription_row(subscription)
            conn.execute(self._upsert(SUBSCRIPTION, row, ("name",)))
        return subscription

    # -- audit -----------------------------------------------------------------------------

    @hookimpl
    def aftersales_audit_append(self, entry: AuditEntry) -> AuditEntry:
        self._append(AUDIT, mapping.audit_row(entry), "audit entry")
        return entry

    @hookimpl
    def aftersales_audit_list(self, ticket_id: str | None) -> list[AuditEntry]:
        where = AUDIT.c.ticket_id == ticket_id if ticket_id is not None else None
        return self._many(AUDIT, where, mapping.audit)


#: How :meth:`SqlBackend.put` stores each builder record without children.
_PUTS: dict[type[Any], tuple[sa.Table, Callable[[Any], mapping.Row]]] = {
    Partner: (PARTNERS, mapping.partner_row),
    Product: (PRODUCTS, mapping.product_row),
    SaleOrder: (SALE_ORDERS, mapping.sale_order_row),
    Team: (TEAMS, mapping.team_row),
    Ticket: (TICKETS, mapping.ticket_row),
    Payment: (PAYMENTS, mapping.payment_row),
    Match: (MATCHES, mapping.match_row),
    CouponProgram: (PROGRAMS, mapping.program_row),
    Coupon: (COUPONS, mapping.coupon_row),
    Project: (PROJECTS, mapping.project_row),
    FieldServiceTask: (TASKS, mapping.task_row),
    RepairOrder: (REPAIRS, mapping.repair_row),
}
