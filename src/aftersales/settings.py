"""Team after-sales settings: toggles, the install plan, and module installation (ST-1 … ST-6)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from aftersales.access import Action
from aftersales.errors import InvalidConfiguration, InvalidInput
from aftersales.models import (
    Actor,
    Service,
    ServicesConfigured,
    Subscription,
    SubscriptionState,
    Team,
)
from aftersales.models._fields import check_text
from aftersales.modules import BASE_MODULES
from aftersales.runtime import Runtime
from aftersales.services._base import ServiceBase
from aftersales.subscription import SubscriptionService
from aftersales.unit_of_work import UnitOfWork

__all__ = ["InstallPlan", "SettingsService", "TeamSettings"]


@attrs.frozen(kw_only=True)
class InstallPlan:
    """What enabling services would do, computed without side effects (ST-5)."""

    team_id: str
    services: frozenset[Service]
    modules: tuple[str, ...]
    applications: tuple[str, ...]
    trial_starts: bool
    trial_ends_at: datetime | None

    @property
    def warning(self) -> str:
        """The warning the manual describes, or an empty string."""
        if not self.modules:
            return ""
        text = f"Enabling this will install: {', '.join(self.modules)}."
        if self.trial_starts and self.trial_ends_at is not None:
            text += (
                " Installing another application on a One-App-Free database starts a trial "
                f"that ends on {self.trial_ends_at.date().isoformat()}; without a paid "
                "subscription by then the database will be locked."
            )
        return text


@attrs.frozen(kw_only=True)
class TeamSettings:
    """A team's after-sales settings after a change, with what was installed."""

    team: Team
    installed: tuple[str, ...] = ()
    subscription: Subscription


def _services(value: Iterable[Service], field: str) -> frozenset[Service]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "expected a set of Service values")
    items = frozenset(value)
    for item in items:
        if not isinstance(item, Service):
            raise InvalidInput(
                field, item, f"must be one of: {', '.join(s.value for s in Service)}"
            )
    return items


def _names(services: frozenset[Service]) -> str:
    return ", ".join(sorted(s.value for s in services)) or "none"


