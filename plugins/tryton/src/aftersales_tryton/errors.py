"""What the gateway raises when Tryton refuses, and how Tryton's faults are recognised.

In process, Tryton raises :class:`trytond.exceptions.UserError` /
:class:`~trytond.exceptions.UserWarning`; over XML-RPC the same arrive as
:class:`xmlrpc.client.Fault` whose ``faultCode`` is the exception's ``code`` (2 for a
warning) and whose ``faultString`` is its message. Both become the exceptions below, so a
caller never has to know which transport it used.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager

from aftersales.errors import BackendError

__all__ = ["TrytonRefused", "TrytonWarning", "is_tryton_warning", "translated"]

#: ``UserWarning.code`` in trytond: the ``faultCode`` of a warning over XML-RPC.
WARNING_FAULT_CODE = 2


class TrytonRefused(BackendError):
    """Tryton refused the operation (a user error: `reason` is Tryton's message)."""

    code = "tryton_refused"
    fields = ("operation", "reason")

    def __init__(self, operation: str, message: str) -> None:
        self.operation = operation
        self.reason = message
        super().__init__(f"Tryton refused to {operation}: {message}")


class TrytonWarning(TrytonRefused):
    """Tryton stopped on a warning that the caller did not acknowledge."""

    code = "tryton_warning"

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(operation, message)
        self.args = (
            f"Tryton stopped on a warning while trying to {operation}: {message} "
            "(acknowledge it by passing its name in acknowledge=...)",
        )


def _trytond_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    try:
        from trytond.exceptions import UserError, UserWarning
    except ImportError:  # over RPC only: the server is not installed here
        return (_Never, _Never)
    return (UserError, UserWarning)


class _Never(Exception):
    """Stands for trytond's exceptions where trytond is not installed."""


def is_tryton_warning(exc: BaseException) -> bool:
    """Is ``exc`` a Tryton warning, in process or over XML-RPC?"""
    if isinstance(exc, xmlrpc.client.Fault):
        return exc.faultCode == WARNING_FAULT_CODE
    return isinstance(exc, _trytond_exceptions()[1])


def _message(exc: BaseException) -> str:
    if isinstance(exc, xmlrpc.client.Fault):
        return str(exc.faultString)
    message = getattr(exc, "message", None)
    return str(message) if message else str(exc)


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn Tryton's user errors and warnings raised inside into :class:`TrytonRefused`."""
    user_error, user_warning = _trytond_exceptions()
    try:
        yield
    except (xmlrpc.client.Fault, user_error, user_warning) as exc:
        if is_tryton_warning(exc):
            raise TrytonWarning(operation, _message(exc)) from exc
        raise TrytonRefused(operation, _message(exc)) from exc
