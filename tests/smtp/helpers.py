"""Small helpers shared by the SMTP tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from mailcore import EmailMessage

__all__ = ["make_message", "wait_until"]


def make_message(subject: str = "Hello", **kwargs: object) -> EmailMessage:
    """A small message from sender@example.com to to@example.com (override with kwargs)."""
    fields: dict[str, object] = {
        "body": "Body of the message.\n",
        "from_email": "sender@example.com",
        "to": ["to@example.com"],
    }
    fields.update(kwargs)
    return EmailMessage(subject, **fields)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``condition`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
