"""Hook specifications: the ports a backend implements.

A backend is a plain object (or module) whose methods carry the `hookimpl` marker and are
named after the specs below. The library's services hold every rule about what a helpdesk
may do; the accounting, stock, loyalty, repair and project ports are served by the ERP,
which performs operations (reverse an invoice, post a credit note, make a return, issue or
redeem a coupon, create or move a repair order or a task) and answers with what it made, its
ids and numbers included;
the other ports store, find and change records, the way an ERP exposes them. Whatever a
backend does must happen inside the current unit of work (see *transactions*), so that a
call that fails leaves nothing behind.

The specs are grouped by port (`aftersales.ports`), one section each, and a hook's
name says its port: `aftersales_<port>_<verb>`. Every port has exactly one owner in an
application — the host helpdesk, the ERP, the library's after-sales store or the mail
transport — and the owner implements all of the port's hooks that the enabled services
need. `aftersales_transaction_begin`, `aftersales_modules_catalogue` and the events are
broadcasts, not ports.

Conventions that hold for every hook:

* **Providers** are `firstresult`: the first backend that returns something other than
  `None` answers. `None` means "not mine" — for a lookup, "no such record here"; the
  library turns an unanswered lookup into [`NotFound`][aftersales.errors.NotFound].
* **Writes** return the record as stored. A write that no backend answers is a
  configuration error.
* Records are the frozen attrs classes of `aftersales.models`; collections are returned
  as sequences (lists or tuples) in the order the spec names.
* A backend raises [`BackendError`][aftersales.errors.BackendError] subclasses for its own failures
  (`BackendUnavailable` when retrying may help, `ConflictError` / `DuplicateKey` for
  concurrency and uniqueness), never raw driver exceptions.
* `lock=True` on a lookup asks the backend to hold the record until the unit of work ends
  (`SELECT … FOR UPDATE`); the services use it before checking a cap (RL-3).
* **Events** (`aftersales_on_*`) are broadcasts called after the unit of work commits;
  a subscriber that raises is logged and does not stop the others.
* Every hook runs inside a unit of work on the calling thread, but
  `aftersales_modules_catalogue` (while the application is built),
  `aftersales_transaction_begin` (it starts the unit), `aftersales_mail_deliver` and the
  events (after the commit).
* **Ids** are text: 1-128 ASCII letters, digits or `_.:/@-`, starting with a letter or a
  digit (an integer id as its decimal text). The ERP makes the ids, numbers and amounts of
  its documents, and a write returns them as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from aftersales.models import (
        AuditEntry,
        Coupon,
        CouponProgram,
        CouponRequest,
        DeliveryReport,
        DocumentChanged,
        DocumentCreated,
        DocumentKind,
        DocumentLink,
        EmailDelivery,
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
        ServicesConfigured,
        Subscription,
        SubscriptionChanged,
        TaskRequest,
        TaskStage,
        Team,
        TeamConfig,
        Ticket,
        TicketMessage,
    )
    from aftersales.models.imports import DeliveryImport, Imported, InvoiceImport, ProgramImport
    from aftersales.models.queries import InvoiceQuery, LinkQuery, MessageQuery, PickingQuery
    from aftersales.modules import Module
    from aftersales.unit_of_work import UnitOfWork

PROJECT_NAME = "aftersales"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]


# -------------------------------------------------------------------------------------------
# transactions: a broadcast, not a port (every plugin that stores anything joins)
# -------------------------------------------------------------------------------------------


@hookspec
def aftersales_transaction_begin(uow: UnitOfWork) -> None:
    """A unit of work starts: join it.

    Every backend that stores anything starts its own transaction here and calls
    `uow.enlist(tx)` with an object that has `commit()` and `rollback()`
    (`Transaction`). Every hook called until the unit of work
    ends, on this thread, must act inside that transaction. `uow.writes` tells whether the
    unit may write (take write locks at once, e.g. `BEGIN IMMEDIATE` on SQLite).

    The library commits the participants in the order they enlisted; if a participant's
    commit fails, the rest are rolled back. A single-store backend is always safe.
    """


# -------------------------------------------------------------------------------------------
# port helpdesk (owner: the host helpdesk): teams, tickets, customers and contacts
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_helpdesk_get_team(team_id: str) -> Team | None:
    """Return the host's team with id `team_id`, or `None`. Its `services` and
    `fsm_project_id` are not read: the after-sales store holds them
    ([`aftersales_store_get_team_config()`][aftersales_store_get_team_config])."""


@hookspec(firstresult=True)
def aftersales_helpdesk_list_teams() -> Sequence[Team] | None:
    """Return every team, in a stable order."""


@hookspec(firstresult=True)
def aftersales_helpdesk_save_team(team: Team) -> Team | None:
    """Store the host's `team` (name, members) and return it. Optional: no service calls
    it (a team's after-sales settings are the store's, see
    [`aftersales_store_save_team_config()`][aftersales_store_save_team_config]); the builder and
    the conformance kit do. `team.services` and `team.fsm_project_id` are not the helpdesk's to
    keep."""


@hookspec(firstresult=True)
def aftersales_helpdesk_get_ticket(ticket_id: str) -> Ticket | None:
    """Return the ticket with id `ticket_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_helpdesk_find_ticket(ref: str) -> Ticket | None:
    """Return the ticket whose number (`Ticket.ref`, shown as `#<ref>`) is `ref`."""


