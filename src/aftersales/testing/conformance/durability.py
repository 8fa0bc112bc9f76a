"""Contracts a backend cannot pass by looking right in one process: persistence checked in a
new process, writes checked through the ports' own reads, read-only units that never see
half a write, and a store really shared by several processes.

* `PersistenceContract` (capability `persistent`): writes through the ports and the
  services — team settings, a trial, links, the trail, audit, an idempotency record, an
  email in the outbox — closes the backend, and reads everything back **in a new
  process** that opens the backend from the `aftersales_factory` fixture. A backend that
  keeps its data in a process-wide dict, or a subscription or settings only in memory,
  fails here (the in-process `PersistenceFlow` cannot tell).
* `IsolationContract`: every kind of write of a rolled-back unit is absent when read back
  through the ports (not only from `snapshot()`), every committed one is present, and each
  committed write changes `snapshot()`; a read-only unit sees either all or none of a unit
  that commits while it runs (on another thread with `threads`, on another process with
  `multi_process`).
* `MultiProcessContract` (capability `multi_process`): two processes open the store at
  once and each sees what the other committed.

The tests that prove a capability are marked `aftersales_exercises(<capability>)`: the
`kit` fixture refuses to run a class whose backend declares `persistent` or
`multi_process` when none of that capability's tests is collected in the class (left out
or deselected), so a declared capability is always exercised.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from aftersales.app import AfterSales
from aftersales.hooks import Hooks
from aftersales.models import (
    AuditEntry,
    CouponRequest,
    DocumentKind,
    DocumentLink,
    IdempotencyRecord,
    OutgoingEmail,
    Service,
    Subscription,
    SubscriptionState,
    TeamConfig,
    TicketMessage,
)
from aftersales.testing.scenario import MANAGER

from ._kit import ContractBase, Kit
from .capabilities import Capability
from .processes import Factory, _application

__all__ = [
    "IsolationContract",
    "MultiProcessContract",
    "PersistenceContract",
    "in_new_process",
    "read_store",
]

#: How long a reader waits for a concurrent unit to commit before it goes on: a backend
#: that runs units one at a time makes the writer wait for the reader instead.
WRITER_GRACE = 2.0


class _Boom(Exception):
    pass


@attrs.frozen
class Written:
    """What `_write_everything()` stored: the keys to read it back by."""

    team_id: str
    ticket_id: str
    email_id: str
    claim: IdempotencyRecord


def _write_everything(kit: Kit) -> Written:
    """Store one of every kind of after-sales data through the services and the ports."""
    team = kit.world.team(name="Support")
    ticket = kit.world.ticket(team=team, title="Kept")
    kit.app.settings.configure(team.id, enable={Service.REFUNDS}, actor=MANAGER)
    now = kit.clock.now()
    claim = IdempotencyRecord(
        actor_id="agent",
        key="kept-key",
        operation="refunds.reverse",
        fingerprint="f" * 64,
        created_at=now,
    )
    email = OutgoingEmail(
        id="email-kept",
        recipients=("ana@example.com",),
        subject="Kept",
        text_body="Kept",
        html_body="<p>Kept</p>",
        created_at=now,
        ticket_id=ticket.id,
    )

    def write(h: Hooks) -> None:
        h.add_link(
            DocumentLink(
                ticket_id=ticket.id, kind=DocumentKind.COUPON, document_id="c-7", created_at=now
            )
        )
        h.post_message(
            TicketMessage(id="msg-kept", ticket_id=ticket.id, at=now, author_id="a", body="kept")
        )
        h.audit_append(
            AuditEntry(id="audit-kept", at=now, actor_id="a", action="kept", ticket_id=ticket.id)
        )
        h.idempotency_complete(attrs.evolve(claim, result='"kept"'))
        h.mail_enqueue(email)

    kit.write(write)
    return Written(team.id, ticket.id, email.id, claim)


def read_store(app: AfterSales, written: Written) -> dict[str, object]:
    """Everything `written` names, read through the ports and the services of `app`."""
    h = app.hooks

    def read(_uow: object) -> dict[str, object]:
        return {
            "team settings": h.team_config(written.team_id),
            "team": h.get_team(written.team_id),
            "links": tuple(h.list_links(written.ticket_id)),
            "trail": tuple(h.list_messages(written.ticket_id)),
            "audit": tuple(h.audit_list(written.ticket_id)),
            "modules": h.modules_installed(),
            "subscription": h.subscription_get(),
            "email": h.mail_get(written.email_id),
            "outbox": tuple(h.mail_list_outbox(pending_only=True)),
        }

    found = app.runtime.read(read)
    with app.runtime.unit(writes=True) as _uow:  # rolled back: a claim only reads here
        probe = attrs.evolve(written.claim, fingerprint="0" * 64)
        found["idempotency record"] = h.idempotency_claim(probe)
    found["subscription status"] = app.subscription.status(actor=MANAGER)
    found["team settings (service)"] = app.settings.team_settings(written.team_id, actor=MANAGER)
    return found


def _read_in_child(factory: Factory, start: str, written: Written) -> dict[str, object]:
    """The child process's side of `PersistenceContract`."""
    with _application(factory, start) as app:
        return read_store(app, written)


