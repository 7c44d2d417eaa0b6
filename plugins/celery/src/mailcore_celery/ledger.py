"""The delivery records in Redis: one state per Message-ID, the in-flight marks, the
outcome-unknown set and the dead letters of a queue.

Keys (``<queue>`` is the Celery queue): ``mailcore:<queue>:state`` (hash Message-ID ->
``queued``, ``retrying``, ``sent`` or ``failed``), ``mailcore:<queue>:sending`` (hash
Message-ID -> start time of an attempt not finished yet), ``mailcore:<queue>:unknown``
(set of the Message-IDs an attempt of which ended with nobody knowing whether the server
took the message), ``mailcore:<queue>:dead`` (hash Message-ID -> JSON dead letter).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis

__all__ = ["STATES", "Ledger"]

#: What ``mailcore queue status`` counts, in order.
STATES = ("queued", "sent", "retrying", "failed", "unknown")

T = TypeVar("T")

# An attempt starts: a message already accepted is not sent again ("sent" returned); an
# attempt that started before and never finished makes the outcome unknown (counted).
_BEGIN = """
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state == 'sent' then return 'sent' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('SADD', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return state or ''
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Ledger:
    """The delivery records of one queue, in the broker's Redis database.

    Each call that changes them retries a lost Redis connection for up to ``patience``
    seconds (a broker restarted meanwhile loses nothing), then raises.
    """

    def __init__(self, client: redis.Redis, queue: str, patience: float = 120.0) -> None:
        self.client = client
        self.patience = patience
        prefix = f"mailcore:{queue}:"
        self.state_key, self.sending_key = prefix + "state", prefix + "sending"
        self.unknown_key, self.dead_key = prefix + "unknown", prefix + "dead"
        self._begin = client.register_script(_BEGIN)

    @classmethod
    def from_url(cls, url: str, queue: str, patience: float = 120.0) -> Ledger:
        """A ledger on the Redis of ``url`` (the broker URL)."""
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=10), queue, patience)

    def _patiently(self, call: Callable[[], T]) -> T:
        import redis

        deadline = time.monotonic() + self.patience
        while True:
            try:
                return call()
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    # -- the web process ---------------------------------------------------------------

    def queued(self, message_ids: Iterable[str]) -> None:
        """Record published messages as queued, unless a worker already recorded more."""
        pipe = self.client.pipeline(transaction=False)
        for message_id in message_ids:
            pipe.hsetnx(self.state_key, message_id, "queued")
        pipe.execute()

    # -- the worker --------------------------------------------------------------------

    def begin(self, message_id: str) -> str:
        """Start an attempt; return the message's state before it (``"sent"``: skip)."""
        now = str(time.time())
        keys = [self.state_key, self.sending_key, self.unknown_key]
        result = self._patiently(lambda: self._begin(keys=keys, args=[message_id, now]))
        return result.decode() if isinstance(result, bytes) else str(result)

    def _finish(self, message_id: str, state: str, extra: Callable[[Any], None] | None) -> None:
        def run() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.state_key, message_id, state)
            pipe.hdel(self.sending_key, message_id)
            if extra is not None:
                extra(pipe)
            pipe.execute()

        self._patiently(run)

    def sent(self, message_id: str) -> None:
        """The server accepted the message: record it (before the task is acknowledged)."""
        self._finish(message_id, "sent", lambda pipe: pipe.hdel(self.dead_key, message_id))

    def retrying(self, message_id: str, unknown: bool = False) -> None:
        """The attempt failed and will be retried; ``unknown``: the server may have it."""
        extra = (lambda pipe: pipe.sadd(self.unknown_key, message_id)) if unknown else None
        self._finish(message_id, "retrying", extra)

    def failed(self, message_id: str, letter: dict[str, Any], unknown: bool = False) -> None:
        """A permanent failure (or retries used up): keep the dead letter."""
        text = json.dumps(letter)

        def extra(pipe: Any) -> None:
            pipe.hset(self.dead_key, message_id, text)
            if unknown:
                pipe.sadd(self.unknown_key, message_id)

        self._finish(message_id, "failed", extra)

    # -- mailcore queue ----------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many messages are in each state, and how many had an unknown outcome."""
        found = Counter(_text(value) for value in self.client.hvals(self.state_key))
        counts = {state: found.get(state, 0) for state in STATES[:-1]}
        counts["unknown"] = int(self.client.scard(self.unknown_key))
        return counts

    def states(self) -> dict[str, str]:
        """Every message's state, by Message-ID."""
        raw = self.client.hgetall(self.state_key)
        return {_text(key): _text(value) for key, value in raw.items()}

    def unknown(self) -> set[str]:
        """The Message-IDs of the messages whose outcome was unknown at some attempt."""
        return {_text(value) for value in self.client.smembers(self.unknown_key)}

    def dead_letters(self) -> dict[str, dict[str, Any]]:
        """The dead letters by Message-ID (each with ``error``, ``task_id``, ``payload``)."""
        raw = self.client.hgetall(self.dead_key)
        return {_text(key): json.loads(value) for key, value in raw.items()}

    def take_dead(self, message_id: str) -> bool:
        """Remove a dead letter being enqueued again, marking it queued."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.dead_key, message_id)
        pipe.hset(self.state_key, message_id, "queued")
        removed, _ = pipe.execute()
        return bool(removed)
