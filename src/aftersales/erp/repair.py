"""The reference ERP's repair orders: ids, references, the life cycle (RP-7, RP-8, RP-10).

What an ERP does on its own when a helpdesk asks it for a repair — give the order an id
and a reference, decide which state an action moves it to and refuse the others, keep a
done or cancelled order read-only — lives here, once, over a `RepairStorage`.
`RepairPort` serves the `aftersales_repair_*` hooks from it: the memory and the SQL
backends both inherit it, so both behave the same.

The repair service never does any of this: it checks what a helpdesk may do (rights,
toggles, which records the order may name), looks up prices and taxes, asks the port, and
records on the ticket what the port made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from aftersales.errors import DuplicateKey, InvalidState
from aftersales.formatting import show
from aftersales.hookspecs import hookimpl
from aftersales.ids import new_id
from aftersales.models import (
    InvoiceMethod,
    RepairAction,
    RepairOrder,
    RepairRequest,
    RepairState,
    evolve,
)

__all__ = [
    "DELETABLE",
    "REFERENCE_TRIES",
    "REPAIR_SERIES",
    "TRANSITIONS",
    "ReferenceRepairs",
    "RepairPort",
    "RepairStorage",
    "Transition",
    "next_reference",
    "next_state",
    "refusal",
    "state_diagram",
]


class RepairStorage(Protocol):
    """Repair orders and their number series, as stored by one backend. Every call acts
    inside the current unit of work, as the hooks do."""

    def get_repair(self, repair_id: str, lock: bool) -> RepairOrder | None:
        """The repair order `repair_id`, or `None`; `lock` holds it until the unit ends."""

    def save_repair(self, repair: RepairOrder) -> RepairOrder:
        """Insert or update `repair` (by id); return it. Raise
        [`DuplicateKey`][aftersales.errors.DuplicateKey] (`"repair reference"`) when another
        order holds `repair.reference`, enforced by the store (a unique constraint), and leave
        the unit usable (a savepoint on SQL stores)."""

    def delete_repair(self, repair_id: str) -> RepairOrder | None:
        """Delete the order `repair_id`; return it, or `None` when unknown."""

    def draw(self, sequence: str) -> int:
        """The next number of `sequence` (1 for a new one): two units never get the same,
        and no row lock is taken (a rolled-back unit may leave a gap; see `Numbering.draw`)."""

    def find_repairs(self, reference: str) -> Sequence[RepairOrder]:
        """The orders whose `operation_ref` is `reference`, in the order they were stored."""


# -- numbering (RP-7) -------------------------------------------------------------------------

#: The series repair references are drawn from.
REPAIR_SERIES = "RO"

#: How many numbers a new order tries when references are taken (RP-7): enough to pass
#: every number an import took (the first order after it pays once, and the series then
#: stays past them), bounded so that a store refusing every reference ends in
#: `DuplicateKey` instead of a loop.
REFERENCE_TRIES = 100_000


def next_reference(storage: RepairStorage) -> str:
    """The reference of a new repair order, `RO/00001`: the one place the reference ERP
    numbers repairs (no gap-free series is needed)."""
    return f"{REPAIR_SERIES}/{storage.draw(REPAIR_SERIES):05d}"


# -- the life cycle (RP-8) --------------------------------------------------------------------


def _before_repair(repair: RepairOrder) -> bool:
    return repair.invoice_method is InvoiceMethod.BEFORE_REPAIR


def _after_repair(repair: RepairOrder) -> bool:
    return repair.invoice_method is InvoiceMethod.AFTER_REPAIR


def _after_repair_not_invoiced(repair: RepairOrder) -> bool:
    return _after_repair(repair) and repair.invoice_id is None


@attrs.frozen
class Transition:
    """One row of the life cycle: `action` moves a repair from `source` to `target`
    when `when` holds (always when it is `None`); `condition` says it in words."""

    source: RepairState
    action: RepairAction
    target: RepairState
    when: Callable[[RepairOrder], bool] | None = None
    condition: str = ""


_S = RepairState
_A = RepairAction

#: The whole life cycle of RP-8. The first row whose source, action and condition match
#: decides the next state; anything else is refused with
#: [`InvalidState`][aftersales.errors.InvalidState].
TRANSITIONS: tuple[Transition, ...] = (
    Transition(_S.DRAFT, _A.CONFIRM, _S.TO_INVOICE, _before_repair, "invoice before repair"),
    Transition(_S.DRAFT, _A.CONFIRM, _S.CONFIRMED, condition="no invoice, or after repair"),
    Transition(_S.TO_INVOICE, _A.CREATE_INVOICE, _S.READY, _before_repair, "before repair"),
    Transition(_S.TO_INVOICE, _A.CREATE_INVOICE, _S.DONE, _after_repair, "after repair"),
    Transition(_S.CONFIRMED, _A.START, _S.UNDER_REPAIR),
    Transition(_S.READY, _A.START, _S.UNDER_REPAIR),
    Transition(
        _S.UNDER_REPAIR,
        _A.END,
        _S.TO_INVOICE,
        _after_repair_not_invoiced,
        "invoice after repair, not yet invoiced",
    ),
    Transition(_S.UNDER_REPAIR, _A.END, _S.DONE, condition="otherwise"),
    *(
        Transition(state, _A.CANCEL, _S.CANCELLED)
        for state in (_S.DRAFT, _S.CONFIRMED, _S.TO_INVOICE, _S.READY, _S.UNDER_REPAIR)
    ),
    Transition(_S.CANCELLED, _A.RESET_TO_DRAFT, _S.DRAFT),
)

#: Only these repairs may be deleted (RP-10).
DELETABLE: frozenset[RepairState] = frozenset({_S.DRAFT, _S.CANCELLED})

#: Fields that change only while the order is a draft (RP-4 for the invoice method).
DRAFT_ONLY = frozenset(
    {
        "product_id",
        "quantity",
        "lot",
        "customer_id",
        "sale_order_id",
        "return_id",
        "invoice_method",
        "invoice_address_id",
    }
)
#: Parts and operations change until the order is invoiced.
LINES = frozenset({"parts", "operations"})
_LINE_STATES = frozenset({_S.DRAFT, _S.CONFIRMED, _S.TO_INVOICE, _S.UNDER_REPAIR})
#: A done or cancelled order is read-only (reset a cancelled one to draft to change it).
READ_ONLY = frozenset({_S.DONE, _S.CANCELLED})

#: The fields of an order `aftersales_repair_update_repair` may replace.
EDITABLE: tuple[str, ...] = tuple(
    name for name in attrs.fields_dict(RepairRequest) if name not in ("at", "currency", "ticket_id")
)


def _allowed(state: RepairState) -> list[str]:
    actions = {t.action.value for t in TRANSITIONS if t.source is state}
    if state in DELETABLE:
        actions.add(RepairAction.DELETE.value)
    if state not in READ_ONLY:
        actions.add(RepairAction.UPDATE.value)
    return sorted(actions)


def refusal(repair: RepairOrder, action: RepairAction, why: str = "") -> InvalidState:
    """The [`InvalidState`][aftersales.errors.InvalidState] refusing `action` on `repair`,
    naming its state, `why` and what may be done instead."""
    allowed = _allowed(repair.state)
    hint = f"allowed: {', '.join(allowed)}" if allowed else "nothing more can be done to it"
    reason = f"; {why}" if why else ""
    return InvalidState(
        f"repair {repair.reference} is in state {show(repair.state.value)}: "
        f"cannot {action.value}{reason} ({hint})",
        kind="repair order",
        id=repair.id,
    )


def next_state(repair: RepairOrder, action: RepairAction) -> RepairState:
    """The state `action` moves `repair` to, or [`InvalidState`][aftersales.errors.InvalidState]
    naming both.
    """
    for row in TRANSITIONS:
        if (
            row.source is repair.state
            and row.action is action
            and (row.when is None or row.when(repair))
        ):
            return row.target
    raise refusal(repair, action)


def state_diagram() -> str:
    """The life cycle as a Mermaid state diagram, generated from `TRANSITIONS`."""
    lines = ["stateDiagram-v2", "    [*] --> DRAFT : create"]
    for row in TRANSITIONS:
        label = row.action.value + (f" ({row.condition})" if row.condition else "")
        lines.append(f"    {row.source.name} --> {row.target.name} : {label}")
    lines += [f"    {state.name} --> [*] : delete" for state in RepairState if state in DELETABLE]
    return "\n".join(lines)


def check_editable(repair: RepairOrder, fields: frozenset[str]) -> None:
    """Refuse a change of `fields` that `repair`'s state does not allow (RP-4, RP-8)."""
    if not fields:
        return
    if repair.state in READ_ONLY:
        raise refusal(repair, RepairAction.UPDATE, "a done or cancelled repair is read-only")
    draft_only = sorted(fields & DRAFT_ONLY)
    if draft_only and repair.state is not RepairState.DRAFT:
        raise refusal(
            repair,
            RepairAction.UPDATE,
            f"{', '.join(draft_only)} can only change while the repair is a draft",
        )
    if fields & LINES and (repair.state not in _LINE_STATES or repair.invoice_id):
        raise refusal(
            repair,
            RepairAction.UPDATE,
            "parts and operations cannot change once the repair is invoiced",
        )