@contextmanager
def in_new_process() -> Iterator[ProcessPoolExecutor]:
    """An executor of one freshly spawned interpreter (nothing of this process's memory
    reaches it); targets and arguments must be picklable."""
    import multiprocessing

    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _differences(expected: dict[str, object], found: dict[str, object]) -> list[str]:
    return [
        f"{name}: wrote {expected[name]!r}, the new process read {found.get(name)!r}"
        for name in expected
        if found.get(name) != expected[name]
    ]


class PersistenceContract(ContractBase):
    """Data survives a restart into a new process (capability `persistent`; needs the
    `aftersales_factory` fixture)."""

    @pytest.mark.aftersales_exercises(Capability.PERSISTENT.value)
    def test_what_was_written_reads_back_in_a_new_process(self, kit: Kit) -> None:
        kit.require(Capability.PERSISTENT)
        factory = kit.factory
        written = _write_everything(kit)
        expected = read_store(kit.app, written)
        status = expected["subscription status"]
        assert isinstance(status, Subscription)
        assert status.state is SubscriptionState.TRIAL
        kit.close_backend()  # a restart: nothing of this process's backend stays open
        with in_new_process() as child:
            start = kit.clock.now().isoformat()
            try:
                found = child.submit(_read_in_child, factory, start, written).result(120)
            except Exception as exc:
                raise AssertionError(
                    "after closing the backend, a new process that opened it from "
                    "aftersales_factory could not read back what was written (is the data "
                    f"kept only in this process's memory?): {type(exc).__name__}: {exc}"
                ) from exc
        wrong = _differences(expected, found)
        assert not wrong, (
            "after closing the backend, a new process that opened it from "
            "aftersales_factory read something else (is the data kept only in this "
            "process's memory?):\n" + "\n".join(wrong)
        )


# -- isolation --------------------------------------------------------------------------------


def _writes(kit: Kit, team_id: str, ticket_id: str) -> dict[str, Callable[[Hooks], object]]:
    now = kit.clock.now()
    return {
        "team settings": lambda h: h.save_team_config(
            TeamConfig(team_id=team_id, services=frozenset({Service.COUPONS}))
        ),
        "link": lambda h: h.add_link(
            DocumentLink(
                ticket_id=ticket_id, kind=DocumentKind.REPAIR, document_id="r-1", created_at=now
            )
        ),
        "trail": lambda h: h.post_message(
            TicketMessage(id="msg-iso", ticket_id=ticket_id, at=now, author_id="a", body="x")
        ),
        "audit": lambda h: h.audit_append(
            AuditEntry(id="audit-iso", at=now, actor_id="a", action="x", ticket_id=ticket_id)
        ),
        "outbox": lambda h: h.mail_enqueue(
            OutgoingEmail(
                id="email-iso",
                recipients=("ana@example.com",),
                subject="S",
                text_body="T",
                html_body="<p>T</p>",
                created_at=now,
                ticket_id=ticket_id,
            )
        ),
        "idempotency record": lambda h: h.idempotency_complete(
            IdempotencyRecord(
                actor_id="agent",
                key="iso-key",
                operation="x.y",
                fingerprint="f" * 64,
                created_at=now,
                result='"done"',
            )
        ),
        "subscription": lambda h: h.subscription_save(
            Subscription(
                state=SubscriptionState.TRIAL,
                trial_started_at=now,
                trial_ends_at=now + timedelta(days=15),
                changed_at=now,
            )
        ),
        "modules": lambda h: h.modules_install("repair"),
        "coupon": lambda h: h.issue_coupon(
            CouponRequest(
                program_id="program-iso",
                partner_id="partner-iso",
                code="ISO-1",
                points=Decimal(1),
                at=now,
                reference="op-iso",
                ticket_id=ticket_id,
            )
        ),
    }


