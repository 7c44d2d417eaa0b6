"""A message serialized in the web process, sent again by a worker exactly as it was
(the core's :class:`mailcore.StoredMessage`, also used by the Django bridge)."""

from __future__ import annotations

from mailcore import StoredMessage

__all__ = ["StoredMessage"]
