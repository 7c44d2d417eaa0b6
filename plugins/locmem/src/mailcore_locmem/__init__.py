"""The in-memory backend: messages are appended to ``mailcore.outbox``."""

from __future__ import annotations

from mailcore_locmem.backend import LocmemBackend

__all__ = ["LocmemBackend"]
