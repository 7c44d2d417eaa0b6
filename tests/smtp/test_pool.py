"""The connection pool: threads sharing a backend, batches spread over connections,
connections replaced after a number of messages, when idle, or closed by the server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest

from benchmarks.wan_proxy import WanProxy
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend, SMTPConnectionError
from mailcore_smtp.replies import means_throttled
from tests.smtp.helpers import wait_until
from tests.support.fault_server import Fault, FaultScript
from tests.support.smtp_servers import RecordingSMTPServer


def messages(count: int, tag: str = "m") -> list[EmailMessage]:
    return [
        EmailMessage(f"{tag}{n}", "body\n", f"{tag}{n}@example.com", ["to@example.com"])
        for n in range(count)
    ]


@pytest.mark.parametrize("pipelining", [True, False])
def test_sixteen_threads_sharing_one_backend_never_exceed_max_connections(
    pipelining: bool,
) -> None:
    with RecordingSMTPServer(pipelining=pipelining) as server:
        backend = SMTPBackend(max_connections=4, **server.backend_options(timeout=10))
        batches = [messages(10, f"t{thread}b{b}-") for thread in range(16) for b in range(10)]
        counts: list[int] = []
        lock = threading.Lock()

        def send(thread: int) -> None:
            for batch in batches[thread * 10 : thread * 10 + 10]:
                sent = backend.send_messages(batch)
                with lock:
                    counts.append(sent)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wait_until(lambda: server.open_now == 0)
    assert sum(counts) == 1600
    copies = Counter(m.mail_from for m in server.messages)
    assert len(copies) == 1600 and set(copies.values()) == {1}
    assert all(m.result is not None and m.result.sent for batch in batches for m in batch)
    assert 1 <= server.max_open <= 4


def test_a_large_batch_is_spread_over_max_connections_with_results_in_order() -> None:
    batch = messages(200)
    with RecordingSMTPServer(pipelining=True) as server:
        backend = SMTPBackend(max_connections=8, **server.backend_options(timeout=10))
        assert backend.send_messages(batch) == 200
    assert 2 <= len(server.sessions) <= 8 and server.max_open <= 8
    by_sender = {m.mail_from: m for m in server.messages}
    for message in batch:  # each result is its own message's queue id
        assert message.result is not None
        assert message.result.message_id == by_sender[message.from_email].queue_id


def test_every_instance_configured_alike_shares_one_pool() -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=10, max_connections=2)
        first, second = SMTPBackend(**options), SMTPBackend(**options)
        assert first.pool is second.pool
        assert SMTPBackend(**{**options, "max_connections": 3}).pool is not first.pool
        done = []

        def send(n: int) -> None:
            done.append(SMTPBackend(**options).send_messages(messages(20, f"i{n}-")))

        threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(done) == 120
    assert server.max_open <= 2


def test_close_leaves_connections_that_another_instance_uses() -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=10, max_connections=2)
        first, second = SMTPBackend(**options), SMTPBackend(**options)
        first.open()
        second.open()
        first.close()
        assert second.send_messages(messages(4)) == 4  # over both connections
        assert [s.closed for s in server.sessions] == [False, False]
        second.close()  # the last user: every connection of the pool is closed
        assert wait_until(lambda: all(s.closed for s in server.sessions))
    assert sum(s.messages for s in server.sessions) == 4
    assert len(server.sessions) == 2


def test_a_connection_is_replaced_after_max_messages_per_connection() -> None:
    for pipelining in (True, False):
        with RecordingSMTPServer(pipelining=pipelining) as server:
            backend = SMTPBackend(max_messages_per_connection=3, **server.backend_options())
            assert backend.send_messages(messages(10)) == 10
        assert [s.messages for s in server.sessions] == [3, 3, 3, 1]


def test_a_retiring_connection_says_quit_with_its_last_message() -> None:
    """With pipelining, the QUIT of a connection replaced after
    ``max_messages_per_connection`` goes out with its last message's content: the proxy
    counts 5 round trips for it (handshake, EHLO, the first MAIL/RCPT/DATA, the first
    content with the second's commands, the second content with QUIT), not 6."""
    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.002) as proxy,
    ):
        backend = SMTPBackend(
            host=proxy.host, port=proxy.port, max_messages_per_connection=2, timeout=10
        )
        assert backend.send_messages(messages(4)) == 4
    # the second connection ends as a batch does: its last content, then QUIT
    assert proxy.turns == 5 + 6
    assert [s.messages for s in server.sessions] == [2, 2]
    assert [m.mail_from for m in server.messages] == [f"m{n}@example.com" for n in range(4)]