@hookspec(firstresult=True)
def aftersales_helpdesk_find_tickets(customer_ids: frozenset[str]) -> Sequence[Ticket] | None:
    """Return the tickets whose customer is one of `customer_ids`, newest first.

    Newest means the latest `created_at`; of two equally new tickets of one customer,
    the one stored last comes first.
    """


@hookspec(firstresult=True)
def aftersales_helpdesk_get_partner(partner_id: str) -> Partner | None:
    """Return the partner with id `partner_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_helpdesk_list_contacts(commercial_entity_id: str) -> Sequence[Partner] | None:
    """Return every partner whose commercial entity is `commercial_entity_id` (itself too)."""


# -------------------------------------------------------------------------------------------
# port sales (owner: the ERP): products and sale orders
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_sales_get_product(product_id: str) -> Product | None:
    """Return the product with id `product_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_sales_get_sale_order(sale_order_id: str) -> SaleOrder | None:
    """Return the sale order with id `sale_order_id`, or `None`."""


# -------------------------------------------------------------------------------------------
# port accounting (owner: the ERP): operations the ERP performs on its invoices and credit notes
#
# The ERP owns invoices, credit notes, payments and their reconciliation, and numbers its
# documents. The refund service decides what a helpdesk may do (rights, toggles, RF-1/2/3,
# which methods, the caps of RF-7 from the ``credited`` amounts reported here, under the
# lock) and asks the ERP to do it; the ERP answers with what it made: its ids, its numbers,
# its amounts, residuals and payment states. Every write carries ``reference``, the
# operation reference the library derives from the call's idempotency key (one per unit of
# work, the same on a retry with the same key): the ERP stores it on every document the
# operation makes or changes, and `aftersales_accounting_find_by_reference()` finds
# them. The shipped backends serve this port with the reference ERP
# (`aftersales.erp.accounting`).
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_accounting_get_invoice(invoice_id: str, lock: bool) -> Invoice | None:
    """Return the invoice or credit note `invoice_id`, or `None`.

    `lock=True` holds it until the unit of work ends (`SELECT … FOR UPDATE`). May be
    called in a read-only unit.
    """


@hookspec(firstresult=True)
def aftersales_accounting_get_refundable(invoice_id: str, lock: bool) -> Refundable | None:
    """Return the invoice `invoice_id` with what its live credit notes credit, or `None`.

    `credited` is the sum of the totals of the credit notes reversing the invoice that
    are draft or posted (not cancelled). The invoice may be of any kind and state: the
    service checks them (RF-3). With `lock=True` the invoice is held until the unit ends,
    so that two units cannot both pass the cap (RF-7, RL-3) on the same `credited`.
    """


@hookspec(firstresult=True)
def aftersales_accounting_refundable_invoices(query: InvoiceQuery) -> Sequence[Refundable] | None:
    """Return the **posted customer invoices** of `query`, newest first, each with what its
    live credit notes already credit (see
    [`aftersales_accounting_get_refundable()`][aftersales_accounting_get_refundable]).

    `kind` and `state` of `query` are ignored (always invoices, posted); the other
    conditions all hold. Newest means the latest `invoice_date` (undated last), then the
    latest `created_at`; of two equally new invoices of one customer, the one stored last
    comes first. `product_id` matches invoices with at least one line of that product.
    Answer in one go (one query for the credit notes of every invoice found), not one call
    per invoice.

    **Pages.** When `query.limit` or `query.after` is set the answer is one page, in the
    paged order: newest first by `(invoice_date, created_at, id)` (undated last, then the
    greater id first among equal times); only the invoices strictly after the key
    `query.after` in that order, and at most `query.limit` of them. Read only that page
    (e.g. `ORDER BY … LIMIT` with a keyset `WHERE`), so a page costs the same whatever the
    customer's history; see [`aftersales.paging`][aftersales.paging].
    """


@hookspec(firstresult=True)
def aftersales_accounting_reverse_invoice(reversal: Reversal) -> ReversalResult | None:
    """Make a credit note reversing `reversal.invoice_id`; return what was made.

    The credit note copies the invoice's lines (or takes `reversal.lines`), customer,
    currency and sale order; it is dated `reversal.reversal_date`, keeps `credit_method`,
    `ticket_id`, `reason` and `journal` (the invoice's when `None`), and its
    `reference` reads `"Reversal of: <invoice number>, <reason>"` (RF-10).

    * `reversal.post` false: the note stays a **draft** (`post_on` as given); nothing is
      matched; `customer_credit` and `released` are zero and `invoice` is unchanged.
    * `reversal.post` true: the note is **posted** with the ERP's number and matched with
      the invoice as
      [`aftersales_accounting_post_credit_note()`][aftersales_accounting_post_credit_note] does.
    * FULL_AND_REINVOICE also makes a **draft invoice** copying the original (same customer,
      lines, currency, sale order and journal; no dates; reference `"Replaces <number>"`),
      returned as `new_invoice`.

    The ids, the number, residuals and payment states are the ERP's. Return `None` when
    the invoice is not this ERP's.
    """


@hookspec(firstresult=True)
def aftersales_accounting_update_credit_note(
    credit_note_id: str, lines: Sequence[InvoiceLine], reference: str
) -> Invoice | None:
    """Replace the lines of the **draft** credit note `credit_note_id`; return it as stored.

    The service has checked the lines and the cap. Return `None` when the credit note is
    not this ERP's; raise [`BackendError`][aftersales.errors.BackendError] when it is not a draft.
    """


@hookspec(firstresult=True)
def aftersales_accounting_post_credit_note(
    credit_note_id: str, at: datetime, reference: str
) -> ReversalResult | None:
    """Post the **draft** credit note `credit_note_id` and reconcile it with its invoice.

    The note gets the ERP's number (the reference ERP: a gap-free series per journal and
    year, `RINV/2026/00001` for the default journal `INV`, `R<journal>/<year>/<n>`
    for others). It reduces the invoice's residual by its total, as far as the residual
    goes; what the residual cannot absorb stays open on the note (`customer_credit`).
    A note made with FULL or FULL_AND_REINVOICE first takes the invoice's payments off it
    (RF-4a): they become customer credit (`released`, from the payments
    `released_from`), and the invoice ends REVERSED with residual 0. `at` is the
    library's time of the call (for the records the ERP stamps; an ERP may use its own).

    Return `None` when the credit note is not this ERP's; raise
    [`BackendError`][aftersales.errors.BackendError] when it is not a draft.
    """


@hookspec(firstresult=True)
def aftersales_accounting_cancel_credit_note(credit_note_id: str, reference: str) -> Invoice | None:
    """Cancel the **draft** credit note `credit_note_id` (it no longer credits its invoice);
    return it as stored. `None` when it is not this ERP's."""


@hookspec(firstresult=True)
def aftersales_accounting_create_invoice(draft: InvoiceDraft, reference: str) -> Invoice | None:
    """Create `draft` as a **draft** customer invoice with the ERP's id; return it.

    Used by repairs (RP-9): the ERP's users post it later, and it gets its number then.
    """


@hookspec(firstresult=True)
def aftersales_accounting_cancel_invoice(invoice_id: str, reference: str) -> Invoice | None:
    """Cancel the **draft** invoice `invoice_id`; return it as stored (`None` when it is
    not this ERP's). The service only asks for drafts (a cancelled repair's, RP-10)."""


@hookspec(firstresult=True)
def aftersales_accounting_find_by_reference(reference: str) -> Sequence[Invoice] | None:
    """Return the documents the operation `reference` made (credit notes, new draft
    invoices) or whose draft it last updated, posted or cancelled, in the order the ERP
    stored them; empty when none. An invoice the operation only settled is not among them.

    This is how a call retried after a crash between the ERP's commit and the library's
    finds what the first attempt made, instead of making it twice.
    """


# -------------------------------------------------------------------------------------------
# port stock (owner: the ERP): operations the ERP performs on its deliveries and returns
#
# The ERP owns deliveries, returns and their moves, and names and ids them. The return
# service decides what a helpdesk may do (rights, toggle, RT-1/2/3: only done deliveries of
# the ticket's customer, the caps of RT-5 from the balances reported here, under the lock,
# the default quantities) and asks the ERP to do it; the ERP answers with what it made. Every
# write carries ``reference`` (see the accounting port): the ERP stores it on the return
# (`Picking.operation_ref`) and `aftersales_stock_find_by_reference()` finds it. The
# shipped backends serve this port with the reference ERP (`aftersales.erp.stock`).
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_stock_get_picking(picking_id: str, lock: bool) -> Picking | None:
    """Return the delivery or return `picking_id` with its moves, or `None`.

    `lock=True` holds it until the unit of work ends. May be called in a read-only unit
    (the ticket view, repairs reading the return of a repair).
    """


@hookspec(firstresult=True)
def aftersales_stock_returnable_deliveries(query: PickingQuery) -> Sequence[Returnable] | None:
    """Return the **done deliveries** of `query`, newest first, each with what its returns
    already took from every move (`Returnable`).

    `kind` and `state` of `query` are ignored (always deliveries, done); the other conditions
    all hold. Newest means the latest `done_at`, then the latest `created_at`; of two
    equally new deliveries of one partner, the one stored last comes first. `product_id`
    matches deliveries with at least one move of that product. `moves` has one balance per
    move of the delivery, in its order: `returned` sums the moves of done returns sending
    it back, `reserved` those of open returns; cancelled returns and moves count for nothing.
    Answer in one go (one query for the returns of every delivery found), not one call per
    delivery.

    **Pages.** When `query.limit` or `query.after` is set the answer is one page, in the
    paged order: newest first by `(done_at, created_at, id)` (the greater id first among
    equal times); only the deliveries strictly after the key `query.after` in that order,
    and at most `query.limit` of them. Read only that page (e.g. `ORDER BY … LIMIT` with a
    keyset `WHERE`), so a page costs the same whatever the partner's history; see
    [`aftersales.paging`][aftersales.paging].
    """


@hookspec(firstresult=True)
def aftersales_stock_get_delivery(delivery_id: str, lock: bool) -> Returnable | None:
    """Return the picking `delivery_id` with what its returns took from every move (see
    [`aftersales_stock_returnable_deliveries()`][aftersales_stock_returnable_deliveries]), or
    `None`.

    The picking may be of any kind and state: the service checks them (RT-3); a return has
    nothing taken. With `lock=True` the picking is held until the unit ends, so that two
    units cannot both pass the cap (RT-5, RL-3) on the same balances.
    """


@hookspec(firstresult=True)
def aftersales_stock_create_return(request: ReturnRequest) -> Picking | None:
    """Make a return of the done delivery `request.delivery_id`; return it as made.

    One move per quantity, in the delivery's move order, each with the delivery move's
    product and `origin_move_id`; the return goes from the delivery's destination to
    `request.destination_location` (the delivery's source when `None`), is `READY`, has
    `origin` `"Return of <delivery name>"`, the delivery's partner and sale order,
    `return_of_id`, `ticket_id` and `operation_ref` `request.reference`. Its id, its
    moves' ids and its name (`reference`, the reference ERP: `WH/RET/00001`, drawn from a
    sequence without a row lock, gaps possible) are the ERP's.

    The service has checked the caps under the delivery's lock. Return `None` when the
    delivery is not this ERP's; raise [`BackendError`][aftersales.errors.BackendError] when it is
    not a done delivery or has no such move.
    """


@hookspec(firstresult=True)
def aftersales_stock_validate_return(
    return_id: str, at: datetime, reference: str
) -> Picking | None:
    """Validate the open return `return_id`: it and its live moves become `DONE`, done at
    `at` (the library's time; an ERP may stamp its own), so its quantities count as
    returned; return it as stored. `None` when it is not this ERP's; raise
    [`BackendError`][aftersales.errors.BackendError] when it is not an open return."""


@hookspec(firstresult=True)
def aftersales_stock_cancel_return(return_id: str, reference: str) -> Picking | None:
    """Cancel the open return `return_id` and its moves, releasing what they reserved;
    return it as stored. `None` when it is not this ERP's; raise
    [`BackendError`][aftersales.errors.BackendError] when it is not an open return."""


@hookspec(firstresult=True)
def aftersales_stock_find_by_reference(reference: str) -> Sequence[Picking] | None:
    """Return the returns the operation `reference` made, validated or cancelled last, in
    the order the ERP stored them; empty when none (see
    [`aftersales_accounting_find_by_reference()`][aftersales_accounting_find_by_reference])."""


@hookspec(firstresult=True)
def aftersales_stock_find_pickings(query: PickingQuery) -> Sequence[Picking] | None:
    """Return the pickings matching every condition set on `query`, newest first.

    Newest means the latest `done_at` (not done last), then the latest `created_at`;
    of two equally new pickings of one partner, the one stored last comes first.
    `product_id` matches pickings with at least one move of that product. Optional: no
    service needs it.
    """


@hookspec(firstresult=True)
def aftersales_stock_list_returns(delivery_id: str) -> Sequence[Picking] | None:
    """Return every return whose `return_of_id` is `delivery_id`, oldest first. Optional:
    no service needs it."""


# -------------------------------------------------------------------------------------------
# port loyalty (owner: the ERP): operations the ERP performs on its coupons
#
# The ERP owns coupon programs, coupons and their uses: it issues a coupon (its id, the code
# the library chose, unique across its coupons) and records a use (its id, the points spent
# on the coupon). The coupon service decides what a helpdesk may do (rights, toggles, which
# programs are offered, the refusals of a redemption under the coupon's and its program's
# locks, CP-9) and evaluates an order against the program's rules itself (CP-3).
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_loyalty_list_programs() -> Sequence[CouponProgram] | None:
    """Return every coupon program (active or not); the service filters them (CP-2)."""


@hookspec(firstresult=True)
def aftersales_loyalty_get_program(program_id: str, lock: bool) -> CouponProgram | None:
    """Return the program `program_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_loyalty_get_coupon(coupon_id: str, lock: bool) -> Coupon | None:
    """Return the coupon `coupon_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_loyalty_find_coupon(code: str, lock: bool) -> Coupon | None:
    """Return the coupon whose code is exactly `code` (case-sensitive), or `None`.

    Redeeming locks the coupon, then its program (`lock=True` on both), before counting
    the program's uses (CP-9, RL-3).
    """


@hookspec(firstresult=True)
def aftersales_loyalty_count_uses(program_id: str) -> int | None:
    """Return how many times coupons of `program_id` were redeemed."""


@hookspec(firstresult=True)
def aftersales_loyalty_issue_coupon(request: CouponRequest) -> Coupon | None:
    """Issue a coupon of `request.program_id`; return it as made.

    The coupon has `request`'s code, program, partner, points, expiry and ticket, is created
    at `request.at` (an ERP may stamp its own time) and keeps `operation_ref`
    `request.reference`; its id is the ERP's. Codes are unique across all coupons: raise
    [`DuplicateKey`][aftersales.errors.DuplicateKey] (`"coupon code"`) when `request.code` is
    taken, enforced by the ERP (a unique constraint), not by a check-then-insert (CP-5). The
    unit of work must stay usable after that refusal (a savepoint on SQL stores): the service
    then asks again with a new code.
    """


@hookspec(firstresult=True)
def aftersales_loyalty_redeem(
    coupon_id: str, points: Decimal, order_reference: str, at: datetime, reference: str
) -> Redemption | None:
    """Record one use of the coupon `coupon_id` spending `points` on the order
    `order_reference`, used at `at`; return what was stored (`Redemption`): the use, with
    the ERP's id and `operation_ref` `reference`, and the coupon with `points` fewer and
    `operation_ref` `reference`.

    The service has checked the redemption (CP-9) under the coupon's and its program's locks.
    Return `None` when the coupon is not this ERP's; raise
    [`BackendError`][aftersales.errors.BackendError] when it has fewer points left.
    """


@hookspec(firstresult=True)
def aftersales_loyalty_find_by_reference(reference: str) -> Sequence[Coupon] | None:
    """Return the coupons the operation `reference` issued or last redeemed, in the order
    they were stored (empty when none)."""


# -------------------------------------------------------------------------------------------
# port repair (owner: the ERP): operations the ERP performs on its repair orders
#
# The ERP owns repair orders: it gives a new order its id and its reference, decides which
# state an action moves an order to (RP-8) and refuses the others, keeps a done or cancelled
# order read-only and deletes only drafts and cancelled orders (RP-10). The repair service
# decides what a helpdesk may do (rights, toggles, which product, customer, sale order,
# return and address an order may name, prices and taxes of its lines) and asks the ERP to
# do it; the ERP answers with the order as it made it. Every write carries ``reference``,
# the operation reference of the call (see the accounting port): the ERP stores it on the
# order (`RepairOrder.operation_ref`) and `aftersales_repair_find_by_reference()` finds it.
# The shipped backends serve this port with the reference ERP (`aftersales.erp.repair`).
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_repair_get_order(repair_id: str, lock: bool) -> RepairOrder | None:
    """Return the repair order `repair_id`, or `None`.

    `lock=True` holds it until the unit of work ends. May be called in a read-only unit.
    """


@hookspec(firstresult=True)
def aftersales_repair_find_by_reference(reference: str) -> Sequence[RepairOrder] | None:
    """Return the repair orders the operation `reference` created or last changed, in the
    order the ERP stored them; empty when none (a deleted order is not among them)."""


@hookspec(firstresult=True)
def aftersales_repair_create_repair(request: RepairRequest, reference: str) -> RepairOrder | None:
    """Create a **draft** repair order from `request`; return it as the ERP made it.

    The id and the reference (the reference ERP: `RO/00001`, unique, RP-7) are the ERP's;
    `created_at` is `request.at` (an ERP may use its own time). The order keeps every field
    of `request` as given.
    """


@hookspec(firstresult=True)
def aftersales_repair_update_repair(
    repair_id: str, request: RepairRequest, fields: frozenset[str], reference: str
) -> RepairOrder | None:
    """Replace the editable fields of the order `repair_id` with those of `request` (its
    `currency`, `ticket_id` and `at` are not changes); return the order as stored.

    `fields` names the fields the agent set: raise
    [`InvalidState`][aftersales.errors.InvalidState] when the order's state does not let one
    change (the reference ERP: a done or cancelled order is read-only, the head only changes
    while it is a draft, parts and operations until it is invoiced). When nothing differs,
    return the order unchanged. `None` when the order is not this ERP's.
    """


@hookspec(firstresult=True)
def aftersales_repair_transition(
    repair_id: str, action: RepairAction, reference: str, invoice_id: str | None
) -> RepairOrder | None:
    """Move the order `repair_id` by `action` (confirm, start, end, create invoice, cancel,
    reset to draft); return it in its new state.

    The ERP decides the new state (the reference ERP: `aftersales.erp.repair.TRANSITIONS`)
    and raises [`InvalidState`][aftersales.errors.InvalidState] for a move its life cycle does
    not have. `create invoice` records `invoice_id` (the draft invoice the service made
    through the accounting port) on the order; `reset to draft` forgets the order's invoice.
    `None` when the order is not this ERP's.
    """


@hookspec(firstresult=True)
def aftersales_repair_delete_repair(repair_id: str, reference: str) -> RepairOrder | None:
    """Delete the order `repair_id` and return it as it was; raise
    [`InvalidState`][aftersales.errors.InvalidState] when it may not be deleted (the reference
    ERP: only drafts and cancelled orders, RP-10). `None` when it is not this ERP's."""


