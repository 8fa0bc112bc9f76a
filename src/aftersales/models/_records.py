"""`evolve` and `assemble`: records made without checks that cannot fail.

`attrs.evolve()` builds the copy through `__init__`, so every converter and validator
runs again on every field. A record is immutable and was valid when it was made, so a
validator that looks at its own field only (`FIELD_LOCAL`)
cannot fail on a field that did not change; `evolve()` skips those and runs every other
validator (those that may look at other fields, such as an invoice's lines against its
currency) as `__init__` would, in field order, after every field is set. The result is
the record `attrs.evolve` returns, or the same exception.

`assemble()` makes a new record from values the library has already checked (ids of
stored records, the unit of work's time, text built from validated text): it runs the
defaults, converters and cross-field validators as `__init__` does, and skips the
field-local ones. The test suite checks every record the flows store with
`attrs.validate()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs

from aftersales.models._fields import FIELD_LOCAL, IDEMPOTENT

__all__ = ["assemble", "evolve"]

T = TypeVar("T")

_ABSENT: Any = object()
_new = object.__new__
_set = object.__setattr__


@attrs.frozen
class _Field:
    name: str
    alias: str
    attribute: attrs.Attribute[Any]
    default: Any  # attrs.NOTHING when the field is required
    converter: Callable[[Any], Any] | None
    reconvert: bool  # run the converter on an unchanged value too
    validator: Callable[[Any, attrs.Attribute[Any], Any], None] | None
    revalidate: bool  # run the validator on an unchanged value too


_PLANS: dict[type[Any], tuple[_Field, ...] | None] = {}

#: Converters that take the instance or the field (attrs 24.1+); none before.
_CONTEXT_CONVERTER: Any = getattr(attrs, "Converter", ())


def _plan(cls: type[Any]) -> tuple[_Field, ...] | None:
    """How to copy `cls` field by field, or `None` to leave it to `attrs.evolve`."""
    if not attrs.has(cls) or hasattr(cls, "__attrs_pre_init__"):
        return None
    if hasattr(cls, "__attrs_post_init__"):
        return None
    plan = []
    for field in attrs.fields(cls):
        converter = field.converter
        if not field.init or isinstance(converter, _CONTEXT_CONVERTER):
            return None
        plan.append(
            _Field(
                name=field.name,
                alias=field.alias,
                attribute=field,
                default=field.default,
                converter=converter,
                reconvert=converter is not None and converter not in IDEMPOTENT,
                validator=field.validator,
                revalidate=field.validator is not None and field.validator not in FIELD_LOCAL,
            )
        )
    return tuple(plan)


def _finished(
    new: T,
    plan: tuple[_Field, ...],
    given: dict[str, Any],
    used: int,
    checks: list[tuple[_Field, Any]],
) -> T:
    """Refuse a name that is not a field (`used` of `given` were), then run `checks`."""
    if used != len(given):
        unknown = sorted(set(given) - {field.alias for field in plan})
        raise TypeError(
            f"{type(new).__name__}.__init__() got an unexpected keyword argument {unknown[0]!r}"
        )
    for field, value in checks:
        field.validator(new, field.attribute, value)  # type: ignore[misc]
    return new


def _plan_of(cls: type[Any]) -> tuple[_Field, ...] | None:
    try:
        return _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
        return plan


def evolve(inst: T, **changes: Any) -> T:
    """`attrs.evolve(inst, **changes)`, skipping checks that cannot fail (see the module)."""
    cls = type(inst)
    plan = _plan_of(cls)
    if plan is None or attrs.validators.get_disabled():
        evolved: T = attrs.evolve(cast(Any, inst), **changes)
        return evolved
    new = _new(cls)
    used = 0
    checks: list[tuple[_Field, Any]] = []
    for field in plan:
        if field.alias in changes:
            value = changes[field.alias]
            used += 1
            if field.converter is not None:
                value = field.converter(value)
            if field.validator is not None:
                checks.append((field, value))
        else:
            value = getattr(inst, field.name)
            if field.reconvert:
                value = field.converter(value)  # type: ignore[misc]
            if field.revalidate:
                checks.append((field, value))
        _set(new, field.name, value)
    return _finished(new, plan, changes, used, checks)


def assemble(cls: type[T], /, **values: Any) -> T:
    """`cls(**values)` without the field-local validators, for values already checked.

    Only for values the library has checked itself or taken from valid records: the
    validators skipped are those that look at one field (`FIELD_LOCAL`); defaults
    (including those computed from the record), converters and every other validator run
    as in `__init__`. A missing required field or an unknown name raises `TypeError`.
    """
    plan = _plan_of(cls)
    if plan is None or attrs.validators.get_disabled():
        return cls(**values)
    new = _new(cls)
    used = 0
    checks: list[tuple[_Field, Any]] = []
    for field in plan:
        value = values.get(field.alias, _ABSENT)
        if value is _ABSENT:
            value = field.default
            if value is attrs.NOTHING:
                raise TypeError(
                    f"{cls.__name__}.__init__() missing 1 required keyword-only argument: "
                    f"{field.alias!r}"
                )
            if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
                value = value.factory(new) if value.takes_self else value.factory()
        else:
            used += 1
        if field.converter is not None:
            value = field.converter(value)
        if field.revalidate:
            checks.append((field, value))
        _set(new, field.name, value)
    return _finished(new, plan, values, used, checks)
