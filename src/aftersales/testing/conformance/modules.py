"""Contract of modules, subscription and the audit trail."""

from __future__ import annotations

from datetime import timedelta

from aftersales.models import AuditEntry, Subscription, SubscriptionState

from ._kit import ContractBase, Kit

__all__ = ["ModulesContract"]


class ModulesContract(ContractBase):
    """`aftersales_modules_*`, `aftersales_subscription_*` and `aftersales_store_audit_*`."""

    def test_install_and_uninstall_modules(self, kit: Kit) -> None:
        before = kit.read(lambda h: h.modules_installed())
        assert kit.write(lambda h: h.modules_install("repair")) == "repair"
        assert kit.write(lambda h: h.modules_install("repair")) == "repair"
        assert kit.read(lambda h: h.modules_installed()) == before | {"repair"}
        assert kit.write(lambda h: h.modules_uninstall("repair")) == "repair"
        assert kit.write(lambda h: h.modules_uninstall("repair")) is None
        assert kit.read(lambda h: h.modules_installed()) == before

    def test_a_new_store_is_on_the_free_plan(self, kit: Kit) -> None:
        assert kit.read(lambda h: h.subscription_get()) == Subscription()

    def test_subscription_round_trip(self, kit: Kit) -> None:
        now = kit.clock.now()
        trial = Subscription(
            state=SubscriptionState.TRIAL,
            trial_started_at=now,
            trial_ends_at=now + timedelta(days=15),
            changed_at=now,
        )
        kit.write(lambda h: h.subscription_save(trial))
        assert kit.read(lambda h: h.subscription_get()) == trial
        paid = Subscription(state=SubscriptionState.PAID, paid_reference="PO-77", changed_at=now)
        kit.write(lambda h: h.subscription_save(paid))
        assert kit.read(lambda h: h.subscription_get()) == paid

    def test_audit_is_append_only_and_oldest_first(self, kit: Kit) -> None:
        """RL-6: entries come back as written, per ticket or all."""
        now = kit.clock.now()
        entries = [
            AuditEntry(
                id=f"audit-{n}",
                at=now + timedelta(seconds=n),
                actor_id="agent",
                action="credit_note created",
                ticket_id="ticket-1" if n != 1 else None,
                document_ids=(f"cn-{n}", f"inv-{n}"),
                idempotency_key=f"key-{n}" if n else None,
                detail=f"Detail {n}\nmore",
            )
            for n in range(3)
        ]

        def append(h: object) -> None:
            for entry in entries:
                kit.hooks.audit_append(entry)

        kit.write(append)
        assert kit.read(lambda h: list(h.audit_list())) == entries
        assert kit.read(lambda h: list(h.audit_list("ticket-1"))) == [entries[0], entries[2]]
        assert kit.read(lambda h: list(h.audit_list("ticket-none"))) == []
