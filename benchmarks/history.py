"""History cost: the first page of refundable invoices, the first page of
returnable deliveries and the ticket view for a customer with 10 invoices and done
deliveries and with 10,000 of each, in one run, on each backend; the ratio must stay under 2.

The bulk invoices and deliveries are the measured customer's OWN, of the measured ticket's
OWN product and sale order (the
scaling part of ``benchmarks.run`` loads other customers' invoices of another product, which
the reads never meet). Run: ``python -m benchmarks.history [--backend NAME ...]
[--sizes 10 10000] [--iterations 200] [--page-size 10]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aftersales.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceState,
    MoveState,
    Picking,
    PickingKind,
    PickingState,
    StockMove,
)

from .backends import BACKENDS, Session, Unavailable
from .flows import World, documented_ticket, make_world
from .harness import measure

__all__ = ["history_load", "main"]

TARGET = 2.0


def history_load(world: World, size: int, *, batch: int = 5_000) -> None:
    """Store ``size`` posted invoices and ``size`` done deliveries of the scenario's
    customer, each with a line (a move) of the documented ticket's product (the blender) and
    of its sale order, older than the scenario's own documents."""
    sc = world.scenario
    start = world.app.clock.now() - timedelta(days=400)
    line = InvoiceLine(
        description=sc.blender.name,
        quantity=Decimal(1),
        unit_price=sc.blender.price,
        taxes=sc.blender.taxes,
        product_id=sc.blender.id,
    )

    def records() -> Iterator[Invoice]:
        for k in range(size):
            at = start + timedelta(minutes=k)
            draft = Invoice(
                id=f"hist-inv{k:06d}",
                kind=InvoiceKind.INVOICE,
                customer_id=sc.customer.id,
                currency=sc.blender.price.currency,
                lines=(line,),
                state=InvoiceState.POSTED,
                created_at=at,
                number=f"INV/H/{k:06d}",
                invoice_date=at.date(),
                sale_order_id=sc.order.id,  # the documented ticket's order: the reads meet them
            )
            yield Invoice(**{**_fields(draft), "residual": draft.total})

    def deliveries() -> Iterator[Picking]:
        for k in range(size):
            at = start + timedelta(minutes=k)
            yield Picking(
                id=f"hist-pick{k:06d}",
                kind=PickingKind.DELIVERY,
                reference=f"WH/OUT/H{k:06d}",
                partner_id=sc.customer.id,
                source_location="WH/Stock",
                destination_location="Partners/Customers",
                state=PickingState.DONE,
                moves=(
                    StockMove(
                        id=f"hist-move{k:06d}",
                        product_id=sc.blender.id,
                        quantity=Decimal(1),
                        state=MoveState.DONE,
                    ),
                ),
                created_at=at,
                done_at=at,
                origin=sc.order.name,
                sale_order_id=sc.order.id,
            )

    stream: Iterator[Invoice | Picking] = itertools.chain(records(), deliveries())
    while chunk := list(itertools.islice(stream, batch)):
        with world.app.runtime.unit(writes=True) as uow:
            world.builder.put_many(chunk)
            uow.commit()


def _fields(invoice: Invoice) -> dict[str, Any]:
    import attrs

    return attrs.asdict(invoice, recurse=False)


def run(
    names: Sequence[str], sizes: Sequence[int], iterations: int, page_size: int = 10
) -> dict[str, Any]:
    session = Session()
    results: dict[str, Any] = {}
    try:
        for name in names:
            entry = BACKENDS[name]
            try:
                worlds = {}
                for size in sizes:
                    world = make_world(entry.create(session))
                    history_load(world, size)
                    world.documented = documented_ticket(world)
                    worlds[size] = world
            except Unavailable as exc:
                results[name] = {"skipped": str(exc)}
                continue
            variants = {}
            for size, world in worlds.items():
                ticket = world.documented
                assert ticket is not None

                def page(_i: int, w: World = world, t: str = ticket) -> object:
                    return w.app.refunds.invoices_to_refund_page(
                        t, page_size=page_size, actor=w.agent
                    )

                def view(_i: int, w: World = world, t: str = ticket) -> object:
                    return w.app.tickets.view(t, actor=w.agent)

                def deliveries(_i: int, w: World = world, t: str = ticket) -> object:
                    return w.app.returns.deliveries_page(t, page_size=page_size, actor=w.agent)

                variants[f"page@{size}"] = page
                variants[f"deliveries@{size}"] = deliveries
                variants[f"view@{size}"] = view
            shown = worlds[sizes[0]].app.refunds.invoices_to_refund_page(
                worlds[sizes[0]].documented or "", page_size=page_size, actor=worlds[sizes[0]].agent
            )
            count = max(int(iterations * entry.scale), 20) if entry.scale < 1 else iterations
            m = measure(variants, warmup=5, iterations=count)
            low, high = sizes[0], sizes[-1]
            out: dict[str, Any] = {"iterations": count, "page_items_small": len(shown.items)}
            for flow in ("page", "deliveries", "view"):
                a = m.stats[f"{flow}@{low}"].median_us
                b = m.stats[f"{flow}@{high}"].median_us
                out[flow] = {
                    f"median_us@{low}": round(a, 1),
                    f"median_us@{high}": round(b, 1),
                    "ratio": round(b / a, 2),
                    "held": b / a < TARGET,
                }
            results[name] = out
    finally:
        session.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history", description=__doc__)
    parser.add_argument("--backend", action="append", choices=sorted(BACKENDS))
    parser.add_argument("--sizes", type=int, nargs=2, default=[10, 10_000])
    parser.add_argument("--iterations", type=int, default=400)
    # 10: the smaller history (10 invoices and the scenario's own) still fills the page, so
    # both sides load the same number of invoices and the ratio is the history's cost alone
    parser.add_argument("--page-size", type=int, default=10)
    args = parser.parse_args(argv)
    names = args.backend or ["memory", "sqlite", "postgresql"]
    print(json.dumps(run(names, args.sizes, args.iterations, args.page_size), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
