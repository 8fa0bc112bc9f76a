"""The ports: which data each hook belongs to, who owns it, and when it is needed.

Three owners share the data an after-sales call touches:

* the **host** helpdesk — teams, tickets, customers and their contacts;
* the **ERP** — products and sale orders, invoices and credit notes, payments, deliveries
  and returns, coupon programs and coupons, repair orders, projects and tasks, document
  numbers, the module catalogue and the subscription;
* the **library** itself — the after-sales store: each team's after-sales settings,
  ticket ↔ document links, the trail, the audit, idempotency records and the mail outbox;

plus the mail **transport** that delivers the outbox after commit. Each owner's data is
split into ports (`PORTS`), and each port has exactly one owner in an application:
the plugin that implements its hooks (see `ports_of()`). A port is needed when one of
its hooks is needed — by every application (`core`) or by an enabled
`Service` — and its owner must then implement every needed hook.

Not ports: `aftersales_transaction_begin` is a broadcast every plugin that stores
anything joins; the events (`aftersales_on_*`) and `aftersales_modules_catalogue` are
broadcasts any plugin may implement.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import attrs

from aftersales.models.helpdesk import Service

__all__ = [
    "BROADCASTS",
    "CORE",
    "PORTS",
    "PORT_OF_HOOK",
    "TRANSACTIONS",
    "Owner",
    "Port",
    "port",
    "required_hooks",
]

#: The part of the library every application has (the other parts are the services).
CORE = "core"

#: The broadcast every plugin that stores anything joins (needed by `core`).
TRANSACTIONS = "aftersales_transaction_begin"

_OPTIONAL = "optional"  # a hook no part needs


class Owner(StrEnum):
    """Who holds the data of a port."""

    HOST = "host"
    ERP = "erp"
    LIBRARY = "library"
    TRANSPORT = "transport"

    @property
    def label(self) -> str:
        """How messages name the owner: `host helpdesk`, `ERP`…"""
        return _LABELS[self]


_LABELS = {
    Owner.HOST: "host helpdesk",
    Owner.ERP: "ERP",
    Owner.LIBRARY: "after-sales store",
    Owner.TRANSPORT: "mail transport",
}


@attrs.frozen(eq=False)
class Port:
    """One port: a name, the kind of owner it has, and its hooks.

    `hooks` maps each hook to the parts that need it (`core` for every application, or
    a service name); a hook that no part needs is optional.
    """

    name: str
    owner: Owner
    summary: str
    hooks: Mapping[str, tuple[str, ...]]

    def needed(self, parts: frozenset[str]) -> dict[str, tuple[str, ...]]:
        """The hooks that `parts` need, each with the parts that need it."""
        found: dict[str, tuple[str, ...]] = {}
        for hook, needed_by in self.hooks.items():
            wanted = tuple(part for part in needed_by if part in parts)
            if wanted:
                found[hook] = wanted
        return found

    def needed_by(self, parts: frozenset[str]) -> tuple[str, ...]:
        """The parts among `parts` that need this port, in the order of `_parts()`."""
        wanted = {part for hook in self.needed(parts).values() for part in hook}
        return tuple(part for part in _parts() if part in wanted)


def _parts() -> tuple[str, ...]:
    return (CORE, *(service.value for service in Service))


def _port(name: str, owner: Owner, summary: str, **needs: tuple[str, ...]) -> Port:
    hooks: dict[str, list[str]] = {}
    for part, part_hooks in needs.items():
        for hook in part_hooks:
            needed_by = hooks.setdefault(f"aftersales_{hook}", [])
            if part != _OPTIONAL:
                needed_by.append(part)
    ordered = {hook: tuple(p for p in _parts() if p in parts) for hook, parts in hooks.items()}
    return Port(name=name, owner=owner, summary=summary, hooks=ordered)


#: Every port, in the order the documentation and the CLI show them.
PORTS: tuple[Port, ...] = (
    _port(
        "helpdesk",
        Owner.HOST,
        "teams, tickets, customers and their contacts",
        optional=("helpdesk_save_team",),
        core=(
            "helpdesk_get_team",
            "helpdesk_list_teams",
            "helpdesk_get_ticket",
            "helpdesk_find_ticket",
            "helpdesk_find_tickets",
            "helpdesk_get_partner",
            "helpdesk_list_contacts",
        ),
    ),
    _port(
        "sales",
        Owner.ERP,
        "products and sale orders",
        core=("sales_get_product", "sales_get_sale_order"),
    ),
    _port(
        "accounting",
        Owner.ERP,
        "invoices and credit notes: the ERP reverses, posts, numbers and reconciles them",
        refunds=(
            "accounting_get_invoice",
            "accounting_get_refundable",
            "accounting_refundable_invoices",
            "accounting_reverse_invoice",
            "accounting_update_credit_note",
            "accounting_post_credit_note",
            "accounting_cancel_credit_note",
            "accounting_find_by_reference",
        ),
        repairs=(
            "accounting_get_invoice",
            "accounting_create_invoice",
            "accounting_cancel_invoice",
        ),
    ),
    _port(
        "stock",
        Owner.ERP,
        "deliveries and returns: the ERP makes, names, validates and cancels returns",
        optional=("stock_find_pickings", "stock_list_returns"),
        returns=(
            "stock_get_picking",
            "stock_returnable_deliveries",
            "stock_get_delivery",
            "stock_create_return",
            "stock_validate_return",
            "stock_cancel_return",
            "stock_find_by_reference",
        ),
        repairs=("stock_get_picking",),
    ),
    _port(
        "loyalty",
        Owner.ERP,
        "coupon programs, coupons and their uses: the ERP issues and redeems coupons",
        coupons=(
            "loyalty_list_programs",
            "loyalty_get_program",
            "loyalty_get_coupon",
            "loyalty_find_coupon",
            "loyalty_count_uses",
            "loyalty_issue_coupon",
            "loyalty_redeem",
            "loyalty_find_by_reference",
        ),
    ),
    _port(
        "repair",
        Owner.ERP,
        "repair orders: the ERP creates, numbers and moves them through their life cycle",
        repairs=(
            "repair_get_order",
            "repair_find_by_reference",
            "repair_create_repair",
            "repair_update_repair",
            "repair_transition",
            "repair_delete_repair",
        ),
    ),
    _port(
        "project",
        Owner.ERP,
        "field-service projects and tasks",
        field_service=(
            "project_get_project",
            "project_list_projects",
            "project_get_task",
            "project_create_task",
            "project_move_task",
            "project_find_by_reference",
        ),
    ),
    _port(
        "imports",
        Owner.ERP,
        "a host's existing invoices, deliveries and programs, loaded once by external id",
        optional=("imports_invoices", "imports_deliveries", "imports_programs"),
    ),
    _port(
        "modules",
        Owner.ERP,
        "installed modules",
        core=("modules_installed", "modules_install", "modules_uninstall"),
    ),
    _port(
        "subscription",
        Owner.ERP,
        "the database's subscription (trial, paid, locked)",
        core=("subscription_get", "subscription_save"),
    ),
    _port(
        "store",
        Owner.LIBRARY,
        "team after-sales settings, links, trail, audit, idempotency records, claims, mail outbox",
        core=(
            "store_get_team_config",
            "store_save_team_config",
            "store_add_link",
            "store_list_links",
            "store_links_page",
            "store_post_message",
            "store_list_messages",
            "store_messages_page",
            "store_audit_append",
            "store_audit_list",
            "store_idempotency_claim",
            "store_idempotency_complete",
            "store_idempotency_purge",
            "store_claim",
        ),
        repairs=("store_remove_link",),
        coupons=(
            "store_mail_enqueue",
            "store_mail_save",
            "store_mail_get",
            "store_mail_list_outbox",
        ),
    ),
    _port(
        "transport",
        Owner.TRANSPORT,
        "mail delivery, after commit",
        coupons=("mail_deliver",),
    ),
)

#: The port of every owned hook.
PORT_OF_HOOK: Mapping[str, Port] = {hook: p for p in PORTS for hook in p.hooks}

#: Hooks that are no port's: every plugin that implements one takes part.
BROADCASTS = (TRANSACTIONS, "aftersales_modules_catalogue")


def port(name: str) -> Port:
    """The port called `name` (`KeyError` when there is none)."""
    for candidate in PORTS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def required_hooks() -> dict[str, tuple[str, ...]]:
    """For each part (`core` and every service), the hooks it needs, derived from
    `PORTS` (`core` also needs `TRANSACTIONS`)."""
    required: dict[str, list[str]] = {part: [] for part in _parts()}
    required[CORE].append(TRANSACTIONS)
    for p in PORTS:
        for hook, needed_by in p.hooks.items():
            for part in needed_by:
                required[part].append(hook)
    return {part: tuple(hooks) for part, hooks in required.items()}