def test_the_extra_connections_connect_along_with_the_first() -> None:
    """Once every message is prepared, the batch's extra connections are opened at the
    same moment as the first one, not after its greeting and EHLO: over a 100 ms round
    trip the server sees the 4 connections open within one round trip (one after the
    other: more than two apart), and 4 messages on 4 connections are all received
    about 2.5 round trips sooner (0.57 s measured, not 0.82 s)."""
    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.05) as proxy,
    ):
        backend = SMTPBackend(host=proxy.host, port=proxy.port, max_connections=4, timeout=10)
        started = time.monotonic()
        assert backend.send_messages(messages(4)) == 4
        took = time.monotonic() - started
        opened = [s.opened_at for s in server.sessions]
        backend.close()
    assert len(opened) == 4
    assert max(opened) - min(opened) < 0.1  # one after the other: 0.25 s apart
    assert took < 0.7  # one after the other: 0.82 s


def test_a_batch_whose_first_connection_is_refused_sends_nothing_on_the_extra_ones() -> None:
    """The extra connections opened along with the first one wait for it: when its
    greeting refuses service, the batch fails at stage "greeting" as with one connection,
    nothing is sent, and the extra connections are given back (and closed)."""
    script = FaultScript(Fault("GREETING", "554 5.3.2 no service", times=1))
    with RecordingSMTPServer(pipelining=True, fault=script) as server:
        backend = SMTPBackend(max_connections=4, **server.backend_options(timeout=10))
        batch = messages(4)
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages(batch)
        assert wait_until(lambda: server.open_now == 0)
    assert caught.value.stage == "greeting" and caught.value.sent == 0
    assert script.fired_on == [1]
    assert [m.result.status if m.result else None for m in batch] == ["failed"] * 4
    assert server.messages == []
    assert all(s.closed for s in server.sessions)


@pytest.mark.parametrize(
    ("reply", "status"), [("451 4.3.0 try later", "sent"), ("554 5.7.1 rejected", "failed")]
)
def test_the_last_message_of_a_retiring_connection_is_judged_as_any_other(
    reply: str, status: str
) -> None:
    """Its QUIT went out with its content, yet a refusal of it counts: a temporary one is
    tried again on the next connection (received once), a permanent one fails it."""
    script = FaultScript(Fault("DATA", reply, match=("m1@example.com",), times=1))
    with RecordingSMTPServer(pipelining=True, fault=script) as server:
        backend = SMTPBackend(
            max_messages_per_connection=2,
            retries=1,
            retry_backoff=0,
            fail_silently=True,
            **server.backend_options(timeout=10),
        )
        batch = messages(4)
        assert backend.send_messages(batch) == (4 if status == "sent" else 3)
    assert script.fired == [1]
    assert [m.result.status if m.result else None for m in batch] == [
        "sent",
        status,
        "sent",
        "sent",
    ]
    received = Counter(m.mail_from for m in server.messages)
    assert received["m1@example.com"] == (1 if status == "sent" else 0)
    assert all(received[f"m{n}@example.com"] == 1 for n in (0, 2, 3))


