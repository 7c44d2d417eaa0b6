"""Races on the pool: close() from another thread while a batch is sent on the
instance's own connection, and threads that would wait for each other for ever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import mailcore
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend
from mailcore_smtp.pool import Link
from tests.smtp.helpers import wait_until
from tests.support.smtp_servers import RecordingSMTPServer


def messages(count: int, tag: str = "m") -> list[EmailMessage]:
    return [
        EmailMessage(f"{tag}{n}", "body\n", f"{tag}{n}@example.com", ["to@example.com"])
        for n in range(count)
    ]


def assert_pool_left(backend: SMTPBackend, server: RecordingSMTPServer) -> None:
    """Nothing of ``backend`` holds the pool or a connection any more."""
    assert backend.held_link is None and backend.connection is None
    assert backend.pool._users == 0
    assert wait_until(lambda: backend.pool.open_connections == 0)
    assert wait_until(lambda: server.open_now == 0)


def assert_fresh_instance_sends(options: dict[str, Any]) -> None:
    """A fresh instance configured alike (max_connections=1) gets a connection: none leaked."""
    done: list[int] = []
    thread = threading.Thread(
        target=lambda: done.append(SMTPBackend(**options).send_messages(messages(3, "f"))),
        daemon=True,
    )
    thread.start()
    thread.join(15)
    assert done == [3], "a send through a fresh instance waited for a leaked connection"


def pause_at_second_message(backend: SMTPBackend) -> tuple[threading.Event, threading.Event]:
    """Make the sender stop before its second message (the batch half sent on its
    connection) until the second event is set; the first is set when it stops there.
    Hooked on the pool's rate limiter, which every message passes."""
    limiter = backend.pool.limiter
    real_wait = limiter.wait
    calls: list[None] = []
    sending, closed = threading.Event(), threading.Event()

    def wait(sleep: Callable[[float], None] = time.sleep) -> float:
        calls.append(None)
        if len(calls) == 2:
            sending.set()
            closed.wait(10)
            del limiter.wait
        return real_wait(sleep)

    limiter.wait = wait  # type: ignore[method-assign]
    return sending, closed


def run_with_close(
    backend: SMTPBackend, batch: list[EmailMessage], reached: threading.Event
) -> tuple[threading.Thread, list[int]]:
    sent: list[int] = []
    sender = threading.Thread(target=lambda: sent.append(backend.send_messages(batch)))
    sender.start()
    assert reached.wait(10), "the sender never reached the forced point"
    started = time.monotonic()
    backend.close()
    assert time.monotonic() - started < 2, "close() waited for the other thread's batch"
    return sender, sent


@pytest.mark.parametrize("round_", range(20))
def test_close_while_the_sender_swaps_its_connection_gives_everything_back(round_: int) -> None:
    # The interleaving of the bug: the sender replaced its connection after
    # max_messages_per_connection messages (the instance holds none for that moment) and
    # close() runs right then. close() used to do nothing, and the sender then stored
    # the new connection: the instance kept it and the pool a user for ever.
    with RecordingSMTPServer() as server:
        options = server.backend_options(
            timeout=10, max_messages_per_connection=5, max_connections=1
        )
        backend = SMTPBackend(**options)
        assert backend.open() is True
        pool = backend.pool
        real_acquire = pool.acquire
        swapping, closed = threading.Event(), threading.Event()

        def acquire(connect: Callable[[], Link], wait: bool = True) -> Link | None:
            if not swapping.is_set() and backend.held_link is None:
                swapping.set()  # the sender gave its full connection back
                closed.wait(10)
            return real_acquire(connect, wait)

        pool.acquire = acquire  # type: ignore[method-assign]
        try:
            batch = messages(12)
            sender, sent = run_with_close(backend, batch, swapping)
            closed.set()
            sender.join(20)
        finally:
            del pool.acquire
        assert not sender.is_alive()
        assert sent == [12] and all(m.result is not None and m.result.sent for m in batch)
        assert len(server.messages) == 12
        assert_pool_left(backend, server)
        assert_fresh_instance_sends(options)
        backend.close()  # still safe: nothing to give back twice
        assert backend.pool._users == 0


