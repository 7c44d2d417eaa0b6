"""The crash and broker-restart runs, shared by the tests (small) and ``make bench`` (full
size): real redis-server, real ``mailcore worker`` processes, a real aiosmtpd server."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mailcore
from mailcore_celery import CeleryBackend
from mailcore_celery.ledger import Ledger
from mailcore_celery.tasks import grace
from tests.celery.harness import RedisServer, Workers, wait_for

if TYPE_CHECKING:
    from tests.support.smtp_servers import RecordingSMTPServer

#: Makes a started SMTP server with ``port`` and ``messages`` (each with ``parsed()``).
ServerFactory = Callable[[], "RecordingSMTPServer"]


def _recording_server() -> RecordingSMTPServer:
    from tests.support.smtp_servers import RecordingSMTPServer

    return RecordingSMTPServer().start()


__all__ = ["Outcome", "broker_restart_run", "crash_run"]


@dataclass
class Outcome:
    """What a run enqueued, what the server received, and what ``mailcore queue`` says."""

    enqueued: int
    received: int
    lost: int
    duplicates: int
    unknown: int
    counts: dict[str, int]
    states_match: bool
    kills: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.enqueued} enqueued, {self.received} received, {self.lost} lost, "
            f"{self.duplicates} duplicates, {self.unknown} outcome unknown, {self.kills} "
            f"kills, {self.seconds:.1f} s; queue status {self.counts}"
        )


def _env(redis: RedisServer, smtp: RecordingSMTPServer) -> dict[str, str]:
    return {
        "MAILCORE_CELERY_BROKER_URL": redis.url,
        "MAILCORE_CELERY_USING": "tx",
        "MAILCORE_CELERY_RETRY_BACKOFF": "0.2",
        "MAILCORE_MAILERS_TX": f"smtp://127.0.0.1:{smtp.port}",
    }


def _enqueue(redis: RedisServer, smtp: RecordingSMTPServer, count: int) -> list[str]:
    """Enqueue ``count`` messages from this (the web) process, whose settings name the
    mailer ``tx`` as the workers' do."""
    mailcore.configure(mailers={"tx": {"url": f"smtp://127.0.0.1:{smtp.port}"}})
    backend = CeleryBackend(using="tx", broker_url=redis.url, retry_backoff=0.2)
    messages = [
        mailcore.EmailMessage(
            f"Crash {n}", f"Message {n}.\n" * 20, "sender@example.com", [f"r{n}@example.com"]
        )
        for n in range(count)
    ]
    for start in range(0, count, 500):
        assert backend.send_messages(messages[start : start + 500]) == len(
            messages[start : start + 500]
        )
    return [m.result.message_id_header for m in messages]  # type: ignore[union-attr,misc]


def _outcome(
    ids: list[str], smtp: RecordingSMTPServer, ledger: Ledger, kills: int, started: float
) -> Outcome:
    received = Counter(str(m.parsed()["Message-ID"]) for m in smtp.messages)
    states = ledger.states()
    sent = {mid for mid, state in states.items() if state == "sent"}
    return Outcome(
        enqueued=len(ids),
        received=sum(received.values()),
        lost=len(set(ids) - set(received)),
        duplicates=sum(count - 1 for count in received.values()),
        unknown=len(ledger.unknown()),
        counts=ledger.counts(),
        states_match=sent == set(received) and set(states) == set(ids),
        kills=kills,
        seconds=time.monotonic() - started,
    )


class _Idle:
    """True once nothing is left anywhere in the broker for the queue (the list, the
    unacknowledged tasks, the attempts in flight, the retries) for twice the sweep's
    grace period and more: what is still "queued" then was lost for good."""

    def __init__(self, ledger: Ledger, visibility_timeout: float) -> None:
        self.ledger = ledger
        self.wait = 2 * grace(visibility_timeout) + 5
        self.since: float | None = None

    def __call__(self) -> bool:
        client = self.ledger.client
        busy = (
            client.llen("mailcore")
            or client.hlen("unacked")
            or client.hlen(self.ledger.sending_key)
            or self.ledger.counts()["retrying"]
        )
        now = time.monotonic()
        if busy:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since > self.wait


