"""BaseEmailBackend.deliver_batch and open_quietly: the frame of a transport backend."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mailcore import BaseEmailBackend, ConfigurationError, EmailMessage, SendError, SendResult


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
