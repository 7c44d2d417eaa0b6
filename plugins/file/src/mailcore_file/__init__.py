"""The file backend: one file of messages per connection session."""

from __future__ import annotations

from mailcore_file.backend import FileBackend, FileOptions

__all__ = ["FileBackend", "FileOptions"]
