"""The in-memory reference backend: every hook, thread-safe, rolled back by an undo log."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

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
from aftersales.hookspecs import hookimpl
from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    DocumentKind,
    DocumentLink,
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
from aftersales.models.mail import UNDELIVERED
from aftersales.models.queries import (
    LinkQuery,
    MessageQuery,
    history_order,
    link_key,
    message_key,
)
from aftersales.unit_of_work import UnitOfWork

from .builder import MemoryBuilder
from .coupons import MemoryCoupons
from .imports import MemoryImports
from .ledger import MemoryLedger
from .repairs import MemoryRepairs
from .store import MemoryStore, Sorted
from .tasks import MemoryTasks

__all__ = ["MemoryBackend"]

T = TypeVar("T")

#: What a database that never subscribed has (records are immutable: one is enough).
_NO_SUBSCRIPTION = Subscription()


def _link_key(link: DocumentLink) -> tuple[str, str, str]:
    """A link's key in the links table."""
    return (link.ticket_id, link.kind.value, link.document_id)


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value is not None else ()


#: Secondary indexes: every lookup the services make is by key, never a scan.
INDEXES: dict[str, dict[str, Callable[[Any], Iterable[object]]]] = {
    "partners": {"entity": lambda p: (p.commercial_entity_id,)},
    "tickets": {"customer": lambda t: _one(t.customer_id), "ref": lambda t: (t.ref,)},
    "invoices": {
        "customer": lambda i: (i.customer_id,),
        "reversed": lambda i: _one(i.reversed_invoice_id),
        "operation": lambda i: _one(i.operation_ref),
    },
    "matches": {"invoice": lambda m: (m.invoice_id,)},
    "pickings": {
        "partner": lambda p: (p.partner_id,),
        "return_of": lambda p: _one(p.return_of_id),
        "operation": lambda p: _one(p.operation_ref),
    },
    "coupons": {"code": lambda c: (c.code,), "operation": lambda c: _one(c.operation_ref)},
    "repairs": {
        "reference": lambda r: (r.reference,),
        "operation": lambda r: _one(r.operation_ref),
    },
    "tasks": {"operation": lambda t: _one(t.operation_ref)},
    "coupon_uses": {"program": lambda u: (u.program_id,)},
    "links": {"ticket": lambda link: (link.ticket_id,)},
    "messages": {"ticket": lambda m: (m.ticket_id,)},
    "audit": {"ticket": lambda e: _one(e.ticket_id)},
    "outbox": {"pending": lambda e: ("pending",) if e.state in UNDELIVERED else ()},
}

#: Sorted indexes: the paged lists, walked from the newest record of an owner.
SORTED_INDEXES: dict[str, dict[str, Sorted]] = {
    "invoices": {"customer page": (lambda i: (i.customer_id,), history_order)},
    "pickings": {"partner page": (lambda p: (p.partner_id,), history_order)},
    "links": {
        "ticket page": (
            lambda link: (link.ticket_id,),
            lambda link: (*link_key(link), _link_key(link)),
        )
    },
    "messages": {"ticket page": (lambda m: (m.ticket_id,), message_key)},
}

#: Which table each builder record type goes to.
TABLE_OF: dict[type[Any], str] = {
    Partner: "partners",
    Product: "products",
    SaleOrder: "sale_orders",
    Team: "teams",
    Ticket: "tickets",
    Invoice: "invoices",
    Payment: "payments",
    Match: "matches",
    Picking: "pickings",
    CouponProgram: "programs",
    Coupon: "coupons",
    Project: "projects",
    FieldServiceTask: "tasks",
    RepairOrder: "repairs",
}


def _newest(items: Sequence[T], key: Callable[[T], tuple[Any, ...]]) -> list[T]:
    # Newest first; among equal keys the later-inserted record comes first (the sort is
    # stable, so sorting the reversed insertion order keeps later records ahead).
    later_first = list(items)[::-1]
    return sorted(later_first, key=key, reverse=True)


