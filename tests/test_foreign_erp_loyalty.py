"""A loyalty ERP that ids its coupons in its own style: coupons still work.

The loyalty port is served by the reference loyalty built with integer ids (coupons from
``17``, uses from ``900``) over the memory backend. The kit's loyalty contract and coupon
flows run green on it, the coupons and uses carry the ERP's ids and the reference of the call
that wrote them, and a check of the services' source finds none that makes a coupon or a use,
or spends a coupon's points itself.
"""

from __future__ import annotations

import ast
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.erp import CouponStore, ReferenceLoyalty
from aftersales.models import CouponState, DocumentKind
from aftersales.testing.conformance import CouponFlow, LoyaltyContract
from aftersales.testing.scenario import AGENT, build_scenario
from aftersales.unit_of_work import operation_reference

SERVICES = Path(__file__).resolve().parents[1] / "src" / "aftersales" / "services"


def foreign_loyalty(store: CouponStore) -> ReferenceLoyalty:
    """Integer ids: coupons from 17, uses from 900."""
    counters = {"coupon": itertools.count(17), "use": itertools.count(900)}
    return ReferenceLoyalty(store, ids=lambda kind: str(next(counters[kind])))


def foreign_backend() -> MemoryBackend:
    return MemoryBackend(loyalty=foreign_loyalty)


class TestForeignStyleLoyalty(LoyaltyContract, CouponFlow):
    """The kit's loyalty contract and coupon flows, on the foreign-style ERP."""

    @pytest.fixture
    def aftersales_backend(self) -> Any:
        return foreign_backend()


def test_coupons_generated_sent_and_redeemed_carry_the_erps_ids() -> None:
    backend = foreign_backend()
    clock = FrozenClock("2026-11-28T09:00:00+00:00")
    scenario = build_scenario(backend.builder(clock))
    app = AfterSales(backend, clock=clock)
    coupons, ticket, program = app.coupons, scenario.ticket, scenario.program

    coupon = coupons.generate(ticket.id, program.id, actor=AGENT, idempotency_key="cp-1")
    assert coupon.id == "17"
    assert coupons.generate(ticket.id, program.id, actor=AGENT, idempotency_key="cp-1") == coupon
    second = coupons.generate(ticket.id, program.id, actor=AGENT)
    assert second.id == "18"
    issued = app.runtime.read(lambda _uow: app.hooks.get_coupon("17"))
    assert issued.operation_ref == operation_reference(AGENT.user_id, "cp-1")

    sent = coupons.send(ticket.id, coupon.id, actor=AGENT)
    assert (sent.coupon_id, sent.code) == ("17", coupon.code)

    done = coupons.redeem(coupon.code, order_reference="S00042", actor=AGENT, idempotency_key="r")
    reference = operation_reference(AGENT.user_id, "r")
    assert (done.use.id, done.use.coupon_id, done.use.operation_ref) == ("900", "17", reference)
    assert (done.coupon.id, done.coupon.state, done.program_uses) == ("17", CouponState.USED, 1)
    assert done.coupon.points == program.reward.required_points - done.use.points == Decimal(0)
    found = app.runtime.read(lambda _uow: app.hooks.find_coupons_by_reference(reference))
    assert [c.id for c in found] == ["17"]

    assert [c.id for c in coupons.coupons(ticket.id, actor=AGENT)] == ["17", "18"]
    view = app.tickets.view(ticket.id, actor=AGENT)
    assert {d.document_id for d in view.documents if d.kind is DocumentKind.COUPON} == {"17", "18"}


# -- the services' source --------------------------------------------------------------------

#: The kinds of ids the ERP makes for the loyalty port.
_ERP_KINDS = {"coupon", "use"}


def _offences(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        where = f"{path.name}:{node.lineno}"
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        first = node.args[0] if node.args else None
        if (
            name == "new_id"
            and isinstance(first, ast.Constant)
            and first.value in {"coupon", "use"}
        ):
            found.append(f"{where}: new_id({first.value!r}) makes an ERP id")
        if name in {"create_coupon", "save_coupon", "add_use", "Coupon", "CouponUse"}:
            found.append(f"{where}: {name}() writes a record the ERP makes")
        if name == "evolve" and any(k.arg == "points" for k in node.keywords):
            found.append(f"{where}: spends a coupon's points, which the ERP does")
    return found


def test_no_service_makes_a_coupon_or_a_use() -> None:
    modules = sorted(SERVICES.glob("*.py"))
    assert {"coupons.py", "discounts.py"} <= {p.name for p in modules}
    assert [offence for path in modules for offence in _offences(path)] == []


def test_the_source_check_catches_what_coupons_did_before(tmp_path: Path) -> None:
    old = tmp_path / "coupons.py"
    old.write_text(
        "def f(hooks, coupon, cost):\n"
        "    hooks.create_coupon(Coupon(id=new_id('coupon')))\n"
        "    hooks.add_use(CouponUse(id=new_id('use')))\n"
        "    hooks.save_coupon(evolve(coupon, points=coupon.points - cost))\n",
        encoding="utf-8",
    )
    assert len(_offences(old)) == 8
