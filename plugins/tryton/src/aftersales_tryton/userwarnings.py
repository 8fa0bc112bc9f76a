"""Tryton warnings, acknowledged the way a Tryton user does: a ``res.user.warning`` record.

A Tryton warning has a name built from its kind and the records it is about
(``res.user.warning.format``: the MD5 of ``"model,id|..."`` then ``.kind``). Over XML-RPC the
fault carries only the message, not the name, so the gateway computes the names of the
warnings a caller chose to accept, records them for the connected user, and retries the
call once. A warning the caller did not accept is raised as
:class:`~aftersales_tryton.errors.TrytonWarning`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

from proteus import Model

from aftersales_tryton.connection import Config
from aftersales_tryton.errors import is_tryton_warning, translated

__all__ = ["acknowledge", "call_acknowledging", "warning_name"]

T = TypeVar("T")


def warning_name(kind: str, records: Iterable[tuple[str, int]]) -> str:
    """The name Tryton gives the warning ``kind`` about ``records`` (``(model, id)`` pairs)."""
    key = "|".join(f"{model},{record_id}" for model, record_id in records)
    return f"{hashlib.md5(key.encode('utf-8')).hexdigest()}.{kind}"


def acknowledge(config: Config, names: Iterable[str]) -> None:
    """Create a ``res.user.warning`` record for each of ``names``, for the connected user.

    Each is used up by the next check of that warning (``always`` is false).
    """
    warning_model = Model.get("res.user.warning", config=config)
    with translated("acknowledge a warning"):
        for name in names:
            # res.user.warning.skip creates the record for the user of the connection (over
            # XML-RPC proteus does not know that user's id).
            warning_model.skip(name, False, config.context)


def call_acknowledging(
    config: Config,
    call: Callable[[], T],
    *,
    operation: str,
    accepted: Iterable[str] = (),
) -> T:
    """Run ``call``; on a Tryton warning, acknowledge ``accepted`` names and retry once."""
    accepted = tuple(accepted)
    with translated(operation):
        try:
            return call()
        except Exception as exc:
            if not accepted or not is_tryton_warning(exc):
                raise
        acknowledge(config, accepted)
        return call()
