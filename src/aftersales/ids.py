"""Identifiers for records the library creates."""

from __future__ import annotations

import os

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A new unique id such as `cn-5f1c0e0b8d0a4e3c9b7a`: the prefix and 80 random bits
    from the operating system's CSPRNG, in hex."""
    return f"{prefix}-{os.urandom(10).hex()}"