def test_closing_the_pool_quits_every_connection_in_one_round_trip() -> None:
    """close() of the last user QUITs every pooled connection: all the QUITs are written
    before any reply is awaited, so over a 100 ms round trip closing 4 connections takes
    one round trip, not four."""
    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.05) as proxy,
    ):
        backend = SMTPBackend(host=proxy.host, port=proxy.port, max_connections=4, timeout=10)
        backend.open()
        assert backend.send_messages(messages(24)) == 24
        assert len(server.sessions) == 4 and server.open_now == 4
        started = time.monotonic()
        backend.close()
        closing = time.monotonic() - started
        assert wait_until(lambda: server.open_now == 0)
    assert 0.1 <= closing < 0.25  # one round trip (4 one after another: 0.4 s)
    assert all(s.closed for s in server.sessions)


def test_a_pooled_connection_idle_longer_than_idle_timeout_is_closed() -> None:
    """A pooled connection idle for ``idle_timeout`` is closed; the one the opened
    instance keeps stays open until its next send, which replaces it (docs: idle_timeout)."""
    with RecordingSMTPServer() as server:
        backend = SMTPBackend(max_connections=2, idle_timeout=0.3, **server.backend_options())
        backend.open()
        try:
            assert backend.send_messages(messages(20)) == 20
            assert len(server.sessions) == 2
            # the second connection went idle into the pool: closed after 0.3 s
            assert wait_until(lambda: server.sessions[1].closed, timeout=3)
            time.sleep(0.4)  # the instance's own one is replaced on its next use
            assert not server.sessions[0].closed  # kept open, idle beyond idle_timeout
            assert backend.send_messages(messages(1, "late")) == 1
            assert server.sessions[0].closed  # replaced by the send (QUIT)
        finally:
            backend.close()
    assert server.sessions[0].closed
    assert server.messages[-1].session == 3


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_server_closing_idle_connections_costs_no_error_and_no_retry(pipelining: bool) -> None:
    """The server closes a connection silent for 1 s; messages 2 s apart all go, with
    retries=0, on a connection replaced each time it was found closed."""
    with RecordingSMTPServer(pipelining=pipelining, idle_close=1.0) as server:
        backend = SMTPBackend(retries=0, **server.backend_options(timeout=5))
        backend.open()
        try:
            for n in range(3):
                if n:
                    time.sleep(2.0)
                assert backend.send_messages(messages(1, f"late{n}-")) == 1
        finally:
            backend.close()
    assert [m.mail_from for m in server.messages] == [f"late{n}-0@example.com" for n in range(3)]
    assert len(server.sessions) == 3


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_loss_at_mail_from_on_a_connection_that_sat_idle_goes_on_a_fresh_one(
    pipelining: bool,
) -> None:
    """The server dropped the idle connection just as MAIL FROM went out (the race a
    liveness check cannot see): nothing was accepted, so the message goes again on a
    new connection, without ``retries``, and is not reported failed."""
    from tests.support.fault_server import DROP

    script = FaultScript(Fault("MAIL", DROP, match=("second0@example.com",), times=1))
    with RecordingSMTPServer(fault=script, pipelining=pipelining) as server:
        backend = SMTPBackend(retries=0, **server.backend_options(timeout=5))
        backend.open()
        try:
            assert backend.send_messages(messages(1, "first")) == 1
            batch = messages(1, "second")
            assert backend.send_messages(batch) == 1
            assert batch[0].result is not None and batch[0].result.sent
        finally:
            backend.close()
    assert script.fired == [1]
    assert [s.messages for s in server.sessions] == [1, 1]


def test_max_per_second_is_kept_over_every_one_second_window() -> None:
    rate, count = 20.0, 50
    with RecordingSMTPServer(pipelining=True) as server:
        backend = SMTPBackend(
            max_connections=4, max_per_second=rate, **server.backend_options(timeout=10)
        )
        start = time.monotonic()
        assert backend.send_messages(messages(count)) == count
        elapsed = time.monotonic() - start
    times = sorted(m.received_at for m in server.messages)
    assert elapsed >= (count - rate) / rate  # 50 at 20/s: at least 1.5 s
    assert elapsed < count / rate + 1.5
    for first in times:  # no window of one second holds more than the rate (+1 for jitter
        # between the client's start and the server's final dot)
        assert sum(1 for t in times if first <= t < first + 1.0) <= rate + 1