# -------------------------------------------------------------------------------------------
# port project (owner: the ERP): field-service projects and tasks
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_project_get_project(project_id: str) -> Project | None:
    """Return the project `project_id`, or `None`."""


@hookspec(firstresult=True)
def aftersales_project_list_projects() -> Sequence[Project] | None:
    """Return every project, in a stable order (the first FSM one is the default, ST-2)."""


@hookspec(firstresult=True)
def aftersales_project_get_task(task_id: str, lock: bool) -> FieldServiceTask | None:
    """Return the task `task_id`, or `None`.

    With `lock=True` hold the task until the unit of work ends: the service reads its
    stage before moving it (FS-3), and two concurrent moves must not both pass that check.
    """


@hookspec(firstresult=True)
def aftersales_project_create_task(request: TaskRequest) -> FieldServiceTask | None:
    """Make a task of `request.project_id` with the request's fields, stage NEW, and
    return it as made: the ERP chooses its `id` (any format; the library only stores and
    links it) and keeps `request.reference` on it (`operation_ref`).

    The service has checked the ticket, the project and the fields (FS-1, FS-2).
    """


@hookspec(firstresult=True)
def aftersales_project_move_task(
    task_id: str, stage: TaskStage, reference: str
) -> FieldServiceTask | None:
    """Move the task `task_id` to `stage`, keep `reference` on it, and return it; `None`
    when there is no such task.

    The service has read the task locked and checked the move is allowed (FS-3).
    """


