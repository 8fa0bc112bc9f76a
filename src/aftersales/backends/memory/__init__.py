"""The in-memory reference backend: for tests, demos and as the model other backends follow."""

from .backend import MemoryBackend
from .builder import MemoryBuilder

__all__ = ["MemoryBackend", "MemoryBuilder"]
