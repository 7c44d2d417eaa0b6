"""The console backend: messages are written to standard output or a given stream."""

from __future__ import annotations

from mailcore_console.backend import ConsoleBackend

__all__ = ["ConsoleBackend"]
