"""The One-App-Free trial and the database lock (ST-7 … ST-11)."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aftersales.access import Action
from aftersales.errors import InvalidInput
from aftersales.ids import new_id
from aftersales.models import (
    Actor,
    AuditEntry,
    Subscription,
    SubscriptionChanged,
    SubscriptionState,
)
from aftersales.models._fields import check_text
from aftersales.modules import BASE_MODULES
from aftersales.runtime import Runtime
from aftersales.unit_of_work import UnitOfWork

__all__ = ["SubscriptionService"]


class SubscriptionService:
    """Reads and changes the database's subscription: ``app.subscription``."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._hooks = runtime.hooks
        runtime.on_locked = self.observe_expiry

    def status(self, *, actor: Actor) -> Subscription:
        """The subscription as of now; allowed even while the database is locked (ST-9).

        The first read after a trial ran out records the expiry (ST-11).
        """
        if not isinstance(actor, Actor):
            raise InvalidInput("actor", actor, "every call needs an explicit Actor")
        self.observe_expiry()
        return self._rt.read(lambda _uow: self._hooks.subscription_get())

    def register_paid(
        self, reference: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Subscription:
        """Register a paid subscription; unlocks the database from any state (ST-9)."""
        self._rt.guard.rights(actor, Action.REGISTER_SUBSCRIPTION)
        check_text(reference, "reference", max_length=128)
        args = {"reference": reference}

        def work(uow: UnitOfWork) -> Subscription:
            done = uow.replay(idempotency_key, "subscription.register_paid", args, Subscription)
            if done is not None:
                return done
            current = self._hooks.subscription_get()
            paid = attrs.evolve(
                current, state=SubscriptionState.PAID, paid_reference=reference, changed_at=uow.now
            )
            return self._change(
                uow, current, paid, actor, f"paid subscription {reference}", idempotency_key
            )

        return self._rt.write(work)

    def observe_expiry(self) -> None:
        """Record ``EXPIRED`` once a trial has run out (idempotent; called by the guard)."""
        now = self._rt.clock.now()

        def work(uow: UnitOfWork) -> None:
            current = self._hooks.subscription_get()
            if current.state is SubscriptionState.TRIAL and current.is_expired_at(now):
                expired = attrs.evolve(current, state=SubscriptionState.EXPIRED, changed_at=uow.now)
                self._change(
                    uow, current, expired, Actor.system(), "trial expired; database locked"
                )

        self._rt.write(work)

    def after_install(
        self, uow: UnitOfWork, installed: Iterable[str], actor: Actor
    ) -> Subscription:
        """Start a trial when the installed applications exceed the one free app (ST-8)."""
        current = self._hooks.subscription_get()
        if current.state is not SubscriptionState.FREE:
            return current
        apps = [
            m
            for m in self._rt.catalogue.applications(
                n for n in installed if n in self._rt.catalogue
            )
            if m not in BASE_MODULES
        ]
        if len(apps) <= 1:
            return current
        ends = uow.now + self._rt.config.trial_length
        trial = attrs.evolve(
            current,
            state=SubscriptionState.TRIAL,
            trial_started_at=uow.now,
            trial_ends_at=ends,
            changed_at=uow.now,
        )
        return self._change(
            uow,
            current,
            trial,
            actor,
            f"trial started: {len(apps)} applications installed ({', '.join(sorted(apps))}); "
            f"ends {ends.isoformat()}",
        )

    def _change(
        self,
        uow: UnitOfWork,
        before: Subscription,
        after: Subscription,
        actor: Actor,
        detail: str,
        key: str | None = None,
    ) -> Subscription:
        saved = self._hooks.subscription_save(after)
        self._hooks.audit_append(
            AuditEntry(
                id=new_id("audit"),
                at=uow.now,
                actor_id=actor.user_id,
                action=f"subscription {after.state.value}",
                idempotency_key=key,
                detail=detail,
            )
        )
        uow.record(
            SubscriptionChanged(
                at=uow.now,
                actor_id=actor.user_id,
                previous=before.state,
                state=after.state,
            )
        )
        return saved
