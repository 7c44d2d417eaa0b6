"""Fixtures of the queued-delivery tests: a real Redis, a real SMTP server, real workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mailcore
from mailcore_celery import CeleryBackend
from mailcore_celery.ledger import Ledger
from tests.celery.harness import RedisServer, Workers
from tests.support.smtp_servers import RecordingSMTPServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTPServer]:
    server = RecordingSMTPServer().start()
    yield server
    server.stop()


def settings_env(redis: RedisServer, smtp: RecordingSMTPServer, **extra: str) -> dict[str, str]:
    """The mailcore settings the web process and the workers share, as variables."""
    return {
        "MAILCORE_CELERY_BROKER_URL": redis.url,
        "MAILCORE_CELERY_USING": "tx",
        "MAILCORE_MAILERS_TX": f"smtp://127.0.0.1:{smtp.port}",
        **extra,
    }


@pytest.fixture
def queue_env(
    redis_server: RedisServer,
    smtp_server: RecordingSMTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The shared settings, also set in this (the web) process."""
    env = settings_env(redis_server, smtp_server, MAILCORE_CELERY_RETRY_BACKOFF="0.2")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mailcore.configure()
    return env


@pytest.fixture
def start_workers(
    queue_env: dict[str, str], isolated_settings: Path
) -> Iterator[Callable[..., Workers]]:
    started: list[Workers] = []

    def start(count: int = 1, **options: object) -> Workers:
        workers = Workers(queue_env, isolated_settings, **options).start(count)  # type: ignore[arg-type]
        started.append(workers)
        return workers

    yield start
    for workers in started:
        workers.stop()


@pytest.fixture
def ledger(redis_server: RedisServer) -> Ledger:
    return Ledger.from_url(redis_server.url, "mailcore", patience=0)


def message(number: int, **extra: object) -> mailcore.EmailMessage:
    """A small message numbered ``number`` (its subject says which)."""
    return mailcore.EmailMessage(
        f"Message {number}",
        f"Body of message {number}.\n",
        "sender@example.com",
        [f"rcpt{number}@example.com"],
        **extra,  # type: ignore[arg-type]
    )


def backend(**options: object) -> CeleryBackend:
    return CeleryBackend(**options)  # type: ignore[arg-type]


def counts(**given: int) -> dict[str, int]:
    """What ``Ledger.counts()`` (``mailcore queue status --json``) says: 0 unless given."""
    states = ("queued", "sent", "retrying", "failed", "unknown", "partly_refused")
    return {state: given.get(state, 0) for state in states}
