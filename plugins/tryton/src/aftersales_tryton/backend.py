"""The ``tryton`` entry point of the ``aftersales.backends`` group: Tryton as the ERP.

Tryton serves the **accounting** port (its invoices and credit notes, through
[`TrytonAccounting`][aftersales_tryton.accounting.TrytonAccounting]), the **stock** port
(customer shipments and their returns, [`TrytonStock`][aftersales_tryton.stock.TrytonStock]),
the **loyalty** port (promotions and coupon numbers,
[`TrytonLoyalty`][aftersales_tryton.loyalty.TrytonLoyalty]) and the **project** port
(``project.work`` tasks, [`TrytonProject`][aftersales_tryton.tasks.TrytonProject]). The
helpdesk and the
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

The repair port is not wired to Tryton (Tryton has no repair orders at all): see
`UNAVAILABLE`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aftersales.errors import ConfigurationError, InvalidConfiguration, InvalidOperation
from aftersales.hookspecs import hookimpl
from aftersales.models import Subscription, SubscriptionState
from aftersales.modules import DEFAULT_MODULES, SERVICE_MODULES
from aftersales_tryton.accounting import TrytonAccounting
from aftersales_tryton.connection import Config, close, in_process, over_rpc
from aftersales_tryton.loyalty import TrytonLoyalty
from aftersales_tryton.stock import TrytonStock
from aftersales_tryton.tasks import TrytonProject

__all__ = ["NO_PLAN", "TRYTON_MODULES", "UNAVAILABLE", "TrytonBackend"]

#: The after-sales services Tryton does not serve, and why (the message a manager reads).
UNAVAILABLE: Mapping[str, str] = {
    "repairs": "Tryton has no repair orders (no Tryton module provides them)",
}


#: The Tryton modules each after-sales module stands for (activated through ``ir.module``,
#: with their dependencies). The host's modules (base, mail, helpdesk) need none.
TRYTON_MODULES: Mapping[str, tuple[str, ...]] = {
    "base": (),
    "mail": (),
    "helpdesk": (),
    "account": ("account_invoice",),
    "sale_management": ("sale",),
    "helpdesk_sale": ("sale",),
    "helpdesk_account": ("account_invoice",),
    "stock": ("stock",),
    "helpdesk_stock": ("stock",),
    "helpdesk_stock_account": ("account_invoice_stock",),
    "project": ("project",),
    "industry_fsm": ("project",),
    "project_helpdesk": ("project",),
    "helpdesk_fsm": ("project",),
    "sale_loyalty": ("sale_promotion_coupon",),
    "helpdesk_sale_loyalty": ("sale_promotion_coupon",),
}

#: What the plan shown to a manager reads: Tryton has no commercial plan.
NO_PLAN = "Tryton has no commercial plan: no trial, no lock"


def _services_needing(module: str) -> list[str]:
    """The after-sales services whose modules need `module` (itself or a dependency)."""
    depends = {m.name: m.depends for m in DEFAULT_MODULES}

    def closure(name: str) -> set[str]:
        found = {name}
        for dep in depends.get(name, ()):
            found |= closure(dep)
        return found

    return [s.value for s, m in SERVICE_MODULES.items() if module in closure(m)]


class TrytonBackend(TrytonAccounting, TrytonStock, TrytonLoyalty, TrytonProject):
    """Tryton as the ERP of an application: the accounting, stock, loyalty and project ports
    over proteus.

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

    # -- modules and subscription ports -----------------------------------------------------

    @hookimpl
    def aftersales_modules_installed(self) -> frozenset[str]:
        """The after-sales modules whose Tryton modules are all activated."""
        from aftersales_tryton.modules import module_states

        wanted = {t for tryton in TRYTON_MODULES.values() for t in tryton}
        states = module_states(self.config, wanted)
        return frozenset(
            name
            for name, tryton in TRYTON_MODULES.items()
            if all(states.get(t) == "activated" for t in tryton)
        )

    @hookimpl
    def aftersales_modules_install(self, name: str) -> str:
        """Activate the Tryton modules `name` stands for (a real install, dependencies
        first); refuse a module no Tryton module serves, naming what is missing."""
        if name not in TRYTON_MODULES:
            services = [s for s in _services_needing(name) if s in UNAVAILABLE] or ["none"]
            why = "; ".join(f"{s}: {UNAVAILABLE[s]}" for s in services if s in UNAVAILABLE)
            raise InvalidConfiguration(
                f"module {name!r} cannot be installed over Tryton, so the after-sales "
                f"service{'s' if len(services) > 1 else ''} {', '.join(services)} cannot be "
                f"enabled on a team ({why or 'no Tryton module serves it'}); docs/tryton.md"
            )
        tryton = TRYTON_MODULES[name]
        if tryton:
            from aftersales_tryton.modules import activate

            activate(self.config, tryton)
        return name

    @hookimpl
    def aftersales_modules_uninstall(self, name: str) -> str | None:
        raise InvalidOperation(
            f"module {name!r}: Tryton's modules are deactivated by a Tryton administrator, "
            "not from the helpdesk"
        )

    @hookimpl
    def aftersales_subscription_get(self) -> Subscription:
        """Tryton has no commercial plan: always paid for, never a trial, never locked."""
        return Subscription(state=SubscriptionState.PAID, paid_reference=NO_PLAN)

    @hookimpl
    def aftersales_subscription_save(self, subscription: Subscription) -> Subscription:
        return self.aftersales_subscription_get()

    def close(self) -> None:
        """End the XML-RPC session this backend opened (nothing in process)."""
        if self._owned:
            close(self.config)

    def __repr__(self) -> str:
        server: Any = getattr(self.config, "server", None)
        where = "in process" if server is None else "over XML-RPC"
        return f"TrytonBackend({where})"
