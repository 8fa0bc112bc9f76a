"""Contract of transactions and idempotency records (RL-1, RL-2)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales.errors import InvalidState
from aftersales.hooks import Hooks
from aftersales.models import (
    AuditEntry,
    CouponRequest,
    CreditMethod,
    DocumentKind,
    DocumentLink,
    IdempotencyRecord,
    ReturnQuantity,
    ReturnRequest,
    Reversal,
    Service,
    TicketMessage,
)
from aftersales.testing.scenario import MANAGER

from ._kit import ContractBase, Kit, run_threads
from .capabilities import Capability

__all__ = ["TransactionContract"]


class _Boom(Exception):
    pass


def _record(
    kit: Kit, key: str, *, actor_id: str = "alice", fingerprint: str = "f" * 64
) -> IdempotencyRecord:
    return IdempotencyRecord(
        actor_id=actor_id,
        key=key,
        operation="refunds.reverse",
        fingerprint=fingerprint,
        created_at=kit.clock.now(),
    )


class TransactionContract(ContractBase):
    """`aftersales_transaction_begin` and `aftersales_store_idempotency_*`."""

    def test_a_committed_unit_is_seen_by_the_next(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        renamed = attrs.evolve(team, name="After-sales")
        kit.write(lambda h: h.save_team(renamed))
        assert kit.read(lambda h: h.get_team(team.id)) == renamed

    def test_a_rolled_back_unit_leaves_the_store_unchanged(self, kit: Kit) -> None:
        """RL-1: every kind of write of a failed unit disappears."""
        ana = kit.world.customer(name="Ana")
        blender = kit.world.product(name="Blender", price=Decimal("49.95"))
        invoice = kit.world.invoice(customer=ana, lines=[(blender, 2)])
        delivery = kit.world.delivery(customer=ana, lines=[(blender, 2)])
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="T", customer=ana)
        program = kit.world.coupon_program(name="Apology")
        now = kit.clock.now()

        def failing() -> None:
            with kit.unit():
                h = kit.hooks
                h.save_team(attrs.evolve(team, services=frozenset({Service.REFUNDS})))
                h.reverse_invoice(  # the ERP's writes: a credit note, matches, a number
                    Reversal(
                        invoice_id=invoice.id,
                        method=CreditMethod.FULL_AND_REINVOICE,
                        reversal_date=kit.clock.today(),
                        reason="rolled back",
                        post=True,
                        at=now,
                        reference="op-rolled-back",
                    )
                )
                h.create_return(  # the ERP's writes: a return, its moves, its name
                    ReturnRequest(
                        delivery_id=delivery.id,
                        quantities=[
                            ReturnQuantity(move_id=delivery.moves[0].id, quantity=Decimal(1))
                        ],
                        at=now,
                        reference="op-rolled-back",
                    )
                )
                h.add_link(
                    DocumentLink(
                        ticket_id=ticket.id,
                        kind=DocumentKind.COUPON,
                        document_id="c",
                        created_at=now,
                    )
                )
                h.post_message(
                    TicketMessage(id="msg-x", ticket_id=ticket.id, at=now, author_id="a", body="x")
                )
                h.audit_append(AuditEntry(id="audit-x", at=now, actor_id="a", action="x"))
                coupon = h.issue_coupon(
                    CouponRequest(
                        program_id=program.id,
                        partner_id=ana.id,
                        code="X",
                        points=Decimal(1),
                        at=now,
                        reference="op-x",
                    )
                )
                h.redeem(coupon.id, Decimal(1), "S0001", now, "op-x")
                h.modules_install("repair")
                h.modules_uninstall("mail")
                h.idempotency_claim(_record(kit, "key-x"))
                raise _Boom

        with kit.unchanged(), pytest.raises(_Boom):
            failing()

    def test_a_unit_cannot_commit_twice(self, kit: Kit) -> None:
        with kit.unit() as uow:
            uow.commit()
            with pytest.raises(InvalidState):
                uow.commit()

    def test_a_claim_returns_the_record_that_holds_the_key(self, kit: Kit) -> None:
        claim = _record(kit, "req-7f3a")
        assert kit.write(lambda h: h.idempotency_claim(claim)) == claim
        done = attrs.evolve(claim, result='{"ok":true}')
        kit.write(lambda h: (h.idempotency_claim(claim), h.idempotency_complete(done))[1])
        other = attrs.evolve(claim, fingerprint="0" * 64)
        with kit.unchanged():
            assert kit.write(lambda h: h.idempotency_claim(other)) == done

    def test_keys_belong_to_their_actor(self, kit: Kit) -> None:
        alice = attrs.evolve(_record(kit, "req-1"), result='"alice"')
        kit.write(lambda h: h.idempotency_complete(alice))
        bob = _record(kit, "req-1", actor_id="bob")
        assert kit.write(lambda h: h.idempotency_claim(bob)) == bob

    def test_purge_deletes_the_records_made_before_a_moment(self, kit: Kit) -> None:
        old = attrs.evolve(_record(kit, "old"), result='"old"')
        kit.write(lambda h: h.idempotency_complete(old))
        kit.clock.advance(days=2)
        new = attrs.evolve(_record(kit, "new"), result='"new"')
        kit.write(lambda h: h.idempotency_complete(new))
        assert kit.write(lambda h: h.idempotency_purge(kit.clock.now() - timedelta(days=1))) == 1
        assert kit.write(lambda h: h.idempotency_claim(_record(kit, "new"))) == new
        fresh = _record(kit, "old")
        assert kit.write(lambda h: h.idempotency_claim(fresh)) == fresh

    def test_the_idempotency_record_commits_with_the_work(self, kit: Kit) -> None:
        """RL-2: the record and the work commit together, or neither does."""
        team = kit.world.team(name="Support")

        def fail() -> None:
            with kit.unit(actor=MANAGER) as uow:
                uow.replay("key-1", "test.rename", {"name": "New"}, str)
                kit.hooks.save_team(attrs.evolve(team, name="New"))
                raise _Boom

        with kit.unchanged(), pytest.raises(_Boom):
            fail()
        with kit.unit(actor=MANAGER) as uow:
            assert uow.replay("key-1", "test.rename", {"name": "New"}, str) is None
            kit.hooks.save_team(attrs.evolve(team, name="New"))
            uow.commit("renamed")
        assert kit.read(lambda h: h.get_team(team.id)).name == "New"
        with kit.unchanged(), kit.unit(actor=MANAGER) as uow:
            assert uow.replay("key-1", "test.rename", {"name": "New"}, str) == "renamed"

    def test_a_repeated_call_replays_and_changes_nothing(self, kit: Kit) -> None:
        """RL-2 through a service: the same key and arguments return the first result."""
        team = kit.world.team(name="Support")
        kit.world.install("account", "helpdesk_account")
        first = kit.app.settings.configure(
            team.id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key="cfg-1"
        )
        with kit.unchanged():
            again = kit.app.settings.configure(
                team.id, enable={Service.REFUNDS}, actor=MANAGER, idempotency_key="cfg-1"
            )
        assert again == first

    def test_uncommitted_work_is_invisible_to_other_units(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)
        team = kit.world.team(name="Support")
        seen: list[str] = []
        reader_done = threading.Event()

        def reader() -> None:
            seen.append(kit.read(lambda h: h.get_team(team.id)).name)
            reader_done.set()

        with kit.unit():
            kit.hooks.save_team(attrs.evolve(team, name="Uncommitted"))
            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            # A backend that serializes units makes the reader wait for the rollback.
            reader_done.wait(0.5)
        thread.join(30)
        assert seen == ["Support"]

    def test_concurrent_claims_of_one_key_give_it_to_one(self, kit: Kit) -> None:
        """The others wait for the first unit and then see its result (RL-2)."""
        kit.require(Capability.THREADS)

        def claim(i: int) -> str | None:
            def work(h: Hooks) -> str | None:
                mine = _record(kit, "same", fingerprint=f"{i:064}")
                held = h.idempotency_claim(mine)
                if held == mine:
                    h.idempotency_complete(attrs.evolve(mine, result=f'"{i}"'))
                    return f'"{i}"'
                return held.result

            return kit.write(work)

        answers = run_threads(4, claim)
        assert len(set(answers)) == 1
        assert answers[0] is not None

    def test_a_claim_holds_a_document_until_the_unit_ends(self, kit: Kit) -> None:
        """`aftersales_store_claim`: units that claim one document run one after another,
        so a cap checked under the claim against data that commits on its own (an ERP
        outside the unit: a dict here) holds — 6 threads, room for 2, exactly 2 get in.
        Between its read and its write each unit writes to the store (a trail message),
        where a store that does not hold the claim lets another unit read in between."""
        kit.require(Capability.THREADS)
        ticket = kit.world.ticket(team=kit.world.team(name="Support"), title="Claimed")
        erp = {"credited": 0}
        cap = 2

        def refund(i: int) -> bool:
            def work(h: Hooks) -> bool:
                assert h.store_claim("invoice", "inv-claimed") is True
                seen = erp["credited"]
                h.post_message(
                    TicketMessage(
                        id=f"msg-claim-{i}",
                        ticket_id=ticket.id,
                        at=kit.clock.now(),
                        author_id="agent",
                        body=f"attempt {i}",
                    )
                )
                if seen >= cap:
                    return False
                erp["credited"] = seen + 1  # the ERP commits on its own
                return True

            return kit.write(work)

        answers = run_threads(6, refund)
        assert sorted(answers) == [False] * 4 + [True] * 2
        assert erp["credited"] == cap
