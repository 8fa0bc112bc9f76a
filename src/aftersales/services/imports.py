"""Loading what a host already has into the reference ERP, once each: `app.imports`.

A host that has no ERP of its own and uses the reference ERP (the SQL or memory backend)
loads its existing invoices (with their lines and payments), done deliveries (with their
moves) and coupon programs here, keyed by its own external id. Each call checks the whole
batch, then stores — in one unit of work — each record only when no document of its kind
holds its external id yet, and answers for each the library's document and whether the call
created it. Calling again with the same records changes nothing and answers the same
documents, so a host may import before every request, from many processes at once.

A record whose external id is taken by a document with other content is refused
([`ImportConflict`][aftersales.errors.ImportConflict], naming the fields) and the whole batch
with it: an import never changes a stored document (a refund may have used it), and keeping
the first without a word would hide that the host's copy and the ERP's differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

from aftersales.access import Action
from aftersales.errors import ConfigurationError, ImportConflict, InvalidInput, NotFound
from aftersales.formatting import show
from aftersales.models import Actor, CouponProgram, Invoice, Picking
from aftersales.models.imports import (
    MAX_IMPORT_BATCH,
    DeliveryImport,
    Imported,
    InvoiceImport,
    ProgramImport,
)
from aftersales.services._base import ServiceBase
from aftersales.unit_of_work import UnitOfWork

__all__ = ["ImportService"]

T = TypeVar("T")


class ImportService(ServiceBase):
    """Imports a host's existing documents into the reference ERP by external id:
    `app.imports`.

    Every call needs the system actor (`Actor.system()`): an import is the host
    application's own data load, never an agent's action.
    """

    def invoices(
        self, records: Sequence[InvoiceImport], *, actor: Actor
    ) -> tuple[Imported[Invoice], ...]:
        """Store each of `records` as a posted invoice with its lines and payments, unless
        an invoice already holds its external id.

        Each stored invoice is matched with its payments and settled by the ERP: its
        residual and payment state are what the payments leave (RF-4b), so it can be
        refunded like any other (`app.refunds`).

        Args:
            records: At most 1000 `InvoiceImport` records, each external id once.
            actor: The system actor (`Actor.system()`).

        Returns:
            For each record, in order, the invoice stored under its external id and whether
            this call created it.

        Raises:
            AccessDenied: The actor is not the system actor.
            InvalidInput: `records` is not a list of `InvoiceImport` records, holds more
                than 1000 or an external id twice, or names a customer or product the
                application does not know.
            ImportConflict: An external id is held by an invoice with other content.
            ConfigurationError: The invoices are not the reference ERP's to import.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def check(n: int, record: InvoiceImport, known: _Known) -> None:
            known.customer(f"records[{n}].customer_id", record.customer_id)
            for m, line in enumerate(record.lines):
                if line.product_id is not None:
                    known.product(f"records[{n}].lines[{m}].product_id", line.product_id)

        return self._import(records, actor, _INVOICES, check)

    def deliveries(
        self, records: Sequence[DeliveryImport], *, actor: Actor
    ) -> tuple[Imported[Picking], ...]:
        """Store each of `records` as a done delivery with its moves, unless a picking
        already holds its external id; it can then be returned (`app.returns`).

        Args:
            records: At most 1000 `DeliveryImport` records, each external id once.
            actor: The system actor (`Actor.system()`).

        Returns:
            For each record, in order, the delivery stored under its external id and
            whether this call created it.

        Raises:
            AccessDenied: The actor is not the system actor.
            InvalidInput: `records` is not a list of `DeliveryImport` records, holds more
                than 1000 or an external id twice, or names a partner or product the
                application does not know.
            ImportConflict: An external id is held by a delivery with other content.
            ConfigurationError: The deliveries are not the reference ERP's to import.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def check(n: int, record: DeliveryImport, known: _Known) -> None:
            known.customer(f"records[{n}].partner_id", record.partner_id)
            for m, move in enumerate(record.moves):
                known.product(f"records[{n}].moves[{m}].product_id", move.product_id)

        return self._import(records, actor, _DELIVERIES, check)

    def programs(
        self, records: Sequence[ProgramImport], *, actor: Actor
    ) -> tuple[Imported[CouponProgram], ...]:
        """Store each of `records` as a coupon program, unless a program already holds
        its external id; coupons can then be generated from it (`app.coupons`).

        Args:
            records: At most 1000 `ProgramImport` records, each external id once.
            actor: The system actor (`Actor.system()`).

        Returns:
            For each record, in order, the program stored under its external id and
            whether this call created it.

        Raises:
            AccessDenied: The actor is not the system actor.
            InvalidInput: `records` is not a list of `ProgramImport` records, or holds
                more than 1000 or an external id twice.
            ImportConflict: An external id is held by a program with other content.
            ConfigurationError: The programs are not the reference ERP's to import.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        return self._import(records, actor, _PROGRAMS, lambda _n, _record, _known: None)

    # -- one import -------------------------------------------------------------------------

    def _import(
        self,
        records: Sequence[Any],
        actor: Actor,
        kind: _Kind,
        check: Callable[[int, Any, _Known], None],
    ) -> tuple[Imported[Any], ...]:
        def work(uow: UnitOfWork) -> tuple[Imported[Any], ...]:
            self._importer(kind)
            batch = _batch(records, kind.record)
            known = _Known(self)
            for n, record in enumerate(batch):
                check(n, record, known)
            outcomes = self._hooks.imports(kind.plural, batch, uow.now, kind.document)
            assert outcomes is not None  # the importer answers: checked just above
            for record, outcome in zip(batch, outcomes, strict=True):
                differing = () if outcome.created else record.differences(outcome.record)
                if differing:
                    raise ImportConflict(kind.name, record.external_id, differing)
            made = [outcome for outcome in outcomes if outcome.created]
            if made:
                self._audit(
                    uow,
                    actor,
                    f"{kind.plural} imported",
                    documents=[outcome.record.id for outcome in made],
                    detail=f"{len(made)} created, {len(outcomes) - len(made)} already there",
                )
            return tuple(outcomes)

        return self._rt.call(actor, Action.IMPORT, work, writes=True)

    def _importer(self, kind: _Kind) -> None:
        """Refuse when the import port is not owned by the owner of `kind`'s port: the
        documents would go where no call reads them."""
        owners = self._hooks.pm.owners()
        importer, owner = owners.get("imports"), owners.get(kind.port)
        if importer is None:
            raise ConfigurationError(
                f"no plugin imports {kind.plural}: the import port is served by the "
                "reference ERP (MemoryBackend, SqlBackend)"
            )
        if importer != owner:
            raise ConfigurationError(
                f"{kind.plural} are {show(owner)}'s (port {kind.port}) but the import port "
                f"is {show(importer)}'s: imported {kind.plural} would never be read; "
                f"load them into {show(owner)} itself"
            )