def crash_run(
    directory: Path,
    messages: int,
    workers: int = 3,
    kill_every: float = 2.0,
    visibility_timeout: float = 5.0,
    timeout: float = 600.0,
    server: ServerFactory = _recording_server,
    lone: bool = False,
) -> Outcome:
    """Enqueue ``messages``; run ``workers`` workers, SIGKILLing the oldest ready one (and
    starting a new one) 0.5 s after two are ready, then every ``kill_every`` seconds,
    until every message is recorded sent. A tick when fewer than two workers are ready
    (a loaded machine starts them slowly) kills nobody, so that the run always makes
    progress; with ``lone`` it kills a lone ready worker too once it has been ready that
    long (a kill every tick)."""
    redis = RedisServer(directory / "redis").start()
    smtp = server()
    pool = Workers(_env(redis, smtp), directory, visibility_timeout)
    try:
        ids = _enqueue(redis, smtp, messages)
        ledger = Ledger.from_url(redis.url, "mailcore", patience=0)
        started = time.monotonic()
        pool.start(workers)
        # the first kill soon after two workers are ready (they may send a small batch
        # in less than ``kill_every``), then one every ``kill_every``
        kills, next_kill = 0, None
        ready_since: dict[int, float] = {}
        idle = _Idle(ledger, visibility_timeout)
        while ledger.counts()["sent"] < messages and not idle():
            now = time.monotonic()
            if now > started + timeout:
                raise AssertionError(f"not done after {timeout} s: {ledger.counts()}")
            if next_kill is None:
                if len(pool.ready()) >= 2 or (lone and pool.ready()):
                    next_kill = now + min(0.5, kill_every)
            elif now >= next_kill:
                ready = pool.ready()
                for process in ready:
                    ready_since.setdefault(process.pid, now)
                # a worker sending (one still starting has nothing to lose), while
                # another one is ready, or (lone) after it sent for a whole tick
                if len(ready) >= 2 or (
                    lone and ready and now - ready_since[ready[0].pid] >= kill_every
                ):
                    pool.kill(ready[0])
                    kills += 1
                    pool.start_one()
                next_kill += kill_every
            time.sleep(0.05)
        outcome = _outcome(ids, smtp, ledger, kills, started)
    finally:
        pool.stop()
        smtp.stop()
        redis.stop()
    return outcome


def broker_restart_run(
    directory: Path,
    messages: int,
    down_for: float = 5.0,
    timeout: float = 300.0,
    server: ServerFactory = _recording_server,
) -> Outcome:
    """Enqueue ``messages`` into a persistent Redis; with 2 workers sending, stop Redis
    (SIGTERM) for ``down_for`` seconds once a tenth were sent, start it again."""
    redis = RedisServer(directory / "redis", persistent=True).start()
    smtp = server()
    pool = Workers(_env(redis, smtp), directory, visibility_timeout=5.0)
    try:
        ids = _enqueue(redis, smtp, messages)
        ledger = Ledger.from_url(redis.url, "mailcore", patience=0)
        started = time.monotonic()
        pool.start(2)
        wait_for(lambda: len(smtp.messages) >= messages // 10, 120, "a tenth sent")
        redis.stop()
        time.sleep(down_for)
        redis.start()
        ledger = Ledger.from_url(redis.url, "mailcore", patience=0)
        deadline = started + timeout
        idle = _Idle(ledger, 5.0)
        while ledger.counts()["sent"] < messages and not idle():
            if time.monotonic() > deadline:
                raise AssertionError(f"not done after {timeout} s: {ledger.counts()}")
            time.sleep(0.1)
        outcome = _outcome(ids, smtp, ledger, 0, started)
    finally:
        pool.stop()
        smtp.stop()
        redis.stop()
    return outcome
