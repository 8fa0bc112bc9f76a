"""The SMTP transport against a real SMTP server on loopback (aiosmtpd): coupons sent from a
ticket arrive with their recipients, subject and both bodies (CP-7, CP-8); STARTTLS, SSL and
credentials; failures after commit stay in the outbox and a retry delivers them."""

from __future__ import annotations

import email
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from aftersales import Actor, AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.errors import BackendError, BackendUnavailable, InvalidInput
from aftersales.mail import SMTPSecurity, SMTPSettings, SMTPTransport, build_message
from aftersales.models import EmailState, OutgoingEmail
from aftersales.services.coupons import CouponInfo
from aftersales.testing import Scenario

SENDER = "support@shop.example"
USER, PASSWORD = "mailer", "s3cret-Pa55"


class Inbox:
    """An aiosmtpd handler that keeps what it receives, or answers with ``reply``."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.reply: str | None = None
        self.rcpt_replies: dict[str, str] = {}  # an address refused at RCPT, and how

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply is not None:
            return self.reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, _class=EmailMessage, policy=default_policy)
            for e in self.envelopes
        ]


class LoopbackController(Controller):
    """A controller on an ephemeral port of 127.0.0.1 (port 0: the system picks one)."""

    def _trigger_server(self) -> None:
        server: Any = self.server
        self.port = server.sockets[0].getsockname()[1]
        Controller._trigger_server(self)  # type: ignore[no-untyped-call]


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def _serving(inbox: Inbox, *, port: int = 0, **options: Any) -> Iterator[LoopbackController]:
    """An SMTP server on loopback (``port`` 0: one the system picks) for the ``with`` block."""
    controller = LoopbackController(
        inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **options
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def smtp_server(inbox: Inbox) -> Iterator[LoopbackController]:
    with _serving(inbox) as controller:
        yield controller


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def starttls_server(inbox: Inbox, certificate: tuple[Path, Path]) -> Iterator[LoopbackController]:
    """A server that requires STARTTLS and the credentials ``USER`` / ``PASSWORD``."""
    with _serving(
        inbox,
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    ) as controller:
        yield controller


@pytest.fixture
def tls_server(inbox: Inbox, certificate: tuple[Path, Path]) -> Iterator[LoopbackController]:
    """A server that speaks TLS from the first byte (implicit TLS, "SSL")."""
    with _serving(inbox, ssl_context=_server_context(certificate)) as controller:
        yield controller


def _settings(port: int, **options: Any) -> SMTPSettings:
    values: dict[str, Any] = {
        "sender": SENDER,
        "sender_name": "Soporte Tienda",
        "host": "127.0.0.1",
        "port": port,
        "security": SMTPSecurity.NONE,
        "timeout": 5.0,
    }
    values.update(options)
    return SMTPSettings(**values)


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@attrs.define
class Desk:
    """The test's helpdesk: the memory backend, its clock and scenario, and the inbox of the
    SMTP server the test starts."""

    backend: MemoryBackend
    clock: FrozenClock
    scenario: Scenario
    inbox: Inbox

    @property
    def manager(self) -> Actor:
        return self.scenario.actors.manager

    def app(self, settings: SMTPSettings) -> AfterSales:
        """An application that sends through SMTP with ``settings``."""
        return AfterSales(self.backend, clock=self.clock, plugins=[SMTPTransport(settings)])

    def send(self, app: AfterSales, **kw: Any) -> tuple[CouponInfo, Any]:
        """Generate a coupon on the scenario's ticket and send it to the followers."""
        agent = self.scenario.actors.agent
        ticket = self.scenario.ticket.id
        info = app.coupons.generate(
            ticket, self.scenario.program.id, expires_on=date(2026, 12, 31), actor=agent
        )
        return info, app.coupons.send(ticket, info.id, actor=agent, **kw)

    def outbox(self, app: AfterSales, *, pending_only: bool = False) -> tuple[OutgoingEmail, ...]:
        return app.outbox.emails(pending_only=pending_only, actor=self.manager)

    def undelivered(self, app: AfterSales) -> OutgoingEmail:
        """Send a coupon the server does not take: the email stays in the outbox, failed,
        and nothing arrives."""
        self.send(app)
        (stored,) = self.outbox(app)
        assert stored.state is EmailState.FAILED
        assert self.inbox.envelopes == []
        return stored


