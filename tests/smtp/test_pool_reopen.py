"""close() and open() again on an instance while other threads send on it.

The user trial's two scenarios, scaled down, each through the sync API and the async
one (every thread's calls on one event loop): every message gets a result and reaches
the server exactly once (counted by Message-ID), the server never sees more than
``max_connections`` connections at once, none is left open after the last close(), and
no thread stays blocked. Before the fix, open() waited for the pool while holding the
instance's lock, which the busy send needed to give its connection back (a deadlock),
and an open() after close() dropped the previous session's unused connection without
giving it back (thousands of EHLO-only connections, never closed).
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

import pytest

from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend
from mailcore_smtp.apool import _me
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import wait_until
from tests.support.smtp_servers import RecordingSMTPServer

api = sync_and_async(__name__, autouse=False, threads=True)

#: Seconds within which every thread of a scenario must have ended.
JOIN = 30


def tagged(count: int, tag: str) -> list[EmailMessage]:
    """``count`` messages with Message-IDs ``<tag-N@example.com>``."""
    return [
        EmailMessage(
            f"{tag}-{n}",
            "body\n",
            "from@example.com",
            ["to@example.com"],
            headers={"Message-ID": f"<{tag}-{n}@example.com>"},
        )
        for n in range(count)
    ]


def assert_each_delivered_once(batch: list[EmailMessage], server: RecordingSMTPServer) -> None:
    """Every message was accepted and the server received it exactly once."""
    assert all(m.result is not None and m.result.sent for m in batch)
    received = collections.Counter(m.parsed()["Message-ID"] for m in server.messages)
    assert received == collections.Counter(str(m.extra_headers["Message-ID"]) for m in batch)


def assert_all_closed(backend: Any, server: RecordingSMTPServer) -> None:
    """Nothing of the instance is kept, and the server saw every connection close."""
    assert backend.held_link is None and backend.connection is None
    assert wait_until(lambda: server.open_now == 0, timeout=10), f"{server.open_now} left open"


@pytest.mark.usefixtures("api")
def test_threads_sending_while_another_closes_and_opens_again_in_a_loop() -> None:
    """8 threads send 3 batches of 5 messages each on one opened instance
    (max_connections=3) while another thread loops close(); open(): all 120 messages
    arrive once, at most 3 connections at once, none left open, no thread stuck."""
    with RecordingSMTPServer(pipelining=True) as server:
        conn = SMTPBackend(**server.backend_options(max_connections=3, timeout=10))
        assert conn.open() is True
        stop = threading.Event()
        batches: list[list[EmailMessage]] = []
        errors: list[BaseException] = []
        reopened = 0

        def reopen() -> None:
            nonlocal reopened
            try:
                while not stop.is_set():
                    conn.close()
                    conn.open()
                    reopened += 1
                    stop.wait(0.003)  # pacing, as in the trial: not a wait for anything
            except BaseException as exc:
                errors.append(exc)

        def send(worker: int) -> None:
            try:
                for number in range(3):
                    batch = tagged(5, f"w{worker}-b{number}")
                    batches.append(batch)
                    assert conn.send_messages(batch) == 5
            except BaseException as exc:
                errors.append(exc)

        closer = threading.Thread(target=reopen, daemon=True)
        senders = [threading.Thread(target=send, args=(n,), daemon=True) for n in range(8)]
        closer.start()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(JOIN)
        stop.set()
        closer.join(JOIN)
        assert not any(t.is_alive() for t in [closer, *senders]), "a thread stayed blocked"
        assert errors == []
        assert reopened > 0
        conn.close()
        assert_each_delivered_once([m for batch in batches for m in batch], server)
        assert len(server.messages) == 120
        assert server.max_open <= 3
        assert_all_closed(conn, server)


@pytest.mark.usefixtures("api")
def test_close_and_open_again_three_times_while_a_thread_sends_a_batch() -> None:
    """One thread sends 100 messages on an opened instance (max_connections=2) while
    the test's thread runs close(); open() three times: close() does not cut the batch,
    open() takes a new connection within the limit, and once the batch ended and the
    instance is closed no connection is left open."""
    with RecordingSMTPServer(pipelining=True) as server:
        conn = SMTPBackend(**server.backend_options(max_connections=2, timeout=10))
        assert conn.open() is True
        batch = tagged(100, "big")
        sent: list[int] = []
        sender = threading.Thread(
            target=lambda: sent.append(conn.send_messages(batch)), daemon=True
        )
        sender.start()
        assert wait_until(lambda: len(server.messages) > 0, timeout=10)
        for _ in range(3):
            conn.close()
            assert conn.open() is True
        sender.join(JOIN)
        assert not sender.is_alive()
        assert sent == [100]
        conn.close()
        assert_each_delivered_once(batch, server)
        assert server.max_open <= 2
        assert_all_closed(conn, server)


def test_a_new_task_is_never_taken_for_the_freed_task_that_opened_an_instance() -> None:
    """The async pool tells tasks apart by a number of their own, not by ``id()``,
    which a new task gets again once the old one is freed: the task that aopen()ed an
    instance and ended would otherwise be taken for a later one waiting for a
    connection, judged to wait for its own (would_deadlock), and handed one more than
    ``max_connections``."""

    async def number() -> tuple[int, int]:
        task = asyncio.current_task()
        return id(task), _me()

    async def main() -> bool:
        first_id, first = await asyncio.create_task(number())
        for _ in range(100):  # an id() comes back soon once its task is freed
            later_id, later = await asyncio.create_task(number())
            assert later != first
            if later_id == first_id:
                return True
        return False

    assert asyncio.run(main()) is True


def test_an_async_send_is_served_while_another_task_closes_and_reopens_in_a_tight_loop() -> None:
    """With max_connections=1, one task loops ``aclose(); aopen(); sleep(0)`` on an
    instance while another sends 3 messages on it: the connection given back while the
    send waits goes to the send (the longest waiter) before the loop's next aopen(), so
    the send ends within seconds with the 3 messages received once, never over 1
    connection. Before the fix the loop took it back every time: the send waited for
    ever (the user trial: 574,837 cycles in 20 s, nothing sent)."""

    async def main(server: RecordingSMTPServer) -> tuple[int, int, SMTPBackend]:
        conn = SMTPBackend(**server.backend_options(max_connections=1, timeout=10))
        assert await conn.aopen() is True
        stop = False
        cycles = 0

        async def reopen() -> None:
            nonlocal cycles
            while not stop:
                await conn.aclose()
                await conn.aopen()
                cycles += 1
                await asyncio.sleep(0)  # a yield, as in the trial: not a wait

        looping = asyncio.create_task(reopen())
        while cycles < 10:  # the loop runs before the send asks
            await asyncio.sleep(0)
        try:
            sent = await asyncio.wait_for(conn.asend_messages(batch), 5)
        finally:
            stop = True
            await looping
            await conn.aclose()
        return sent, cycles, conn

    batch = tagged(3, "fair")
    with RecordingSMTPServer(pipelining=True) as server:
        sent, cycles, conn = asyncio.run(main(server))
        assert sent == 3
        assert cycles >= 10
        assert_each_delivered_once(batch, server)
        assert server.max_open <= 1
        assert_all_closed(conn, server)
