"""Pacing sends: :class:`RateLimiter`, a limit of messages per second shared by threads."""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

#: Added to the 1-second window, so that a message up to 30 ms later to the server than
#: its neighbours (thread scheduling, a busy machine) cannot crowd a second there;
#: costs 3% of the rate.
WINDOW_MARGIN = 0.03


class RateLimiter:
    """At most ``rate`` message starts a second, shared by every thread that calls
    :meth:`wait`: starts are spaced ``1/rate`` apart, and no 1-second window ever holds
    more than ``rate`` of them. ``rate`` ``None``: no limit (``inf``, ``nan`` or a rate
    not above 0: ``ValueError``; options use :data:`mailcore.PerSecond`). :meth:`pause` holds every
    start back (a provider's throttling answer)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"a rate must be a finite number above 0, not {rate!r}")
        self.rate = rate
        self._lock = threading.Lock()
        self._next = 0.0
        window = max(1, math.floor(rate)) if rate else 1
        self._starts: collections.deque[float] = collections.deque(maxlen=window)

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until the next start is allowed, and claim it; its ``time.monotonic()``."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            if self.rate:
                if self.rate >= 1 and len(self._starts) == self._starts.maxlen:
                    start = max(start, self._starts[0] + 1.0 + WINDOW_MARGIN)
                self._next = start + 1.0 / self.rate
                self._starts.append(start)
        if start > now:
            sleep(start - now)
        return start

    def pause(self, seconds: float) -> None:
        """Start nothing for ``seconds`` from now (the provider asked to slow down)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