class SettingsService(ServiceBase):
    """Turns after-sales services on and off per team: ``app.settings``."""

    def __init__(self, runtime: Runtime, subscription: SubscriptionService) -> None:
        super().__init__(runtime)
        self._subscription = subscription

    def team_settings(self, team_id: str, *, actor: Actor) -> Team:
        """The team with its toggles and FSM project."""
        return self._rt.read(lambda _uow: self._guard.team(actor, Action.CONFIGURE, team_id))

    def plan(
        self,
        team_id: str,
        *,
        enable: Iterable[Service] = (),
        disable: Iterable[Service] = (),
        actor: Actor,
    ) -> InstallPlan:
        """What :meth:`configure` would install and whether a trial would start (no changes)."""
        wanted_on = _services(enable, "enable")
        wanted_off = _services(disable, "disable")
        return self._rt.read(lambda uow: self._plan(uow, team_id, wanted_on, wanted_off, actor))

    def _plan(
        self,
        uow: UnitOfWork,
        team_id: str,
        enable: frozenset[Service],
        disable: frozenset[Service],
        actor: Actor,
    ) -> InstallPlan:
        team = self._guard.team(actor, Action.CONFIGURE, team_id)
        if enable & disable:
            both = ", ".join(sorted(s.value for s in enable & disable))
            raise InvalidInput("enable", both, "cannot be both enabled and disabled")
        services = (team.services | enable) - disable
        catalogue = self._rt.catalogue
        installed = self._hooks.modules_installed()
        modules = catalogue.install_order(catalogue.modules_for(services), installed)
        apps = catalogue.applications(modules)
        subscription = self._hooks.subscription_get()
        after = {m for m in installed | set(modules) if m in catalogue and m not in BASE_MODULES}
        trial = (
            subscription.state is SubscriptionState.FREE
            and bool(apps)
            and len(catalogue.applications(after)) > 1
        )
        return InstallPlan(
            team_id=team.id,
            services=frozenset(services),
            modules=modules,
            applications=apps,
            trial_starts=trial,
            trial_ends_at=uow.now + self._rt.config.trial_length if trial else None,
        )

    def configure(
        self,
        team_id: str,
        *,
        enable: Iterable[Service] = (),
        disable: Iterable[Service] = (),
        fsm_project_id: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> TeamSettings:
        """Turn services on or off on a team, installing the missing modules in order (ST-4).

        Turning field service on without a project picks the first field-service project
        (ST-2). Everything happens in one unit of work: if an install fails, the toggles
        and the subscription stay as they were.
        """
        wanted_on = _services(enable, "enable")
        wanted_off = _services(disable, "disable")
        if fsm_project_id is not None:
            check_text(fsm_project_id, "fsm_project_id", max_length=128)
        args = {
            "team_id": team_id,
            "enable": sorted(s.value for s in wanted_on),
            "disable": sorted(s.value for s in wanted_off),
            "fsm_project_id": fsm_project_id,
        }

        def work(uow: UnitOfWork) -> TeamSettings:
            plan = self._plan(uow, team_id, wanted_on, wanted_off, actor)
            done = uow.replay(idempotency_key, "settings.configure", args, TeamSettings)
            if done is not None:
                return done
            team = self._hooks.get_team(team_id)
            project_id = self._fsm_project(team, plan.services, fsm_project_id)
            for module in plan.modules:
                self._hooks.modules_install(module)
                self._audit(uow, actor, "module installed", detail=module, key=idempotency_key)
            subscription = (
                self._subscription.after_install(uow, self._hooks.modules_installed(), actor)
                if plan.modules
                else self._hooks.subscription_get()
            )
            updated = attrs.evolve(team, services=plan.services, fsm_project_id=project_id)
            if updated != team:
                self._hooks.save_team(updated)
                self._audit(
                    uow,
                    actor,
                    "team after-sales configured",
                    key=idempotency_key,
                    detail=f"team {team.name}: {_names(plan.services)}",
                )
                uow.record(
                    ServicesConfigured(
                        at=uow.now,
                        actor_id=actor.user_id,
                        team_id=team.id,
                        services=plan.services,
                        installed=plan.modules,
                    )
                )
            return TeamSettings(team=updated, installed=plan.modules, subscription=subscription)

        return self._rt.write(work)

    def _fsm_project(
        self, team: Team, services: frozenset[Service], wanted: str | None
    ) -> str | None:
        if wanted is not None:
            project = self._hooks.get_project(wanted)
            if not project.is_fsm:
                raise InvalidInput(
                    "fsm_project_id",
                    wanted,
                    f"project {project.name!r} is not a field-service project",
                )
            return project.id
        if Service.FIELD_SERVICE not in services or team.fsm_project_id is not None:
            return team.fsm_project_id
        first = next((p for p in self._hooks.list_projects() if p.is_fsm), None)
        if first is None:
            raise InvalidConfiguration(
                f"team {team.name!r} needs a field-service project to turn field service on, "
                "and there is none; create one first"
            )
        return first.id

    def uninstall(
        self, module: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> tuple[Team, ...]:
        """Uninstall ``module``; its toggle goes off on every team (ST-6).

        Returns the teams that changed.
        """
        check_text(module, "module", max_length=128)

        def work(uow: UnitOfWork) -> tuple[Team, ...]:
            self._guard.rights(actor, Action.CONFIGURE)
            self._guard.unlocked()
            done = uow.replay(
                idempotency_key, "settings.uninstall", {"module": module}, tuple[Team, ...]
            )
            if done is not None:
                return done
            if module not in self._hooks.modules_installed():
                raise InvalidInput("module", module, "is not installed")
            self._hooks.modules_uninstall(module)
            self._audit(uow, actor, "module uninstalled", detail=module, key=idempotency_key)
            service = self._rt.catalogue.service_of(module)
            changed: list[Team] = []
            if service is not None:
                for team in self._hooks.list_teams():
                    if team.has(service):
                        updated = self._hooks.save_team(
                            attrs.evolve(team, services=team.services - {service})
                        )
                        changed.append(updated)
                        self._audit(
                            uow,
                            actor,
                            "team after-sales configured",
                            key=idempotency_key,
                            detail=f"team {team.name}: {service.value} off ({module} uninstalled)",
                        )
            return tuple(changed)

        return self._rt.write(work)
