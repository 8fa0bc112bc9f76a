"""One rule for the arguments of every public call (aftersales.arguments, docs/api.md).

An enum-typed argument takes the member or its exact value string; anything else is an
:class:`InvalidInput` naming the argument, the value and the allowed values, and changes
nothing. Every public call with an enum argument is walked here, through the valid
arguments of the hostile-input table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import attrs
import pytest

from aftersales import arguments
from aftersales.errors import InvalidInput
from aftersales.models import (
    Actor,
    CreditMethod,
    DocumentKind,
    EmailState,
    Group,
    InvoiceKind,
    InvoiceMethod,
    Service,
    TaskStage,
)
from aftersales.models._fields import allowed_values
from tests.reliability.hostile import (
    Targets,
    call_named,
    invoke,
    prepare_targets,
    public_calls,
)
from tests.reliability.setting import Setting

Override = Callable[[Setting, Targets], dict[str, Any]]


def _none(_s: Setting, _t: Targets) -> dict[str, Any]:
    return {}


@attrs.frozen
class EnumArgument:
    """One enum-typed argument of a public call, a member it may take (not the default,
    so that the member is really used) and what else the call needs for it."""

    call: str
    param: str
    member: Enum
    override: Override = _none
    #: The argument is a set of the enum's values (``settings``' ``enable``/``disable``).
    many: bool = False

    @property
    def kind(self) -> type[Enum]:
        return type(self.member)

    def given(self, value: object) -> object:
        return [value] if self.many else value

    def __str__(self) -> str:
        return f"{self.call}({self.param})"


def _fresh_invoice(s: Setting, _t: Targets) -> dict[str, Any]:
    return {"invoice_id": s.invoice().id, "lines": None}


def _all_emails(_s: Setting, _t: Targets) -> dict[str, Any]:
    return {"pending_only": False}


ENUM_ARGUMENTS: tuple[EnumArgument, ...] = (
    EnumArgument("refunds.reverse", "method", CreditMethod.FULL, _fresh_invoice),
    EnumArgument("field_service.set_stage", "stage", TaskStage.IN_PROGRESS),
    EnumArgument("repairs.create", "invoice_method", InvoiceMethod.AFTER_REPAIR),
    EnumArgument("repairs.update", "invoice_method", InvoiceMethod.AFTER_REPAIR),
    EnumArgument("outbox.emails", "state", EmailState.SENT, _all_emails),
    EnumArgument("settings.plan", "enable", Service.RETURNS, many=True),
    EnumArgument("settings.plan", "disable", Service.COUPONS, many=True),
    EnumArgument("settings.configure", "enable", Service.RETURNS, many=True),
    EnumArgument("settings.configure", "disable", Service.REFUNDS, many=True),
    EnumArgument("tickets.documents_page", "kind", DocumentKind.CREDIT_NOTE),
)


def test_the_table_holds_every_enum_argument_of_every_public_call(setting: Setting) -> None:
    """Every parameter annotated with an enum of aftersales.models is in the table."""
    import inspect

    import aftersales.models as models

    enums = {
        name
        for name in dir(models)
        if isinstance(getattr(models, name), type) and issubclass(getattr(models, name), Enum)
    }
    found: set[tuple[str, str]] = set()
    for service in public_calls(setting.app):
        owner, name = service.split(".")
        method = getattr(getattr(setting.app, owner), name)
        for param in inspect.signature(method).parameters.values():
            if param.name != "actor" and any(word in str(param.annotation) for word in enums):
                found.add((service, param.name))
    assert found == {(a.call, a.param) for a in ENUM_ARGUMENTS}


def _call(
    s: Setting, t: Targets, argument: EnumArgument, value: object, override: dict[str, Any]
) -> object:
    call = call_named(argument.call)
    return invoke(s, t, call, **override, **{argument.param: argument.given(value)})


def _takes_key(s: Setting, argument: EnumArgument) -> bool:
    return "idempotency_key" in public_calls(s.app)[argument.call]


@pytest.mark.parametrize("argument", ENUM_ARGUMENTS, ids=str)
def test_the_member_and_its_value_string_are_the_same_argument(
    setting: Setting, argument: EnumArgument
) -> None:
    """The member goes through; its value string is the same call (under the same
    idempotency key it replays the first result and changes nothing)."""
    targets = prepare_targets(setting)
    key = {"idempotency_key": "same-argument"} if _takes_key(setting, argument) else {}
    override = argument.override(setting, targets)
    call = call_named(argument.call)
    member = {argument.param: argument.given(argument.member), **key}
    first = invoke(setting, targets, call, **override, **member)
    before = setting.snapshot()
    value = {argument.param: argument.given(argument.member.value), **key}
    assert type(argument.member.value) is str
    assert invoke(setting, targets, call, **override, **value) == first
    if key:
        assert setting.snapshot() == before


@pytest.mark.parametrize("argument", ENUM_ARGUMENTS, ids=str)
def test_the_value_string_alone_goes_through(setting: Setting, argument: EnumArgument) -> None:
    targets = prepare_targets(setting)
    override = argument.override(setting, targets)
    _call(setting, targets, argument, argument.member.value, override)


def _wrong_strings(argument: EnumArgument) -> list[object]:
    value = str(argument.member.value)
    return ["no-such-value", argument.member.name, value.upper(), f" {value}", value.title(), ""]


#: Calls whose enum argument may be None: every state (emails) or kind (documents).
_NONE_MEANS_EVERY = {"outbox.emails", "tickets.documents_page"}


def _wrong_types(argument: EnumArgument) -> list[object]:
    foreign = Group.BILLING if argument.kind is not Group else Service.REFUNDS
    found: list[object] = [3, 1.5, b"full", ["x"], object(), foreign]
    if argument.call not in _NONE_MEANS_EVERY or argument.many:
        found.append(None)
    return found


@pytest.mark.parametrize("argument", ENUM_ARGUMENTS, ids=str)
@pytest.mark.parametrize("wrong", ["string", "type"])
def test_anything_else_is_refused_with_the_allowed_values_and_changes_nothing(
    setting: Setting, argument: EnumArgument, wrong: str
) -> None:
    targets = prepare_targets(setting)
    override = argument.override(setting, targets)
    values = _wrong_strings(argument) if wrong == "string" else _wrong_types(argument)
    allowed = allowed_values(argument.kind)
    for value in values:
        before = setting.snapshot()
        with pytest.raises(InvalidInput) as refused:
            _call(setting, targets, argument, value, override)
        assert refused.value.field == argument.param, value
        assert refused.value.value == value
        assert f"must be one of: {allowed}" in str(refused.value)
        assert setting.snapshot() == before


def test_a_bare_string_is_not_a_set_of_services(setting: Setting) -> None:
    targets = prepare_targets(setting)
    for name in ("settings.plan", "settings.configure"):
        with pytest.raises(InvalidInput, match=r"enable=returns: expected a set of Service"):
            invoke(setting, targets, call_named(name), enable="returns")


def test_the_groups_of_an_actor_follow_the_same_rule() -> None:
    assert Actor(user_id="u", groups={"billing", Group.PORTAL}).groups == {
        Group.BILLING,
        Group.PORTAL,
    }
    for wrong in ("Billing", "BILLING", "root", 3, None, Service.REFUNDS):
        with pytest.raises(InvalidInput, match="the groups are: helpdesk_user") as refused:
            Actor(user_id="u", groups={wrong})
        assert refused.value.field == "groups"


# -- the checks themselves ---------------------------------------------------------------------


def test_an_enum_refuses_a_member_of_another_enum_even_with_the_same_value() -> None:
    assert DocumentKind.INVOICE.value == InvoiceKind.INVOICE.value
    assert arguments.an_enum("invoice", InvoiceKind, "kind") is InvoiceKind.INVOICE
    assert arguments.an_enum(InvoiceKind.INVOICE, InvoiceKind, "kind") is InvoiceKind.INVOICE
    with pytest.raises(InvalidInput, match=r"must be one of: invoice, credit_note \(an? "):
        arguments.an_enum(DocumentKind.INVOICE, InvoiceKind, "kind")


def test_optional_lets_none_through_and_checks_the_rest() -> None:
    check = arguments.optional(arguments.an_id)
    assert check(None, "sale_order_id") is None
    assert check("so-1", "sale_order_id") == "so-1"
    with pytest.raises(InvalidInput, match="sale_order_id"):
        check("so 1", "sale_order_id")


def test_items_names_the_wrong_item() -> None:
    with pytest.raises(InvalidInput, match=r"^parts\[1\]=7: expected an Actor or a Group$"):
        arguments.items([Actor.system(), 7], "parts", Actor, Group)
    assert arguments.items((1, 2), "numbers") == (1, 2)
