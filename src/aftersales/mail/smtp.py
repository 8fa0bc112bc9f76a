"""An SMTP mail transport on the standard library's `smtplib`.

Register it next to your backend; it answers `aftersales_mail_deliver` before any other
transport (`tryfirst`), so the outbox of the backend keeps the emails and SMTP delivers
them:

```python
from aftersales import AfterSales
from aftersales.mail import SMTPSettings, SMTPTransport

smtp = SMTPTransport(SMTPSettings.from_env())      # AFTERSALES_SMTP_* variables
app = AfterSales(backend, plugins=[smtp])
```

A failure (connection refused, timeout, TLS or authentication error, message refused) is
raised as a [`BackendUnavailable`][aftersales.errors.BackendUnavailable] when trying again later
may help (no connection, a timeout, a 4xx reply: also when every recipient is refused and one of
them only for now) and as a [`BackendError`][aftersales.errors.BackendError] when it will not; the
library then keeps the email in the outbox as FAILED with the error, and
`app.outbox.retry()` sends it later. Recipients refused while others were accepted are
answered as a `DeliveryReport`: the email is sent, and the outbox
records who took it and who refused it.

`connect_timeout` bounds connecting (up to the server's greeting) and `timeout` every
later wait for the server (10 s each by default), so a slow server holds a call that sends
an email for about that long, not more per step.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import attrs

from aftersales.errors import BackendError, BackendUnavailable, InvalidInput
from aftersales.hookspecs import hookimpl
from aftersales.models._fields import check_member, check_text
from aftersales.models.mail import DeliveryReport, OutgoingEmail, check_email_address

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENV_PREFIX",
    "SMTPSecurity",
    "SMTPSettings",
    "SMTPTransport",
    "build_message",
]

log = logging.getLogger(__name__)

#: Prefix of the environment variables read by `SMTPSettings.from_env()`.
ENV_PREFIX = "AFTERSALES_SMTP_"

#: Seconds `SMTPSettings` waits to connect, and for each reply, by default.
DEFAULT_TIMEOUT: Final = 10.0

#: Failures that retrying the same message will not fix.
_PERMANENT: tuple[type[BaseException], ...] = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPSenderRefused,
    ssl.SSLCertVerificationError,
)


class SMTPSecurity(StrEnum):
    """How the connection to the SMTP server is protected."""

    #: Plain SMTP: only for a relay on the same host or a trusted network.
    NONE = "none"
    #: Connect in plain text, then upgrade with STARTTLS (refused if the server cannot).
    STARTTLS = "starttls"
    #: TLS from the first byte (SMTPS, usually port 465).
    SSL = "ssl"


_DEFAULT_PORTS = {SMTPSecurity.NONE: 25, SMTPSecurity.STARTTLS: 587, SMTPSecurity.SSL: 465}


def _security(value: Any) -> SMTPSecurity:
    return check_member(value, SMTPSecurity, "security")


def _host(_inst: Any, _a: attrs.Attribute[Any], value: Any) -> None:
    check_text(value, "host", max_length=253)
    if any(char.isspace() for char in value):
        raise InvalidInput("host", value, "must not contain spaces")


def _port(_inst: Any, _a: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise InvalidInput("port", value, "must be a whole number from 1 to 65535")


def _timeout(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(attribute.name, value, "expected a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(attribute.name, value, "must be a finite number of seconds above 0")


def _sender(_inst: Any, _a: attrs.Attribute[Any], value: Any) -> None:
    if check_email_address(value, "sender") != value:
        raise InvalidInput("sender", value, "expected a plain address (put a name in sender_name)")


def _optional_text(field: str) -> Any:
    def validate(_inst: Any, _a: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check_text(value, field, max_length=256)

    return validate


@attrs.frozen(kw_only=True)
class SMTPSettings:
    """Where and how to send: server, protection, credentials, timeouts and sender.

    `connect_timeout` bounds connecting, up to the server's greeting; `timeout` each
    later wait for the server (STARTTLS, login, every command and the message): seconds,
    `DEFAULT_TIMEOUT` (10) each by default.

    `port` defaults to 25, 587 or 465 after `security`. Credentials are only ever sent
    over TLS: a username with `security=NONE` is refused. `ssl_context` replaces the
    default one (system certificate authorities, host name checked), e.g. to trust a
    private authority. The password never appears in `repr` or in error messages.
    """

    sender: str = attrs.field(validator=_sender)
    host: str = attrs.field(default="localhost", validator=_host)
    port: int | None = attrs.field(default=None, validator=_port)
    security: SMTPSecurity = attrs.field(default=SMTPSecurity.STARTTLS, converter=_security)
    username: str | None = attrs.field(default=None, validator=_optional_text("username"))
    password: str | None = attrs.field(
        default=None, repr=False, validator=_optional_text("password")
    )
    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, validator=_timeout)
    connect_timeout: float = attrs.field(default=DEFAULT_TIMEOUT, validator=_timeout)
    sender_name: str | None = attrs.field(default=None, validator=_optional_text("sender_name"))
    local_hostname: str | None = attrs.field(
        default=None, validator=_optional_text("local_hostname")
    )
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise InvalidInput(
                "username", self.username, "give both a username and a password, or neither"
            )
        if self.username is not None and self.security is SMTPSecurity.NONE:
            raise InvalidInput(
                "security", self.security.value, "credentials are only sent over STARTTLS or SSL"
            )

    @property
    def effective_port(self) -> int:
        """The port to connect to: `port`, or the default of `security`."""
        return self.port if self.port is not None else _DEFAULT_PORTS[self.security]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX
    ) -> SMTPSettings:
        """Settings from environment variables (`os.environ` by default):

        `AFTERSALES_SMTP_SENDER` (required), `_HOST`, `_PORT`, `_SECURITY`
        (`none`, `starttls` or `ssl`), `_USERNAME`, `_PASSWORD` or
        `_PASSWORD_FILE` (a file holding the password, e.g. a container secret),
        `_TIMEOUT` and `_CONNECT_TIMEOUT` (seconds), `_SENDER_NAME`,
        `_LOCAL_HOSTNAME`.
        """
        if environ is None:
            import os

            environ = os.environ

        def get(name: str) -> str | None:
            value = environ.get(prefix + name)
            return value if value is None or value.strip() else None

        sender = get("SENDER")
        if sender is None:
            raise InvalidInput(prefix + "SENDER", None, "is required (the From address)")
        options: dict[str, Any] = {"sender": sender}
        if (host := get("HOST")) is not None:
            options["host"] = host
        if (port := get("PORT")) is not None:
            options["port"] = _parse(prefix + "PORT", port, int)
        if (security := get("SECURITY")) is not None:
            try:
                options["security"] = _security(security.strip().lower())
            except InvalidInput as exc:
                raise InvalidInput(prefix + "SECURITY", security, exc.reason) from None
        for name in ("TIMEOUT", "CONNECT_TIMEOUT"):
            if (seconds := get(name)) is not None:
                value = _parse(prefix + name, seconds, float)
                try:
                    _timeout(None, attrs.fields(cls).timeout, value)
                except InvalidInput as exc:
                    raise InvalidInput(prefix + name, seconds, exc.reason) from None
                options[name.lower()] = value
        password = get("PASSWORD")
        if (password_file := get("PASSWORD_FILE")) is not None:
            if password is not None:
                raise InvalidInput(
                    prefix + "PASSWORD_FILE",
                    password_file,
                    f"give it or {prefix}PASSWORD, not both",
                )
            try:
                password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise InvalidInput(
                    prefix + "PASSWORD_FILE", password_file, f"cannot be read ({exc.strerror})"
                ) from None
        options["username"] = get("USERNAME")
        options["password"] = password
        options["sender_name"] = get("SENDER_NAME")
        options["local_hostname"] = get("LOCAL_HOSTNAME")
        return cls(**options)


def _parse(field: str, value: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value.strip())
    except ValueError:
        raise InvalidInput(field, value, f"expected a {kind.__name__}") from None


def _no_line_breaks(value: str, field: str) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise InvalidInput(field, value, "contains a line break (header injection)")
    return value


def build_message(
    email: OutgoingEmail, *, sender: str, sender_name: str | None = None
) -> EmailMessage:
    """The MIME message of `email`: plain text with an HTML alternative.

    The `Message-ID` is derived from the email's id, so a retried email keeps it and a
    receiving server can tell a repeat.
    """
    for address in email.recipients:
        _no_line_breaks(address, "recipients")
    _no_line_breaks(email.subject, "subject")
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = ", ".join(email.recipients)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.created_at)
    message["Message-ID"] = f"<{email.id}@{sender.rpartition('@')[2]}>"
    # quoted-printable keeps the message 7-bit clean for any relay on the way
    message.set_content(email.text_body, cte="quoted-printable")
    message.add_alternative(email.html_body, subtype="html", cte="quoted-printable")
    return message


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SMTPTransport:
    """A mail plugin: delivers the outbox's emails through an SMTP server.

    One connection per email; `settings.connect_timeout` bounds connecting and
    `settings.timeout` every later network wait.
    """

    name = "smtp"

    def __init__(self, settings: SMTPSettings) -> None:
        if not isinstance(settings, SMTPSettings):
            raise InvalidInput("settings", settings, "expected SMTPSettings")
        self.settings = settings
        if settings.security is SMTPSecurity.NONE and not _is_loopback(settings.host):
            log.warning("SMTP to %s without TLS: use it only on a trusted network", settings.host)

    def __repr__(self) -> str:
        s = self.settings
        return f"SMTPTransport({s.host}:{s.effective_port}, {s.security.value})"

    @hookimpl(tryfirst=True)
    def aftersales_mail_deliver(self, email: OutgoingEmail) -> bool | DeliveryReport:
        """Send `email` to its recipients that have not taken it yet
        (`undelivered`; the `To` header names them all); raise
        [`BackendError`][aftersales.errors.BackendError] (or
        [`BackendUnavailable`][aftersales.errors.BackendUnavailable] when trying again later may
        help) when the server does not take it; answer a `DeliveryReport` when it took it for some
        recipients only."""
        s = self.settings
        message = build_message(email, sender=s.sender, sender_name=s.sender_name)
        where = f"SMTP {s.host}:{s.effective_port}"
        try:
            with self._connect() as client:
                refused = client.send_message(
                    message, from_addr=s.sender, to_addrs=list(email.undelivered)
                )
        except smtplib.SMTPRecipientsRefused as exc:
            # No recipient took it. Worth trying again if one was refused only for now (4xx).
            temporary = any(_temporary(code) for code, _ in exc.recipients.values())
            kind = BackendUnavailable if temporary else BackendError
            listed = ", ".join(
                f"{address} ({_reply(*answer)})" for address, answer in exc.recipients.items()
            )
            raise kind(f"{where}: every recipient was refused: {listed}") from exc
        except _PERMANENT as exc:
            raise BackendError(f"{where}: {type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx: the server refuses for good; 4xx: it may take it later.
            kind = BackendUnavailable if _temporary(exc.smtp_code) else BackendError
            raise kind(f"{where}: {type(exc).__name__}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise BackendUnavailable(f"{where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            # Some recipients took it: sending again would repeat it to them. Say who did
            # not, and who may later (4xx).
            return DeliveryReport(
                {a: _reply(*answer) for a, answer in refused.items() if not _temporary(answer[0])},
                deferred={
                    a: _reply(*answer) for a, answer in refused.items() if _temporary(answer[0])
                },
            )
        return True

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = s.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        # Connecting, up to the server's greeting, under the connect timeout; then the
        # socket (and the one STARTTLS makes from it) waits ``timeout`` for each reply.
        if s.security is SMTPSecurity.SSL:
            client = smtplib.SMTP_SSL(
                s.host,
                s.effective_port,
                local_hostname=s.local_hostname,
                timeout=s.connect_timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                s.host,
                s.effective_port,
                local_hostname=s.local_hostname,
                timeout=s.connect_timeout,
            )
        try:
            client.timeout = s.timeout
            if client.sock is not None:
                client.sock.settimeout(s.timeout)
            if s.security is SMTPSecurity.STARTTLS:
                client.starttls(context=context)  # raises when the server cannot: no downgrade
                client.ehlo()
            if s.username is not None and s.password is not None:
                client.login(s.username, s.password)
        except BaseException:
            client.close()
            raise
        return client


def _temporary(code: int) -> bool:
    """Whether an SMTP reply code says "not now" (4xx) rather than "never" (5xx)."""
    return 400 <= code < 500


def _reply(code: int, message: bytes | str) -> str:
    """A server's reply as one line: `550 5.1.1 No such user`."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(f"{code} {text}".split())
