"""Proteus configurations: over XML-RPC to a running server, or in process on a database.

Every gateway function takes the configuration explicitly (``config``), never proteus'
process-wide current one, so two databases can be used side by side.
"""

from __future__ import annotations

import base64
import os
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aftersales.errors import ConfigurationError

__all__ = ["Config", "close", "for_this_thread", "in_process", "over_rpc", "rpc_url"]

#: A proteus configuration (``proteus.config.Config``; proteus ships no type information).
Config = Any


def for_this_thread(config: Config) -> Config:
    """`config`, after giving this thread a current proteus configuration if it has none.

    proteus keeps its current configuration per thread and reads it in some record
    operations (the ``repr`` of a record that an on_change of a new record makes), which
    fail in a thread that never connected: a backend called from a server's worker threads
    sets it first. Which configuration it is does not matter (the gateway passes ``config``
    explicitly), only that there is one.
    """
    from proteus import config as proteus_config

    current = proteus_config._CONFIG  # proteus' thread-local holder; no public setter
    if getattr(current, "current", None) is None:
        current.current = config
    return config


def rpc_url(host: str, port: int, database: str) -> str:
    """The XML-RPC address of ``database``: ``http://host:port/<db>/rpc/``.

    (trytond 8 answers RPC on ``/<db>/rpc/``; a plain ``/<db>/`` answers 405.)
    """
    if not database or "/" in database:
        raise ConfigurationError(f"a Tryton database name is needed, not {database!r}")
    return f"http://{host}:{port}/{database}/rpc/"


def over_rpc(url: str, *, user: str, password: str) -> Config:
    """A proteus configuration talking XML-RPC to ``url`` (see :func:`rpc_url`) in a session.

    It logs in once and sends the session with every call: credentials in the URL (basic
    authentication) would make the server check the password hash on every call, which
    costs more than the call itself. :func:`close` logs out.
    """
    from proteus import config

    if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        raise ConfigurationError("give the user and password as arguments, not in the URL")
    server = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)
    try:
        answer: Any = server.common.db.login(user, {"password": password})
        user_id, session, _ = answer
    except (xmlrpc.client.Fault, xmlrpc.client.ProtocolError) as exc:
        raise ConfigurationError(f"Tryton at {url} refused the login of {user!r}: {exc}") from exc
    except OSError as exc:
        raise ConfigurationError(f"no Tryton server answers at {url}: {exc}") from exc
    token = base64.b64encode(f"{user}:{user_id}:{session}".encode()).decode("ascii")
    return config.set_xmlrpc(url, headers=[("Authorization", "Session " + token)])


def close(config: Config) -> None:
    """End the session of a configuration made by :func:`over_rpc` (no-op in process)."""
    server = getattr(config, "server", None)
    if server is not None:
        server.common.db.logout()


@contextmanager
def _environment_kept() -> Iterator[None]:
    # proteus' set_trytond writes TRYTOND_DATABASE_URI into os.environ; it must not leak into
    # the servers a test starts afterwards.
    before = os.environ.get("TRYTOND_DATABASE_URI")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TRYTOND_DATABASE_URI", None)
        else:
            os.environ["TRYTOND_DATABASE_URI"] = before


def in_process(database: str, config_file: Path, *, user: str = "admin") -> Config:
    """A proteus configuration running trytond in this process on ``database``.

    ``config_file`` is a trytond configuration (its ``[database]`` section says where the
    database is). Needs trytond and the modules installed in this environment.
    """
    if not config_file.is_file():
        raise ConfigurationError(f"no trytond configuration file at {config_file}")
    from proteus import config

    with _environment_kept():
        return config.set_trytond(database, user=user, config_file=str(config_file))
