"""failover and roundrobin through the async API, against real SMTP servers on 127.0.0.1:
the same order, results and down marks as the sync path (shared with it)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

import mailcore
from mailcore import EmailMessage, MailersFailedError
from mailcore.composite import CompositeBackend
from tests.support.smtp_servers import RecordingSMTPServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def healthy() -> Iterator[RecordingSMTPServer]:
    with RecordingSMTPServer() as server:
        yield server


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message(number: int) -> EmailMessage:
    return EmailMessage(f"M{number}", "Body.\n", "from@example.com", [f"to{number}@example.com"])


async def test_async_failover_marks_the_mailer_down_for_sync_instances_too(
    refused_port: int, healthy: RecordingSMTPServer
) -> None:
    mailcore.configure(
        mailers={
            "primary": {"url": f"smtp://127.0.0.1:{refused_port}?timeout=5"},
            "backup": {"url": f"smtp://{healthy.host}:{healthy.port}"},
            "main": {"backend": "failover", "mailers": ["primary", "backup"]},
        }
    )
    batch = [message(n) for n in range(3)]
    backend = mailcore.get_connection(using="main")
    assert await backend.asend_messages(batch) == 3
    assert [m.result.mailer for m in batch if m.result] == ["backup"] * 3
    assert [m.result.message_id for m in batch if m.result] == [
        r.queue_id for r in healthy.messages
    ]
    sync_instance = mailcore.get_connection(using="main")
    assert isinstance(sync_instance, CompositeBackend)
    assert sync_instance.down() == ["primary"]  # one down state per mailer


async def test_async_roundrobin_alternates_and_concurrent_calls_do_not_mix(
    healthy: RecordingSMTPServer,
) -> None:
    with RecordingSMTPServer() as other:
        mailcore.configure(
            mailers={
                "a": {"url": f"smtp://{healthy.host}:{healthy.port}"},
                "b": {"url": f"smtp://{other.host}:{other.port}"},
                "rr": {"backend": "roundrobin", "mailers": ["a", "b"]},
            }
        )
        backend = mailcore.get_connection(using="rr")
        messages = [message(n) for n in range(10)]
        sent = await asyncio.gather(*(backend.asend_messages([m]) for m in messages))
        assert sent == [1] * 10
        used = [m.result.mailer for m in messages if m.result]
        assert sorted(used) == ["a"] * 5 + ["b"] * 5
        assert len(healthy.messages) == 5 and len(other.messages) == 5


async def test_async_every_mailer_failing_is_one_error(refused_port: int) -> None:
    mailcore.configure(
        mailers={
            "one": {"url": f"smtp://127.0.0.1:{refused_port}?timeout=5"},
            "main": {"backend": "failover", "mailers": ["one"]},
        }
    )
    mail = message(1)
    with pytest.raises(MailersFailedError, match="every mailer failed: one: "):
        await mailcore.get_connection(using="main").asend_messages([mail])
    assert mail.result is not None and mail.result.status == "failed"


async def test_async_session_keeps_each_mailers_connection(healthy: RecordingSMTPServer) -> None:
    mailcore.configure(
        mailers={
            "primary": {"url": f"smtp://{healthy.host}:{healthy.port}"},
            "main": {"backend": "failover", "mailers": ["primary"]},
        }
    )
    async with mailcore.get_connection(using="main") as backend:
        for number in range(3):
            assert await backend.asend_messages([message(number)]) == 1
    assert len({r.session for r in healthy.messages}) == 1