@pytest.mark.parametrize("round_", range(10))
def test_close_while_a_batch_uses_the_instances_connection_does_not_wait_for_it(
    round_: int,
) -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=10, max_connections=1)
        backend = SMTPBackend(**options)
        backend.open()
        sending, closed = pause_at_second_message(backend)
        batch = messages(3)
        sender, sent = run_with_close(backend, batch, sending)
        # closed but the batch goes on; it gives the connection back when it ends
        assert backend.pool._users == 1
        closed.set()
        sender.join(20)
        assert sent == [3] and len(server.messages) == 3
        assert_pool_left(backend, server)
        assert_fresh_instance_sends(options)


def test_open_again_while_the_old_batch_still_runs_keeps_only_the_new_connection() -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=10, max_connections=3)
        backend = SMTPBackend(**options)
        backend.open()
        first = backend.held_link
        sending, closed = pause_at_second_message(backend)
        # 2 messages over 2 connections: the third is left for open() below
        sender, sent = run_with_close(backend, messages(2), sending)
        assert backend.open() is True
        second = backend.held_link
        assert second is not None and second is not first
        closed.set()
        sender.join(20)
        assert sent == [2]
        assert backend.held_link is second and second.alive  # the old batch left it alone
        assert first in backend.pool._idle  # the old connection went back to the pool
        backend.close()
        assert_pool_left(backend, server)


@pytest.mark.parametrize("max_connections", [1, 2])
def test_testers_scenario_close_shortly_after_a_thread_starts_a_large_batch(
    max_connections: int,
) -> None:
    with RecordingSMTPServer(pipelining=True) as server:
        options = server.backend_options(
            timeout=10, max_connections=max_connections, max_messages_per_connection=5
        )
        for delay in (0.02, 0.05, 0.1):
            backend = SMTPBackend(**options)
            backend.open()
            batch = messages(150, f"d{delay}-")
            sender = threading.Thread(target=backend.send_messages, args=(batch,))
            sender.start()
            time.sleep(delay)
            backend.close()
            sender.join(60)
            assert not sender.is_alive()
            assert all(m.result is not None and m.result.sent for m in batch)
            assert_pool_left(backend, server)
        done: list[int] = []

        def send(n: int) -> None:
            done.append(SMTPBackend(**options).send_messages(messages(20, f"t{n}-")))

        server.max_open = 0
        threads = [threading.Thread(target=send, args=(n,), daemon=True) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert done == [20] * 6
        assert server.max_open <= max_connections


@pytest.mark.parametrize("max_connections", [1, 2, 3])
def test_threads_each_in_a_with_block_sending_inside_it_never_hang(
    max_connections: int,
) -> None:
    # Each thread holds a connection (its with block) and then asks for another
    # (send_mail through a fresh instance): with max_connections such threads, each
    # would wait for another's. The last one to wait gets one more connection instead.
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5, max_connections=max_connections)
        barrier = threading.Barrier(max_connections)
        done: list[int] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            with SMTPBackend(**options) as outer:
                outer.send_messages(messages(1, f"outer{n}-"))
                barrier.wait(10)
                sent = mailcore.send_mail(
                    f"nested{n}",
                    "body",
                    "a@example.com",
                    [f"n{n}@example.com"],
                    connection=SMTPBackend(**options),
                )
            with lock:
                done.append(sent)

        threads = [
            threading.Thread(target=work, args=(n,), daemon=True) for n in range(max_connections)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads), "threads waited for each other"
        assert done == [1] * max_connections
        assert len(server.messages) == 2 * max_connections
        assert server.max_open <= max_connections + 1
        assert wait_until(lambda: server.open_now == 0)


def test_a_connection_given_back_above_max_connections_is_closed_not_kept() -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5, max_connections=1)
        with SMTPBackend(**options) as outer:
            # same thread: waiting would be for itself, so one more connection
            assert SMTPBackend(**options).send_messages(messages(2)) == 2
            assert wait_until(lambda: outer.pool.open_connections == 1)
            assert wait_until(lambda: server.open_now == 1)
        assert len(server.messages) == 2


def test_an_idle_timeout_of_one_day_runs_the_idle_reaper() -> None:
    # idle_timeout=inf used to pass validation, then kill the reaper thread with an
    # OverflowError; the longest now taken is one day, which a timer waits for fine.
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5, max_connections=2, idle_timeout=86400)
        with SMTPBackend(**options) as outer:
            assert SMTPBackend(**options).send_messages(messages(2)) == 2
            reaper = outer.pool._reaper
            assert reaper is not None and reaper.is_alive()
            assert reaper.interval == 86400
            assert len(outer.pool._idle) == 1
            reaper.cancel()
            outer.pool._reaper = None
        assert wait_until(lambda: server.open_now == 0)
