"""The dummy backend: accepts every message and does nothing with it."""

from __future__ import annotations

from mailcore_dummy.backend import DummyBackend

__all__ = ["DummyBackend"]