def test_a_throttling_reply_slows_down_and_is_retried() -> None:
    assert means_throttled(451, "4.7.1 Rate limit exceeded, slow down")
    assert means_throttled(421, "4.7.0 Too many messages, try later")
    assert not means_throttled(451, "4.3.0 Error in processing")
    assert not means_throttled(550, "5.7.1 Rate limit")  # a 5xx is never retried
    script = FaultScript(
        Fault(
            "MAIL", "451 4.7.1 Rate limit exceeded, slow down", match=("m1@example.com",), times=1
        )
    )
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(retries=1, retry_backoff=0.2, **server.backend_options())
        start = time.monotonic()
        assert backend.send_messages(messages(3)) == 3
        elapsed = time.monotonic() - start
    assert script.fired == [1]
    assert elapsed >= 0.1  # waited at least half the backoff before going on
    assert Counter(m.mail_from for m in server.messages) == {
        f"m{n}@example.com": 1 for n in range(3)
    }


def test_the_rate_limiter_keeps_fifty_a_second_across_eight_threads() -> None:
    """max_per_second=50 shared by 8 threads for 4 s: within 5% of 50/s, never more
    than 50 starts in any 1-second window."""
    from mailcore import RateLimiter

    limiter = RateLimiter(50.0)
    starts: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(25):
            start = limiter.wait()
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts.sort()
    rate = (len(starts) - 1) / (starts[-1] - starts[0])
    assert 50 * 0.95 <= rate <= 50
    assert max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts) <= 50
    limiter.pause(0.3)
    before = time.monotonic()
    limiter.wait()
    assert time.monotonic() - before >= 0.29


def test_a_thread_holding_the_only_connection_never_waits_for_itself() -> None:
    """``with backend:`` holds the one connection (max_connections=1); a send in the same
    thread through another instance configured alike (``send_mail()`` without
    ``connection=``) gets a connection of its own instead of waiting for ever."""
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5)
        with SMTPBackend(**options) as held:
            assert SMTPBackend(**options).send_messages(messages(1, "other")) == 1
            assert held.send_messages(messages(1, "held")) == 1
    assert sorted(s.messages for s in server.sessions) == [1, 1]


def test_an_async_retiring_connection_says_quit_with_its_last_message() -> None:
    """The async sender retires a connection the same way: 5 round trips for the first
    connection (its QUIT rides with its last content), 6 for the second (a batch's end)."""
    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.002) as proxy,
    ):
        backend = SMTPBackend(
            host=proxy.host, port=proxy.port, max_messages_per_connection=2, timeout=10
        )
        assert asyncio.run(backend.asend_messages(messages(4))) == 4
        assert wait_until(lambda: server.open_now == 0)
    assert proxy.turns == 5 + 6
    assert [s.messages for s in server.sessions] == [2, 2]
    assert [m.mail_from for m in server.messages] == [f"m{n}@example.com" for n in range(4)]


def test_closing_the_async_pool_quits_every_connection_in_one_round_trip() -> None:
    """aclose() of the last user QUITs every connection of the loop's pool at once:
    closing 4 over a 100 ms round trip takes one round trip, not four."""

    async def send_then_close() -> float:
        backend = SMTPBackend(host=proxy.host, port=proxy.port, max_connections=4, timeout=10)
        await backend.aopen()
        assert await backend.asend_messages(messages(24)) == 24
        assert len(server.sessions) == 4 and server.open_now == 4
        started = time.monotonic()
        await backend.aclose()
        return time.monotonic() - started

    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.05) as proxy,
    ):
        closing = asyncio.run(send_then_close())
        assert wait_until(lambda: server.open_now == 0)
    assert 0.1 <= closing < 0.25  # one round trip (4 one after another: 0.4 s)
    assert all(s.closed for s in server.sessions)