class ReferenceRepairs:
    """The reference ERP's repair orders over `storage`.

    `ids` makes a new record id from a kind (`"repair"`; default `new_id()`) and
    `reference` draws the reference of a new order from the storage (default
    `next_reference()`, `RO/00001`). An ERP that ids and numbers its orders in its own
    style is the same class with other functions.

    Each method does one operation of the repair port; see the hooks of the same names in
    [`aftersales.hookspecs`][aftersales.hookspecs] for what they promise.
    """

    def __init__(
        self,
        storage: RepairStorage,
        *,
        ids: Callable[[str], str] = new_id,
        reference: Callable[[RepairStorage], str] = next_reference,
    ) -> None:
        self.storage = storage
        self._ids = ids
        self._reference = reference

    # -- reads ------------------------------------------------------------------------------

    def get_repair(self, repair_id: str, lock: bool) -> RepairOrder | None:
        return self.storage.get_repair(repair_id, lock)

    def find_by_reference(self, reference: str) -> list[RepairOrder]:
        return list(self.storage.find_repairs(reference))

    # -- writes -----------------------------------------------------------------------------

    def create_repair(self, request: RepairRequest, reference: str) -> RepairOrder:
        """A new draft order with the ERP's id and reference. A reference taken outside
        the series (an imported order) is skipped for the next number, at most
        `REFERENCE_TRIES` times (RP-7)."""
        content = _content(request)
        repair = RepairOrder(
            id=self._ids("repair"),
            reference=self._reference(self.storage),
            currency=request.currency,
            created_at=request.at,
            ticket_id=request.ticket_id,
            operation_ref=reference,
            **content,
        )
        for _ in range(REFERENCE_TRIES - 1):
            try:
                return self.storage.save_repair(repair)
            except DuplicateKey as exc:
                if (exc.what, exc.value) != ("repair reference", repair.reference):
                    raise
                repair = evolve(repair, reference=self._reference(self.storage))
        return self.storage.save_repair(repair)

    def update_repair(
        self, repair_id: str, request: RepairRequest, fields: frozenset[str], reference: str
    ) -> RepairOrder | None:
        repair = self.storage.get_repair(repair_id, True)
        if repair is None:
            return None
        check_editable(repair, fields)
        content = _content(request)
        changes = {
            name: content[name] for name in EDITABLE if getattr(repair, name) != content[name]
        }
        if not changes:
            return repair
        return self.storage.save_repair(evolve(repair, operation_ref=reference, **changes))

    def transition(
        self, repair_id: str, action: RepairAction, reference: str, invoice_id: str | None
    ) -> RepairOrder | None:
        repair = self.storage.get_repair(repair_id, True)
        if repair is None:
            return None
        if action in (RepairAction.UPDATE, RepairAction.DELETE):
            raise refusal(repair, action, "not a move of the life cycle")
        changes: dict[str, Any] = {"state": next_state(repair, action)}
        if action is RepairAction.CREATE_INVOICE:
            changes["invoice_id"] = invoice_id
        elif action is RepairAction.RESET_TO_DRAFT:
            changes["invoice_id"] = None
        return self.storage.save_repair(evolve(repair, operation_ref=reference, **changes))

    def delete_repair(self, repair_id: str, reference: str) -> RepairOrder | None:
        repair = self.storage.get_repair(repair_id, True)
        if repair is None:
            return None
        if repair.state not in DELETABLE:
            raise refusal(
                repair, RepairAction.DELETE, "only a draft or cancelled repair can be deleted"
            )
        return self.storage.delete_repair(repair.id)


