"""The composition root: plugin manager, clock, configuration and one attribute per service."""

from __future__ import annotations

from collections.abc import Iterable

from aftersales.clock import Clock, SystemClock
from aftersales.errors import ConfigurationError
from aftersales.hooks import Hooks
from aftersales.models import Service
from aftersales.modules import DEFAULT_MODULES, ModuleCatalogue
from aftersales.plugins import PluginManager, load_backend
from aftersales.runtime import Config, Runtime
from aftersales.services.coupons import CouponService
from aftersales.services.field_service import FieldServiceService
from aftersales.services.idempotency import IdempotencyService
from aftersales.services.imports import ImportService
from aftersales.services.outbox import OutboxService
from aftersales.services.refunds import RefundService
from aftersales.services.repairs import RepairService
from aftersales.services.returns import ReturnService
from aftersales.services.tickets import TicketViewService
from aftersales.settings import SettingsService
from aftersales.subscription import SubscriptionService, Trial

__all__ = ["AfterSales"]


class AfterSales:
    """After-sales services over one or more backends.

    `backends` are plugin objects (such as `MemoryBackend`)
    or names of installed backends (entry-point group `aftersales.backends`); `plugins`
    are more plugins (a mail transport, a host helpdesk, event subscribers). Every port of
    `aftersales.ports` gets one owner: a port that one of `plugins` implements is
    taken from the backends. Construction fails with one message naming every port with no
    owner, with two, or whose owner lacks a hook the enabled `services` need (RL-7).

    Examples:
        >>> from aftersales.backends.memory import MemoryBackend
        >>> app = AfterSales(MemoryBackend())
        >>> sorted(app.plugins())
        ['memory']
    """

    def __init__(
        self,
        *backends: object,
        clock: Clock | None = None,
        config: Config | None = None,
        services: Iterable[Service] = tuple(Service),
        plugins: Iterable[object] = (),
    ) -> None:
        if not backends:
            raise ConfigurationError(
                "AfterSales needs a backend, e.g. AfterSales(MemoryBackend()) "
                "or AfterSales('memory')"
            )
        self.pm = PluginManager()
        self.services = frozenset(services)
        self.pm.compose(
            [load_backend(b) if isinstance(b, str) else b for b in backends],
            plugins,
            self.services,
        )
        self.hooks = Hooks(self.pm)
        self.clock: Clock = clock or SystemClock()
        catalogue = ModuleCatalogue([*DEFAULT_MODULES, *self.hooks.modules_catalogue()])
        catalogue.check_services()
        self.runtime = Runtime(self.hooks, self.clock, config or Config(), catalogue)

        trial = Trial(self.runtime)
        self.subscription = SubscriptionService(self.runtime, trial)
        self.settings = SettingsService(self.runtime, trial)
        self.tickets = TicketViewService(self.runtime)
        self.refunds = RefundService(self.runtime)
        self.coupons = CouponService(self.runtime)
        self.returns = ReturnService(self.runtime)
        self.repairs = RepairService(self.runtime)
        self.field_service = FieldServiceService(self.runtime)
        self.outbox = OutboxService(self.runtime)
        self.idempotency = IdempotencyService(self.runtime)
        self.imports = ImportService(self.runtime)

    def plugins(self) -> dict[str, tuple[str, ...]]:
        """Registered plugins and the hooks each implements."""
        return self.pm.implemented()

    def ports(self) -> dict[str, str]:
        """`{port: owner}`: the plugin that owns each port (see `aftersales.ports`).

        Examples:
            >>> from aftersales.backends.memory import MemoryBackend
            >>> AfterSales(MemoryBackend()).ports()["helpdesk"]
            'memory'
        """
        return self.pm.owners()
