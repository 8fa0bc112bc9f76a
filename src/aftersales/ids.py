"""Identifiers for records the library creates."""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A new unique id such as ``cn-5f1c0e0b8d0a4e3c9b7a``."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"