def _content(request: RepairRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in EDITABLE}


class RepairPort:
    """Serves the repair port (`aftersales_repair_*`) from `self.repairs`.

    A backend inherits it and sets `repairs` to a `ReferenceRepairs` over its
    `RepairStorage`.
    """

    repairs: ReferenceRepairs

    @hookimpl
    def aftersales_repair_get_order(self, repair_id: str, lock: bool) -> RepairOrder | None:
        return self.repairs.get_repair(repair_id, lock)

    @hookimpl
    def aftersales_repair_find_by_reference(self, reference: str) -> list[RepairOrder]:
        return self.repairs.find_by_reference(reference)

    @hookimpl
    def aftersales_repair_create_repair(
        self, request: RepairRequest, reference: str
    ) -> RepairOrder:
        return self.repairs.create_repair(request, reference)

    @hookimpl
    def aftersales_repair_update_repair(
        self, repair_id: str, request: RepairRequest, fields: frozenset[str], reference: str
    ) -> RepairOrder | None:
        return self.repairs.update_repair(repair_id, request, fields, reference)

    @hookimpl
    def aftersales_repair_transition(
        self, repair_id: str, action: RepairAction, reference: str, invoice_id: str | None
    ) -> RepairOrder | None:
        return self.repairs.transition(repair_id, action, reference, invoice_id)

    @hookimpl
    def aftersales_repair_delete_repair(self, repair_id: str, reference: str) -> RepairOrder | None:
        return self.repairs.delete_repair(repair_id, reference)
