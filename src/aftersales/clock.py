"""Where "now" comes from: an injectable, timezone-aware clock (G-6, ST-10)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol, runtime_checkable

from aftersales.models._fields import check_aware

__all__ = ["Clock", "FrozenClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with `now()` returning a timezone-aware datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC (or the given timezone)."""

    def __init__(self, tz: tzinfo = UTC) -> None:
        self._tz = tz

    def now(self) -> datetime:
        return datetime.now(self._tz)

    def today(self) -> date:
        return self.now().date()


class FrozenClock:
    """A clock that only moves when told to: tests move time instead of sleeping.

    Examples:
        >>> clock = FrozenClock("2026-11-28T09:00:00+00:00")
        >>> clock.advance(days=15).isoformat()
        '2026-12-13T09:00:00+00:00'
    """

    def __init__(self, start: datetime | str) -> None:
        self._lock = threading.Lock()
        self._now = self._parse(start)

    @staticmethod
    def _parse(value: datetime | str) -> datetime:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return check_aware(moment, "now")

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def today(self) -> date:
        return self.now().date()

    def set(self, moment: datetime | str) -> datetime:
        """Jump to `moment` (which must be timezone-aware)."""
        with self._lock:
            self._now = self._parse(moment)
            return self._now

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        """Move forward by the given amount and return the new now."""
        with self._lock:
            self._now += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            return self._now