@hookspec(firstresult=True)
def aftersales_project_find_by_reference(reference: str) -> Sequence[FieldServiceTask] | None:
    """Return the tasks the operation `reference` made or last moved, in the order they
    were stored (empty when none)."""


# -------------------------------------------------------------------------------------------
# port modules (owner: the ERP): installed modules; the catalogue is a broadcast
# -------------------------------------------------------------------------------------------


@hookspec
def aftersales_modules_catalogue() -> Sequence[Module]:
    """Return modules to add to (or replace in) the catalogue (ST-3). Broadcast: optional.

    Every plugin's modules are added to `DEFAULT_MODULES` in
    registration order; a module named like an existing one replaces it (so a plugin
    registered later wins). Unknown dependencies and cycles make
    [`AfterSales`][aftersales.app.AfterSales] fail at startup with
    [`InvalidConfiguration`][aftersales.errors.InvalidConfiguration].
    """
    return ()  # a spec body is never called


@hookspec(firstresult=True)
def aftersales_modules_installed() -> frozenset[str] | None:
    """Return the names of the installed modules."""


@hookspec(firstresult=True)
def aftersales_modules_install(name: str) -> str | None:
    """Install module `name` (its dependencies are already installed); return the name."""


@hookspec(firstresult=True)
def aftersales_modules_uninstall(name: str) -> str | None:
    """Uninstall module `name`; return the name, or `None` when it was not installed.

    The library uninstalls the modules that depend on `name` first, one call each.
    """