def _reads(kit: Kit, team_id: str, ticket_id: str) -> dict[str, object]:
    """What the ports read of each kind of write of `_writes()` (in a unit that is rolled
    back, since a claim can only be read by trying it)."""
    probe = IdempotencyRecord(
        actor_id="agent",
        key="iso-key",
        operation="x.y",
        fingerprint="0" * 64,
        created_at=kit.clock.now(),
    )
    h = kit.hooks
    with kit.unit():
        return {
            "team settings": h.team_config(team_id),
            "link": tuple(h.list_links(ticket_id)),
            "trail": tuple(h.list_messages(ticket_id)),
            "audit": tuple(h.audit_list(ticket_id)),
            "outbox": (h.mail_get("email-iso"), tuple(h.mail_list_outbox(pending_only=False))),
            "idempotency record": h.idempotency_claim(probe).result,
            "subscription": h.subscription_get(),
            "modules": h.modules_installed(),
            "coupon": h.find_coupon("ISO-1"),
        }


Seen = tuple[frozenset[Service], tuple[str, ...]]


def _torn(
    kit: Kit,
    start_writer: Callable[[], Future[Any] | threading.Thread],
    team_id: str,
    ticket_id: str,
) -> Seen:
    """Read the team's settings, let `start_writer` commit new settings and a link in one
    unit, then read the links: both reads happen in one read-only unit. Returns what the
    unit saw once the writer is done."""
    h = kit.hooks
    with kit.unit(writes=False):
        settings = frozenset(h.team_config(team_id).services)
        writer = start_writer()
        if isinstance(writer, threading.Thread):
            writer.join(WRITER_GRACE)  # it waits for this unit if the backend serializes
        else:
            with contextlib.suppress(FutureTimeout):  # it waits for this unit if serialized
                writer.result(WRITER_GRACE)
        links = tuple(link.document_id for link in h.list_links(ticket_id))
    if isinstance(writer, threading.Thread):
        writer.join(60)
        assert not writer.is_alive(), "the writing thread did not finish within 60 s"
    else:
        writer.result(120)
    return settings, links


#: The application `_open_application()` opened in this (worker) process.
_OPENED: list[tuple[AfterSales, AbstractContextManager[AfterSales]]] = []


def _open_application(factory: Factory, start: str) -> None:
    """Open the backend and the application in this worker process, ready for the next
    task (opening them takes longer than the reader waits)."""
    opening = _application(factory, start)
    _OPENED.append((opening.__enter__(), opening))


def _commit_settings_and_link(team_id: str, ticket_id: str, start: str) -> None:
    """The other process's side of the torn-state check (`IsolationContract`): commit in
    the application `_open_application()` opened, then close it."""
    app, opening = _OPENED.pop()
    try:
        app.runtime.write(lambda _uow: _settings_and_link(app.hooks, team_id, ticket_id, start))
    finally:
        opening.__exit__(None, None, None)


def _settings_and_link(h: Hooks, team_id: str, ticket_id: str, start: str) -> None:
    from datetime import datetime

    h.save_team_config(TeamConfig(team_id=team_id, services=frozenset({Service.REFUNDS})))
    h.add_link(
        DocumentLink(
            ticket_id=ticket_id,
            kind=DocumentKind.CREDIT_NOTE,
            document_id="cn-torn",
            created_at=datetime.fromisoformat(start),
        )
    )


def _assert_whole(seen: Seen, where: str) -> None:
    before: Seen = (frozenset(), ())
    after: Seen = (frozenset({Service.REFUNDS}), ("cn-torn",))
    assert seen in (before, after), (
        f"a read-only unit saw half of a unit that committed {where} while it ran: team "
        f"settings {sorted(seen[0])!r} (before: [], after: ['refunds']) but links "
        f"{list(seen[1])!r} (before: [], after: ['cn-torn']); a read-only unit must see one "
        "state of the store (a snapshot, e.g. REPEATABLE READ, or units run one at a time)"
    )