@pytest.fixture
def desk(backend: MemoryBackend, clock: FrozenClock, scenario: Scenario, inbox: Inbox) -> Desk:
    return Desk(backend, clock, scenario, inbox)


# -- delivery --------------------------------------------------------------------------------------


def test_cp7_cp8_a_coupon_arrives_by_smtp_with_recipients_subject_and_both_bodies(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    app = desk.app(_settings(smtp_server.port))
    info, sent = desk.send(app, extra_recipients=["Jefa <jefa@perez.example>"])

    (envelope,) = desk.inbox.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["ana@perez.example", "marta@example.com", "jefa@perez.example"]
    (message,) = desk.inbox.messages()
    assert message["Subject"] == "Your coupon: 10% after-sales apology"
    assert message["To"] == "ana@perez.example, marta@example.com, jefa@perez.example"
    assert message["From"] == "Soporte Tienda <support@shop.example>"
    assert message["Message-ID"] == f"<{sent.email_id}@shop.example>"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    text_body, html_body = plain.get_content(), html.get_content()
    assert text_body.startswith("Hello Ana Pérez,")
    for body in (text_body, html_body):
        assert info.code in body
        assert "10% on your order" in body
        assert "2026-12-31" in body
    assert "<table>" in html_body
    assert "<table>" not in text_body

    (stored,) = desk.outbox(app)
    assert (stored.state, stored.attempts, stored.last_error) == (EmailState.SENT, 1, "")
    assert desk.backend.delivered == []  # SMTP answered first: the memory transport was not used


def test_a_non_ascii_subject_and_sender_name_are_encoded(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    program = desk.backend.builder(desk.clock).coupon_program(name="Perdón — 10 %")
    app = desk.app(_settings(smtp_server.port, sender_name="Atención al cliente"))
    agent = desk.scenario.actors.agent
    info = app.coupons.generate(desk.scenario.ticket.id, program.id, actor=agent)
    app.coupons.send(desk.scenario.ticket.id, info.id, actor=agent)
    (raw,) = desk.inbox.envelopes
    assert raw.content.isascii()  # 7-bit clean on the wire
    (message,) = desk.inbox.messages()
    assert message["Subject"] == "Your coupon: Perdón — 10 %"
    assert message["From"] == "Atención al cliente <support@shop.example>"


def test_starttls_with_credentials(
    desk: Desk, certificate: tuple[Path, Path], starttls_server: LoopbackController
) -> None:
    settings = _settings(
        starttls_server.port,
        security=SMTPSecurity.STARTTLS,
        username=USER,
        password=PASSWORD,
        ssl_context=_client_context(certificate),
    )
    _info, sent = desk.send(desk.app(settings))
    (envelope,) = desk.inbox.envelopes
    assert envelope.rcpt_tos == list(sent.recipients)


def test_wrong_credentials_leave_the_email_failed_without_the_password(
    desk: Desk, certificate: tuple[Path, Path], starttls_server: LoopbackController
) -> None:
    settings = _settings(
        starttls_server.port,
        security=SMTPSecurity.STARTTLS,
        username=USER,
        password="wrong-password-123",
        ssl_context=_client_context(certificate),
    )
    stored = desk.undelivered(desk.app(settings))
    assert "SMTPAuthenticationError" in stored.last_error
    assert "wrong-password-123" not in stored.last_error
    assert "wrong-password-123" not in repr(settings)


def test_implicit_tls(
    desk: Desk, certificate: tuple[Path, Path], tls_server: LoopbackController
) -> None:
    settings = _settings(
        tls_server.port, security=SMTPSecurity.SSL, ssl_context=_client_context(certificate)
    )
    desk.send(desk.app(settings))
    assert len(desk.inbox.envelopes) == 1


def test_the_server_certificate_is_verified(desk: Desk, tls_server: LoopbackController) -> None:
    # the default context trusts the system's authorities, not this self-signed one
    app = desk.app(_settings(tls_server.port, security=SMTPSecurity.SSL))
    stored = desk.undelivered(app)
    assert "SSLCertVerificationError" in stored.last_error


def test_starttls_is_never_downgraded_to_plain_text(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    """The server offers no STARTTLS: nothing is sent in the clear."""
    app = desk.app(_settings(smtp_server.port, security=SMTPSecurity.STARTTLS))
    stored = desk.undelivered(app)
    assert "STARTTLS extension not supported" in stored.last_error


# -- failures after commit, and the retry ----------------------------------------------------------


def test_rl1_a_server_down_after_commit_keeps_the_email_for_a_retry(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    app = desk.app(_settings(port))
    with caplog.at_level(logging.WARNING, logger="aftersales"):
        info, sent = desk.send(app)  # the call succeeds: the coupon was sent

    (failed,) = desk.outbox(app, pending_only=True)
    assert failed.id == sent.email_id
    assert failed.state is EmailState.FAILED
    assert failed.attempts == 1
    assert failed.last_error.startswith(f"BackendUnavailable: SMTP 127.0.0.1:{port}:")
    assert "ConnectionRefusedError" in failed.last_error
    assert f"could not deliver email {sent.email_id}" in caplog.text
    # the coupon and its sending are committed and on the trail
    trail = app.tickets.view(desk.scenario.ticket.id, actor=desk.scenario.actors.agent).trail
    assert trail[0].body.startswith(f"Coupon {info.code} sent by email to")

    with _serving(desk.inbox, port=port):
        desk.clock.advance(minutes=10)
        (outcome,) = app.outbox.retry(actor=desk.manager)
    assert (outcome.id, outcome.state, outcome.attempts) == (sent.email_id, EmailState.SENT, 2)
    assert outcome.sent_at == desk.clock.now()
    (message,) = desk.inbox.messages()
    assert message["Message-ID"] == f"<{sent.email_id}@shop.example>"
    assert desk.outbox(app, pending_only=True) == ()


def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_reported(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    app = desk.app(_settings(smtp_server.port))
    desk.inbox.reply = "451 4.3.0 Try again later"
    desk.send(app)
    (stored,) = desk.outbox(app)
    assert stored.last_error.startswith("BackendUnavailable:")
    assert "451" in stored.last_error

    desk.inbox.reply = "554 5.7.1 Rejected"
    (stored,) = app.outbox.retry(actor=desk.manager)
    assert stored.last_error.startswith("BackendError:")
    assert "554" in stored.last_error
    assert stored.attempts == 2

    desk.inbox.reply = None
    (stored,) = app.outbox.retry(actor=desk.manager)
    assert stored.state is EmailState.SENT
    assert stored.attempts == 3
    assert len(desk.inbox.envelopes) == 1


def test_a_silent_server_times_out(desk: Desk) -> None:
    """A server that accepts the connection but never greets: the connect timeout bounds
    the wait (the other timeout is left long, so only the connect timeout can end it)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = _settings(silent.getsockname()[1], connect_timeout=0.2, timeout=60.0)
        app = desk.app(settings)
        desk.send(app)
    (stored,) = desk.outbox(app)
    assert stored.state is EmailState.FAILED
    assert stored.last_error.startswith("BackendUnavailable:")
    assert "timed out" in stored.last_error


def test_a_server_that_stalls_after_its_greeting_times_out(desk: Desk) -> None:
    """A server that greets, then never answers a command: ``timeout`` bounds each later
    wait, the connect timeout being long."""
    done = threading.Event()

    def greet_then_stall(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 localhost ESMTP\r\n")
            done.wait(10)

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        server = threading.Thread(target=greet_then_stall, args=(listener,), daemon=True)
        server.start()
        settings = _settings(listener.getsockname()[1], connect_timeout=60.0, timeout=0.2)
        app = desk.app(settings)
        try:
            desk.send(app)
        finally:
            done.set()
            server.join()
    (stored,) = desk.outbox(app)
    assert stored.state is EmailState.FAILED
    assert stored.last_error.startswith("BackendUnavailable:")
    assert "timed out" in stored.last_error


def test_a_temporary_refusal_of_every_recipient_is_retried(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    """451 for each recipient (at RCPT) is a temporary failure, BackendUnavailable, and the
    email stays queued; a retry once the server takes them sends it."""
    app = desk.app(_settings(smtp_server.port))
    desk.inbox.rcpt_replies = {
        "ana@perez.example": "451 4.3.0 Mailbox busy",
        "marta@example.com": "451 4.3.0 Mailbox busy",
    }
    desk.send(app)
    (stored,) = desk.outbox(app, pending_only=True)
    assert stored.state is EmailState.FAILED
    assert stored.last_error.startswith("BackendUnavailable:")
    assert "every recipient was refused" in stored.last_error
    assert "ana@perez.example (451 4.3.0 Mailbox busy)" in stored.last_error
    assert (stored.accepted, stored.refused) == ((), ())

    desk.inbox.rcpt_replies = {}
    (sent,) = app.outbox.retry(actor=desk.manager)
    assert (sent.state, sent.attempts) == (EmailState.SENT, 2)
    assert sent.accepted == ("ana@perez.example", "marta@example.com")
    (envelope,) = desk.inbox.envelopes
    assert envelope.rcpt_tos == ["ana@perez.example", "marta@example.com"]


def test_a_permanent_refusal_of_every_recipient_is_a_backend_error(
    smtp_server: LoopbackController, inbox: Inbox
) -> None:
    transport = SMTPTransport(_settings(smtp_server.port))
    inbox.rcpt_replies = {"ana@example.com": "550 5.1.1 No such user"}
    with pytest.raises(BackendError, match=r"550 5\.1\.1 No such user") as caught:
        transport.aftersales_mail_deliver(_email())
    assert not isinstance(caught.value, BackendUnavailable)
    inbox.rcpt_replies = {"ana@example.com": "450 4.2.1 Try later"}
    with pytest.raises(BackendUnavailable, match=r"450 4\.2\.1 Try later"):
        transport.aftersales_mail_deliver(_email())


def test_a_recipient_refused_for_good_is_recorded_and_the_others_get_it_once(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    """One recipient refused (550) while the other is taken: the email is SENT, the outbox
    and the trail say who took it and who refused it, and a retry sends nothing."""
    app = desk.app(_settings(smtp_server.port))
    desk.inbox.rcpt_replies = {"marta@example.com": "550 5.1.1 No such user"}
    desk.send(app)
    (envelope,) = desk.inbox.envelopes
    assert envelope.rcpt_tos == ["ana@perez.example"]
    (stored,) = desk.outbox(app)
    assert (stored.state, stored.attempts) == (EmailState.SENT, 1)
    assert (stored.accepted, stored.refused) == (("ana@perez.example",), ("marta@example.com",))
    assert stored.last_error == "refused: marta@example.com (550 5.1.1 No such user)"
    assert stored.undelivered == ()
    trail = app.tickets.view(desk.scenario.ticket.id, actor=desk.scenario.actors.agent).trail
    assert trail[0].body == (
        'Email "Your coupon: 10% after-sales apology" delivered to ana@perez.example; '
        "refused by the mail server: marta@example.com (550 5.1.1 No such user)"
    )
    desk.clock.advance(minutes=10)
    assert app.outbox.retry(actor=desk.manager) == ()
    assert len(desk.inbox.envelopes) == 1


def test_a_recipient_refused_for_now_gets_it_later_and_the_others_only_once(
    desk: Desk, smtp_server: LoopbackController
) -> None:
    """One recipient refused with a 451 while the other is taken: the email stays queued
    with who took it, and the retry goes to the refused one only (the ``To`` header still
    names both)."""
    app = desk.app(_settings(smtp_server.port))
    desk.inbox.rcpt_replies = {"marta@example.com": "451 4.2.0 Greylisted"}
    desk.send(app)
    (failed,) = desk.outbox(app, pending_only=True)
    assert (failed.state, failed.attempts) == (EmailState.FAILED, 1)
    assert (failed.accepted, failed.refused) == (("ana@perez.example",), ())
    assert failed.undelivered == ("marta@example.com",)
    assert failed.last_error == (
        "BackendUnavailable: deferred by the mail server: marta@example.com (451 4.2.0 Greylisted)"
    )
    trail = app.tickets.view(desk.scenario.ticket.id, actor=desk.scenario.actors.agent).trail
    assert "deferred by the mail server, to be retried: marta@example.com" in trail[0].body

    desk.inbox.rcpt_replies = {}
    (sent,) = app.outbox.retry(actor=desk.manager)
    assert (sent.state, sent.attempts, sent.last_error) == (EmailState.SENT, 2, "")
    assert sent.accepted == ("ana@perez.example", "marta@example.com")
    first, second = desk.inbox.envelopes
    assert (first.rcpt_tos, second.rcpt_tos) == (["ana@perez.example"], ["marta@example.com"])
    assert desk.inbox.messages()[1]["To"] == "ana@perez.example, marta@example.com"


# -- the transport on its own ----------------------------------------------------------------------


def _email(**kw: Any) -> OutgoingEmail:
    values: dict[str, Any] = {
        "id": "mail-1",
        "recipients": ("ana@example.com",),
        "subject": "Hello",
        "text_body": "Text",
        "html_body": "<p>HTML</p>",
        "created_at": FrozenClock("2026-11-28T09:00:00+00:00").now(),
    }
    values.update(kw)
    return OutgoingEmail(**values)


def test_the_transport_raises_backend_errors(smtp_server: LoopbackController, inbox: Inbox) -> None:
    transport = SMTPTransport(_settings(smtp_server.port))
    assert transport.aftersales_mail_deliver(_email()) is True
    inbox.reply = "452 4.3.1 Insufficient storage"
    with pytest.raises(BackendUnavailable, match="452"):
        transport.aftersales_mail_deliver(_email())
    inbox.reply = "550 5.1.1 No such user"
    with pytest.raises(BackendError, match="550"):
        transport.aftersales_mail_deliver(_email())


def test_build_message_refuses_header_injection_even_past_the_records() -> None:
    injected = _email()
    object.__setattr__(injected, "subject", "Hi\r\nBcc: victim@example.com")
    with pytest.raises(InvalidInput, match="header injection"):
        build_message(injected, sender=SENDER)
    injected = _email()
    object.__setattr__(injected, "recipients", ("a@example.com\nBcc: victim@example.com",))
    with pytest.raises(InvalidInput, match="header injection"):
        build_message(injected, sender=SENDER)


def test_build_message_has_both_bodies() -> None:
    message = build_message(_email(text_body="Código", html_body="<p>Código</p>"), sender=SENDER)
    assert message["From"] == SENDER
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message.as_bytes().isascii()


# -- settings --------------------------------------------------------------------------------------


def test_settings_defaults_follow_the_security() -> None:
    assert SMTPSettings(sender=SENDER).effective_port == 587
    assert SMTPSettings(sender=SENDER, security="ssl").effective_port == 465
    assert SMTPSettings(sender=SENDER, security=SMTPSecurity.NONE).effective_port == 25
    assert SMTPSettings(sender=SENDER, port=2525).effective_port == 2525
    assert SMTPSettings(sender=SENDER).security is SMTPSecurity.STARTTLS
    defaults = SMTPSettings(sender=SENDER)
    assert (defaults.connect_timeout, defaults.timeout) == (10.0, 10.0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"sender": "not an address"}, "sender"),
        ({"sender": "Shop <shop@example.com>"}, "sender"),
        ({"security": "tls"}, "security"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"port": "25"}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"connect_timeout": float("nan")}, "connect_timeout"),
        ({"host": ""}, "host"),
        ({"host": "smtp example"}, "host"),
        ({"username": "u"}, "username"),
        ({"username": "u", "password": "p", "security": SMTPSecurity.NONE}, "security"),
    ],
)
def test_settings_refuse_bad_values(options: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"sender": SENDER}
    values.update(options)
    with pytest.raises(InvalidInput) as caught:
        SMTPSettings(**values)
    assert caught.value.field == field


def test_settings_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n", encoding="utf-8")
    settings = SMTPSettings.from_env(
        {
            "AFTERSALES_SMTP_SENDER": SENDER,
            "AFTERSALES_SMTP_HOST": "smtp.example.com",
            "AFTERSALES_SMTP_PORT": "2465",
            "AFTERSALES_SMTP_SECURITY": "SSL",
            "AFTERSALES_SMTP_USERNAME": USER,
            "AFTERSALES_SMTP_PASSWORD_FILE": str(secret),
            "AFTERSALES_SMTP_TIMEOUT": "12.5",
            "AFTERSALES_SMTP_CONNECT_TIMEOUT": "3",
            "AFTERSALES_SMTP_SENDER_NAME": "Shop",
        }
    )
    assert (settings.host, settings.effective_port, settings.security) == (
        "smtp.example.com",
        2465,
        SMTPSecurity.SSL,
    )
    assert (settings.username, settings.password, settings.timeout) == (USER, "from-a-file", 12.5)
    assert (settings.sender_name, settings.connect_timeout) == ("Shop", 3.0)
    minimal = SMTPSettings.from_env({"AFTERSALES_SMTP_SENDER": SENDER, "AFTERSALES_SMTP_HOST": " "})
    assert (minimal.host, minimal.username) == ("localhost", None)


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({}, "AFTERSALES_SMTP_SENDER"),
        ({"AFTERSALES_SMTP_PORT": "twenty-five"}, "AFTERSALES_SMTP_PORT"),
        ({"AFTERSALES_SMTP_SECURITY": "tls13"}, "AFTERSALES_SMTP_SECURITY"),
        ({"AFTERSALES_SMTP_TIMEOUT": "soon"}, "AFTERSALES_SMTP_TIMEOUT"),
        ({"AFTERSALES_SMTP_TIMEOUT": "0"}, "AFTERSALES_SMTP_TIMEOUT"),
        ({"AFTERSALES_SMTP_CONNECT_TIMEOUT": "-1"}, "AFTERSALES_SMTP_CONNECT_TIMEOUT"),
        ({"AFTERSALES_SMTP_PASSWORD_FILE": "/nonexistent/secret"}, "AFTERSALES_SMTP_PASSWORD_FILE"),
        (
            {"AFTERSALES_SMTP_PASSWORD": "a", "AFTERSALES_SMTP_PASSWORD_FILE": "/x"},
            "AFTERSALES_SMTP_PASSWORD_FILE",
        ),
    ],
)
def test_settings_from_a_bad_environment_name_the_variable(
    environ: dict[str, str], field: str
) -> None:
    values = {"AFTERSALES_SMTP_SENDER": SENDER} if field != "AFTERSALES_SMTP_SENDER" else {}
    values.update(environ)
    with pytest.raises(InvalidInput) as caught:
        SMTPSettings.from_env(values)
    assert caught.value.field == field


def test_the_transport_wins_over_the_memory_transport(
    desk: Desk,
) -> None:
    app = desk.app(_settings(25))
    impls = app.pm.hook.aftersales_mail_deliver.get_hookimpls()
    assert impls[-1].plugin_name != "memory"  # pluggy calls the last one first
    assert isinstance(impls[-1].plugin, SMTPTransport)
    assert repr(impls[-1].plugin) == "SMTPTransport(127.0.0.1:25, none)"
