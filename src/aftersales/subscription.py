"""The One-App-Free trial and the database lock (ST-7 … ST-11).

States and moves:

```text
FREE ──(a second application is installed)──▶ TRIAL ──(now >= trial_ends_at)──▶ EXPIRED
  │                                             │                                 │
  └──────────────── register_paid ──────────────┴──────────▶ PAID ◀───────────────┘
```

A trial starts at most once and never moves. While `EXPIRED` (or while a trial has run
out and nobody has looked yet) every service call raises
[`DatabaseLocked`][aftersales.errors.DatabaseLocked], except
[`SubscriptionService.status()`][SubscriptionService.status] and
[`SubscriptionService.register_paid()`][SubscriptionService.register_paid].
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from aftersales.access import Action
from aftersales.arguments import a_text
from aftersales.ids import new_id
from aftersales.models import (
    Actor,
    AuditEntry,
    Subscription,
    SubscriptionChanged,
    SubscriptionState,
)
from aftersales.runtime import Runtime
from aftersales.unit_of_work import UnitOfWork

__all__ = ["SubscriptionService", "Trial"]


class SubscriptionService:
    """Reads and changes the database's subscription: `app.subscription`."""

    def __init__(self, runtime: Runtime, trial: Trial) -> None:
        self._rt = runtime
        self._hooks = runtime.hooks
        self._trial = trial

    # -- public calls -----------------------------------------------------------------------

    def status(self, *, actor: Actor) -> Subscription:
        """The subscription as of now; any actor, allowed even while locked (ST-9).

        The first read after a trial ran out records the expiry (ST-11), so the state
        returned is `EXPIRED` from the moment `now >= trial_ends_at`.

        Args:
            actor: Any user.

        Returns:
            The subscription: state, trial dates, reference.

        Raises:
            InvalidInput: An argument has the wrong type or shape (RL-4).
        """

        def read(_uow: UnitOfWork) -> Subscription:
            return self._hooks.subscription_get()

        current = self._rt.call(actor, Action.SUBSCRIPTION, read, writes=False, while_locked=True)
        if current.state is SubscriptionState.TRIAL and current.is_expired_at(self._rt.clock.now()):
            self._trial.observe_expiry()
            current = self._rt.call(
                actor, Action.SUBSCRIPTION, read, writes=False, while_locked=True
            )
        return current

    def register_paid(
        self, reference: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Subscription:
        """Register a paid subscription: `PAID` from any state, unlocking the database.

        Only the system actor may call it (AC-2); it is the one change allowed while the
        database is locked (ST-9). A trial that has run out is first recorded as expired, so
        the audit trail shows both moves (ST-11). Registering the reference already in force
        changes nothing.

        Args:
            reference: The paid subscription's reference.
            actor: The system actor (`Actor.system()`).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The subscription, `PAID`.

        Raises:
            AccessDenied: The actor is not the system actor.
            InvalidInput: A blank or malformed reference.
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> Subscription:
            a_text(reference, "reference", max_length=128)
            args = {"reference": reference}
            done = uow.replay(idempotency_key, "subscription.register_paid", args, Subscription)
            if done is not None:
                return done
            current = self._trial.expire_if_due(uow, self._hooks.subscription_get())
            if current.state is SubscriptionState.PAID and current.paid_reference == reference:
                return current
            paid = attrs.evolve(
                current, state=SubscriptionState.PAID, paid_reference=reference, changed_at=uow.now
            )
            return self._trial.change(
                uow, current, paid, actor, f"paid subscription {reference}", idempotency_key
            )

        return self._rt.call(
            actor, Action.REGISTER_SUBSCRIPTION, work, writes=True, while_locked=True
        )


class Trial:
    """The trial's rules, shared by
    [`SubscriptionService`][aftersales.subscription.SubscriptionService] and the settings service;
    not a call of users (it checks no rights)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._hooks = runtime.hooks
        runtime.on_locked = self.observe_expiry

    def observe_expiry(self) -> None:
        """Record `EXPIRED` once a trial has run out (idempotent).

        The runtime calls it whenever a call was refused with `DatabaseLocked`; the refused
        call itself changes nothing, the expiry is recorded in a unit of work of its own.
        """

        def work(uow: UnitOfWork) -> None:
            self.expire_if_due(uow, self._hooks.subscription_get())

        self._rt.write(work)

    def would_start(
        self, current: Subscription, installed: Iterable[str], new: Iterable[str]
    ) -> bool:
        """True when installing `new` on top of `installed` starts a trial (ST-8).

        Only a `FREE` database starts one, only when `new` holds an application, and
        only when the applications installed afterwards are more than the one free app.
        """
        if current.state is not SubscriptionState.FREE:
            return False
        catalogue = self._rt.catalogue
        added = catalogue.counted_applications(new)
        after = catalogue.counted_applications([*installed, *new])
        return bool(added) and len(after) > 1

    def after_install(
        self,
        uow: UnitOfWork,
        installed: Iterable[str],
        new: Iterable[str],
        actor: Actor,
        key: str | None = None,
    ) -> Subscription:
        """Start a trial when installing `new` exceeds the one free app (ST-8).

        `installed` are the modules installed before `new`. A running trial is neither
        extended nor restarted; on `PAID` nothing starts. `key` is the idempotency key
        of the call that installs, recorded on the audit entry (RL-6).
        """
        current = self._hooks.subscription_get()
        before, added = tuple(installed), tuple(new)
        if not self.would_start(current, before, added):
            return current
        apps = sorted(self._rt.catalogue.counted_applications([*before, *added]))
        ends = uow.now + self._rt.config.trial_length
        trial = attrs.evolve(
            current,
            state=SubscriptionState.TRIAL,
            trial_started_at=uow.now,
            trial_ends_at=ends,
            changed_at=uow.now,
        )
        return self.change(
            uow,
            current,
            trial,
            actor,
            f"trial started: {len(apps)} applications installed ({', '.join(apps)}); "
            f"ends {ends.isoformat()}",
            key,
        )

    def expire_if_due(self, uow: UnitOfWork, current: Subscription) -> Subscription:
        if current.state is SubscriptionState.TRIAL and current.is_expired_at(uow.now):
            expired = attrs.evolve(current, state=SubscriptionState.EXPIRED, changed_at=uow.now)
            ends = current.trial_ends_at.isoformat() if current.trial_ends_at else "?"
            return self.change(
                uow,
                current,
                expired,
                Actor.system(),
                f"trial ended {ends} without a paid subscription; database locked",
            )
        return current

    def change(
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
                detail=f"{before.state.value} -> {after.state.value}: {detail}",
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