@attrs.frozen
class _Kind:
    """What differs between the three imports: the names in messages and the audit (and
    of the hook, `aftersales_imports_<plural>`), the record and document types, and the
    port whose documents they are."""

    name: str
    plural: str
    record: type[Any]
    document: type[Any]
    port: str


_INVOICES = _Kind("invoice", "invoices", InvoiceImport, Invoice, "accounting")
_DELIVERIES = _Kind("delivery", "deliveries", DeliveryImport, Picking, "stock")
_PROGRAMS = _Kind("coupon program", "programs", ProgramImport, CouponProgram, "loyalty")


class _Known:
    """The customers and products of a batch, each looked up once."""

    def __init__(self, service: ImportService) -> None:
        self._hooks = service._hooks
        self._seen: set[tuple[str, str]] = set()

    def customer(self, field: str, partner_id: str) -> None:
        self._look(field, "partner", partner_id, self._hooks.get_partner)

    def product(self, field: str, product_id: str) -> None:
        self._look(field, "product", product_id, self._hooks.get_product)

    def _look(self, field: str, kind: str, key: str, get: Callable[[str], object]) -> None:
        if (kind, key) in self._seen:
            return
        try:
            get(key)
        except NotFound:
            raise InvalidInput(
                field, key, f"no {kind} has this id: it must exist before it is imported"
            ) from None
        self._seen.add((kind, key))


def _batch(records: object, kind: type[T]) -> list[T]:
    """`records` as a list of `kind` records with distinct external ids, or a refusal
    naming the first that is not."""
    wanted = f"a list of {kind.__name__} records"
    if not isinstance(records, list | tuple):
        raise InvalidInput("records", records, f"expected {wanted}")
    if len(records) > MAX_IMPORT_BATCH:
        raise InvalidInput(
            "records",
            f"{len(records)} records",
            f"at most {MAX_IMPORT_BATCH} in one call: import in batches",
        )
    first: dict[str, int] = {}
    for n, record in enumerate(records):
        if not isinstance(record, kind):
            raise InvalidInput(f"records[{n}]", record, f"expected {wanted}")
        external_id: str = getattr(record, "external_id")  # noqa: B009 - every import has one
        if external_id in first:
            raise InvalidInput(
                f"records[{n}].external_id",
                external_id,
                f"is given twice in one batch (also records[{first[external_id]}])",
            )
        first[external_id] = n
    return list(records)
