"""Which SMTP failures the backend tries again (option ``retries``), and how long it waits.

A failure is retried only when it is temporary (a 4xx reply, a lost connection, a
timeout) and the server cannot have accepted the message: never after a 5xx, never a
message the server accepted, and never a message whose outcome is unknown (the
connection was lost after its content was sent: the server may have it, and sending it
again could deliver it twice).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mailcore_smtp.errors import SMTPError

__all__ = ["is_retryable", "retry_delay"]


def is_retryable(error: SMTPError) -> bool:
    """True when trying the failed step again may work and cannot duplicate a message."""
    return error.temporary and not error.outcome_unknown


def retry_delay(retry: int, backoff: float, uniform: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first).

    ``backoff * 2 ** (retry - 1)``, times a random factor between 0.5 and 1.5 so that
    clients failing together do not retry in step (``uniform`` returns a number in
    ``[0, 1)``).
    """
    if retry < 1:
        raise ValueError(f"retry numbers start at 1, not {retry}")
    return backoff * 2.0 ** (retry - 1) * (0.5 + uniform())
