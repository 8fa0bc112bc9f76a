"""The refund flows over Tryton: RPCs per flow, and latency against the proteus floor.

Usage (from the repository root; needs the plugin's ``test`` extra, as the dev extra has)::

    python -m benchmarks.tryton                 # a few minutes
    python -m benchmarks.tryton --smoke         # two iterations (the test suite runs it)
    python -m benchmarks.tryton --json /tmp/tryton.json

What runs: a new Tryton database (`aftersales_tryton.local`: SQLite, the modules, a
company with its accounting) served by a real ``trytond`` on 127.0.0.1 (started as the
plugin's tests start it), and one proteus connection to it over XML-RPC in a session. The
after-sales store is an embedded SQLite file. For each flow the Tryton backend serves:

* **backend**: the public call (``app.refunds.reverse`` / ``confirm`` / ``cancel``), the
  SQL store and Tryton as the accounting port;
* **floor**: the same writes made to Tryton directly with proteus, on invoices of its own
  (the ``account.invoice.credit`` wizard, the reference and lines written, the ``post`` /
  ``cancel`` buttons, Tryton's copy), none of the library's reads and checks.

Both alternate in blocks (`benchmarks.harness.measure`), so the ratio backend ÷ floor is
taken under the same conditions; the target is ≤ `TARGET`. **RPCs** are counted at the
XML-RPC transport: every HTTP request proteus sends (one per model method call, wizard
step or button), per call of the flow (the median over every call made).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from aftersales import AfterSales, CreditMethod
from aftersales.clock import SystemClock
from aftersales.models import Invoice, Partner, Product, Service
from aftersales.testing.scenario import AGENT

from .harness import Measurement, measure

__all__ = ["FLOWS", "SMOKE", "TARGET", "Counter", "Settings", "main", "run"]

ROOT = Path(__file__).resolve().parents[1]
#: backend ÷ floor, at most.
TARGET = 1.5
FLOWS = ("partial", "confirm", "cancel", "full", "full_and_reinvoice")


@attrs.frozen(kw_only=True)
class Settings:
    warmup: int
    iterations: int
    block: int


FULL = Settings(warmup=2, iterations=10, block=5)
SMOKE = Settings(warmup=0, iterations=2, block=1)


class Counter:
    """Counts the HTTP requests (XML-RPC calls) a proteus configuration sends."""

    def __init__(self, config: Any) -> None:
        transport = config.server._ServerProxy__transport
        sent = transport.request
        self.calls = 0

        def request(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return sent(*args, **kwargs)

        transport.request = request


@attrs.define
class _Desk:
    app: AfterSales
    world: Any
    config: Any
    counter: Counter
    ticket_id: str
    customer: Partner
    blender: Product
    kettle: Product

    def invoice(self) -> Invoice:
        made: Invoice = self.world.invoice(
            customer=self.customer, lines=[(self.blender, 2), (self.kettle, 1)]
        )
        return made


# -- the floor: the same Tryton writes, with proteus alone -----------------------------------


def _credit(config: Any, invoice_id: str, *, refund: bool, ref: str) -> Any:
    from proteus import Model, Wizard

    invoice = Model.get("account.invoice", config=config)(int(invoice_id))
    wizard = Wizard("account.invoice.credit", [invoice], config=config)
    wizard.form.with_refund = refund
    wizard.execute("credit")
    ((note,),) = wizard.actions
    note.reference = ref
    note.description = f"Reversal of: {invoice_id}, benchmark"
    note.comment = "after-sales method: benchmark"
    note.save()
    return note


def _keep_first_line(note: Any) -> None:
    lines = [line for line in note.lines if line.type == "line"]
    for line in lines[1:]:
        note.lines.remove(line)
    lines[0].quantity = -1
    note.save()


def _floor_partial(config: Any, invoice_id: str, ref: str) -> Any:
    note = _credit(config, invoice_id, refund=False, ref=ref)
    _keep_first_line(note)
    return note


def _floor_button(config: Any, note_id: int, ref: str, button: str) -> None:
    from proteus import Model

    note = Model.get("account.invoice", config=config)(note_id)
    note.reference = ref
    note.save()
    note.click(button)


def _floor_reinvoice(config: Any, invoice_id: str, ref: str) -> None:
    from proteus import Model

    _credit(config, invoice_id, refund=True, ref=ref)
    invoice = Model.get("account.invoice", config=config)(int(invoice_id))
    invoice.duplicate(default={"reference": ref, "description": f"Replaces {invoice_id}"})


# -- the cases and steps --------------------------------------------------------------------


def _steps(desk: _Desk, flow: str, count: int) -> dict[str, Callable[[int], object]]:
    """The backend's and the floor's step of `flow`, each with `count` cases of its own."""
    refunds, ticket, config = desk.app.refunds, desk.ticket_id, desk.config
    mine = [desk.invoice() for _ in range(count)]
    theirs = [desk.invoice() for _ in range(count)]
    one = [attrs.evolve(inv.lines[0], quantity=Decimal(1)) for inv in mine]
    ref = "benchmark-{}".format
    if flow in ("confirm", "cancel"):
        drafts = [
            refunds.reverse(ticket, inv.id, lines=[line], actor=AGENT).credit_note.id
            for inv, line in zip(mine, one, strict=True)
        ]
        notes = [int(_floor_partial(config, inv.id, ref(inv.id)).id) for inv in theirs]
        call = refunds.confirm if flow == "confirm" else refunds.cancel
        button = "post" if flow == "confirm" else "cancel"
        return {
            "backend": lambda i: call(drafts[i], actor=AGENT),
            "floor": lambda i: _floor_button(config, notes[i], ref(notes[i]), button),
        }
    if flow == "partial":
        return {
            "backend": lambda i: refunds.reverse(ticket, mine[i].id, lines=[one[i]], actor=AGENT),
            "floor": lambda i: _floor_partial(config, theirs[i].id, ref(theirs[i].id)),
        }
    method = CreditMethod(flow)
    floor = _floor_reinvoice if method is CreditMethod.FULL_AND_REINVOICE else _full
    return {
        "backend": lambda i: refunds.reverse(ticket, mine[i].id, method=method, actor=AGENT),
        "floor": lambda i: floor(config, theirs[i].id, ref(theirs[i].id)),
    }


def _full(config: Any, invoice_id: str, ref: str) -> None:
    _credit(config, invoice_id, refund=True, ref=ref)


def _counted(
    counter: Counter, step: Callable[[int], object], out: list[int]
) -> Callable[[int], object]:
    def counted(index: int) -> object:
        before = counter.calls
        done = step(index)
        out.append(counter.calls - before)
        return done

    return counted


@contextmanager
def _desk(folder: Path) -> Iterator[_Desk]:
    """A new Tryton database served by trytond, the SQL store, a ticket and its customer."""
    sys.path.insert(0, str(ROOT / "plugins" / "tryton" / "tests"))
    from aftersales.backends.sql import SqlBackend
    from aftersales_tryton.backend import TrytonBackend
    from aftersales_tryton.builder import TrytonBuilder
    from aftersales_tryton.connection import close, over_rpc
    from aftersales_tryton.local import DATABASE, local_database
    from tryton_server import ADMIN, PASSWORD, Database, TrytonServer

    local = local_database(folder / "tryton")
    database = Database(DATABASE, folder / "tryton", local.config_file, local.accounting)
    with TrytonServer(database) as server:
        config = over_rpc(server.url, user=ADMIN, password=PASSWORD)
        store = SqlBackend(folder / "aftersales.db")
        try:
            erp = TrytonBackend(config=config)
            app = AfterSales(store, clock=SystemClock(), plugins=[erp], services={Service.REFUNDS})
            world = TrytonBuilder(erp, local.accounting, store.builder(app.clock))
            world.install("base", "mail", "helpdesk", "account", "helpdesk_account")
            customer = world.customer(name="Ana Pérez", email="ana@perez.example")
            blender = world.product(name="Blender", price=Decimal("49.95"), taxes=("21%",))
            kettle = world.product(name="Kettle", price=Decimal("20.00"), taxes=("21%",))
            team = world.team(name="Support", services={Service.REFUNDS})
            ticket = world.ticket(team=team, title="Blender broken", customer=customer)
            counter = Counter(config)
            yield _Desk(app, world, config, counter, ticket.id, customer, blender, kettle)
        finally:
            store.close()
            close(config)


def run(settings: Settings, flows: Sequence[str] = FLOWS) -> dict[str, Any]:
    """Measure `flows`; the report (per flow: RPCs, latencies in ms, the ratio)."""
    report: dict[str, Any] = {"target": TARGET, "settings": attrs.asdict(settings), "flows": {}}
    with (
        tempfile.TemporaryDirectory(prefix="aftersales-bench-tryton-") as folder,
        _desk(Path(folder)) as desk,
    ):
        for flow in flows:
            count = settings.warmup + settings.iterations
            rpcs: dict[str, list[int]] = {"backend": [], "floor": []}
            steps = {
                name: _counted(desk.counter, step, rpcs[name])
                for name, step in _steps(desk, flow, count).items()
            }
            measured: Measurement = measure(
                steps, warmup=settings.warmup, iterations=settings.iterations, block=settings.block
            )
            report["flows"][flow] = {
                "rpcs_backend": statistics.median(rpcs["backend"]),
                "rpcs_floor": statistics.median(rpcs["floor"]),
                "backend_ms": measured["backend"].median_us / 1000,
                "floor_ms": measured["floor"].median_us / 1000,
                "backend_p99_ms": measured["backend"].p99_us / 1000,
                "ratio": measured.ratio("backend", "floor"),
            }
    return report


def render(report: dict[str, Any]) -> str:
    """The report as a table."""
    from aftersales.demo import render_table

    rows = [
        (
            flow,
            f"{r['rpcs_backend']:g}",
            f"{r['rpcs_floor']:g}",
            f"{r['backend_ms']:.1f}",
            f"{r['floor_ms']:.1f}",
            f"{r['ratio']:.2f}x",
            "yes" if r["ratio"] <= report["target"] else "NO",
        )
        for flow, r in report["flows"].items()
    ]
    headers = ["flow", "RPCs", "floor RPCs", "backend ms", "floor ms", "ratio", "≤ target"]
    return render_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tryton", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="two iterations, no warm-up")
    parser.add_argument("--iterations", type=int, help="timed calls per flow and variant")
    parser.add_argument("--flow", action="append", choices=FLOWS, help="only these flows")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    if args.iterations:
        settings = attrs.evolve(settings, iterations=args.iterations)
    report = run(settings, args.flow or FLOWS)
    print(f"Tryton over XML-RPC (trytond on 127.0.0.1), target backend ÷ floor ≤ {TARGET}x")
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
