"""The async API of the core: asend_mail & co, EmailMessage.asend(), the default async
methods of a backend that has only sync ones, cancellation, and mailoutbox in async tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

import mailcore
from mailcore import BadHeaderError, BaseEmailBackend, EmailMessage, SendResult

pytestmark = pytest.mark.anyio


class ThreadBoundBackend(BaseEmailBackend):
    """A third-party backend with sync methods only, whose connection belongs to the
    thread that opened it (as many client libraries' do). Records every call's thread."""

    sent_subjects: list[str]

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self.local = threading.local()
        self.calls: list[tuple[str, int]] = []
        self.sent_subjects = []
        self.opens = 0
        self.delay = 0.0

    def open(self) -> bool:
        self.calls.append(("open", threading.get_ident()))
        if getattr(self.local, "connection", False):
            return False
        self.local.connection = True
        self.opens += 1
        return True

    def close(self) -> None:
        self.calls.append(("close", threading.get_ident()))
        self.local.connection = False

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, self.open, self._send)

    def _send(self, batch: list[EmailMessage]) -> int:
        self.calls.append(("send", threading.get_ident()))
        assert self.local.connection, "sent on a thread without the connection"
        time.sleep(self.delay)
        for message in batch:
            self.sent_subjects.append(message.subject)
            message.result = SendResult("sent")
        return len(batch)


def message(subject: str = "Hi") -> EmailMessage:
    return EmailMessage(subject, "Body.\n", "from@example.com", ["to@example.com"])


async def test_asend_mail_through_a_named_mailer() -> None:
    mailcore.configure(mailers={"bulk": {"url": "locmem://"}})
    sent = await mailcore.asend_mail(
        "Subject", "Body", "from@example.com", ["to@example.com"], using="bulk"
    )
    assert sent == 1
    (stored,) = mailcore.outbox
    assert (stored.subject, stored.to, getattr(stored, "sent_using", None)) == (
        "Subject",
        ["to@example.com"],
        "bulk",
    )
    assert stored.result is not None and stored.result.mailer == "bulk"


async def test_asend_mail_with_html_and_the_default_mailer() -> None:
    mailcore.configure(backend="locmem")
    assert await mailcore.asend_mail("S", "text", None, ["a@example.com"], html_message="<b>x</b>")
    (stored,) = mailcore.outbox
    assert stored.alternatives[0].content == "<b>x</b>"  # type: ignore[attr-defined]


async def test_asend_mass_mail_is_one_batch() -> None:
    backend = ThreadBoundBackend()
    datatuple = [
        ("One", "Body", "from@example.com", ["a@example.com"]),
        ("Two", "Body", "from@example.com", ["b@example.com"]),
    ]
    assert await mailcore.asend_mass_mail(datatuple, connection=backend) == 2
    assert backend.sent_subjects == ["One", "Two"]
    assert [name for name, _ in backend.calls] == ["open", "send", "close"]


async def test_amail_admins_and_managers() -> None:
    mailcore.configure(
        backend="locmem",
        admins=["admin@example.com"],
        managers=["boss@example.com"],
        subject_prefix="[site] ",
        server_email="server@example.com",
    )
    assert await mailcore.amail_admins("Down", "It broke") == 1
    assert await mailcore.amail_managers("Report", "Numbers", html_message="<p>n</p>") == 1
    subjects = [(m.subject, m.to, m.from_email) for m in mailcore.outbox]
    assert subjects == [
        ("[site] Down", ["admin@example.com"], "server@example.com"),
        ("[site] Report", ["boss@example.com"], "server@example.com"),
    ]


async def test_amail_admins_without_admins_sends_nothing() -> None:
    mailcore.configure(backend="locmem")
    assert await mailcore.amail_admins("Down", "It broke") == 0
    assert not hasattr(mailcore, "outbox")


async def test_connection_and_using_together_are_a_type_error() -> None:
    mailcore.configure(mailers={"bulk": {"url": "locmem://"}})
    backend = ThreadBoundBackend()
    with pytest.raises(TypeError, match=r"^asend_mail\(\) takes a connection or using="):
        await mailcore.asend_mail("S", "B", None, ["a@example.com"], connection=backend, using="x")
    with pytest.raises(TypeError, match=r"^asend_mass_mail\(\) takes a connection or using="):
        await mailcore.asend_mass_mail([], connection=backend, using="bulk")
    with pytest.raises(TypeError, match=r"^amail_admins\(\) takes a connection or using="):
        await mailcore.amail_admins("S", "B", connection=backend, using="bulk")
    with pytest.raises(TypeError, match=r"^asend\(\) takes using="):
        mail = message()
        mail.connection = backend
        await mail.asend(using="bulk")


async def test_message_asend_with_using_and_without_recipients() -> None:
    mailcore.configure(mailers={"bulk": {"url": "locmem://"}})
    assert await message().asend(using="bulk") == 1
    nobody = EmailMessage("S", "B", "from@example.com", [])
    assert await nobody.asend(using="bulk") == 0
    assert [getattr(m, "sent_using", None) for m in mailcore.outbox] == ["bulk"]


async def test_a_sync_only_backend_runs_off_the_loop_in_one_session_thread() -> None:
    backend = ThreadBoundBackend()
    loop_thread = threading.get_ident()
    async with backend:
        assert await backend.asend_messages([message("one")]) == 1
        assert await backend.asend_messages([message("two")]) == 1
    threads = {thread for _, thread in backend.calls}
    assert [name for name, _ in backend.calls] == ["open", "open", "send", "open", "send", "close"]
    assert len(threads) == 1 and loop_thread not in threads
    assert backend.opens == 1 and backend.sent_subjects == ["one", "two"]


async def test_without_a_session_each_call_opens_and_closes_off_the_loop() -> None:
    backend = ThreadBoundBackend()
    results = await asyncio.gather(*(backend.asend_messages([message(f"m{n}")]) for n in range(4)))
    assert results == [1, 1, 1, 1]
    assert threading.get_ident() not in {thread for _, thread in backend.calls}
    assert sorted(backend.sent_subjects) == ["m0", "m1", "m2", "m3"]


async def test_a_bad_message_sends_nothing_and_opens_nothing() -> None:
    backend = ThreadBoundBackend()
    batch = [message("good"), message("bad\nBcc: victim@example.com"), message("good too")]
    with pytest.raises(BadHeaderError, match=r"^message 2 of 3 \(nothing was sent\)"):
        await backend.asend_messages(batch)
    assert backend.calls == [] and backend.sent_subjects == []
    assert [m.result.status for m in batch if m.result] == ["failed"] * 3


async def test_cancelled_send_reports_the_outcome_before_cancelling() -> None:
    backend = ThreadBoundBackend()
    backend.delay = 0.3
    mail = message("slow")
    task = asyncio.create_task(backend.asend_messages([mail]))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the thread cannot be stopped halfway: the send finished, closed, and says so
    assert mail.result is not None and mail.result.sent
    assert [name for name, _ in backend.calls] == ["open", "send", "close"]


async def test_mailoutbox_in_an_async_test(mailoutbox: list[EmailMessage]) -> None:
    mailcore.configure(backend="smtp", smtp={"host": "127.0.0.1", "port": 9})  # never reached
    assert await mailcore.asend_mail("Async", "Body", None, ["to@example.com"]) == 1
    backend = mailcore.get_connection("smtp")
    async with backend:
        assert await backend.asend_messages([message("in a session")]) == 1
    assert [m.subject for m in mailoutbox] == ["Async", "in a session"]


async def test_mailoutbox_catches_a_native_async_backend(
    mailoutbox: list[EmailMessage],
) -> None:
    class NativeAsync(ThreadBoundBackend):
        async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
            raise AssertionError("the redirect must hand the messages to the outbox")

    assert await NativeAsync().asend_messages([message("redirected")]) == 1
    assert [m.subject for m in mailoutbox] == ["redirected"]


async def test_a_sender_sees_cancel_requested_between_messages() -> None:
    class Stoppable(ThreadBoundBackend):
        def _send(self, batch: list[EmailMessage]) -> int:
            sent = 0
            for message in batch:
                if self.cancel_requested():
                    self.stop_batch([m for m in batch if m.result is None], RuntimeError("stop"))
                    break
                time.sleep(0.02)
                message.result = SendResult("sent")
                sent += 1
            return sent

    backend = Stoppable()
    assert backend.cancel_requested() is False  # outside an async call
    messages = [message(f"m{n}") for n in range(50)]
    task = asyncio.create_task(backend.asend_messages(messages))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    statuses = [m.result.status for m in messages if m.result]
    assert len(statuses) == 50
    sent = statuses.count("sent")
    assert 0 < sent < 50 and statuses == ["sent"] * sent + ["failed"] * (50 - sent)
