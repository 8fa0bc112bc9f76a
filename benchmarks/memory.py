"""Memory per invoice: what the memory backend holds for 100,000 invoices.

One big customer's history of two-line posted invoices is stored through the builder's
``put_many`` and measured with ``tracemalloc``: the bytes allocated and still alive after
the load (records, their lines, the store's tables and indexes), divided by the number of
invoices. Each invoice is built as an import would build it: its own lines, its own
quantities parsed from text, its own id, number and dates (nothing shared but the product's
price and taxes). Then every invoice is read as the services read them — each page of
refundable invoices in turn, with a product filter, which computes their totals — and
measured again: derived amounts are computed on reading and not kept, so the figure does
not grow. Target: ≤ 1 KB (1,024 bytes) per invoice after both.

Run: ``python -m benchmarks.memory [--invoices 100000]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aftersales.backends.memory import MemoryBackend
from aftersales.clock import FrozenClock
from aftersales.models import Invoice, InvoiceKind, InvoiceLine, InvoiceState
from aftersales.models.queries import InvoiceQuery, invoice_key

__all__ = ["main", "measure_invoices"]

TARGET = 1024
START = "2026-11-28T09:00:00+00:00"


def _invoices(customer_id: str, products: Sequence[Any], size: int) -> Iterator[Invoice]:
    start = FrozenClock(START).now() - timedelta(days=400)
    for k in range(size):
        at = start + timedelta(minutes=k)
        yield Invoice(
            id=f"big-inv{k:06d}",
            kind=InvoiceKind.INVOICE,
            customer_id=customer_id,
            currency="EUR",
            lines=tuple(
                InvoiceLine(
                    description=product.name,
                    quantity=Decimal(str(1 + (k + n) % 3)),
                    unit_price=product.price,
                    taxes=product.taxes,
                    product_id=product.id,
                )
                for n, product in enumerate(products)
            ),
            state=InvoiceState.POSTED,
            created_at=at,
            number=f"INV/BIG/{k:06d}",
            invoice_date=at.date(),
        )


def _alive() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure_invoices(size: int) -> dict[str, Any]:
    """Bytes per invoice held by a memory backend storing ``size`` invoices of one
    customer, after the load and after reading them all."""
    backend = MemoryBackend()
    world = backend.builder(FrozenClock(START))
    customer = world.customer(name="Big Customer")
    products = [
        world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",)),
        world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",)),
    ]
    tracemalloc.start()
    try:
        before = _alive()
        world.put_many(_invoices(customer.id, products, size))
        loaded = _alive() - before
        query = InvoiceQuery(
            customer_ids={customer.id},
            kind=InvoiceKind.INVOICE,
            state=InvoiceState.POSTED,
            product_id=products[0].id,
            limit=500,
        )
        read = 0
        tx = backend.store.begin()
        try:
            while page := backend.ledger.find_invoices(query):
                read += len(page)
                sum((invoice.total for invoice in page), start=page[0].total * 0)
                query = InvoiceQuery(
                    customer_ids=query.customer_ids,
                    kind=query.kind,
                    state=query.state,
                    product_id=query.product_id,
                    after=invoice_key(page[-1]),
                    limit=query.limit,
                )
        finally:
            tx.commit()
        after_reads = _alive() - before
    finally:
        tracemalloc.stop()
    per_loaded = loaded / size
    per_read = after_reads / size
    return {
        "invoices": size,
        "lines_per_invoice": len(products),
        "read": read,
        "bytes_per_invoice_loaded": round(per_loaded),
        "bytes_per_invoice_after_reads": round(per_read),
        "target": TARGET,
        "held": max(per_loaded, per_read) <= TARGET,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--invoices", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure_invoices(args.invoices), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
