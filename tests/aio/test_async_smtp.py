"""The SMTP backend through the async API, against real aiosmtpd servers on 127.0.0.1:
the event loop stays free, the pool bounds concurrent async sends, a cancelled send
reports every message's outcome honestly."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

import mailcore
from benchmarks.sink import Sink
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend, SMTPBatchStoppedError, SMTPConnectionError
from tests.support.smtp_servers import RecordingSMTPServer

pytestmark = pytest.mark.anyio

#: The issue's bound: a task sleeping 10 ms is never late by more than this.
LATENESS_BOUND = 0.020


@pytest.fixture
def server() -> Iterator[RecordingSMTPServer]:
    with RecordingSMTPServer() as running:
        yield running


def batch(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"Message {n}", "Body.\n", "from@example.com", [f"to{n}@example.com"])
        for n in range(count)
    ]


async def _worst_lateness_while(work: asyncio.Future[int] | asyncio.Task[int]) -> float:
    """Run a task that sleeps 10 ms in a loop until ``work`` is done; its worst lateness."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not work.done():
        start = loop.time()
        await asyncio.sleep(0.010)
        worst = max(worst, loop.time() - start - 0.010)
    return worst


async def test_the_event_loop_stays_free_while_200_messages_go_out(
    record_property: Callable[[str, object], None],
) -> None:
    """200 messages through asend_messages to an aiosmtpd sink in its own process (so
    the server does not share this process's GIL) while a task sleeps 10 ms in a loop.

    The lateness is measured in the sending process. On a 2-core machine shared with
    other work the scheduler alone can delay a process by more than 20 ms now and then,
    so up to 3 runs are made: a blocked loop is late by the whole send in every run,
    noise only in some. Each run's worst lateness is recorded."""
    figures: list[float] = []
    for _ in range(3):
        with Sink() as sink:
            backend = SMTPBackend(host="127.0.0.1", port=sink.port, timeout=10)
            messages = batch(200)
            sending = asyncio.create_task(backend.asend_messages(messages))
            worst = await _worst_lateness_while(sending)
            assert await sending == 200
        assert sink.stats["messages"] == 200
        assert all(m.result is not None and m.result.sent for m in messages)
        figures.append(worst)
        if worst < LATENESS_BOUND:
            break
    shown = ", ".join(f"{f * 1000:.1f} ms" for f in figures)
    record_property("worst_lateness_ms", [round(f * 1000, 1) for f in figures])
    print(f"async: worst lateness of a 10 ms sleeper over 200 messages, per run: {shown}")
    assert min(figures) < LATENESS_BOUND, f"the sleeper was late by {shown}"


async def test_sync_sending_in_the_loop_blocks_it_for_the_whole_send(
    server: RecordingSMTPServer,
) -> None:
    """The contrast: send_messages called in a coroutine (as Django's mail is) holds the
    loop; the sleeper is late by about the whole send."""
    backend = SMTPBackend(**server.backend_options(timeout=10))
    loop = asyncio.get_running_loop()

    async def blocking_send() -> int:
        await asyncio.sleep(0.005)  # let the sleeper start
        return backend.send_messages(batch(100))

    sending = asyncio.create_task(blocking_send())
    started = loop.time()
    worst = await _worst_lateness_while(sending)
    took = loop.time() - started
    assert await sending == 100
    assert worst > max(LATENESS_BOUND, took / 2)


async def test_concurrent_asend_mail_share_the_mailers_pool_of_8(
    server: RecordingSMTPServer,
) -> None:
    mailcore.configure(
        mailers={"bulk": {"url": f"smtp://{server.host}:{server.port}?max_connections=8"}}
    )
    sent = await asyncio.gather(
        *(
            mailcore.asend_mail(
                f"M{n}", "Body", "from@example.com", [f"to{n}@example.com"], using="bulk"
            )
            for n in range(200)
        )
    )
    assert sent == [1] * 200
    assert len(server.messages) == 200
    assert 1 < server.max_open <= 8