class MemoryBackend(AccountingPort, StockPort, LoyaltyPort, ProjectPort, RepairPort, ImportPort):
    """Implements every hook of [`aftersales.hookspecs`][aftersales.hookspecs] on dicts in memory.

    Use `builder()` to create the data an ERP would already hold, `snapshot()` to
    compare the whole store before and after a call, and `delivered` to read the
    emails a unit of work sent after it committed.

    The accounting port is the reference ERP
    (`ReferenceAccounting`) over `ledger`;
    `accounting` builds another one over that ledger (e.g. one that ids and numbers its
    documents in its own style). The stock port is the reference ERP's stock
    (`ReferenceStock`) over the same `ledger`; `stock` builds another one.
    The loyalty port is the reference ERP (`ReferenceLoyalty`) over `coupons`;
    `loyalty` builds another one over them.
    The project port is the reference ERP (`ReferenceProject`) over `tasks`;
    `project` builds another one over them.
    The repair port is the reference ERP's (`ReferenceRepairs`) over the store's repair
    orders; `repairs` builds another one.
    The import port is the reference ERP's (`ReferenceImports`), inserting documents by
    the host's external ids.
    """

    name = "memory"
    #: Optional conformance-kit capabilities (see `aftersales.testing.conformance`).
    capabilities = frozenset({"delivered_log", "threads"})

    def __init__(
        self,
        *,
        installed_modules: Iterable[str] = ("base", "mail", "helpdesk"),
        accounting: Callable[[Ledger], ReferenceAccounting] = ReferenceAccounting,
        stock: Callable[[StockLedger], ReferenceStock] = ReferenceStock,
        loyalty: Callable[[CouponStore], ReferenceLoyalty] = ReferenceLoyalty,
        project: Callable[[TaskStore], ReferenceProject] = ReferenceProject,
        repairs: Callable[[RepairStorage], ReferenceRepairs] = ReferenceRepairs,
    ) -> None:
        self.store = MemoryStore(INDEXES, SORTED_INDEXES)
        self.ledger = MemoryLedger(self.store)
        self.accounting = accounting(self.ledger)
        self.stock = stock(self.ledger)
        self.coupons = MemoryCoupons(self.store)
        self.loyalty = loyalty(self.coupons)
        self.tasks = MemoryTasks(self.store)
        self.project = project(self.tasks)
        self.repairs = repairs(MemoryRepairs(self.store, self.ledger))
        self.imports = ReferenceImports(MemoryImports(self.store))
        self._installed = tuple(installed_modules)
        self.reset()

    # -- test support -------------------------------------------------------------------------

    def builder(self, clock: Clock | None = None) -> MemoryBuilder:
        """A `Builder` writing into this backend."""
        return MemoryBuilder(self, clock)

    def reset(self, snapshot: Mapping[str, Mapping[object, Any]] | None = None) -> None:
        """Start over: the backend holds what a new one would, or exactly `snapshot`.

        Every table goes: records, secondary indexes, number series, team settings,
        installed modules, the outbox and the `delivered` log (everything `snapshot()`
        covers), and any unit of work left open. Without `snapshot` the modules given at
        construction are installed again. It is how a test suite keeps one application
        for a whole session and starts each test clean (see docs/testing.md): far cheaper
        than building a new `AfterSales`.

        Examples:
            >>> backend = MemoryBackend()
            >>> new = backend.snapshot()
            >>> backend.aftersales_modules_install("repair")
            'repair'
            >>> backend.reset()
            >>> backend.snapshot() == new
            True
        """
        if snapshot is not None:
            self.store.reset(snapshot)
            return
        self.store.reset()
        for module in self._installed:
            self.store.put("modules", module, module)

    def snapshot(self) -> dict[str, dict[object, Any]]:
        """Every table, copied: equal snapshots mean nothing changed."""
        return self.store.snapshot()

    @property
    def delivered(self) -> list[OutgoingEmail]:
        """Emails handed to the memory transport (after their unit of work committed)."""
        return self.store.values("delivered")

    def _get(self, table: str, key: object) -> Any:
        return self.store.get(table, key)

    def _by(self, table: str, index: str, values: Iterable[object]) -> list[Any]:
        found: list[Any] = []
        for value in values:
            found.extend(self.store.by_index(table, index, value))
        return found

    # -- transactions -------------------------------------------------------------------------

    @hookimpl
    def aftersales_transaction_begin(self, uow: UnitOfWork) -> None:
        uow.enlist(self.store.begin())

    # -- idempotency --------------------------------------------------------------------------

    @hookimpl
    def aftersales_store_idempotency_claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        # Units run one at a time here: a claim never has to wait for another one.
        with self.store.lock:
            stored: IdempotencyRecord | None = self._get(
                "idempotency", (record.actor_id, record.key)
            )
            if stored is not None:
                return stored
            self.store.put("idempotency", (record.actor_id, record.key), record)
        return record

    @hookimpl
    def aftersales_store_idempotency_complete(self, record: IdempotencyRecord) -> IdempotencyRecord:
        with self.store.lock:
            self.store.put("idempotency", (record.actor_id, record.key), record)
        return record

    @hookimpl
    def aftersales_store_claim(self, kind: str, document_id: str) -> bool:
        # A unit of work holds the whole store: units that claim anything run one at a time.
        return True

    @hookimpl
    def aftersales_store_idempotency_purge(self, before: datetime) -> int:
        with self.store.lock:
            old = [
                (r.actor_id, r.key)
                for r in self.store.values("idempotency")
                if r.created_at < before
            ]
            for key in old:
                self.store.delete("idempotency", key)
        return len(old)

    # -- helpdesk -----------------------------------------------------------------------------

    @hookimpl
    def aftersales_helpdesk_get_team(self, team_id: str) -> Team | None:
        team: Team | None = self._get("teams", team_id)
        return team

    @hookimpl
    def aftersales_helpdesk_list_teams(self) -> list[Team]:
        return self.store.values("teams")

    @hookimpl
    def aftersales_helpdesk_save_team(self, team: Team) -> Team:
        # the host's record only: the after-sales settings are the store's (team_settings)
        self.store.put("teams", team.id, TeamConfig(team_id=team.id).apply(team))
        return team

    @hookimpl
    def aftersales_store_get_team_config(self, team_id: str) -> TeamConfig | None:
        config: TeamConfig | None = self._get("team_settings", team_id)
        return config

    @hookimpl
    def aftersales_store_save_team_config(self, config: TeamConfig) -> TeamConfig:
        self.store.put("team_settings", config.team_id, config)
        return config

    @hookimpl
    def aftersales_helpdesk_get_ticket(self, ticket_id: str) -> Ticket | None:
        ticket: Ticket | None = self._get("tickets", ticket_id)
        return ticket

    @hookimpl
    def aftersales_helpdesk_find_ticket(self, ref: str) -> Ticket | None:
        found: list[Ticket] = self.store.by_index("tickets", "ref", ref)
        return found[0] if found else None

    @hookimpl
    def aftersales_helpdesk_find_tickets(self, customer_ids: frozenset[str]) -> list[Ticket]:
        tickets: list[Ticket] = self._by("tickets", "customer", sorted(customer_ids))
        return _newest(tickets, lambda t: (t.created_at,))

    @hookimpl
    def aftersales_helpdesk_get_partner(self, partner_id: str) -> Partner | None:
        partner: Partner | None = self._get("partners", partner_id)
        return partner

    @hookimpl
    def aftersales_helpdesk_list_contacts(self, commercial_entity_id: str) -> list[Partner]:
        return self.store.by_index("partners", "entity", commercial_entity_id)

    @hookimpl
    def aftersales_sales_get_product(self, product_id: str) -> Product | None:
        product: Product | None = self._get("products", product_id)
        return product

    @hookimpl
    def aftersales_sales_get_sale_order(self, sale_order_id: str) -> SaleOrder | None:
        order: SaleOrder | None = self._get("sale_orders", sale_order_id)
        return order

    @hookimpl
    def aftersales_store_add_link(self, link: DocumentLink) -> DocumentLink:
        self.store.put("links", _link_key(link), link)
        return link

    @hookimpl
    def aftersales_store_remove_link(
        self, ticket_id: str, kind: DocumentKind, document_id: str
    ) -> DocumentLink | None:
        removed: DocumentLink | None = self.store.delete(
            "links", (ticket_id, kind.value, document_id)
        )
        return removed

    @hookimpl
    def aftersales_store_list_links(self, ticket_id: str) -> list[DocumentLink]:
        return self.store.by_index("links", "ticket", ticket_id)

    @hookimpl
    def aftersales_store_links_page(self, query: LinkQuery) -> list[DocumentLink]:
        kind = query.kind
        return self.store.newest(
            "links",
            "ticket page",
            query.ticket_id,
            before=query.after,
            limit=query.limit,
            match=None if kind is None else lambda link: link.kind is kind,
        )

    @hookimpl
    def aftersales_store_post_message(self, message: TicketMessage) -> TicketMessage:
        self.store.put("messages", message.id, message)
        return message

    @hookimpl
    def aftersales_store_list_messages(self, ticket_id: str) -> list[TicketMessage]:
        return self.store.by_index("messages", "ticket", ticket_id)

    @hookimpl
    def aftersales_store_messages_page(self, query: MessageQuery) -> list[TicketMessage]:
        return self.store.newest(
            "messages", "ticket page", query.ticket_id, before=query.after, limit=query.limit
        )

    # -- accounting: the reference ERP over the memory ledger (AccountingPort) ------------

    # -- loyalty: the reference ERP over the memory coupons (LoyaltyPort) --------------------

    # -- stock: the reference ERP over the memory ledger (StockPort) -----------------------

    # -- repair: the reference ERP over the store's repair orders (RepairPort) -------------

    # -- project: the reference ERP over the memory tasks (ProjectPort) ----------------------

    # -- mail ---------------------------------------------------------------------------------

    @hookimpl
    def aftersales_store_mail_enqueue(self, email: OutgoingEmail) -> OutgoingEmail:
        self.store.put("outbox", email.id, email)
        return email

    @hookimpl
    def aftersales_store_mail_save(self, email: OutgoingEmail) -> OutgoingEmail:
        self.store.put("outbox", email.id, email)
        return email

    @hookimpl
    def aftersales_store_mail_get(self, email_id: str, lock: bool) -> OutgoingEmail | None:
        # lock: a unit of work holds the store's lock from begin to end
        email: OutgoingEmail | None = self._get("outbox", email_id)
        return email

    @hookimpl
    def aftersales_store_mail_list_outbox(self, pending_only: bool) -> list[OutgoingEmail]:
        if pending_only:
            return self.store.by_index("outbox", "pending", "pending")
        return self.store.values("outbox")

    @hookimpl
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool:
        self.store.put("delivered", email.id, email)
        return True

    # -- modules and subscription -------------------------------------------------------------

    @hookimpl
    def aftersales_modules_installed(self) -> frozenset[str]:
        return frozenset(self.store.values("modules"))

    @hookimpl
    def aftersales_modules_install(self, name: str) -> str:
        self.store.put("modules", name, name)
        return name

    @hookimpl
    def aftersales_modules_uninstall(self, name: str) -> str | None:
        removed: str | None = self.store.delete("modules", name)
        return removed

    @hookimpl
    def aftersales_subscription_get(self) -> Subscription:
        subscription: Subscription | None = self._get("subscription", "database")
        return subscription or _NO_SUBSCRIPTION

    @hookimpl
    def aftersales_subscription_save(self, subscription: Subscription) -> Subscription:
        self.store.put("subscription", "database", subscription)
        return subscription

    # -- audit --------------------------------------------------------------------------------

    @hookimpl
    def aftersales_store_audit_append(self, entry: AuditEntry) -> AuditEntry:
        self.store.put("audit", entry.id, entry)
        return entry

    @hookimpl
    def aftersales_store_audit_list(self, ticket_id: str | None) -> list[AuditEntry]:
        if ticket_id is None:
            return self.store.values("audit")
        return self.store.by_index("audit", "ticket", ticket_id)