# -------------------------------------------------------------------------------------------
# port subscription (owner: the ERP): the database's subscription
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_subscription_get() -> Subscription | None:
    """Return the database's subscription (a new database is `FREE`)."""


@hookspec(firstresult=True)
def aftersales_subscription_save(subscription: Subscription) -> Subscription | None:
    """Store the database's subscription and return it."""


# -------------------------------------------------------------------------------------------
# port store (owner: the library): links, trail, audit, idempotency, the mail outbox
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_store_get_team_config(team_id: str) -> TeamConfig | None:
    """Return the after-sales settings of team `team_id`, or `None` when it has none
    (then every service is off and it has no FSM project, ST-1)."""


@hookspec(firstresult=True)
def aftersales_store_save_team_config(config: TeamConfig) -> TeamConfig | None:
    """Insert or replace the after-sales settings of team `config.team_id` and return
    them."""


@hookspec(firstresult=True)
def aftersales_store_add_link(link: DocumentLink) -> DocumentLink | None:
    """Link a document to a ticket (G-4) and return the link."""


@hookspec(firstresult=True)
def aftersales_store_remove_link(
    ticket_id: str, kind: DocumentKind, document_id: str
) -> DocumentLink | None:
    """Remove the link of document `document_id` of `kind` from `ticket_id` and return it.

    Return `None` when there is no such link. Used when a linked document is deleted
    (a draft or cancelled repair order, RP-10), so that the ticket's counts stay right (AC-6).
    """


