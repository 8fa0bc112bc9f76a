"""JSON Schema of the JSON form the converter gives each record, for an OpenAPI document.

The schema is derived from the attrs records' fields and their types, and says exactly what
the converter (`aftersales.serialization.converter`) writes: every field present (`required`),
no other key (`additionalProperties: false`, as the converter refuses extra keys when it
reads), `Decimal` as a decimal string (`"9.50"`, with a pattern), `datetime` as a
`date-time` string and `date` as a `date` string (ISO 8601), enum members as their values,
tuples and lists as arrays, a `frozenset` as a sorted array of unique items, `X | None` as
`anyOf` with `null`, and each record, nested or not, as a definition referenced by `$ref`.
The dialect is JSON Schema 2020-12, the one OpenAPI 3.1 uses.

Examples:
    >>> from aftersales.models import Money
    >>> schema = json_schema(Money)
    >>> schema["$ref"], sorted(schema["$defs"]["Money"]["properties"])
    ('#/$defs/Money', ['amount', 'currency'])
    >>> schema["$defs"]["Money"]["properties"]["amount"]["pattern"]
    '^-?[0-9]+(\\\\.[0-9]+)?(E[+-][0-9]+)?$'
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs

from aftersales import errors
from aftersales.errors import InvalidInput

__all__ = [
    "DECIMAL_PATTERN",
    "DIALECT",
    "definitions",
    "error_schema",
    "json_schema",
    "schema_name",
]

#: The JSON Schema dialect of every schema made here (OpenAPI 3.1's default).
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: What `str(Decimal)` writes for a finite number: `-1`, `9.50`, `1E+30`.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?(E[+-][0-9]+)?$"

_SCALARS: Mapping[type, dict[str, Any]] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    Decimal: {"type": "string", "pattern": DECIMAL_PATTERN},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
}


def schema_name(kind: Any) -> str:
    """The name of `kind`'s definition: the class name, with a generic's arguments
    joined by `_` (`Page[Invoice]` → `Page_Invoice`), fit for an OpenAPI component key.

    Examples:
        >>> from aftersales.models import Invoice
        >>> from aftersales.paging import Page
        >>> schema_name(Invoice), schema_name(Page[Invoice])
        ('Invoice', 'Page_Invoice')
    """
    origin = typing.get_origin(kind)
    if origin is None:
        return str(kind.__name__)
    return "_".join([schema_name(origin), *(schema_name(a) for a in typing.get_args(kind))])


def json_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of what `converter.unstructure()` gives for a value of type `kind`.

    `kind` is a record class (`TicketView`), a parameterised one (`Page[Invoice]`), or any
    type a call returns (`tuple[Invoice, ...]`, `int`). Records are in `$defs`, referenced
    as `#/$defs/<name>`.

    Args:
        kind: The type whose JSON form to describe.

    Returns:
        A standalone schema (with `$schema` and `$defs`).

    Raises:
        InvalidInput: The converter has no JSON form for `kind` (bytes, an arbitrary class).
    """
    builder = _Builder("#/$defs/")
    root = builder.schema(kind)
    schema: dict[str, Any] = {"$schema": DIALECT, **root}
    if builder.defs:
        schema["$defs"] = dict(sorted(builder.defs.items()))
    return schema


def definitions(
    kinds: Iterable[Any], *, ref_prefix: str = "#/components/schemas/"
) -> dict[str, dict[str, Any]]:
    """The definitions of `kinds` and of every record they hold, by name, referencing each
    other under `ref_prefix`: what an OpenAPI document puts in `components.schemas`.

    Args:
        kinds: Record classes (or parameterised ones such as `Page[Invoice]`).
        ref_prefix: Where the references point; OpenAPI's components by default.

    Returns:
        `{name: schema}` for every record reached, sorted by name.

    Raises:
        InvalidInput: The converter has no JSON form for one of `kinds`.
    """
    builder = _Builder(ref_prefix)
    for kind in kinds:
        builder.schema(kind)
    return dict(sorted(builder.defs.items()))


def error_schema() -> dict[str, Any]:
    """The JSON Schema of an error's [`to_dict()`][aftersales.errors.AfterSalesError.to_dict]:
    one of the error classes, told apart by `code`, each with its `status` and every one of
    its `fields` (a value of any JSON type, `null` when the error does not know it).

    Returns:
        A schema without `$schema` (to embed as a definition, e.g. OpenAPI's `Error`).

    Examples:
        >>> schema = error_schema()
        >>> [s["properties"]["code"]["const"] for s in schema["oneOf"]][:3]
        ['access_denied', 'backend_error', 'backend_not_found']
    """
    kinds: list[type[errors.AfterSalesError]] = []
    for name in errors.__all__:
        kind = getattr(errors, name)
        if isinstance(kind, type) and issubclass(kind, errors.AfterSalesError):
            kinds.append(kind)
    kinds.sort(key=lambda k: k.code)
    return {
        "title": "Error",
        "description": "A refused or failed call, as `to_dict()` writes it.",
        "oneOf": [_error(kind) for kind in kinds],
    }


