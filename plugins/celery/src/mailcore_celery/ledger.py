"""The delivery records in Redis: per Message-ID the state and the stored message, the
attempts in flight, the outcome-unknown set, the dead letters, and what the sweep needs to
find a task the broker lost.

Keys (``<queue>`` is the Celery queue), all under ``mailcore:<queue>:``:

- ``state``: hash Message-ID -> ``queued``, ``retrying``, ``sent`` or ``failed``;
- ``payload``: hash Message-ID -> the stored message (JSON), written with ``queued``
  before its task is published, kept until it is sent;
- ``sending``: hash Message-ID -> ``<task id> <start time>`` of an attempt not finished;
- ``unknown``: set of the Message-IDs an attempt of which ended with nobody knowing
  whether the server took the message;
- ``dead``: hash Message-ID -> JSON dead letter;
- ``refused``: hash Message-ID -> JSON ``{"refused": {recipient: [code, text]}, ...}`` of
  a message sent to some of its recipients while the server refused the others;
- ``seq`` and ``waiting``: a counter, and the messages queued and not begun yet, each
  scored with its place in enqueue order;
- ``marks``: sorted set of ``w`` scored by a (Redis) time ``t``: by then every message
  with a place below ``w`` had left the broker's list (a later one had begun, or the
  list was empty);
- ``due`` and ``retries``: when a scheduled retry should have begun, and its number.

A task is lost when kombu pops it (``BRPOP``) and its worker dies, or Redis stops, before
kombu records it as unacknowledged. :meth:`Ledger.sweep` finds such messages: still
``waiting`` with a place below a mark older than the grace period, or a retry overdue by
more than it. Enqueued again, a copy of a message is never sent twice: :meth:`Ledger.begin`
lets one attempt run at a time, and none after the message was sent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis

__all__ = ["STATES", "Ledger"]

#: What ``mailcore queue status`` counts, in order.
STATES = ("queued", "sent", "retrying", "failed", "unknown")

#: The suffixes of the Redis lists kombu keeps for a queue's priorities (``""``: none).
_PRIORITY_LISTS = ("", "\x06\x163", "\x06\x166", "\x06\x169")

T = TypeVar("T")

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS: state, payload, waiting. ARGV: Message-IDs whose tasks were never published.
_WITHDRAW = """
for i = 1, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == 'queued' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('ZREM', KEYS[3], ARGV[i])
  end
end
"""

# An attempt starts. KEYS: state, sending, unknown, payload, waiting, due, marks.
# ARGV: Message-ID, task id. Returns {state before, payload}: "sent" (accepted before:
# skip), "busy" (another task of the message is in flight: skip; if its worker died,
# that task is delivered again). The same task again means its earlier attempt died:
# the outcome is unknown (counted).
_BEGIN = (
    _NOW
    + """
local id, task = ARGV[1], ARGV[2]
local state = redis.call('HGET', KEYS[1], id)
if state == 'sent' then
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[5], id)
  redis.call('ZREM', KEYS[6], id)
  return {'sent'}