@hookspec(firstresult=True)
def aftersales_store_list_links(ticket_id: str) -> Sequence[DocumentLink] | None:
    """Return the documents linked to `ticket_id`, oldest first (empty when none)."""


@hookspec(firstresult=True)
def aftersales_store_links_page(query: LinkQuery) -> Sequence[DocumentLink] | None:
    """Return one page of the documents linked to `query.ticket_id` (only those of
    `query.kind` when set), newest first by `(created_at, kind, document_id)`: only the
    links strictly after the key `query.after` in that order, at most `query.limit` of them.

    Read only that page (e.g. an index on `(ticket_id, created_at, kind, document_id)`
    walked by `ORDER BY … LIMIT` with a keyset `WHERE`), so a page costs the same however
    many documents the ticket has; see [`aftersales.paging`][aftersales.paging].
    """


@hookspec(firstresult=True)
def aftersales_store_post_message(message: TicketMessage) -> TicketMessage | None:
    """Append `message` to its ticket's trail and return it. Never edit or delete one."""


@hookspec(firstresult=True)
def aftersales_store_list_messages(ticket_id: str) -> Sequence[TicketMessage] | None:
    """Return the trail of `ticket_id`, oldest first (empty when none)."""


@hookspec(firstresult=True)
def aftersales_store_messages_page(query: MessageQuery) -> Sequence[TicketMessage] | None:
    """Return one page of the trail of `query.ticket_id`, newest first by `(at, id)`: only
    the messages strictly after the key `query.after` in that order, at most `query.limit`
    of them.

    Read only that page (e.g. an index on `(ticket_id, at, id)` walked by `ORDER BY …
    LIMIT` with a keyset `WHERE`), so a page costs the same however long the trail is; see
    [`aftersales.paging`][aftersales.paging].
    """


