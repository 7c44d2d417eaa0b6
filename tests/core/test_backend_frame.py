"""BaseEmailBackend.deliver_batch and open_quietly: the frame of a transport backend."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

import pytest

import mailcore
from mailcore import (
    BadHeaderError,
    BaseEmailBackend,
    ConfigurationError,
    EmailMessage,
    SendError,
    SendResult,
    SerializedMessage,
)
from mailcore.testing import redirect_backends
from mailcore_locmem import LocmemBackend


class FlakyTransport(BaseEmailBackend):
    """Connects unless told to fail; records what happened."""

    def __init__(self, fail_with: BaseException | None = None, **kwargs: bool) -> None:
        super().__init__(**kwargs)
        self.fail_with = fail_with
        self.is_open = False
        self.events: list[str] = []

    def _connect(self) -> bool:
        if self.fail_with is not None:
            raise self.fail_with
        if self.is_open:
            return False
        self.is_open = True
        self.events.append("open")
        return True

    def open(self) -> bool:
        return self.open_quietly(self._connect)

    def close(self) -> None:
        if self.is_open:
            self.events.append("close")
        self.is_open = False

    def _send_batch(self, messages: list[EmailMessage]) -> int:
        for message in messages:
            self.events.append(f"send {message.subject}")
            message.result = SendResult("sent")
        return len(messages)

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        return self.deliver_batch(messages, self._connect, self._send_batch)


def _messages(*subjects: str) -> list[EmailMessage]:
    return [EmailMessage(s, "b", "f@example.com", ["t@example.com"]) for s in subjects]


def test_a_batch_opens_and_closes_its_own_connection() -> None:
    backend = FlakyTransport()
    assert backend.send_messages(_messages("a", "b")) == 2
    assert backend.events == ["open", "send a", "send b", "close"]


def test_an_open_connection_is_used_and_left_open() -> None:
    backend = FlakyTransport()
    assert backend.open() is True
    backend.send_messages(_messages("a"))
    assert backend.is_open
    assert backend.events == ["open", "send a"]


def test_nothing_to_send_opens_nothing() -> None:
    backend = FlakyTransport()
    assert backend.send_messages([]) == 0
    assert backend.events == []


def test_a_failed_connect_fails_every_message_and_raises() -> None:
    messages = _messages("a", "b")
    error = SendError("server down")
    with pytest.raises(SendError, match="server down"):
        FlakyTransport(fail_with=error).send_messages(messages)
    assert [(m.result.status, m.result.error) for m in messages if m.result] == [
        ("failed", error),
        ("failed", error),
    ]


def test_fail_silently_turns_a_transport_error_into_zero_sent() -> None:
    messages = _messages("a")
    backend = FlakyTransport(fail_with=SendError("server down"), fail_silently=True)
    assert backend.send_messages(messages) == 0
    assert backend.open() is False
    assert messages[0].result is not None and not messages[0].result.sent


def test_fail_silently_never_hides_a_configuration_error() -> None:
    backend = FlakyTransport(
        fail_with=ConfigurationError("bad certificate path"), fail_silently=True
    )
    with pytest.raises(ConfigurationError):
        backend.send_messages(_messages("a"))
    with pytest.raises(ConfigurationError):
        backend.open()


class CountingTransport(FlakyTransport):
    """Counts how often each message is built, and keeps what it sent."""

    def __init__(self, **kwargs: bool) -> None:
        super().__init__(**kwargs)
        self.built: list[str] = []
        self.sent_data: list[SerializedMessage] = []

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        self.built.append(message.subject)
        return super().prepare_message(message)

    def _send_batch(self, messages: list[EmailMessage]) -> int:
        self.sent_data += [self.prepared(m) for m in messages]
        return super()._send_batch(messages)


def test_each_message_is_built_once_before_connecting_and_sent_as_built() -> None:
    backend = CountingTransport()
    messages = _messages("a", "b", "c")
    assert backend.send_messages(iter(messages)) == 3
    assert backend.built == ["a", "b", "c"]
    assert backend.events == ["open", "send a", "send b", "send c", "close"]
    headers = [m.result.message_id_header for m in messages if m.result]
    assert headers == [data.message_id for data in backend.sent_data]
    assert [
        f"Message-ID: {h}\r\n".encode() in d.to_bytes()
        for h, d in zip(headers, backend.sent_data, strict=True)
    ] == [True] * 3


def test_a_bad_message_stops_the_batch_before_connecting() -> None:
    backend = CountingTransport()
    messages = _messages("a", "b\nBcc: x@example.com", "c")
    with pytest.raises(BadHeaderError, match=r"^message 2 of 3 \(nothing was sent\): ") as caught:
        backend.send_messages(messages)
    assert backend.events == []  # not connected
    assert backend.built == ["a", "b\nBcc: x@example.com"]
    assert [m.result.error for m in messages if m.result][1] is caught.value
    for message in (messages[0], messages[2]):
        assert message.result is not None and message.result.status == "failed"
        error = message.result.error
        assert isinstance(error, SendError) and error.__cause__ is caught.value
        assert str(error).startswith("not sent: the batch stopped at another message (")
        assert message.result.message_id_header is None


def test_a_single_bad_message_keeps_its_error_text() -> None:
    message = _messages("b\nBcc: x@example.com")[0]
    with pytest.raises(BadHeaderError) as caught:
        CountingTransport().send_messages([message])
    assert not str(caught.value).startswith("message 1 of 1")


class StopsAtSecond(FlakyTransport):
    def _send_batch(self, messages: list[EmailMessage]) -> int:
        messages[0].result = SendResult("sent")
        raise SendError("lost the connection")


def test_messages_left_without_result_when_the_batch_raises_are_not_attempted() -> None:
    messages = _messages("a", "b", "c")
    with pytest.raises(SendError, match="lost the connection") as caught:
        StopsAtSecond().send_messages(messages)
    assert messages[0].result is not None and messages[0].result.sent
    assert messages[0].result.message_id_header is not None
    for message in messages[1:]:
        assert message.result is not None and message.result.error is not None
        assert message.result.error.__cause__ is caught.value
        assert message.result.message_id_header is None


class FailsToClose(FlakyTransport):
    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            raise SendError("could not publish the batch")


@pytest.mark.parametrize("fail_silently", [False, True])
def test_a_failed_close_fails_the_messages_it_opened_for(fail_silently: bool) -> None:
    messages = _messages("a", "b")
    backend = FailsToClose(fail_silently=fail_silently)
    if fail_silently:
        assert backend.send_messages(messages) == 0
    else:
        with pytest.raises(SendError, match="could not publish"):
            backend.send_messages(messages)
    assert [str(m.result.error) for m in messages if m.result] == [
        "could not publish the batch"
    ] * 2


class OwnLoop(BaseEmailBackend):
    """A third-party backend that does not use the frame."""

    delivered: ClassVar[list[str]] = []

    def open(self) -> bool:
        raise AssertionError("a stand-in must not connect")

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        subjects = [m.subject for m in messages]
        self.delivered.extend(subjects)
        return len(subjects)


def test_redirect_covers_a_backend_with_its_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailcore, "outbox", [], raising=False)
    backend = OwnLoop()
    with redirect_backends(LocmemBackend):
        assert backend.open() is False
        assert backend.send_messages(m for m in _messages("kept")) == 1
    assert OwnLoop.delivered == []
    assert [m.subject for m in mailcore.outbox] == ["kept"]
    assert backend.send_messages(_messages("real")) == 1
    assert OwnLoop.delivered == ["real"]


class OutboxWhileOn(LocmemBackend):
    """A redirect target that takes a backend over only while ``on`` is true."""

    on: ClassVar[bool] = False

    @classmethod
    def takes_over(cls, backend: BaseEmailBackend) -> bool:
        return cls.on


def test_a_redirect_target_may_decline_and_the_backend_delivers_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mailcore, "outbox", [], raising=False)
    monkeypatch.setattr(OwnLoop, "delivered", [])
    backend = OwnLoop()
    with redirect_backends(OutboxWhileOn):
        assert backend.send_messages(_messages("declined")) == 1
        monkeypatch.setattr(OutboxWhileOn, "on", True)
        assert backend.open() is False
        assert backend.send_messages(_messages("taken over")) == 1
    assert OwnLoop.delivered == ["declined"]
    assert [m.subject for m in mailcore.outbox] == ["taken over"]
