"""A typed facade over the plugin manager: one method per hook.

Services never touch `pm.hook` directly. Lookups that no backend answers raise
[`NotFound`][aftersales.errors.NotFound] naming the kind and the id; writes that no backend
answers raise [`BackendError`][aftersales.errors.BackendError] naming the hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pluggy import HookCaller, HookCallError

from aftersales.errors import BackendError, InvalidConfiguration, NotFound
from aftersales.formatting import show
from aftersales.models import (
    AuditEntry,
    Coupon,
    CouponProgram,
    CouponRequest,
    DeliveryReport,
    DocumentKind,
    DocumentLink,
    FieldServiceTask,
    IdempotencyRecord,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    OutgoingEmail,
    Partner,
    Picking,
    Product,
    Project,
    Redemption,
    Refundable,
    RepairAction,
    RepairOrder,
    RepairRequest,
    Returnable,
    ReturnRequest,
    Reversal,
    ReversalResult,
    SaleOrder,
    Subscription,
    TaskRequest,
    TaskStage,
    Team,
    TeamConfig,
    Ticket,
    TicketMessage,
)
from aftersales.models.imports import Imported
from aftersales.models.queries import InvoiceQuery, LinkQuery, MessageQuery, PickingQuery

if TYPE_CHECKING:
    from aftersales.modules import Module
    from aftersales.plugins import PluginManager
    from aftersales.unit_of_work import UnitOfWork

__all__ = ["Hooks"]

T = TypeVar("T")


def _found(value: object, kind: str, id: str, type_: type[T]) -> T:
    if isinstance(value, type_):
        return value
    if value is None:
        raise NotFound(kind, id)
    return _typed(value, type_, kind)


def _answered(value: object, hook: str, type_: type[T]) -> T:
    if isinstance(value, type_):
        return value
    if value is None:
        raise BackendError(f"no backend answered {hook}; is a backend registered for it?")
    return _typed(value, type_, hook)


def _many(value: object, hook: str) -> Sequence[Any]:
    if type(value) is list or type(value) is tuple:
        return value
    if value is None:
        raise BackendError(f"no backend answered {hook}; is a backend registered for it?")
    if not isinstance(value, Sequence):
        raise BackendError(f"{hook} returned {type(value).__name__}, expected a sequence")
    return value


def _typed(value: object, type_: type[T], what: str) -> T:
    if not isinstance(value, type_):
        raise BackendError(
            f"{what}: a backend returned {type(value).__name__}, expected {type_.__name__}"
        )
    return value


def _call_plan(caller: HookCaller, pm: PluginManager) -> Callable[..., Any] | None:
    """A function doing what `caller(**kwargs)` does, or `None` when only pluggy can.

    For a hook whose implementations are plain functions, pluggy's call checks the
    arguments, copies the list of implementations and runs its multicall loop: each
    implementation, newest (or `tryfirst`) first, gets the arguments it names; a
    `firstresult` hook returns the first result that is not `None`, another hook the
    list of those results. The plan does the same with the list and the arguments resolved
    once. Wrappers, implementations with keyword defaults, call monitoring (tracing, fault
    injection), historic hooks and specs with defaults are left to pluggy.

    Only pluggy's public API is used: the hook's `get_hookimpls()`
    (pluggy calls them from the last to the first) and their
    `HookImpl` attributes; the spec's options and the monitoring come from
    `PluginManager`.
    """
    spec = pm.spec(caller.name)
    if spec is None or spec.defaults or spec.historic or caller.is_historic() or pm.monitored:
        return None
    impls = caller.get_hookimpls()[::-1]
    if any(impl.hookwrapper or impl.wrapper or impl.kwargnames for impl in impls):
        return None
    firstresult = spec.firstresult
    plan = tuple((impl.function, tuple(impl.argnames)) for impl in impls)

    def missing(error: KeyError) -> HookCallError:
        return HookCallError(f"hook call must provide argument {error.args[0]!r}")

    if firstresult and len(plan) == 1:
        function, names = plan[0]
        if not names:
            return lambda **_kwargs: function()
        if len(names) == 1:
            (only,) = names

            def one(**kwargs: Any) -> Any:
                try:
                    value = kwargs[only]
                except KeyError as error:
                    raise missing(error) from None
                return function(value)

            return one

        def single(**kwargs: Any) -> Any:
            try:
                args = [kwargs[name] for name in names]
            except KeyError as error:
                raise missing(error) from None
            return function(*args)

        return single

    def every(**kwargs: Any) -> Any:
        results = []
        for function, names in plan:
            try:
                args = [kwargs[name] for name in names]
            except KeyError as error:
                raise missing(error) from None
            result = function(*args)
            if result is not None:
                if firstresult:
                    return result
                results.append(result)
        return None if firstresult else results

    return every


class _Relay:
    """Stands for `pm.hook` with each hook's call plan compiled on first use.

    The plans are dropped whenever the plugin manager changes (a plugin registered or
    unregistered, new specs, call monitoring switched on or off), so a call always
    reaches exactly the implementations `pm.hook` would, in the same order.
    """

    __slots__ = ("__dict__", "__weakref__", "_changes", "_pm")

    def __init__(self, pm: PluginManager) -> None:
        self._pm = pm
        self._changes = 0
        pm.subscribe(self)

    def plugins_changed(self) -> None:
        self._changes += 1
        self.__dict__.clear()

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("aftersales_"):
            raise AttributeError(name)
        changes = self._changes
        caller = getattr(self._pm.hook, name)
        call = _call_plan(caller, self._pm) or caller
        if changes == self._changes:  # else the plugins changed meanwhile: compile again later
            self.__dict__[name] = call
        return call


#: The ERP ports whose locked reads the caps rest on.
_CLAIMABLE = ("accounting", "stock", "loyalty", "repair", "project")


def _claiming(pm: PluginManager) -> frozenset[str]:
    """The ERP ports owned by another plugin than the after-sales store: their documents
    are claimed in the store before a locked read (the ERP cannot hold them)."""
    owners = pm.owners() if hasattr(pm, "owners") else {}
    store = owners.get("store")
    return frozenset(p for p in _CLAIMABLE if p in owners and owners[p] != store)


class Hooks:
    """Typed calls to the registered backends.

    Every call goes through `self._h`: the plugin manager's hooks (`pm.hook`), each
    called through a plan compiled once from the registered implementations (see
    `_call_plan()`).
    """

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm
        self._h: Any = _Relay(pm) if hasattr(pm, "subscribe") else pm.hook
        self._claiming = _claiming(pm)

    def _claim(self, lock: bool, port: str, kind: str, document_id: str) -> None:
        """Before a locked read (`lock`), claim the document in the after-sales store when
        the ERP port `port` is another plugin's than the store (see
        `aftersales_store_claim`)."""
        if lock and port in self._claiming:
            self.store_claim(kind, document_id)

    def store_claim(self, kind: str, document_id: str) -> bool:
        return _answered(
            self._h.aftersales_store_claim(kind=kind, document_id=document_id),
            "aftersales_store_claim",
            bool,
        )

    # transactions ---------------------------------------------------------------------------
    def transaction_begin(self, uow: UnitOfWork) -> None:
        self._h.aftersales_transaction_begin(uow=uow)

    # idempotency ----------------------------------------------------------------------------
    def idempotency_claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        return _answered(
            self._h.aftersales_store_idempotency_claim(record=record),
            "aftersales_store_idempotency_claim",
            IdempotencyRecord,
        )

    def idempotency_complete(self, record: IdempotencyRecord) -> IdempotencyRecord:
        return _answered(
            self._h.aftersales_store_idempotency_complete(record=record),
            "aftersales_store_idempotency_complete",
            IdempotencyRecord,
        )

    def idempotency_purge(self, before: datetime) -> int:
        return _answered(
            self._h.aftersales_store_idempotency_purge(before=before),
            "aftersales_store_idempotency_purge",
            int,
        )

    # helpdesk -------------------------------------------------------------------------------
    def get_team(self, team_id: str) -> Team:
        """The host's team with its after-sales settings (the store's; none: all off)."""
        team = _found(self._h.aftersales_helpdesk_get_team(team_id=team_id), "team", team_id, Team)
        return self.team_config(team_id).apply(team)

    def list_teams(self) -> Sequence[Team]:
        """Every team of the host, each with its after-sales settings."""
        teams = _many(self._h.aftersales_helpdesk_list_teams(), "aftersales_helpdesk_list_teams")
        return [self.team_config(team.id).apply(team) for team in teams]

    def save_team(self, team: Team) -> Team:
        """Store the host's record of `team` (through the helpdesk port's optional
        `save_team`) and its after-sales settings (through the store): test data and the
        conformance kit; the services change settings only (`save_team_config()`)."""
        host = TeamConfig(team_id=team.id).apply(team)
        _answered(
            self._h.aftersales_helpdesk_save_team(team=host), "aftersales_helpdesk_save_team", Team
        )
        self.save_team_config(TeamConfig.of(team))
        return team

    def team_config(self, team_id: str) -> TeamConfig:
        """The after-sales settings of `team_id`; every service off when it has none."""
        found = self._h.aftersales_store_get_team_config(team_id=team_id)
        if found is None:
            return TeamConfig(team_id=team_id)
        return _typed(found, TeamConfig, "aftersales_store_get_team_config")

    def save_team_config(self, config: TeamConfig) -> TeamConfig:
        return _answered(
            self._h.aftersales_store_save_team_config(config=config),
            "aftersales_store_save_team_config",
            TeamConfig,
        )

    def get_ticket(self, ticket_id: str) -> Ticket:
        return _found(
            self._h.aftersales_helpdesk_get_ticket(ticket_id=ticket_id), "ticket", ticket_id, Ticket
        )

    def find_ticket(self, ref: str) -> Ticket:
        return _found(self._h.aftersales_helpdesk_find_ticket(ref=ref), "ticket", f"#{ref}", Ticket)

    def find_tickets(self, customer_ids: frozenset[str]) -> Sequence[Ticket]:
        return _many(
            self._h.aftersales_helpdesk_find_tickets(customer_ids=customer_ids),
            "aftersales_helpdesk_find_tickets",
        )

    def get_partner(self, partner_id: str) -> Partner:
        return _found(
            self._h.aftersales_helpdesk_get_partner(partner_id=partner_id),
            "partner",
            partner_id,
            Partner,
        )

    def list_contacts(self, commercial_entity_id: str) -> Sequence[Partner]:
        return _many(
            self._h.aftersales_helpdesk_list_contacts(commercial_entity_id=commercial_entity_id),
            "aftersales_helpdesk_list_contacts",
        )

    def get_product(self, product_id: str) -> Product:
        return _found(
            self._h.aftersales_sales_get_product(product_id=product_id),
            "product",
            product_id,
            Product,
        )

    def get_sale_order(self, sale_order_id: str) -> SaleOrder:
        return _found(
            self._h.aftersales_sales_get_sale_order(sale_order_id=sale_order_id),
            "sale order",
            sale_order_id,
            SaleOrder,
        )

    def add_link(self, link: DocumentLink) -> DocumentLink:
        return _answered(
            self._h.aftersales_store_add_link(link=link),
            "aftersales_store_add_link",
            DocumentLink,
        )

    def remove_link(
        self, ticket_id: str, kind: DocumentKind, document_id: str
    ) -> DocumentLink | None:
        """Unlink a deleted document from its ticket; `None` when it was not linked."""
        result: DocumentLink | None = self._h.aftersales_store_remove_link(
            ticket_id=ticket_id, kind=kind, document_id=document_id
        )
        return result

    def list_links(self, ticket_id: str) -> Sequence[DocumentLink]:
        return _many(
            self._h.aftersales_store_list_links(ticket_id=ticket_id),
            "aftersales_store_list_links",
        )

    def links_page(self, query: LinkQuery) -> Sequence[DocumentLink]:
        return _many(
            self._h.aftersales_store_links_page(query=query), "aftersales_store_links_page"
        )

    def post_message(self, message: TicketMessage) -> TicketMessage:
        return _answered(
            self._h.aftersales_store_post_message(message=message),
            "aftersales_store_post_message",
            TicketMessage,
        )

    def list_messages(self, ticket_id: str) -> Sequence[TicketMessage]:
        return _many(
            self._h.aftersales_store_list_messages(ticket_id=ticket_id),
            "aftersales_store_list_messages",
        )

    def messages_page(self, query: MessageQuery) -> Sequence[TicketMessage]:
        return _many(
            self._h.aftersales_store_messages_page(query=query), "aftersales_store_messages_page"
        )

    # accounting -----------------------------------------------------------------------------
    def get_invoice(self, invoice_id: str, *, lock: bool = False) -> Invoice:
        self._claim(lock, "accounting", "invoice", invoice_id)
        return _found(
            self._h.aftersales_accounting_get_invoice(invoice_id=invoice_id, lock=lock),
            "invoice",
            invoice_id,
            Invoice,
        )

    def get_refundable(self, invoice_id: str, *, lock: bool = False) -> Refundable:
        self._claim(lock, "accounting", "invoice", invoice_id)
        return _found(
            self._h.aftersales_accounting_get_refundable(invoice_id=invoice_id, lock=lock),
            "invoice",
            invoice_id,
            Refundable,
        )

    def refundable_invoices(self, query: InvoiceQuery) -> Sequence[Refundable]:
        return _many(
            self._h.aftersales_accounting_refundable_invoices(query=query),
            "aftersales_accounting_refundable_invoices",
        )

    def reverse_invoice(self, reversal: Reversal) -> ReversalResult:
        return _found(
            self._h.aftersales_accounting_reverse_invoice(reversal=reversal),
            "invoice",
            reversal.invoice_id,
            ReversalResult,
        )

    def update_credit_note(
        self, credit_note_id: str, lines: Sequence[InvoiceLine], reference: str
    ) -> Invoice:
        return _found(
            self._h.aftersales_accounting_update_credit_note(
                credit_note_id=credit_note_id, lines=tuple(lines), reference=reference
            ),
            "credit note",
            credit_note_id,
            Invoice,
        )

    def post_credit_note(self, credit_note_id: str, at: datetime, reference: str) -> ReversalResult:
        return _found(
            self._h.aftersales_accounting_post_credit_note(
                credit_note_id=credit_note_id, at=at, reference=reference
            ),
            "credit note",
            credit_note_id,
            ReversalResult,
        )

    def cancel_credit_note(self, credit_note_id: str, reference: str) -> Invoice:
        return _found(
            self._h.aftersales_accounting_cancel_credit_note(
                credit_note_id=credit_note_id, reference=reference
            ),
            "credit note",
            credit_note_id,
            Invoice,
        )

    def create_invoice(self, draft: InvoiceDraft, reference: str) -> Invoice:
        return _answered(
            self._h.aftersales_accounting_create_invoice(draft=draft, reference=reference),
            "aftersales_accounting_create_invoice",
            Invoice,
        )

    def cancel_invoice(self, invoice_id: str, reference: str) -> Invoice:
        return _found(
            self._h.aftersales_accounting_cancel_invoice(
                invoice_id=invoice_id, reference=reference
            ),
            "invoice",
            invoice_id,
            Invoice,
        )

    def find_by_reference(self, reference: str) -> Sequence[Invoice]:
        return _many(
            self._h.aftersales_accounting_find_by_reference(reference=reference),
            "aftersales_accounting_find_by_reference",
        )

    # loyalty --------------------------------------------------------------------------------
    def list_programs(self) -> Sequence[CouponProgram]:
        return _many(self._h.aftersales_loyalty_list_programs(), "aftersales_loyalty_list_programs")

    def get_program(self, program_id: str, *, lock: bool = False) -> CouponProgram:
        self._claim(lock, "loyalty", "program", program_id)
        return _found(
            self._h.aftersales_loyalty_get_program(program_id=program_id, lock=lock),
            "coupon program",
            program_id,
            CouponProgram,
        )

    def get_coupon(self, coupon_id: str, *, lock: bool = False) -> Coupon:
        self._claim(lock, "loyalty", "coupon", coupon_id)
        return _found(
            self._h.aftersales_loyalty_get_coupon(coupon_id=coupon_id, lock=lock),
            "coupon",
            coupon_id,
            Coupon,
        )

    def find_coupon(self, code: str, *, lock: bool = False) -> Coupon | None:
        self._claim(lock, "loyalty", "coupon code", code)
        result: Coupon | None = self._h.aftersales_loyalty_find_coupon(code=code, lock=lock)
        return result

    def count_uses(self, program_id: str) -> int:
        return _answered(
            self._h.aftersales_loyalty_count_uses(program_id=program_id),
            "aftersales_loyalty_count_uses",
            int,
        )

    def issue_coupon(self, request: CouponRequest) -> Coupon:
        return _answered(
            self._h.aftersales_loyalty_issue_coupon(request=request),
            "aftersales_loyalty_issue_coupon",
            Coupon,
        )

    def redeem(
        self, coupon_id: str, points: Decimal, order_reference: str, at: datetime, reference: str
    ) -> Redemption:
        return _found(
            self._h.aftersales_loyalty_redeem(
                coupon_id=coupon_id,
                points=points,
                order_reference=order_reference,
                at=at,
                reference=reference,
            ),
            "coupon",
            coupon_id,
            Redemption,
        )

    def find_coupons_by_reference(self, reference: str) -> Sequence[Coupon]:
        return _many(
            self._h.aftersales_loyalty_find_by_reference(reference=reference),
            "aftersales_loyalty_find_by_reference",
        )

    # stock ----------------------------------------------------------------------------------
    def get_picking(self, picking_id: str, *, lock: bool = False) -> Picking:
        self._claim(lock, "stock", "picking", picking_id)
        return _found(
            self._h.aftersales_stock_get_picking(picking_id=picking_id, lock=lock),
            "picking",
            picking_id,
            Picking,
        )

    def find_pickings(self, query: PickingQuery) -> Sequence[Picking]:
        return _many(
            self._h.aftersales_stock_find_pickings(query=query), "aftersales_stock_find_pickings"
        )

    def list_returns(self, delivery_id: str) -> Sequence[Picking]:
        return _many(
            self._h.aftersales_stock_list_returns(delivery_id=delivery_id),
            "aftersales_stock_list_returns",
        )

    def returnable_deliveries(self, query: PickingQuery) -> Sequence[Returnable]:
        return _many(
            self._h.aftersales_stock_returnable_deliveries(query=query),
            "aftersales_stock_returnable_deliveries",
        )

    def get_delivery(self, delivery_id: str, *, lock: bool = False) -> Returnable:
        self._claim(lock, "stock", "picking", delivery_id)
        return _found(
            self._h.aftersales_stock_get_delivery(delivery_id=delivery_id, lock=lock),
            "picking",
            delivery_id,
            Returnable,
        )

    def create_return(self, request: ReturnRequest) -> Picking:
        return _found(
            self._h.aftersales_stock_create_return(request=request),
            "picking",
            request.delivery_id,
            Picking,
        )

    def validate_return(self, return_id: str, at: datetime, reference: str) -> Picking:
        return _found(
            self._h.aftersales_stock_validate_return(
                return_id=return_id, at=at, reference=reference
            ),
            "return",
            return_id,
            Picking,
        )

    def cancel_return(self, return_id: str, reference: str) -> Picking:
        return _found(
            self._h.aftersales_stock_cancel_return(return_id=return_id, reference=reference),
            "return",
            return_id,
            Picking,
        )

    def find_pickings_by_reference(self, reference: str) -> Sequence[Picking]:
        return _many(
            self._h.aftersales_stock_find_by_reference(reference=reference),
            "aftersales_stock_find_by_reference",
        )

    # repair ---------------------------------------------------------------------------------
    def get_repair(self, repair_id: str, *, lock: bool = False) -> RepairOrder:
        self._claim(lock, "repair", "repair", repair_id)
        return _found(
            self._h.aftersales_repair_get_order(repair_id=repair_id, lock=lock),
            "repair order",
            repair_id,
            RepairOrder,
        )

    def find_repairs(self, reference: str) -> Sequence[RepairOrder]:
        return _many(
            self._h.aftersales_repair_find_by_reference(reference=reference),
            "aftersales_repair_find_by_reference",
        )

    def create_repair(self, request: RepairRequest, reference: str) -> RepairOrder:
        return _answered(
            self._h.aftersales_repair_create_repair(request=request, reference=reference),
            "aftersales_repair_create_repair",
            RepairOrder,
        )

    def update_repair(
        self, repair_id: str, request: RepairRequest, fields: frozenset[str], reference: str
    ) -> RepairOrder:
        return _found(
            self._h.aftersales_repair_update_repair(
                repair_id=repair_id, request=request, fields=fields, reference=reference
            ),
            "repair order",
            repair_id,
            RepairOrder,
        )

    def transition_repair(
        self, repair_id: str, action: RepairAction, reference: str, invoice_id: str | None = None
    ) -> RepairOrder:
        return _found(
            self._h.aftersales_repair_transition(
                repair_id=repair_id, action=action, reference=reference, invoice_id=invoice_id
            ),
            "repair order",
            repair_id,
            RepairOrder,
        )

    def delete_repair(self, repair_id: str, reference: str) -> RepairOrder:
        return _found(
            self._h.aftersales_repair_delete_repair(repair_id=repair_id, reference=reference),
            "repair order",
            repair_id,
            RepairOrder,
        )

    # project --------------------------------------------------------------------------------
    def get_project(self, project_id: str) -> Project:
        return _found(
            self._h.aftersales_project_get_project(project_id=project_id),
            "project",
            project_id,
            Project,
        )

    def list_projects(self) -> Sequence[Project]:
        return _many(self._h.aftersales_project_list_projects(), "aftersales_project_list_projects")

    def get_task(self, task_id: str, *, lock: bool = False) -> FieldServiceTask:
        self._claim(lock, "project", "task", task_id)
        return _found(
            self._h.aftersales_project_get_task(task_id=task_id, lock=lock),
            "task",
            task_id,
            FieldServiceTask,
        )

    def create_task(self, request: TaskRequest) -> FieldServiceTask:
        return _answered(
            self._h.aftersales_project_create_task(request=request),
            "aftersales_project_create_task",
            FieldServiceTask,
        )

    def move_task(self, task_id: str, stage: TaskStage, reference: str) -> FieldServiceTask:
        return _found(
            self._h.aftersales_project_move_task(task_id=task_id, stage=stage, reference=reference),
            "task",
            task_id,
            FieldServiceTask,
        )

    def find_tasks_by_reference(self, reference: str) -> Sequence[FieldServiceTask]:
        return _many(
            self._h.aftersales_project_find_by_reference(reference=reference),
            "aftersales_project_find_by_reference",
        )

    # mail -----------------------------------------------------------------------------------
    def mail_enqueue(self, email: OutgoingEmail) -> OutgoingEmail:
        return _answered(
            self._h.aftersales_store_mail_enqueue(email=email),
            "aftersales_store_mail_enqueue",
            OutgoingEmail,
        )

    def mail_save(self, email: OutgoingEmail) -> OutgoingEmail:
        return _answered(
            self._h.aftersales_store_mail_save(email=email),
            "aftersales_store_mail_save",
            OutgoingEmail,
        )

    def mail_get(self, email_id: str, *, lock: bool = False) -> OutgoingEmail | None:
        result = self._h.aftersales_store_mail_get(email_id=email_id, lock=lock)
        return (
            None if result is None else _typed(result, OutgoingEmail, "aftersales_store_mail_get")
        )

    def mail_list_outbox(self, *, pending_only: bool) -> Sequence[OutgoingEmail]:
        return _many(
            self._h.aftersales_store_mail_list_outbox(pending_only=pending_only),
            "aftersales_store_mail_list_outbox",
        )

    def mail_deliver(self, email: OutgoingEmail) -> bool | DeliveryReport:
        answer = self._h.aftersales_mail_deliver(email=email)
        if isinstance(answer, DeliveryReport):
            return answer
        return _answered(answer, "aftersales_mail_deliver", bool)

    # modules and subscription -----------------------------------------------------------------
    def modules_catalogue(self) -> list[Module]:
        """Every plugin's catalogue additions, in registration order (so that a plugin
        registered later overrides an earlier one; pluggy calls them newest first)."""
        extensions: list[object] = self._h.aftersales_modules_catalogue()
        modules: list[Module] = []
        for batch in reversed(extensions):
            if not isinstance(batch, Sequence) or isinstance(batch, str):
                raise InvalidConfiguration(
                    f"aftersales_modules_catalogue returned {show(batch)}; expected a sequence "
                    "of Module records"
                )
            modules.extend(batch)
        return modules

    def modules_installed(self) -> frozenset[str]:
        return _answered(
            self._h.aftersales_modules_installed(), "aftersales_modules_installed", frozenset
        )

    def modules_install(self, name: str) -> str:
        return _answered(
            self._h.aftersales_modules_install(name=name), "aftersales_modules_install", str
        )

    def modules_uninstall(self, name: str) -> str | None:
        result: str | None = self._h.aftersales_modules_uninstall(name=name)
        return result

    def subscription_get(self) -> Subscription:
        return _answered(
            self._h.aftersales_subscription_get(), "aftersales_subscription_get", Subscription
        )

    def subscription_save(self, subscription: Subscription) -> Subscription:
        return _answered(
            self._h.aftersales_subscription_save(subscription=subscription),
            "aftersales_subscription_save",
            Subscription,
        )

    # audit ----------------------------------------------------------------------------------
    def audit_append(self, entry: AuditEntry) -> AuditEntry:
        return _answered(
            self._h.aftersales_store_audit_append(entry=entry),
            "aftersales_store_audit_append",
            AuditEntry,
        )

    def audit_list(self, ticket_id: str | None = None) -> Sequence[AuditEntry]:
        return _many(
            self._h.aftersales_store_audit_list(ticket_id=ticket_id), "aftersales_store_audit_list"
        )

    # imports --------------------------------------------------------------------------------
    def imports(
        self, kind: str, records: Sequence[object], at: datetime, type_: type[T]
    ) -> list[Imported[Any]] | None:
        """What `aftersales_imports_<kind>` answers for `records` (one `Imported` of a
        `type_` record each, in order); `None` when no plugin imports `kind`."""
        hook = f"aftersales_imports_{kind}"
        found = getattr(self._h, hook)(records=records, at=at)
        if found is None:
            return None
        outcomes = list(_many(found, hook))
        if len(outcomes) != len(records):
            raise BackendError(f"{hook} answered {len(outcomes)} outcomes for {len(records)}")
        for outcome in outcomes:
            _typed(_typed(outcome, Imported, hook).record, type_, hook)
        return outcomes