@hookspec(firstresult=True)
def aftersales_store_audit_append(entry: AuditEntry) -> AuditEntry | None:
    """Append `entry` to the audit trail (RL-6). Entries are never edited or deleted."""


@hookspec(firstresult=True)
def aftersales_store_audit_list(ticket_id: str | None) -> Sequence[AuditEntry] | None:
    """Return the audit entries (of one ticket when `ticket_id` is set), oldest first."""


@hookspec(firstresult=True)
def aftersales_store_idempotency_claim(record: IdempotencyRecord) -> IdempotencyRecord | None:
    """Claim `record.key` for `record.actor_id` in the current unit of work, before the
    call does its work; return the record now stored under that actor and key.

    `record` has no result yet. When nobody holds the key, store it and return it; when
    a committed call holds it, return that call's record (with its result). When a call
    still in its transaction holds it, wait until that call ends — as a unique key makes
    a second insert wait — then answer as above: its record if it committed, `record`
    if it rolled back. This is what gives an in-flight retry the first call's answer.
    """


@hookspec(firstresult=True)
def aftersales_store_idempotency_complete(record: IdempotencyRecord) -> IdempotencyRecord | None:
    """Store the result of the claimed `record` (`record.result` is set) in the current
    unit of work, so that it commits with the work."""


@hookspec(firstresult=True)
def aftersales_store_idempotency_purge(before: datetime) -> int | None:
    """Delete the idempotency records created before `before`; return how many."""


@hookspec(firstresult=True)
def aftersales_store_claim(kind: str, document_id: str) -> bool | None:
    """Hold the ERP document `document_id` of `kind` (`invoice`, `picking`, `coupon`,
    `coupon code`, `program`, `repair`, `task`) until the current unit of work ends, and
    return True: a unit claiming the same document meanwhile waits until this one ends
    (commits or rolls back), as a second insert of one unique key waits (SQL: a row of its
    own per document, inserted or updated, locked until the unit ends).

    The library claims a document before it reads it with `lock=True` when the ERP that
    owns the document is another plugin than the after-sales store's owner: such an ERP
    commits its calls on its own and cannot hold the document for the library's unit, so
    the caps checked under that read (credited ≤ invoiced, RF-7; returned ≤ delivered,
    RT-5; uses ≤ the limit, CP-5) rest on the claim instead. A store that runs one unit at
    a time (the memory backend) has nothing more to do.
    """


