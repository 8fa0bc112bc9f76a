"""Hypothesis strategies that build any public record (valid by construction or rejected)."""

from __future__ import annotations

import inspect
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

import aftersales.documents.quotation as quotation
import aftersales.services as services
import aftersales.settings as settings_module
from aftersales import models
from aftersales.errors import InvalidInput
from aftersales.models import Money
from aftersales.models.money import MINOR_UNITS

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,15}\Z")
decimals = st.decimals(
    min_value=0, max_value=10**6, allow_nan=False, allow_infinity=False, places=3
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)
aware = st.builds(
    lambda moment, tz: moment.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    zones,
)
money = st.builds(Money.of, decimals, st.sampled_from(sorted(MINOR_UNITS)))
euros = st.builds(
    Money.of, st.decimals(min_value="0.01", max_value=10**6, places=2), st.just("EUR")
)

#: Fields whose valid values are narrower than their type (nested records share one currency).
OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "currency": st.just("EUR"),
    "percent": st.decimals(min_value="0.01", max_value=100, places=2),
    "uom_digits": st.integers(min_value=0, max_value=6),
    "max_usage": st.none() | st.integers(min_value=1, max_value=1000),
    "attempts": st.integers(min_value=0, max_value=10),
    "email": st.none() | st.emails(),
    "recipients": st.lists(st.emails(), max_size=3).map(tuple),
}


def _strategy(field: attrs.Attribute[Any]) -> st.SearchStrategy[Any]:
    if field.name in OVERRIDES:
        return OVERRIDES[field.name]
    if field.type is Money:
        return euros
    if field.type == Money | None:
        return st.none() | euros
    assert field.type is not None, field.name
    return st.from_type(field.type)


rewards = st.one_of(
    st.builds(
        models.Reward,
        kind=st.just(models.RewardKind.PERCENTAGE),
        percent=OVERRIDES["percent"],
        product_ids=st.frozensets(ids, max_size=2),
        max_discount=st.none() | euros,
        required_points=decimals.filter(lambda d: d > 0),
    ),
    st.builds(models.Reward, kind=st.just(models.RewardKind.FIXED_AMOUNT), amount=euros),
    st.builds(
        models.Reward,
        kind=st.just(models.RewardKind.FREE_PRODUCT),
        free_product_id=ids,
        free_quantity=decimals.filter(lambda d: d > 0),
    ),
)

#: Public attrs classes that are machinery, not data a call returns.
NOT_DATA = frozenset({"TicketContext", "Transition"})


def _records(*modules: Any) -> tuple[type[Any], ...]:
    found: dict[str, type[Any]] = {}
    for module in modules:
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            home = sys.modules[obj.__module__]
            public = obj.__name__ in getattr(home, "__all__", ())
            # a generic record (`Page[T]`) round-trips only as a concrete type: test_paging
            generic = bool(getattr(obj, "__parameters__", ()))
            if attrs.has(obj) and public and not generic and obj.__name__ not in NOT_DATA:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return tuple(found[key] for key in sorted(found))


#: Every public record: the models and what the services return.
RECORDS: tuple[type[Any], ...] = _records(
    models,
    services.refunds,
    services.coupons,
    services.discounts,
    services.returns,
    services.repairs,
    services.field_service,
    services.tickets,
    settings_module,
    quotation,
)


@st.composite
def record_of(draw: st.DrawFn, cls: type[Any]) -> Any:
    """Draw field values from the field types; reject combinations the record refuses."""
    kwargs: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.default is not attrs.NOTHING and draw(st.booleans()):
            continue
        kwargs[field.name] = draw(_strategy(field))
    try:
        return cls(**kwargs)
    except (InvalidInput, ValueError):
        from hypothesis import reject

        reject()


def register() -> None:
    """Teach hypothesis to build our types."""
    st.register_type_strategy(str, ids)
    st.register_type_strategy(Decimal, decimals)
    st.register_type_strategy(datetime, aware)
    st.register_type_strategy(
        date, st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
    )
    st.register_type_strategy(Money, money)
    for cls in RECORDS:
        if cls is models.Reward:
            st.register_type_strategy(cls, rewards)
        elif cls is not Money:
            attrs.resolve_types(cls, globalns=vars(__import__(cls.__module__, fromlist=["_"])))
            st.register_type_strategy(cls, record_of(cls))