async def test_a_cancelled_send_closes_its_connection_at_once_and_reports_every_outcome(
    server: RecordingSMTPServer,
) -> None:
    """Cancelled while 400 messages go out (pipelined): the connection is closed at once,
    so the server never completes a message whose final dot was not sent; the message in
    flight reports the break honestly (``outcome_unknown`` when its dot may have arrived,
    else not accepted), every later one is marked not attempted, and the server agrees:
    each message it got is reported sent or possibly sent, none twice."""
    backend = SMTPBackend(**server.backend_options(timeout=10))
    messages = batch(400)
    sending = asyncio.create_task(backend.asend_messages(messages))
    for _ in range(1000):  # cancelled once the first message arrived (a busy machine is slow)
        if server.messages:
            break
        await asyncio.sleep(0.005)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    received = [str(m.parsed()["Subject"]) for m in server.messages]
    assert 0 < len(received) < len(messages)
    assert len(set(received)) == len(received)
    broken = []
    for message in messages:
        result = message.result
        assert result is not None
        if result.sent:
            assert message.subject in received
        elif isinstance(result.error, SMTPBatchStoppedError):
            assert "cancelled" in str(result.error)
            assert message.subject not in received
        else:  # the transaction the cancellation broke
            assert isinstance(result.error, SMTPConnectionError)
            assert "the sending task was cancelled" in str(result.error)
            if message.subject in received:
                assert result.error.outcome_unknown
            broken.append(message)
    assert len(broken) <= 2  # at most the pipelined pair in flight
    assert backend.connection is None
    # the closed connection went out of the pool: the next send opens a new one
    assert await backend.asend_messages(batch(1)) == 1


async def test_a_big_message_is_streamed_with_bounded_memory() -> None:
    """A 16 MB attachment (about 22 MB on the wire) goes to a sink in another process
    through asend_messages; the client never holds the serialized message: its peak of
    new allocations (every thread, tracemalloc) stays under 4 MB."""
    payload = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    mail = EmailMessage("Big", "See attached.\n", "from@example.com", ["to@example.com"])
    mail.attach("big.bin", payload, "application/octet-stream")
    with Sink() as sink:
        backend = SMTPBackend(host="127.0.0.1", port=sink.port, timeout=30, data_timeout=60)
        tracemalloc.start()
        try:
            assert await backend.asend_messages([mail]) == 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sink.stats["messages"] == 1
    assert sink.stats["bytes"] > 21 * 1024 * 1024
    print(f"async: peak of new allocations sending 16 MB: {peak / 2**20:.2f} MB")
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MB"


async def test_a_session_and_a_send_through_another_instance_of_a_pool_of_1_never_deadlock(
    server: RecordingSMTPServer,
) -> None:
    """The pool's waiting rule, as for threads: a task holding the only connection
    (``async with``) that sends through another instance of the same mailer would wait
    for itself for ever; it gets one more connection for that send instead."""
    options = server.backend_options(timeout=10, max_connections=1)
    async with SMTPBackend(**options) as session:
        assert await session.asend_messages(batch(1)) == 1
        other = SMTPBackend(**options)
        async with asyncio.timeout(10):  # in this task (wait_for would make another)
            assert await other.asend_messages(batch(1)) == 1
    assert len(server.messages) == 2
    assert server.max_open == 2


async def test_max_connections_bounds_one_event_loops_async_connections(
    server: RecordingSMTPServer,
) -> None:
    """Eight instances configured alike (one pool) send 40 batches at once with
    ``max_connections=3``: the server never sees more than 3 connections."""
    options = server.backend_options(timeout=10, max_connections=3)
    batches = [batch(2) for _ in range(40)]
    sent = await asyncio.gather(*(SMTPBackend(**options).asend_messages(b) for b in batches))
    assert sent == [2] * 40
    assert len(server.messages) == 80
    assert 1 < server.max_open <= 3


async def test_concurrent_calls_get_their_own_results_across_handed_connections() -> None:
    """60 calls of one message each, at once, over a pool of 2: a call whose message
    waits for its content hands the connection to a waiting call, which sends that
    content with its own commands and reads both replies. Each message still gets the
    queue id the server gave it, and its refused recipient, whichever call read it."""
    refuse = {"nobody@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refuse, pipelining=True) as server:
        await _send_60_calls(server)


async def _send_60_calls(server: RecordingSMTPServer) -> None:
    options = server.backend_options(timeout=10, max_connections=2)
    messages = [
        EmailMessage(
            f"Call {n}", "Body.\n", "from@example.com", [f"to{n}@example.com", "nobody@example.com"]
        )
        for n in range(60)
    ]
    sent = await asyncio.gather(*(SMTPBackend(**options).asend_messages([m]) for m in messages))
    assert sent == [1] * 60
    queue_ids = {str(r.parsed()["Subject"]): r.queue_id for r in server.messages}
    for message in messages:
        assert message.result is not None
        assert message.result.message_id == queue_ids[message.subject]
        assert list(message.result.refused) == ["nobody@example.com"]
    assert server.max_open <= 2
