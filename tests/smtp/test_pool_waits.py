"""Waiting for a pooled connection: connections kept by a thread that ended are taken
back, a wait behind busy connections that send nothing ends with a clear error after
``timeout`` seconds, and a wait behind a send lasts as long as the send (unless the send
itself makes no progress for ``data_timeout``).

The tests marked ``api`` run twice: through the sync API (the sync pool, threads), and
through the async one (one event loop's pool, which every thread's calls go to)."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend, SMTPConnectionError, SMTPPoolTimeoutError
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import wait_until
from tests.support.smtp_servers import FaultStage, RecordingSMTPServer, SessionRecord

api = sync_and_async(__name__, autouse=False, threads=True)


def messages(count: int, tag: str) -> list[EmailMessage]:
    return [
        EmailMessage(f"{tag}{n}", "body\n", f"{tag}{n}@example.com", ["to@example.com"])
        for n in range(count)
    ]


def open_send_and_end_thread(options: dict[str, Any], keep: list[SMTPBackend] | None) -> None:
    """In a thread that then ends: open an instance, send one message, never close()
    it; the instance is appended to ``keep`` (so it lives on), or dropped."""

    def worker() -> None:
        backend = SMTPBackend(**options)
        backend.open()
        backend.send_messages(messages(1, "worker"))
        if keep is not None:
            keep.append(backend)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()


def test_the_connection_of_an_instance_opened_by_a_thread_that_ended_is_taken_back() -> None:
    """A worker thread opened an instance (max_connections=1), sent, and ended without
    close(); the instance itself lives on. Another caller gets that very connection
    instead of waiting for ever, and the instance takes a new one when it sends again."""
    kept: list[SMTPBackend] = []
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5, max_connections=1)
        open_send_and_end_thread(options, keep=kept)
        started = time.monotonic()
        assert SMTPBackend(**options).send_messages(messages(1, "main")) == 1
        assert time.monotonic() - started < 2  # not the 5 s timeout: taken back at once
        assert kept[0].send_messages(messages(1, "again")) == 1
        kept[0].close()
        assert wait_until(lambda: server.open_now == 0)
    assert [m.mail_from for m in server.messages] == [
        "worker0@example.com",
        "main0@example.com",
        "again0@example.com",
    ]
    assert [s.messages for s in server.sessions] == [3]  # one connection carried all
    assert server.max_open == 1


def test_the_connection_of_an_instance_collected_while_open_is_given_back() -> None:
    """When the instance itself is gone (garbage-collected while open), its connection
    is given back as by close(): with nobody else using the pool it is closed (QUIT),
    and the next caller connects anew."""
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5, max_connections=1)
        open_send_and_end_thread(options, keep=None)
        gc.collect()
        assert wait_until(lambda: server.open_now == 0)
        assert SMTPBackend(**options).send_messages(messages(1, "main")) == 1
        assert wait_until(lambda: server.open_now == 0)
    assert [s.messages for s in server.sessions] == [1, 1]
    assert server.max_open == 1


def send_behind(
    options: dict[str, Any],
    occupy: Callable[[], object],
    occupied: threading.Event,
    free: threading.Event,
) -> tuple[SMTPPoolTimeoutError, float]:
    """Run ``occupy`` in a thread; once ``occupied``, send two messages, which must fail
    with SMTPPoolTimeoutError, none sent; then set ``free`` and wait for the thread.
    Returns the error and the seconds the send waited."""
    thread = threading.Thread(target=occupy)
    thread.start()
    try:
        assert occupied.wait(5)
        batch = messages(2, "waiting")
        started = time.monotonic()
        with pytest.raises(SMTPPoolTimeoutError) as caught:
            SMTPBackend(**options).send_messages(batch)
        waited = time.monotonic() - started
    finally:
        free.set()
        thread.join()
    assert caught.value.stage == "connect"
    assert all(m.result is not None and m.result.status == "failed" for m in batch)
    return caught.value, waited


@pytest.mark.usefixtures("api")
def test_waiting_behind_an_open_instance_that_sends_nothing_ends_after_timeout() -> None:
    """A live thread keeps the only connection open and idle: a send from another
    thread waits ``timeout`` seconds, then fails with SMTPPoolTimeoutError (a
    connection error at stage "connect": nothing of its batch was sent)."""
    opened, finish = threading.Event(), threading.Event()
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=0.5, max_connections=1)

        def holder() -> None:
            with SMTPBackend(**options):
                opened.set()
                finish.wait(10)

        error, waited = send_behind(options, holder, opened, finish)
    assert isinstance(error, SMTPConnectionError)
    assert str(error).startswith(
        f"SMTP server 127.0.0.1:{server.port}: no pooled connection became free within "
        "0.5 s (timeout): all 1 (max_connections=1) stayed busy and sent nothing "
        "meanwhile, 1 of them kept by open instances"
    )
    assert 0.5 <= waited < 3
    assert server.messages == []


@pytest.mark.usefixtures("api")
def test_waiting_behind_a_send_lasts_as_long_as_the_send() -> None:
    """While a send uses the busy connection, the deadline is ``data_timeout``: a server
    taking 0.7 s to store each message (longer than ``timeout``, 0.5 s, but within
    ``data_timeout``) makes a 3-message batch on the only connection last about 2 s, and
    a caller waiting behind it waits it out and then sends, without an error."""

    def slow(stage: FaultStage, session: SessionRecord, argument: str) -> None:
        if stage == "QUEUED":
            time.sleep(0.7)  # the server takes its time storing each message
        return None

    with RecordingSMTPServer(fault=slow) as server:
        options = server.backend_options(timeout=0.5, data_timeout=5, max_connections=1)
        long_batch = messages(3, "long")
        sender = threading.Thread(target=SMTPBackend(**options).send_messages, args=(long_batch,))
        sender.start()
        try:
            assert wait_until(lambda: len(server.messages) >= 1, timeout=5)
            started = time.monotonic()
            assert SMTPBackend(**options).send_messages(messages(1, "after")) == 1
            waited = time.monotonic() - started
        finally:
            sender.join()
    assert waited > 0.5  # longer than the timeout, without an error
    assert all(m.result is not None and m.result.sent for m in long_batch)
    assert [m.mail_from for m in server.messages][-1] == "after0@example.com"
    assert server.max_open == 1


@pytest.mark.usefixtures("api")
def test_waiting_behind_a_send_that_makes_no_progress_ends_after_data_timeout() -> None:
    """A send on the only connection whose server is slow at MAIL and at RCPT (each
    reply within ``timeout``, 1 s, but together longer than ``data_timeout``, 1 s): a
    caller waiting behind it sees no progress for ``data_timeout`` and fails with
    SMTPPoolTimeoutError, its batch not sent; the slow send then goes through, once."""
    at_mail, release = threading.Event(), threading.Event()

    def slow(stage: FaultStage, session: SessionRecord, argument: str) -> None:
        if stage == "MAIL":
            at_mail.set()
        if stage in ("MAIL", "RCPT"):
            release.wait(0.6)  # a slow server: until the waiter failed, or 0.6 s
        return None

    with RecordingSMTPServer(fault=slow) as server:
        options = server.backend_options(timeout=1, data_timeout=1, max_connections=1)
        slow_batch = messages(1, "slow")
        sender = SMTPBackend(**options)
        error, waited = send_behind(
            options, lambda: sender.send_messages(slow_batch), at_mail, release
        )
    assert str(error).startswith(
        f"SMTP server 127.0.0.1:{server.port}: no pooled connection became free within "
        "1 s (data_timeout): all 1 (max_connections=1) stayed busy and sent nothing "
        "meanwhile, 0 of them kept by open instances"
    )
    assert 1 <= waited < 4
    assert slow_batch[0].result is not None and slow_batch[0].result.sent
    assert [m.mail_from for m in server.messages] == ["slow0@example.com"]  # once
    assert server.max_open == 1
