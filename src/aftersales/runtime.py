"""What every service shares: hooks, guard, clock, settings, and the unit-of-work factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import attrs

from aftersales import delivery
from aftersales.access import Action, Guard
from aftersales.clock import Clock
from aftersales.errors import (
    BackendUnavailable,
    ConflictError,
    DatabaseLocked,
    InvalidInput,
)
from aftersales.hooks import Hooks
from aftersales.models import (
    Actor,
    DocumentChanged,
    DocumentCreated,
    EmailDelivery,
    Event,
    OutgoingEmail,
    ServicesConfigured,
    SubscriptionChanged,
)
from aftersales.models.loyalty import CouponCodeGenerator, default_coupon_code
from aftersales.modules import ModuleCatalogue
from aftersales.unit_of_work import UnitOfWork

__all__ = ["Config", "Runtime"]

log = logging.getLogger("aftersales")
R = TypeVar("R")

_EVENT_HOOKS: dict[type[Event], str] = {
    DocumentCreated: "aftersales_on_document_created",
    DocumentChanged: "aftersales_on_document_changed",
    ServicesConfigured: "aftersales_on_services_configured",
    SubscriptionChanged: "aftersales_on_subscription_changed",
    EmailDelivery: "aftersales_on_email_delivery",
}


def _whole_number(minimum: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidInput(
                attribute.name, value, f"expected a whole number of at least {minimum}"
            )

    return check


def _duration(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidInput(attribute.name, value, "expected a timedelta above 0")


@attrs.frozen(kw_only=True)
class Config:
    """Library settings.

    * `trial_days` is the length of a trial (ST-10, default 15);
    * `retries` bounds how often a call is retried after a transient backend conflict;
    * `coupon_code_generator` makes new coupon codes (CP-5; default `044` + 11 random
      characters from `secrets`) and `coupon_code_attempts` bounds how many codes
      one generation draws when codes collide;
    * `mail_attempts` bounds how often one email is handed to the mail transport
      (default 10): the last failed attempt sets it aside as DEAD (see
      `aftersales.delivery`); `mail_lease` is how long a retry run's claim on an
      email keeps other runs off it (default 10 minutes: longer than a delivery takes,
      see the SMTP transport's timeouts).

    Examples:
        >>> Config(trial_days=30).trial_length.days
        30
    """

    trial_days: int = attrs.field(default=15, validator=_whole_number(1))
    retries: int = attrs.field(default=3, validator=_whole_number(0))
    coupon_code_generator: CouponCodeGenerator = default_coupon_code
    coupon_code_attempts: int = attrs.field(default=10, validator=_whole_number(1))
    mail_attempts: int = attrs.field(default=10, validator=_whole_number(1))
    mail_lease: timedelta = attrs.field(default=timedelta(minutes=10), validator=_duration)

    @property
    def trial_length(self) -> timedelta:
        return timedelta(days=self.trial_days)


class Runtime:
    """The shared machinery behind every service of one
    [`AfterSales`][aftersales.app.AfterSales].
    """

    def __init__(
        self, hooks: Hooks, clock: Clock, config: Config, catalogue: ModuleCatalogue
    ) -> None:
        self.hooks = hooks
        self.clock = clock
        self.config = config
        self.catalogue = catalogue
        self.guard = Guard(hooks, clock)
        self.on_locked: Callable[[], None] = lambda: None

    def call(
        self,
        actor: Actor,
        action: Action,
        work: Callable[[UnitOfWork], R],
        *,
        writes: bool,
        while_locked: bool = False,
    ) -> R:
        """Run one public service call; every one goes through here, so every one checks
        in the same order (G-1): the actor's rights for `action`, then, in the call's
        unit of work, the database lock (ST-9; skipped for the few calls that must work
        while locked), then `work` — which looks up the ticket, checks the team and its
        service toggle, then the arguments, and claims the idempotency key before it
        changes anything."""
        self.guard.rights(actor, action)

        def checked(uow: UnitOfWork) -> R:
            if not while_locked:
                self.guard.unlocked()
            return work(uow)

        run = self.write if writes else self.read
        return run(checked, actor=actor)

    def unit(self, *, writes: bool, actor: Actor | None = None) -> UnitOfWork:
        """A new unit of work (use it in a `with` block)."""
        return UnitOfWork(
            self.hooks,
            writes=writes,
            now=self.clock.now(),
            after_commit=self._after_commit,
            actor_id=None if actor is None else actor.user_id,
        )

    def read(self, work: Callable[[UnitOfWork], R], *, actor: Actor | None = None) -> R:
        """Run a read-only unit of work (always rolled back)."""
        try:
            with self.unit(writes=False, actor=actor) as uow:
                return work(uow)
        except DatabaseLocked:
            self._observe_lock()
            raise

    def write(self, work: Callable[[UnitOfWork], R], *, actor: Actor | None = None) -> R:
        """Run a unit of work that commits `work`'s result.

        A [`ConflictError`][aftersales.errors.ConflictError] or
        [`BackendUnavailable`][aftersales.errors.BackendUnavailable] from the backend rolls the
        unit back and runs it again, at most `config.retries` times: nothing of a failed attempt
        remains, so retrying is safe.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.unit(writes=True, actor=actor) as uow:
                    result = work(uow)
                    uow.commit(result)
                    return result
            except (ConflictError, BackendUnavailable) as exc:
                if attempt >= self.config.retries:
                    given_up = f"{exc} (gave up after {attempt} attempts)"
                    if type(exc) is ConflictError:
                        raise ConflictError(given_up) from exc
                    if isinstance(exc, ConflictError):  # a DuplicateKey keeps its details
                        raise
                    raise BackendUnavailable(given_up) from exc
                log.info("retrying after %s (attempt %d)", exc, attempt)
            except DatabaseLocked:
                self._observe_lock()
                raise

    def _observe_lock(self) -> None:
        """Let the subscription record the expiry; never hide the `DatabaseLocked`."""
        try:
            self.on_locked()
        except Exception:
            log.exception("could not record the expiry of the trial")

    # -- after commit ---------------------------------------------------------------------

    def _after_commit(self, events: list[Event], emails: list[OutgoingEmail]) -> None:
        for event in events:
            self.dispatch(event)
        for email in emails:
            try:
                self.deliver(email)
            except Exception:  # the call has committed: never fail it after the fact
                log.exception(
                    "could not record the delivery of email %s; it stays in the outbox", email.id
                )

    def dispatch(self, event: Event) -> None:
        """Call every subscriber of `event`; one failing does not stop the others."""
        caller: Any = getattr(self.hooks.pm.hook, _EVENT_HOOKS[type(event)])
        for impl in reversed(caller.get_hookimpls()):
            try:
                impl.function(**({"event": event} if "event" in impl.argnames else {}))
            except Exception:
                log.exception(
                    "event subscriber %s failed on %s", impl.plugin_name, type(event).__name__
                )

    def deliver(self, email: OutgoingEmail) -> OutgoingEmail:
        """Hand `email` to the transport and record the outcome in the outbox (see
        `aftersales.delivery.deliver()`).

        A failure is logged and kept (state FAILED, with the error) for a later retry, or
        set aside as DEAD after `config.mail_attempts` attempts; an email is never lost
        silently.
        """
        return delivery.deliver(self, email)
