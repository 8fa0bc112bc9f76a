"""The database's subscription: One App Free, trial, paid, expired (ST-7 … ST-10)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from aftersales.models._fields import aware, enum_of, optional, text

__all__ = ["Subscription", "SubscriptionState"]


class SubscriptionState(StrEnum):
    FREE = "free"
    TRIAL = "trial"
    PAID = "paid"
    EXPIRED = "expired"


@attrs.frozen(kw_only=True)
class Subscription:
    """What the database may do: `FREE` allows one application besides the base.

    `trial_ends_at` is set when a trial starts and never moves afterwards (ST-8).
    """

    state: SubscriptionState = attrs.field(
        default=SubscriptionState.FREE, validator=enum_of(SubscriptionState)
    )
    trial_started_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    trial_ends_at: datetime | None = attrs.field(default=None, validator=optional(aware))
    paid_reference: str | None = attrs.field(default=None, validator=optional(text(max_length=128)))
    changed_at: datetime | None = attrs.field(default=None, validator=optional(aware))

    def is_expired_at(self, now: datetime) -> bool:
        """True when a trial has run out at `now` without a paid subscription (ST-9)."""
        if self.state is SubscriptionState.EXPIRED:
            return True
        return (
            self.state is SubscriptionState.TRIAL
            and self.trial_ends_at is not None
            and now >= self.trial_ends_at
        )
