"""What only a SQL database shared by several connections shows (RL-5): a lock that another
connection holds for longer than the bounded retries allow.

The call gives up with a [`ConflictError`][aftersales.errors.ConflictError] saying how many
attempts it made (`Config.retries`), nothing of any attempt remains, and once the lock is released
the same call under the same idempotency key goes through once: a lock held for ever never
becomes a hang, and no deadlock survives.

Examples:
    >>> # attempts = check_lock_held(setting, url)   # setting over SqlBackend(url)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from aftersales.app import AfterSales
from aftersales.errors import ConflictError
from aftersales.models import CreditMethod
from aftersales.services.refunds import RefundResult
from aftersales.testing.snapshots import diff
from aftersales.testing.witness import Witness
from tests.reliability.setting import Setting

__all__ = ["check_lock_held", "invoice_locked"]


@contextmanager
def invoice_locked(url: str, invoice_id: str) -> Iterator[None]:
    """Another connection holds the invoice until the block ends: its row on PostgreSQL
    (`SELECT … FOR UPDATE`), the write lock of the whole database on SQLite
    (`BEGIN IMMEDIATE`)."""
    from aftersales.backends.sql import SqlBackend

    holder = SqlBackend(url)
    try:
        tx = holder.db.begin(writes=True)
        try:
            if holder.aftersales_accounting_get_invoice(invoice_id, lock=True) is None:
                raise AssertionError(f"no invoice {invoice_id!r} to lock")
            yield
        finally:
            tx.rollback()
    finally:
        holder.close()


class _Attempts:
    """Counts the units of work a call starts: one per attempt."""

    def __init__(self) -> None:
        self.count = 0

    def before(self, hook: str, _impls: object, _kwargs: object) -> None:
        if hook == "aftersales_transaction_begin":
            self.count += 1

    def after(self, *_args: object) -> None:
        return None


def check_lock_held(setting: Setting, url: str, *, timeout: float = 0.1) -> int:
    """A full refund of an invoice that another connection holds locked, by an application
    over `url` (the database of `setting`) that waits `timeout` seconds for a lock.

    Checks that the call fails after `Config.retries` attempts with a ConflictError
    naming them, leaves the store as it was and lets nothing out; then, the lock released,
    that the call under the same key goes through and replays. Returns the attempts.
    """
    from aftersales.backends.sql import SqlBackend

    ticket = setting.ticket()
    invoice = setting.invoice(paid=Decimal("50.00"))
    config = setting.app.runtime.config
    impatient = SqlBackend(url, busy_timeout=timeout, lock_timeout=timeout)
    try:
        app = AfterSales(impatient, clock=setting.app.clock, config=config)
        witness = Witness()
        app.pm.register(witness)
        attempts = _Attempts()
        app.pm.add_hookcall_monitoring(attempts.before, attempts.after)

        def refund() -> RefundResult:
            return app.refunds.reverse(
                ticket.id,
                invoice.id,
                method=CreditMethod.FULL,
                actor=setting.agent,
                idempotency_key="rl-lock-held",
            )

        before = setting.snapshot()
        expected = max(config.retries, 1)
        with invoice_locked(url, invoice.id):
            try:
                refund()
            except ConflictError as refusal:
                if f"gave up after {expected} attempts" not in str(refusal):
                    raise AssertionError(
                        f"the conflict does not say it gave up: {refusal}"
                    ) from None
            else:
                raise AssertionError("the call went through a lock another connection holds")
            after = setting.snapshot()
            if after != before:
                raise AssertionError(f"the given-up call left changes:\n{diff(before, after)}")
        if attempts.count != expected:
            raise AssertionError(f"{attempts.count} attempts, expected {expected}")
        if not witness.quiet:
            raise AssertionError(f"the given-up call let out {witness.seen()}")
        tried = attempts.count
        done = refund()
        credited = app.hooks.get_refundable(invoice.id).credited
        if refund() != done or credited != done.credit_note.total:
            raise AssertionError("once the lock was released the call did not go through once")
        return tried
    finally:
        impatient.close()