end
local current = redis.call('HGET', KEYS[2], id)
if current then
  if string.sub(current, 1, #task + 1) ~= task .. ' ' then return {'busy'} end
  redis.call('SADD', KEYS[3], id)
end
redis.call('HSET', KEYS[2], id, task .. ' ' .. now)
redis.call('ZREM', KEYS[6], id)
local place = redis.call('ZSCORE', KEYS[5], id)
if place then
  redis.call('ZREM', KEYS[5], id)
  local last = redis.call('ZRANGE', KEYS[7], -1, -1, 'WITHSCORES')
  if #last == 0 or (tonumber(last[1]) < tonumber(place) and now - tonumber(last[2]) >= 1) then
    redis.call('ZADD', KEYS[7], now, place)
  end
end
return {state or '', redis.call('HGET', KEYS[4], id)}
"""
)

# An attempt ends. KEYS: state, sending, unknown, dead, payload, due, retries, refused.
# ARGV: Message-ID, new state, unknown ("1"/"0"), dead letter (for "sent": the refused
# recipients, or ""), retry delay, retry number.
_FINISH = (
    _NOW
    + """
local id, state = ARGV[1], ARGV[2]
redis.call('HSET', KEYS[1], id, state)
redis.call('HDEL', KEYS[2], id)
if ARGV[3] == '1' then redis.call('SADD', KEYS[3], id) end
if state == 'retrying' then
  redis.call('ZADD', KEYS[6], now + tonumber(ARGV[5]), id)
  redis.call('HSET', KEYS[7], id, ARGV[6])
  return
end
redis.call('ZREM', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
if state == 'sent' then
  redis.call('HDEL', KEYS[4], id)
  redis.call('HDEL', KEYS[5], id)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[8], id, ARGV[4]) end
else
  redis.call('HSET', KEYS[4], id, ARGV[4])
end
"""
)

# Find the lost tasks and give their messages new places. KEYS: waiting, marks, due,
# retries, seq, lock, then the queue's lists. ARGV: grace seconds, lock milliseconds
# (0: no lock), most messages. Returns {Message-ID, retry number, ...}.
_SWEEP = (
    _NOW
    + """
local grace, lock, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if lock > 0 and not redis.call('SET', KEYS[6], '1', 'NX', 'PX', lock) then return {} end
local empty = true
for i = 7, #KEYS do
  if redis.call('LLEN', KEYS[i]) > 0 then empty = false end
end
if empty then
  local top = tonumber(redis.call('GET', KEYS[5]) or '0') + 1
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if #last == 0 or tonumber(last[1]) < top then redis.call('ZADD', KEYS[2], now, top) end
end
local found = {}
local mark = redis.call('ZREVRANGEBYSCORE', KEYS[2], now - grace, '-inf',
                        'WITHSCORES', 'LIMIT', 0, 1)
if #mark > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. mark[2])
  local below = '(' .. mark[1]
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', below, 'LIMIT', 0, limit)) do
    found[#found + 1] = id
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - grace, 'LIMIT', 0, limit)) do
  found[#found + 1] = id
end
local result = {}
for _, id in ipairs(found) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), id)
  result[#result + 1] = id
  result[#result + 1] = redis.call('HGET', KEYS[4], id) or '0'
end
return result
"""
)

# KEYS: state, dead, waiting, seq. ARGV: Message-IDs of dead letters enqueued again.
_REQUEUE = """
local taken = {}
for i = 1, #ARGV do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], 'queued')
    redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[i])
    taken[#taken + 1] = ARGV[i]
  end
end
return taken
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Ledger:
    """The delivery records of one queue, in the broker's Redis database.

    Each call of a worker retries a lost Redis connection for up to ``patience`` seconds
    (a broker restarted meanwhile loses nothing), then raises.
    """

    def __init__(self, client: redis.Redis, queue: str, patience: float = 120.0) -> None:
        self.client = client
        self.queue = queue
        self.patience = patience
        prefix = f"mailcore:{queue}:"
        self.state_key, self.sending_key = prefix + "state", prefix + "sending"
        self.unknown_key, self.dead_key = prefix + "unknown", prefix + "dead"
        self.payload_key, self.waiting_key = prefix + "payload", prefix + "waiting"
        self.seq_key, self.marks_key = prefix + "seq", prefix + "marks"
        self.due_key, self.retries_key = prefix + "due", prefix + "retries"
        self.lock_key, self.refused_key = prefix + "sweeping", prefix + "refused"
        self._withdraw = client.register_script(_WITHDRAW)
        self._begin = client.register_script(_BEGIN)
        self._finish = client.register_script(_FINISH)
        self._sweep = client.register_script(_SWEEP)
        self._requeue = client.register_script(_REQUEUE)

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

    def queued(self, records: Sequence[tuple[str, str]]) -> None:
        """Record ``(Message-ID, payload)`` pairs as queued with their payloads, in one
        transaction, before their tasks are published (the state of a Message-ID
        recorded before is kept; a sent one's task cleans up when it begins)."""
        if not records:
            return
        top = int(self.client.incrby(self.seq_key, len(records)))
        pipe = self.client.pipeline(transaction=True)
        for place, (message_id, payload) in enumerate(records, top - len(records) + 1):
            pipe.hsetnx(self.state_key, message_id, "queued")
            pipe.hset(self.payload_key, message_id, payload)
            pipe.zadd(self.waiting_key, {message_id: place}, nx=True)
        pipe.execute()

    def withdraw(self, message_ids: Iterable[str]) -> None:
        """Forget queued records whose tasks were never published."""
        args = list(message_ids)
        if args:
            self._withdraw(keys=[self.state_key, self.payload_key, self.waiting_key], args=args)

    # -- the worker --------------------------------------------------------------------

    def begin(self, message_id: str, task_id: str) -> tuple[str, dict[str, Any] | None]:
        """Start an attempt of task ``task_id``; return the message's state before it and
        its stored payload. State ``"sent"`` or ``"busy"``: do not send (see the module)."""
        keys = [self.state_key, self.sending_key, self.unknown_key, self.payload_key,
                self.waiting_key, self.due_key, self.marks_key]  # fmt: skip
        result = self._patiently(lambda: self._begin(keys=keys, args=[message_id, task_id]))
        state = _text(result[0])
        payload = json.loads(result[1]) if len(result) > 1 and result[1] else None
        return state, payload

    def _end(self, message_id: str, state: str, unknown: bool, letter: str = "",
             delay: float = 0.0, retry: int = 0) -> None:  # fmt: skip
        keys = [self.state_key, self.sending_key, self.unknown_key, self.dead_key,
                self.payload_key, self.due_key, self.retries_key, self.refused_key]  # fmt: skip
        args = [message_id, state, "1" if unknown else "0", letter, repr(delay), str(retry)]
        self._patiently(lambda: self._finish(keys=keys, args=args))

    def sent(self, message_id: str, refused: dict[str, Any] | None = None) -> None:
        """The server accepted the message: record it (before the task is acknowledged),
        with the recipients it refused (``refused``: the note kept for them), if any."""
        self._end(message_id, "sent", False, letter=json.dumps(refused) if refused else "")

    def retrying(self, message_id: str, unknown: bool, delay: float, retry: int) -> None:
        """The attempt failed; retry number ``retry`` is due in ``delay`` seconds;
        ``unknown``: the server may have the message."""
        self._end(message_id, "retrying", unknown, delay=delay, retry=retry)

    def failed(self, message_id: str, letter: dict[str, Any], unknown: bool = False) -> None:
        """A permanent failure (or retries used up): keep the dead letter (and the payload,
        for ``mailcore queue retry-failed``)."""
        self._end(message_id, "failed", unknown, letter=json.dumps(letter))

    def sweep(self, grace: float, lock: float = 0.0, limit: int = 1000) -> list[tuple[str, int]]:
        """The messages whose tasks were lost, each with its retry number; they get new
        places in the queue (the caller publishes their tasks again).

        Lost: queued, and not begun ``grace`` seconds after a later message began (or the
        broker's list was empty), or a retry ``grace`` seconds overdue. ``lock``: seconds
        during which no other sweep with a lock runs (0: none). At most ``limit`` of each.
        """
        lists = [self.queue + suffix for suffix in _PRIORITY_LISTS]
        keys = [self.waiting_key, self.marks_key, self.due_key, self.retries_key,
                self.seq_key, self.lock_key, *lists]  # fmt: skip
        raw = self._sweep(keys=keys, args=[repr(grace), str(int(lock * 1000)), str(limit)])
        return [(_text(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]

    # -- mailcore queue ----------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many messages are in each state, and how many had an unknown outcome."""
        found = Counter(_text(value) for value in self.client.hvals(self.state_key))
        counts = {state: found.get(state, 0) for state in STATES[:-1]}
        counts["unknown"] = int(self.client.scard(self.unknown_key))
        counts["partly_refused"] = int(self.client.hlen(self.refused_key))
        return counts

    def states(self) -> dict[str, str]:
        """Every message's state, by Message-ID."""
        raw = self.client.hgetall(self.state_key)
        return {_text(key): _text(value) for key, value in raw.items()}

    def unknown(self) -> set[str]:
        """The Message-IDs of the messages whose outcome was unknown at some attempt."""
        return {_text(value) for value in self.client.smembers(self.unknown_key)}

    def dead_letters(self) -> dict[str, dict[str, Any]]:
        """The dead letters by Message-ID (each with ``error``, ``task_id``, ``attempts``,
        ``failed_at``)."""
        raw = self.client.hgetall(self.dead_key)
        return {_text(key): json.loads(value) for key, value in raw.items()}

    def partly_refused(self) -> dict[str, dict[str, Any]]:
        """The messages sent while the server refused some recipients, by Message-ID
        (each with ``refused``: recipient -> ``[code, text]``, ``task_id``, ``sent_at``)."""
        raw = self.client.hgetall(self.refused_key)
        return {_text(key): json.loads(value) for key, value in raw.items()}

    def requeue(self, message_ids: Iterable[str]) -> list[str]:
        """Take dead letters back to ``queued`` (their payloads were kept); return the
        Message-IDs taken, whose tasks the caller publishes."""
        keys = [self.state_key, self.dead_key, self.waiting_key, self.seq_key]
        return [_text(value) for value in self._requeue(keys=keys, args=list(message_ids))]
