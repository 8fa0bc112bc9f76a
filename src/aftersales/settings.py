"""Team after-sales settings: toggles, the install plan, and module installation (ST-1 … ST-6).

A helpdesk manager turns services on and off per team with
[`SettingsService.configure()`][SettingsService.configure];
[`SettingsService.plan()`][aftersales.settings.SettingsService.plan] says beforehand, without
changing anything, which modules and applications that would install and whether it would start the
One-App-Free trial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from aftersales.access import Action
from aftersales.arguments import a_text, an_id, enums, optional
from aftersales.errors import InvalidConfiguration, InvalidInput, InvalidOperation, InvalidState
from aftersales.formatting import show
from aftersales.models import (
    Actor,
    Service,
    ServicesConfigured,
    Subscription,
    Team,
    TeamConfig,
)
from aftersales.modules import BASE_MODULES
from aftersales.runtime import Runtime
from aftersales.services._base import ServiceBase
from aftersales.subscription import Trial
from aftersales.unit_of_work import UnitOfWork

__all__ = ["InstallPlan", "InstalledModule", "SettingsService", "TeamSettings", "Uninstalled"]


@attrs.frozen(kw_only=True)
class InstallPlan:
    """What [`SettingsService.configure()`][SettingsService.configure] would do, computed without
    side effects (ST-5).

    `services` are the toggles the team would have on; `modules` the modules that would
    be installed, in install order; `applications` those of them a subscription counts;
    `fsm_project_id` the team's default field-service project afterwards.
    """

    team_id: str
    services: frozenset[Service]
    modules: tuple[str, ...]
    applications: tuple[str, ...]
    trial_starts: bool
    trial_ends_at: datetime | None
    fsm_project_id: str | None = None

    @property
    def warning(self) -> str:
        """The warning the manual describes, or an empty string when nothing is installed."""
        if not self.modules:
            return ""
        text = f"Enabling this will install: {', '.join(self.modules)}."
        if self.applications:
            text += f" Applications among them: {', '.join(self.applications)}."
        if self.trial_starts and self.trial_ends_at is not None:
            text += (
                " Installing another application on a One-App-Free database starts a trial "
                f"that ends on {self.trial_ends_at.date().isoformat()}; without a paid "
                "subscription by then the database will be locked."
            )
        return text


@attrs.frozen(kw_only=True)
class TeamSettings:
    """A team's after-sales settings after a change, with what was installed (in order)
    and the subscription afterwards."""

    team: Team
    installed: tuple[str, ...] = ()
    subscription: Subscription


@attrs.frozen(kw_only=True)
class Uninstalled:
    """What [`SettingsService.uninstall()`][SettingsService.uninstall] removed: the modules
    (dependents first) and the teams whose toggles went off (ST-6)."""

    modules: tuple[str, ...]
    teams: tuple[Team, ...] = ()


@attrs.frozen(kw_only=True)
class InstalledModule:
    """A module installed on the database, as the settings page lists it (ST-3).

    `label`, `application` and `depends` come from the module catalogue; `service` is the
    toggle the module serves, if any. A module the catalogue does not know (installed by
    the ERP for something else) has its name as label, no dependencies and is no
    application.
    """

    name: str
    label: str
    application: bool
    depends: tuple[str, ...] = ()
    service: Service | None = None


def _names(services: Iterable[Service]) -> str:
    return ", ".join(sorted(s.value for s in services)) or "none"


class SettingsService(ServiceBase):
    """Turns after-sales services on and off per team: `app.settings`.

    Every call needs a helpdesk manager (AC-2) who may see the team (AC-3), and an
    unlocked database (ST-9).
    """

    def __init__(self, runtime: Runtime, trial: Trial) -> None:
        super().__init__(runtime)
        self._trial = trial

    def team_settings(self, team_id: str, *, actor: Actor) -> Team:
        """The team with its toggles and default field-service project.

        Args:
            team_id: The helpdesk team.
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The team, with its toggles and default field-service project.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2), or may not see the team
                (AC-3).
            NotFound: There is no team `team_id`.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """
        return self._rt.call(
            actor,
            Action.CONFIGURE,
            lambda _uow: self._guard.team(actor, Action.CONFIGURE, team_id),
            writes=False,
        )

    def modules(self, *, actor: Actor) -> tuple[InstalledModule, ...]:
        """The modules installed on the database, by name, for the settings page.

        Args:
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The installed modules, sorted by name, with label, dependencies, whether each is
            an application and the toggle it serves.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def read(_uow: UnitOfWork) -> tuple[InstalledModule, ...]:
            catalogue = self._rt.catalogue
            found = []
            for name in sorted(self._hooks.modules_installed()):
                if name not in catalogue:
                    found.append(InstalledModule(name=name, label=name, application=False))
                    continue
                module = catalogue[name]
                found.append(
                    InstalledModule(
                        name=name,
                        label=module.label,
                        application=module.application,
                        depends=module.depends,
                        service=catalogue.service_of(name),
                    )
                )
            return tuple(found)

        return self._rt.call(actor, Action.CONFIGURE, read, writes=False)

    def plan(
        self,
        team_id: str,
        *,
        enable: Iterable[Service | str] = (),
        disable: Iterable[Service | str] = (),
        fsm_project_id: str | None = None,
        actor: Actor,
    ) -> InstallPlan:
        """What [`configure()`][aftersales.settings.SettingsService.configure] with the same
        arguments would do; changes nothing (ST-5).

        Raises what [`configure()`][aftersales.settings.SettingsService.configure] would raise for
        the same arguments (for instance
        [`InvalidConfiguration`][aftersales.errors.InvalidConfiguration] when field service is
        asked for and there is no field-service project).

        Args:
            team_id: The helpdesk team.
            enable: The services to turn on (`Service` members or their values).
            disable: The services to turn off.
            fsm_project_id: The team's default field-service project (ST-2).
            actor: The user the call acts for; its groups decide what it may do (AC-2).

        Returns:
            The modules that would be installed, the applications among them, and the trial that
            would start, with its warning.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            NotFound: There is no team `team_id` or no project `fsm_project_id`.
            InvalidConfiguration: Field service without any field-service project.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
        """

        def work(uow: UnitOfWork) -> InstallPlan:
            team = self._guard.team(actor, Action.CONFIGURE, team_id)
            wanted_on = enums(enable, Service, "enable")
            wanted_off = enums(disable, Service, "disable")
            optional(an_id)(fsm_project_id, "fsm_project_id")
            installed = self._hooks.modules_installed()
            return self._plan(uow, team, wanted_on, wanted_off, fsm_project_id, installed)

        return self._rt.call(actor, Action.CONFIGURE, work, writes=False)

    def configure(
        self,
        team_id: str,
        *,
        enable: Iterable[Service | str] = (),
        disable: Iterable[Service | str] = (),
        fsm_project_id: str | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> TeamSettings:
        """Turn services on or off on a team, installing the missing modules in order (ST-4).

        Turning field service on without a project picks the first field-service project
        (ST-2); `fsm_project_id` sets or changes the team's default project. Everything
        happens in one unit of work: if an install fails, the toggles, the installed modules
        and the subscription stay as they were.

        Args:
            team_id: The helpdesk team.
            enable: The services to turn on (`Service` members or their values).
            disable: The services to turn off.
            fsm_project_id: The team's default field-service project (ST-2).
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The team after the change, the modules installed, and the subscription.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            NotFound: There is no team `team_id` or no project `fsm_project_id`.
            InvalidConfiguration: Field service without any field-service project, or a catalogue
                that does not hold a toggle's module.
            InvalidInput: An argument has the wrong type or shape (RL-4).
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> TeamSettings:
            team = self._guard.team(actor, Action.CONFIGURE, team_id)
            wanted_on = enums(enable, Service, "enable")
            wanted_off = enums(disable, Service, "disable")
            optional(an_id)(fsm_project_id, "fsm_project_id")
            args = {
                "team_id": team_id,
                "enable": sorted(s.value for s in wanted_on),
                "disable": sorted(s.value for s in wanted_off),
                "fsm_project_id": fsm_project_id,
            }
            done = uow.replay(idempotency_key, "settings.configure", args, TeamSettings)
            if done is not None:
                return done
            installed = self._hooks.modules_installed()
            plan = self._plan(uow, team, wanted_on, wanted_off, fsm_project_id, installed)
            for module in plan.modules:
                self._hooks.modules_install(module)
                self._audit(
                    uow,
                    actor,
                    "module installed",
                    key=idempotency_key,
                    detail=f"{module} (for team {team.name}: {_names(plan.services)})",
                )
            subscription = self._trial.after_install(
                uow, installed, plan.modules, actor, idempotency_key
            )
            updated = attrs.evolve(team, services=plan.services, fsm_project_id=plan.fsm_project_id)
            if updated != team:
                self._hooks.save_team_config(TeamConfig.of(updated))
                self._audit(
                    uow,
                    actor,
                    "team after-sales configured",
                    key=idempotency_key,
                    detail=f"team {team.name}: {_names(plan.services)}",
                )
            if updated != team or plan.modules:
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

        return self._rt.call(actor, Action.CONFIGURE, work, writes=True)

    def uninstall(
        self, module: str, *, actor: Actor, idempotency_key: str | None = None
    ) -> Uninstalled:
        """Uninstall `module` and every installed module that depends on it.

        Each uninstalled module that a toggle needs turns that toggle off on every team
        (ST-6). The always-present base modules cannot be uninstalled.

        Args:
            module: An installed module's name.
            actor: The user the call acts for; its groups decide what it may do (AC-2).
            idempotency_key: Repeating the call with this key and the same arguments returns the
                first result and changes nothing (RL-2).

        Returns:
            The modules uninstalled and the teams whose toggles were turned off.

        Raises:
            AccessDenied: The actor is not a helpdesk manager (AC-2).
            InvalidOperation: `module` is part of every database.
            InvalidState: `module` is not installed.
            DatabaseLocked: The trial has run out and no subscription is registered (ST-9).
            IdempotencyConflict: `idempotency_key` was used before with other arguments.
        """

        def work(uow: UnitOfWork) -> Uninstalled:
            a_text(module, "module", max_length=128)
            done = uow.replay(
                idempotency_key, "settings.uninstall", {"module": module}, Uninstalled
            )
            if done is not None:
                return done
            if module in BASE_MODULES:
                raise InvalidOperation(f"module {show(module)} is part of every database")
            installed = self._hooks.modules_installed()
            if module not in installed:
                raise InvalidState(f"module {show(module)} is not installed")
            catalogue = self._rt.catalogue
            order = (
                catalogue.uninstall_order(module, installed) if module in catalogue else (module,)
            )
            for name in order:
                self._hooks.modules_uninstall(name)
                self._audit(uow, actor, "module uninstalled", detail=name, key=idempotency_key)
            off = {s for s in map(catalogue.service_of, order) if s is not None}
            teams = self._switch_off(uow, off, actor, idempotency_key, order)
            return Uninstalled(modules=order, teams=teams)

        return self._rt.call(actor, Action.CONFIGURE, work, writes=True)

    # -- internals ----------------------------------------------------------------------------

    def _plan(
        self,
        uow: UnitOfWork,
        team: Team,
        enable: frozenset[Service],
        disable: frozenset[Service],
        fsm_project_id: str | None,
        installed: frozenset[str],
    ) -> InstallPlan:
        if enable & disable:
            raise InvalidInput(
                "enable", _names(enable & disable), "cannot be both enabled and disabled"
            )
        services = (team.services | enable) - disable
        catalogue = self._rt.catalogue
        modules = catalogue.install_order(catalogue.modules_for(services, installed), installed)
        subscription = self._hooks.subscription_get()
        trial = self._trial.would_start(subscription, installed, modules)
        return InstallPlan(
            team_id=team.id,
            services=frozenset(services),
            modules=modules,
            applications=catalogue.applications(modules),
            trial_starts=trial,
            trial_ends_at=uow.now + self._rt.config.trial_length if trial else None,
            fsm_project_id=self._fsm_project(team, services, fsm_project_id),
        )

    def _fsm_project(
        self, team: Team, services: frozenset[Service], wanted: str | None
    ) -> str | None:
        """The team's default field-service project after the change (ST-2)."""
        if wanted is not None:
            project = self._hooks.get_project(wanted)
            if not project.is_fsm:
                raise InvalidInput(
                    "fsm_project_id",
                    wanted,
                    f"project {show(project.name)} is not a field-service project",
                )
            return project.id
        if Service.FIELD_SERVICE not in services or team.fsm_project_id is not None:
            return team.fsm_project_id
        first = next((p for p in self._hooks.list_projects() if p.is_fsm), None)
        if first is None:
            raise InvalidConfiguration(
                f"team {show(team.name)} needs a field-service project to turn field service on, "
                "and there is none; create one first"
            )
        return first.id

    def _switch_off(
        self,
        uow: UnitOfWork,
        services: set[Service],
        actor: Actor,
        key: str | None,
        modules: Sequence[str],
    ) -> tuple[Team, ...]:
        changed: list[Team] = []
        if not services:
            return ()
        for team in self._hooks.list_teams():
            lost = team.services & services
            if not lost:
                continue
            updated = attrs.evolve(team, services=team.services - lost)
            self._hooks.save_team_config(TeamConfig.of(updated))
            changed.append(updated)
            self._audit(
                uow,
                actor,
                "team after-sales configured",
                key=key,
                detail=(f"team {team.name}: {_names(lost)} off ({', '.join(modules)} uninstalled)"),
            )
            uow.record(
                ServicesConfigured(
                    at=uow.now,
                    actor_id=actor.user_id,
                    team_id=team.id,
                    services=updated.services,
                    installed=(),
                )
            )
        return tuple(changed)
