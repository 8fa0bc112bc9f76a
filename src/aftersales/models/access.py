"""Who acts: the [`Actor`][aftersales.models.access.Actor] passed to every call, and the groups
of access.md (AC-1).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Any

import attrs

from aftersales.errors import InvalidInput
from aftersales.models._fields import id_field, optional

__all__ = ["Actor", "Group"]


class Group(StrEnum):
    """Security groups (AC-1). A helpdesk manager is also a helpdesk user."""

    HELPDESK_USER = "helpdesk_user"
    HELPDESK_MANAGER = "helpdesk_manager"
    BILLING = "billing"
    STOCK_USER = "stock_user"
    FIELD_SERVICE_USER = "field_service_user"
    PORTAL = "portal"
    SYSTEM = "system"


_IMPLIED: dict[Group, frozenset[Group]] = {
    Group.HELPDESK_MANAGER: frozenset({Group.HELPDESK_USER}),
}


_VALID_GROUPS = ", ".join(group.value for group in Group)


def _group(item: Any) -> Group:
    try:
        return Group(item)
    except (ValueError, TypeError):
        raise InvalidInput(
            "groups", item, f"is not a group; the groups are: {_VALID_GROUPS}"
        ) from None


def _groups(value: object) -> frozenset[Group]:
    items = value if isinstance(value, set | frozenset | tuple | list) else (value,)
    return frozenset(map(_group, items))


@attrs.frozen(kw_only=True)
class Actor:
    """The user a call acts for: a user id, the user's partner (portal users) and groups.

    There is no default actor: every call names one.
    [`system()`][aftersales.models.access.Actor.system] builds the back-office actor for scripts,
    which has every right. A group that is not a `Group` (or its value) is an
    [`InvalidInput`][aftersales.errors.InvalidInput] listing the groups.

    The library trusts the actor it is given: the host application builds it from an
    authenticated session (see docs/access.md, "The trust model").
    """

    user_id: str = attrs.field(validator=id_field)
    groups: frozenset[Group] = attrs.field(converter=_groups, factory=frozenset)
    partner_id: str | None = attrs.field(default=None, validator=optional(id_field))

    @classmethod
    def system(cls, user_id: str = "system") -> Actor:
        """The back-office actor (group SYSTEM): allowed everything, for scripts only."""
        return cls(user_id=user_id, groups=frozenset({Group.SYSTEM}))

    @cached_property
    def effective_groups(self) -> frozenset[Group]:
        """The groups with implied ones added (a manager is also a user); computed once."""
        implied = {g for group in self.groups for g in _IMPLIED.get(group, ())}
        return self.groups | implied

    def has(self, group: Group) -> bool:
        """True when the actor is in `group` (directly, by implication, or as system)."""
        return Group.SYSTEM in self.groups or group in self.effective_groups