@hookspec(firstresult=True)
def aftersales_store_mail_enqueue(email: OutgoingEmail) -> OutgoingEmail | None:
    """Put `email` in the outbox, inside the current unit of work."""


@hookspec(firstresult=True)
def aftersales_store_mail_save(email: OutgoingEmail) -> OutgoingEmail | None:
    """Update an email of the outbox (every field: state, attempts, last error, accepted
    and refused recipients, claim) and return it."""


@hookspec(firstresult=True)
def aftersales_store_mail_get(email_id: str, lock: bool) -> OutgoingEmail | None:
    """Return the email `email_id` of the outbox, or `None`.

    A retry run claims an email by reading it with `lock=True` and saving it as SENDING
    in one unit of work: two runs (threads or processes) must never both see it claimable,
    so the lock holds the row until the unit ends (`SELECT … FOR UPDATE`, or a unit that
    writers enter one at a time).
    """


@hookspec(firstresult=True)
def aftersales_store_mail_list_outbox(pending_only: bool) -> Sequence[OutgoingEmail] | None:
    """Return the emails of the outbox, oldest first; when `pending_only`, only those
    still to be delivered (PENDING, SENDING or FAILED: neither SENT nor DEAD)."""


# -------------------------------------------------------------------------------------------
# port transport (owner: the mail transport): delivery after commit
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_mail_deliver(email: OutgoingEmail) -> bool | DeliveryReport | None:
    """Hand `email` to a mail transport for its recipients that have not taken it yet
    (`email.undelivered`: a retry never sends to a recipient that accepted it before);
    return True once every one was accepted, or a
    `DeliveryReport` naming the recipients the server refused
    (for good, or only for now: `deferred`) while it took the others.

    Called after commit, outside any unit of work. Raise on failure, when no recipient was
    accepted: [`BackendUnavailable`][aftersales.errors.BackendUnavailable] when trying again later
    may help (a 4xx reply, a timeout), another exception when it will not. The email stays in
    the outbox as FAILED with the error, to be retried up to `Config.mail_attempts`.
    """


# -------------------------------------------------------------------------------------------
# port imports (owner: the ERP — the reference ERP of the shipped backends): a host's
# existing documents, loaded once each by their external id. No service needs it.
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def aftersales_imports_invoices(
    records: Sequence[InvoiceImport], at: datetime
) -> Sequence[Imported[Invoice]] | None:
    """Store each of `records` (checked by the import service: its customer and products
    exist, one record per external id) as a posted invoice with its lines and payments,
    matched and settled, unless an invoice already holds its `external_id`; `at` is the
    library's time of the call.

    Return, for each record in order, the invoice stored under its external id and whether
    this call created it. Concurrent units importing one external id make one invoice, and
    no unit ever reads one without its lines, payments or settlement (insert-if-absent by
    the database, in the unit of work).
    """


@hookspec(firstresult=True)
def aftersales_imports_deliveries(
    records: Sequence[DeliveryImport], at: datetime
) -> Sequence[Imported[Picking]] | None:
    """Store each of `records` as a done delivery with its moves done, unless a picking
    already holds its `external_id`; the outcomes as `aftersales_imports_invoices`."""


@hookspec(firstresult=True)
def aftersales_imports_programs(
    records: Sequence[ProgramImport], at: datetime
) -> Sequence[Imported[CouponProgram]] | None:
    """Store each of `records` as a coupon program, unless a program already holds its
    `external_id`; the outcomes as `aftersales_imports_invoices`."""


# -------------------------------------------------------------------------------------------
# events: broadcasts after commit
# -------------------------------------------------------------------------------------------


@hookspec
def aftersales_on_document_created(event: DocumentCreated) -> None:
    """A document was created from a ticket and linked to it."""


@hookspec
def aftersales_on_document_changed(event: DocumentChanged) -> None:
    """A linked document changed state (posted, done, cancelled, sent, redeemed…)."""


@hookspec
def aftersales_on_services_configured(event: ServicesConfigured) -> None:
    """A team's after-sales toggles changed."""


@hookspec
def aftersales_on_subscription_changed(event: SubscriptionChanged) -> None:
    """The database's subscription changed state (trial started, expired, paid)."""


@hookspec
def aftersales_on_email_delivery(event: EmailDelivery) -> None:
    """An attempt to deliver an email ended: sent (to whom, refused by whom), failed or
    given up (DEAD), as recorded in the outbox."""
