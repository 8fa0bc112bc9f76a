"""The tables, their keys and the indexes behind every lookup the services make.

The schema is built by `build_metadata()` for a given schema *version*: what a version
added is guarded by `version >= N`, so migration `N` can create exactly what it added
and a database upgraded from any older version ends up identical to a new one (a test
checks it). Never change what an older version created; add a new version instead.

Conventions:

* Every aggregate has a text `id` (unique) and, where the hooks return rows in insertion
  order ("oldest first", "a stable order"), an integer `seq` primary key that keeps it.
* Value lists with lookups (invoice lines, stock moves) are child tables; other value lists
  (taxes, rewards, rules, repair parts and operations, id sets) are JSON text made by
  `aftersales.serialization`.
* There are no foreign keys between aggregates: a ticket may live in this database while
  its invoices live in an ERP reached through another backend. Child rows reference their
  parent with `ON DELETE CASCADE`.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from .types import Exact, JsonText, Moment

__all__ = ["SCHEMA_VERSION", "build_metadata", "metadata"]

#: The version of the schema this code reads and writes.
SCHEMA_VERSION = 16


def _seq() -> sa.Column[int]:
    return sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(128), nullable=False, unique=True)


def _ref(name: str, *, nullable: bool = True, index: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(128), nullable=nullable, index=index)


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=nullable)


def _enum(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(32), nullable=nullable)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean, nullable=False)


def _money(prefix: str, *, nullable: bool = False) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{prefix}_amount", Exact, nullable=nullable),
        sa.Column(f"{prefix}_currency", sa.String(3), nullable=nullable),
    ]


@functools.cache
def build_metadata(version: int = SCHEMA_VERSION) -> sa.MetaData:
    """The tables of schema `version` (1 … `SCHEMA_VERSION`); built once per version,
    treat it as read-only."""
    if not 1 <= version <= SCHEMA_VERSION:
        raise ValueError(f"unknown schema version {version}")
    md = sa.MetaData()

    sa.Table(
        "schema_version",
        md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        _text("description"),
        sa.Column("applied_at", Moment, nullable=False),
    )

    # -- idempotency, sequences, modules, subscription --------------------------------------
    if version < 5:  # keys of every actor in one space; replaced by idempotency_keys
        sa.Table(
            "idempotency",
            md,
            sa.Column("key", sa.String(256), primary_key=True),
            sa.Column("operation", sa.String(128), nullable=False),
            sa.Column("fingerprint", sa.String(128), nullable=False),
            _text("result"),
            sa.Column("created_at", Moment, nullable=False),
        )
    else:
        sa.Table(
            "idempotency_keys",
            md,
            sa.Column("actor_id", sa.String(128), primary_key=True),
            sa.Column("key", sa.String(256), primary_key=True),
            sa.Column("operation", sa.String(128), nullable=False),
            sa.Column("fingerprint", sa.String(128), nullable=False),
            _text("result", nullable=True),  # NULL while the claiming call runs
            sa.Column("created_at", Moment, nullable=False, index=True),
        )
    sa.Table(
        "sequences",
        md,
        sa.Column("code", sa.String(128), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    sa.Table("modules", md, sa.Column("name", sa.String(128), primary_key=True))
    sa.Table(
        "subscription",
        md,
        sa.Column("name", sa.String(32), primary_key=True),
        _enum("state"),
        sa.Column("trial_started_at", Moment),
        sa.Column("trial_ends_at", Moment),
        sa.Column("paid_reference", sa.String(128)),
        sa.Column("changed_at", Moment),
    )

    # -- helpdesk ---------------------------------------------------------------------------
    sa.Table(
        "partners",
        md,
        _seq(),
        _id(),
        _text("name"),
        _ref("commercial_entity_id", nullable=False, index=True),
        _text("email", nullable=True),
        _flag("is_company"),
        _ref("delivery_address_id"),
    )
    sa.Table(
        "products",
        md,
        _seq(),
        _id(),
        _text("name"),
        _enum("kind"),
        *_money("price"),
        sa.Column("taxes", JsonText, nullable=False),
        _text("uom"),
        sa.Column("uom_digits", sa.Integer, nullable=False),
        _text("category", nullable=True),
    )
    sa.Table(
        "sale_orders",
        md,
        _seq(),
        _id(),
        _text("name"),
        _ref("customer_id", nullable=False, index=True),
        sa.Column("ordered_at", Moment, nullable=False),
    )
    sa.Table(
        "teams",
        md,
        _seq(),
        _id(),
        _text("name"),
        *(  # until version 8: the after-sales settings, moved to team_settings
            (sa.Column("services", JsonText, nullable=False), _ref("fsm_project_id"))
            if version < 8
            else ()
        ),
        sa.Column("member_ids", JsonText, nullable=False),
        _flag("members_only"),
    )
    sa.Table(
        "tickets",
        md,
        _seq(),
        _id(),
        sa.Column("ref", sa.String(64), nullable=False),
        _text("title"),
        _ref("team_id", nullable=False, index=True),
        sa.Column("created_at", Moment, nullable=False),
        _ref("customer_id", index=True),
        _ref("product_id"),
        _ref("sale_order_id"),
        _text("description"),
        sa.Column("follower_ids", JsonText, nullable=False),
    )
    sa.Table(
        "links",
        md,
        _seq(),
        _ref("ticket_id", nullable=False),
        _enum("kind"),
        _ref("document_id", nullable=False, index=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.UniqueConstraint("ticket_id", "kind", "document_id", name="uq_links_document"),
    )
    sa.Table(
        "messages",
        md,
        _seq(),
        _id(),
        _ref("ticket_id", nullable=False, index=True),
        sa.Column("at", Moment, nullable=False),
        _ref("author_id", nullable=False),
        _text("body"),
        _enum("document_kind", nullable=True),
        _ref("document_id"),
    )

    # -- accounting -------------------------------------------------------------------------
    sa.Table(
        "invoices",
        md,
        _seq(),
        _id(),
        _enum("kind"),
        _ref("customer_id", nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        _enum("state"),
        sa.Column("created_at", Moment, nullable=False),
        _enum("payment_state"),
        *_money("residual"),
        sa.Column("number", sa.String(64)),
        sa.Column("invoice_date", sa.Date),
        sa.Column("post_on", sa.Date),
        _ref("sale_order_id", index=True),
        _ref("reversed_invoice_id", index=True),
        _ref("ticket_id", index=True),
        _text("reference"),
        _text("reason"),
        sa.Column("journal", sa.String(64)),
        _text("note"),
    )
    sa.Table(
        "invoice_lines",
        md,
        sa.Column(
            "invoice_id",
            sa.String(128),
            sa.ForeignKey("invoices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        _text("description"),
        sa.Column("quantity", Exact, nullable=False),
        *_money("unit_price"),
        sa.Column("taxes", JsonText, nullable=False),
        _ref("product_id", index=True),
    )
    sa.Table(
        "payments",
        md,
        _seq(),
        _id(),
        _ref("customer_id", nullable=False, index=True),
        *_money("amount"),
        sa.Column("paid_at", Moment, nullable=False),
        _text("reference"),
    )
    sa.Table(
        "matches",
        md,
        _seq(),
        _id(),
        _ref("invoice_id", nullable=False, index=True),
        _enum("kind"),
        _ref("counterpart_id", nullable=False, index=True),
        *_money("amount"),
        sa.Column("created_at", Moment, nullable=False),
    )

    # -- loyalty ----------------------------------------------------------------------------
    sa.Table(
        "programs",
        md,
        _seq(),
        _id(),
        _text("name"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rewards", JsonText, nullable=False),
        sa.Column("rules", JsonText, nullable=False),
        _flag("active"),
        _enum("program_type"),
        _enum("trigger"),
        sa.Column("date_to", sa.Date),
        sa.Column("max_usage", sa.Integer),
        sa.Column("code", sa.String(64)),
    )
    sa.Table(
        "coupons",
        md,
        _seq(),
        _id(),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        _ref("program_id", nullable=False, index=True),
        _ref("partner_id", nullable=False, index=True),
        sa.Column("points", Exact, nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("expires_on", sa.Date),
        _ref("ticket_id", index=True),
    )
    sa.Table(
        "coupon_uses",
        md,
        _seq(),
        _id(),
        _ref("coupon_id", nullable=False, index=True),
        _ref("program_id", nullable=False, index=True),
        sa.Column("points", Exact, nullable=False),
        sa.Column("used_at", Moment, nullable=False),
        _text("order_reference"),
    )

    # -- stock ------------------------------------------------------------------------------
    sa.Table(
        "pickings",
        md,
        _seq(),
        _id(),
        _enum("kind"),
        sa.Column("reference", sa.String(64), nullable=False),
        _ref("partner_id", nullable=False, index=True),
        _text("source_location"),
        _text("destination_location"),
        _enum("state"),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("done_at", Moment),
        _text("origin"),
        _ref("sale_order_id", index=True),
        _ref("return_of_id", index=True),
        _ref("ticket_id", index=True),
    )
    sa.Table(
        "stock_moves",
        md,
        sa.Column(
            "picking_id",
            sa.String(128),
            sa.ForeignKey("pickings.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        _ref("id", nullable=False, index=True),
        _ref("product_id", nullable=False, index=True),
        sa.Column("quantity", Exact, nullable=False),
        _enum("state"),
        _ref("origin_move_id", index=True),
        _flag("scrapped"),
    )

    # -- repair -----------------------------------------------------------------------------
    sa.Table(
        "repairs",
        md,
        _seq(),
        _id(),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        _ref("product_id", nullable=False),
        _ref("customer_id", nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        _enum("state"),
        sa.Column("quantity", Exact, nullable=False),
        sa.Column("lot", sa.String(64)),
        _ref("ticket_id", index=True),
        _text("description"),
        _ref("sale_order_id"),
        _ref("return_id", index=True),
        _enum("invoice_method"),
        _ref("invoice_address_id"),
        sa.Column("parts", JsonText, nullable=False),
        sa.Column("operations", JsonText, nullable=False),
        _text("internal_notes"),
        _text("quotation_notes"),
        _ref("responsible_user_id"),
        sa.Column("scheduled_date", sa.Date),
        sa.Column("warranty_expiration", sa.Date),
        _ref("invoice_id", index=True),
    )

    # -- project ----------------------------------------------------------------------------
    sa.Table(
        "projects",
        md,
        _seq(),
        _id(),
        _text("name"),
        _flag("is_fsm"),
        _flag("portal_visible"),
    )
    sa.Table(
        "tasks",
        md,
        _seq(),
        _id(),
        _ref("project_id", nullable=False, index=True),
        _text("title"),
        _ref("customer_id", nullable=False, index=True),
        sa.Column("created_at", Moment, nullable=False),
        _enum("stage"),
        _text("description"),
        _ref("ticket_id", index=True),
        sa.Column("planned_at", Moment),
        _ref("assignee_id"),
        _text("internal_notes"),
    )

    # -- audit ------------------------------------------------------------------------------
    sa.Table(
        "audit",
        md,
        _seq(),
        _id(),
        sa.Column("at", Moment, nullable=False),
        _ref("actor_id", nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        _ref("ticket_id", index=True),
        sa.Column("document_ids", JsonText, nullable=False),
        sa.Column("idempotency_key", sa.String(256), index=True),
        _text("detail"),
    )

    # -- version 2: the mail outbox and the local delivery log ------------------------------
    if version >= 2:
        sa.Table(
            "outbox",
            md,
            _seq(),
            _id(),
            sa.Column("recipients", JsonText, nullable=False),
            sa.Column("subject", sa.String(998), nullable=False),
            _text("text_body"),
            _text("html_body"),
            sa.Column("created_at", Moment, nullable=False),
            _ref("ticket_id", index=True),
            _enum("state"),
            sa.Column("attempts", sa.Integer, nullable=False),
            _text("last_error"),
            sa.Column("sent_at", Moment),
            sa.Index("ix_outbox_pending", "state", "seq"),
        )
        sa.Table(
            "mail_delivered",
            md,
            _seq(),
            _id(),
            sa.Column("email", JsonText, nullable=False),
        )

    # -- version 3: the credit method a credit note was made with ---------------------------
    if version >= 3:
        md.tables["invoices"].append_column(_enum("credit_method", nullable=True))

    # -- version 4: tickets are found by their number -----------------------------------------
    if version >= 4:
        sa.Index("ix_tickets_ref", md.tables["tickets"].c.ref)

    # -- version 6: who took an email and who refused it; a retry run's claim on it ---------
    if version >= 6:
        outbox = md.tables["outbox"]
        outbox.append_column(sa.Column("accepted", JsonText))
        outbox.append_column(sa.Column("refused", JsonText))
        outbox.append_column(sa.Column("claim", sa.String(128)))
        outbox.append_column(sa.Column("lease_until", Moment))

    # -- version 7: the operation that made a document (find_by_reference) ------------------
    if version >= 7:
        invoices = md.tables["invoices"]
        invoices.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_invoices_operation_ref", invoices.c.operation_ref)
    # -- version 8: a team's after-sales settings are the library's, not the helpdesk's ----
    if version >= 8:
        sa.Table(
            "team_settings",
            md,
            _seq(),
            sa.Column("team_id", sa.String(128), nullable=False, unique=True),
            sa.Column("services", JsonText, nullable=False),
            _ref("fsm_project_id"),
        )
    # -- version 9: the operation that made or changed a picking (find_by_reference) --------
    if version >= 9:
        pickings = md.tables["pickings"]
        pickings.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_pickings_operation_ref", pickings.c.operation_ref)
    # -- version 10: the operation that made or moved a task (find_by_reference) -------------
    if version >= 10:
        tasks = md.tables["tasks"]
        tasks.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_tasks_operation_ref", tasks.c.operation_ref)
    # -- version 11: the operation that made or last changed a repair order -----------------
    if version >= 11:
        repairs = md.tables["repairs"]
        repairs.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_repairs_operation_ref", repairs.c.operation_ref)
    # -- version 12: indexes of the paged history (a page of a customer's invoices) ----------
    if version >= 12:
        invoices, lines = md.tables["invoices"], md.tables["invoice_lines"]
        # the product filter's EXISTS: one probe per invoice, not a scan of the product's lines
        sa.Index("ix_invoice_lines_product_invoice", lines.c.product_id, lines.c.invoice_id)
        # a page: newest first by (invoice_date, created_at, id), undated last. SQLite puts
        # NULL first ascending, so a backward scan of the ascending index gives NULLS LAST;
        # PostgreSQL puts NULL last ascending and needs the order spelled out.
        page = (invoices.c.customer_id, invoices.c.kind, invoices.c.state)
        sa.Index(
            "ix_invoices_page", *page, invoices.c.invoice_date, invoices.c.created_at, invoices.c.id
        ).ddl_if(dialect="sqlite")
        sa.Index(
            "ix_invoices_page_pg",
            *page,
            invoices.c.invoice_date.desc().nulls_last(),
            invoices.c.created_at.desc(),
            invoices.c.id.desc(),
        ).ddl_if(dialect="postgresql")
    # -- version 13: the operation that issued or redeemed a coupon (find_by_reference) -----
    if version >= 13:
        coupons, uses = md.tables["coupons"], md.tables["coupon_uses"]
        coupons.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_coupons_operation_ref", coupons.c.operation_ref)
        uses.append_column(sa.Column("operation_ref", sa.String(64)))
        sa.Index("ix_coupon_uses_operation_ref", uses.c.operation_ref)
    # -- version 14: the host's external id of an imported document, unique per kind --------
    if version >= 14:
        for name in ("invoices", "pickings", "programs"):
            table = md.tables[name]
            table.append_column(sa.Column("external_id", sa.String(128)))
            # a unique index (not a constraint): SQLite cannot add a constraint to a table;
            # NULL (a document the host did not import) never conflicts
            sa.Index(f"uq_{name}_external_id", table.c.external_id, unique=True)
    # -- version 15: indexes of the paged lists (deliveries, a ticket's documents and trail) -
    if version >= 15:
        pickings, links, messages = md.tables["pickings"], md.tables["links"], md.tables["messages"]
        # a page of a partner's done deliveries: newest first by (done_at, created_at, id),
        # not done last; the two dialects as the invoices' page index (version 12)
        page = (pickings.c.partner_id, pickings.c.kind, pickings.c.state)
        sa.Index(
            "ix_pickings_page", *page, pickings.c.done_at, pickings.c.created_at, pickings.c.id
        ).ddl_if(dialect="sqlite")
        sa.Index(
            "ix_pickings_page_pg",
            *page,
            pickings.c.done_at.desc().nulls_last(),
            pickings.c.created_at.desc(),
            pickings.c.id.desc(),
        ).ddl_if(dialect="postgresql")
        # a ticket's pages, newest first (no NULLs: a backward scan on both dialects)
        sa.Index(
            "ix_links_page",
            links.c.ticket_id,
            links.c.created_at,
            links.c.kind,
            links.c.document_id,
        )
        sa.Index("ix_messages_page", messages.c.ticket_id, messages.c.at, messages.c.id)
        # the product filter's EXISTS on a delivery's moves: one probe per delivery, not a
        # scan of every move of the product (as ix_invoice_lines_product_invoice, version 12)
        moves = md.tables["stock_moves"]
        sa.Index("ix_stock_moves_product_picking", moves.c.product_id, moves.c.picking_id)
    # -- version 16: claims on ERP documents another plugin owns (aftersales_store_claim) ----
    if version >= 16:
        sa.Table(
            "claims",
            md,
            sa.Column("kind", sa.String(32), primary_key=True),
            sa.Column("document_id", sa.String(128), primary_key=True),
            # how many units claimed it: the row each claim inserts or updates (and locks)
            sa.Column("claims", sa.BigInteger, nullable=False),
        )
    return md


#: The current schema: what queries are written against.
metadata = build_metadata()