class IsolationContract(ContractBase):
    """What a unit of work writes is seen through the ports' reads after its commit, never
    after its rollback, and a read-only unit never sees half of another unit."""

    def test_rolled_back_writes_are_absent_from_the_ports_reads(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="Isolated")
        writes = _writes(kit, team.id, ticket.id)
        before = _reads(kit, team.id, ticket.id)

        def fail() -> None:
            with kit.unit():
                for write in writes.values():
                    write(kit.hooks)
                raise _Boom

        with pytest.raises(_Boom):
            fail()
        after = _reads(kit, team.id, ticket.id)
        leaked = [name for name in writes if after[name] != before[name]]
        assert not leaked, (
            "a rolled-back unit of work left writes that the ports read back (a write made "
            f"outside the unit's transaction?): {', '.join(leaked)}"
        )

    def test_committed_writes_are_read_back_and_change_the_snapshot(self, kit: Kit) -> None:
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="Isolated")
        hidden: list[str] = []
        unread: list[str] = []
        for name, write in _writes(kit, team.id, ticket.id).items():
            reads, stored = _reads(kit, team.id, ticket.id)[name], kit.backend.snapshot()
            kit.write(write)
            if _reads(kit, team.id, ticket.id)[name] == reads:
                unread.append(name)
            if kit.backend.snapshot() == stored:
                hidden.append(name)
        assert not unread, f"committed writes the ports do not read back: {', '.join(unread)}"
        assert not hidden, (
            f"committed writes missing from backend.snapshot(): {', '.join(hidden)} "
            "(snapshot() must cover everything the backend stores)"
        )

    def test_a_read_only_unit_never_sees_half_of_another_thread(self, kit: Kit) -> None:
        kit.require(Capability.THREADS)
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="Torn")
        start = kit.clock.now().isoformat()

        def writer() -> threading.Thread:
            thread = threading.Thread(
                target=lambda: kit.write(
                    lambda h: _settings_and_link(h, team.id, ticket.id, start)
                ),
                daemon=True,
            )
            thread.start()
            return thread

        seen = _torn(kit, writer, team.id, ticket.id)
        _assert_whole(seen, "on another thread")
        assert kit.read(lambda h: h.team_config(team.id).services) == {Service.REFUNDS}

    @pytest.mark.aftersales_exercises(Capability.MULTI_PROCESS.value)
    def test_a_read_only_unit_never_sees_half_of_another_process(self, kit: Kit) -> None:
        kit.require(Capability.MULTI_PROCESS)
        factory = kit.factory
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="Torn")
        start = kit.clock.now().isoformat()
        with in_new_process() as other:
            # The other process is up, its backend open, before the reading unit begins.
            other.submit(_open_application, factory, start).result(120)
            seen = _torn(
                kit,
                lambda: other.submit(_commit_settings_and_link, team.id, ticket.id, start),
                team.id,
                ticket.id,
            )
        _assert_whole(seen, "in another process")
        assert kit.read(lambda h: h.team_config(team.id).services) == {Service.REFUNDS}, (
            "the other process committed team settings that this process does not see"
        )


# -- several processes ------------------------------------------------------------------------


def _rename_and_read(factory: Factory, start: str, team_id: str, ticket_id: str) -> object:
    """The other process: read what the first committed, then commit a message."""
    with _application(factory, start) as app:
        h = app.hooks
        seen = app.runtime.read(lambda _uow: h.team_config(team_id).services)
        app.runtime.write(
            lambda _uow: h.post_message(
                TicketMessage(
                    id="msg-other",
                    ticket_id=ticket_id,
                    at=app.clock.now(),
                    author_id="other",
                    body="from the other process",
                )
            )
        )
        return seen


class MultiProcessContract(ContractBase):
    """Several processes share the store (capability `multi_process`; needs the
    `aftersales_factory` fixture)."""

    @pytest.mark.aftersales_exercises(Capability.MULTI_PROCESS.value)
    def test_two_processes_see_each_others_commits(self, kit: Kit) -> None:
        kit.require(Capability.MULTI_PROCESS)
        factory = kit.factory
        team = kit.world.team(name="Support")
        ticket = kit.world.ticket(team=team, title="Shared")
        kit.write(
            lambda h: h.save_team_config(
                TeamConfig(team_id=team.id, services=frozenset({Service.RETURNS}))
            )
        )
        with in_new_process() as other:
            start = kit.clock.now().isoformat()
            seen = other.submit(_rename_and_read, factory, start, team.id, ticket.id).result(120)
        assert seen == {Service.RETURNS}, (
            f"another process read the team settings {seen!r}, not those this one committed"
        )
        trail = kit.read(lambda h: [m.id for m in h.list_messages(ticket.id)])
        assert trail == ["msg-other"], (
            f"this process reads the trail {trail!r} after another process committed a message"
        )
