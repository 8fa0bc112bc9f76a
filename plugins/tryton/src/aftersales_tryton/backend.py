"""The ``tryton`` entry point of the ``aftersales.backends`` group: Tryton as the ERP.

Tryton serves the **accounting** port (its invoices and credit notes, through
[`TrytonAccounting`][aftersales_tryton.accounting.TrytonAccounting]). The helpdesk and the
after-sales store come from other plugins, so the Tryton backend is given to an application
beside a store, as a plugin that takes the accounting port from it:

```python
from aftersales import AfterSales
from aftersales.backends.sql import SqlBackend
from aftersales_tryton.backend import TrytonBackend

erp = TrytonBackend(url="http://127.0.0.1:8000/tryton/rpc/", user="admin", password="...")
app = AfterSales(SqlBackend("sqlite:///aftersales.db"), plugins=[erp])
```

Configuration: the arguments, or the environment when none is given (what
``AfterSales("tryton")`` and ``load_backend("tryton")`` do): ``AFTERSALES_TRYTON_URL``
(with ``AFTERSALES_TRYTON_USER`` and ``AFTERSALES_TRYTON_PASSWORD``) for a server over
XML-RPC, or ``AFTERSALES_TRYTON_DATABASE`` and ``AFTERSALES_TRYTON_CONFIG`` (a trytond
configuration file) to run trytond in this process. The company is the Tryton user's
current company.

The stock, loyalty, repair and project ports are not wired to Tryton (the first three are
being redesigned; Tryton has no repair orders at all): see `UNAVAILABLE`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aftersales.errors import ConfigurationError
from aftersales_tryton.accounting import TrytonAccounting
from aftersales_tryton.connection import Config, close, in_process, over_rpc

__all__ = ["UNAVAILABLE", "TrytonBackend"]

#: The after-sales services Tryton does not serve, and why (the message a manager reads).
UNAVAILABLE: Mapping[str, str] = {
    "repairs": "Tryton has no repair orders (no Tryton module provides them)",
    "returns": "the stock port (customer return shipments) is not wired to Tryton yet",
    "coupons": "the loyalty port (sale_promotion_coupon) is not wired to Tryton yet",
    "field_service": "the project port (project.work) is not wired to Tryton yet",
}


class TrytonBackend(TrytonAccounting):
    """Tryton as the ERP of an application: the accounting port over proteus.

    Args:
        url: The XML-RPC address of a Tryton database (``http://host:port/<db>/rpc/``).
        user: The Tryton user (over XML-RPC; in process, the user to act as).
        password: The user's password (over XML-RPC).
        database: The database to open in process (with `config_file`), instead of `url`.
        config_file: A trytond configuration file (in process).
        config: An existing proteus configuration (then nothing else is given).

    Raises:
        ConfigurationError: No way to reach Tryton, or two; the server refused the login.
    """

    name = "tryton"

    def __init__(
        self,
        *,
        url: str | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        config_file: str | Path | None = None,
        config: Config | None = None,
    ) -> None:
        given = [x for x in (url, database, config) if x is not None]
        if not given:
            url = os.environ.get("AFTERSALES_TRYTON_URL") or None
            database = os.environ.get("AFTERSALES_TRYTON_DATABASE") or None
            config_file = config_file or os.environ.get("AFTERSALES_TRYTON_CONFIG") or None
            user = user or os.environ.get("AFTERSALES_TRYTON_USER")
            password = password or os.environ.get("AFTERSALES_TRYTON_PASSWORD")
            given = [x for x in (url, database) if x is not None]
        if len(given) != 1:
            raise ConfigurationError(
                "the Tryton backend needs exactly one way to reach Tryton: url= (XML-RPC, with "
                "user= and password=), database= with config_file= (in process), or config= "
                "(a proteus configuration); or the environment variables AFTERSALES_TRYTON_URL "
                "(with AFTERSALES_TRYTON_USER, AFTERSALES_TRYTON_PASSWORD) or "
                "AFTERSALES_TRYTON_DATABASE with AFTERSALES_TRYTON_CONFIG; docs/tryton.md"
            )
        self._owned = config is None
        if config is not None:
            self.config = config
        elif url is not None:
            if not user or password is None:
                raise ConfigurationError("a Tryton URL needs user= and password=")
            self.config = over_rpc(url, user=user, password=password)
        else:
            assert database is not None
            if config_file is None:
                raise ConfigurationError(
                    f"Tryton database {database!r} in process needs config_file= (or "
                    "AFTERSALES_TRYTON_CONFIG): a trytond configuration file"
                )
            self.config = in_process(database, Path(config_file), user=user or "admin")

    def close(self) -> None:
        """End the XML-RPC session this backend opened (nothing in process)."""
        if self._owned:
            close(self.config)

    def __repr__(self) -> str:
        server: Any = getattr(self.config, "server", None)
        where = "in process" if server is None else "over XML-RPC"
        return f"TrytonBackend({where})"