def _error(kind: type[errors.AfterSalesError]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "code": {"const": kind.code},
        "message": {"type": "string"},
        "status": {"const": kind.http_status},
        **{name: {} for name in kind.fields},
    }
    return {
        "title": kind.__name__,
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


class _Builder:
    """Walks types, collecting each record's definition once."""

    def __init__(self, ref_prefix: str) -> None:
        self.ref_prefix = ref_prefix
        self.defs: dict[str, dict[str, Any]] = {}
        self._owners: dict[str, Any] = {}

    def schema(self, kind: Any) -> dict[str, Any]:
        if kind is Any:
            return {}
        if kind is None or kind is type(None):
            return {"type": "null"}
        origin = typing.get_origin(kind)
        args = typing.get_args(kind)
        if origin in (typing.Union, types.UnionType):
            return self._union(args)
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin is not None and attrs.has(origin):
            return self._record(kind, origin, args)
        if origin is not None:
            return self._container(kind, origin, args)
        if isinstance(kind, type):
            if issubclass(kind, Enum):
                return {"type": _type_of(kind), "enum": [m.value for m in kind]}
            if attrs.has(kind):
                return self._record(kind, kind, ())
            for scalar in (bool, datetime, date, Decimal, int, float, str):
                if issubclass(kind, scalar):
                    return dict(_SCALARS[scalar])
        raise InvalidInput("kind", kind, "has no JSON form the converter writes")

    def _union(self, args: Sequence[Any]) -> dict[str, Any]:
        members = [self.schema(a) for a in args]
        return members[0] if len(members) == 1 else {"anyOf": members}

    def _container(self, kind: Any, origin: Any, args: Sequence[Any]) -> dict[str, Any]:
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.schema(args[0])}
            if args == ((),) or not args:
                return {"type": "array", "maxItems": 0}
            return {
                "type": "array",
                "prefixItems": [self.schema(a) for a in args],
                "items": False,
            }
        if isinstance(origin, type) and issubclass(origin, Mapping):
            key, value = args if args else (str, Any)
            if key is not str:
                raise InvalidInput("kind", kind, "has keys that are not strings in JSON")
            return {"type": "object", "additionalProperties": self.schema(value)}
        if isinstance(origin, type) and issubclass(origin, Set):
            return {"type": "array", "items": self.schema(args[0]), "uniqueItems": True}
        if isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str:
            return {"type": "array", "items": self.schema(args[0] if args else Any)}
        raise InvalidInput("kind", kind, "has no JSON form the converter writes")

    def _record(self, kind: Any, cls: type, args: Sequence[Any]) -> dict[str, Any]:
        short = schema_name(kind)
        module = cls.__module__
        names = (
            short,
            f"{module.rsplit('.', 1)[-1]}_{short}",
            f"{module.replace('.', '_')}_{short}",
        )
        name = next((n for n in names if self._owners.get(n, kind) == kind), None)
        if name is None:
            raise InvalidInput("kind", kind, "has the name of another record of its module")
        ref = {"$ref": f"{self.ref_prefix}{name}"}
        if name in self._owners:
            return ref
        self._owners[name] = kind
        self.defs[name] = {}  # reserved: a record that holds itself refers to its name
        bound = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
        hints = typing.get_type_hints(cls)
        properties = {}
        for field in attrs.fields(cls):
            if not field.init:  # the converter leaves out what __init__ does not take
                continue
            properties[field.name] = self.schema(_bind(hints[field.name], bound))
        definition: dict[str, Any] = {"title": name, "type": "object"}
        doc = (cls.__doc__ or "").strip().split("\n\n", 1)[0]
        if doc:
            definition["description"] = " ".join(doc.split())
        definition["properties"] = properties
        definition["required"] = list(properties)
        definition["additionalProperties"] = False
        self.defs[name] = definition
        return ref


def _bind(kind: Any, bound: Mapping[Any, Any]) -> Any:
    """`kind` with the type variables of a generic record replaced by its arguments."""
    if isinstance(kind, typing.TypeVar):
        return bound.get(kind, Any)
    args = typing.get_args(kind)
    if not args or not bound:
        return kind
    new = tuple(_bind(a, bound) for a in args)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[new]  # noqa: UP007 - built from a tuple of members
    return kind.copy_with(new) if hasattr(kind, "copy_with") else origin[new]


def _type_of(kind: type[Enum]) -> str:
    values = {type(m.value) for m in kind}
    if values <= {str}:
        return "string"
    if values <= {int}:
        return "integer"
    raise InvalidInput("kind", kind, "is an enum whose values are not all strings or integers")
