"""``BackendContractTests.keeps_arrival_order``, as docs/writing-a-backend.md promises it:
with ``False`` the messages of one call may arrive in any order, and nothing else is
relaxed (each arrives once with the Message-ID its result names; separate calls arrive
one after the other). Each case runs a contract test on a backend that breaks one rule."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage as ParsedMessage
from typing import Any, ClassVar

import pytest

from mailcore import BaseEmailBackend, EmailMessage, SendResult
from mailcore.testing import BackendContractTests, parse_message


class LastFirstBackend(BaseEmailBackend):
    """Takes the messages of each call last first (the page's stand-in transport)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.received: list[bytes] = []

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, lambda: False, self._send_all)

    def _send_all(self, batch: list[EmailMessage]) -> int:
        for message in reversed(batch):
            data = self.prepared(message)
            self.deliver(data.to_bytes())
            message.result = SendResult("sent", message_id_header=data.message_id)
        return len(batch)

    def deliver(self, raw: bytes) -> None:
        self.received.append(raw)


class SwappedResultsBackend(LastFirstBackend):
    """Reports the first message's Message-ID on the second, and the other way round."""

    def _send_all(self, batch: list[EmailMessage]) -> int:
        sent = super()._send_all(batch)
        if len(batch) >= 2:
            first, second = batch[0].result, batch[1].result
            assert first is not None and second is not None
            first.message_id_header, second.message_id_header = (
                second.message_id_header,
                first.message_id_header,
            )
        return sent


class TwiceBackend(LastFirstBackend):
    """Delivers every message twice."""

    def deliver(self, raw: bytes) -> None:
        self.received += [raw, raw]


class LatestCallFirstBackend(LastFirstBackend):
    """Puts each call's messages before those of the earlier calls."""

    def _send_all(self, batch: list[EmailMessage]) -> int:
        earlier, self.received = self.received, []
        sent = super()._send_all(batch)
        self.received += earlier
        return sent


class Contract(BackendContractTests):
    """The contract tests, called directly with a backend of the case's."""

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        assert isinstance(backend, LastFirstBackend)
        return [parse_message(raw) for raw in backend.received]


class AnyOrderContract(Contract):
    keeps_arrival_order: ClassVar[bool] = False


def test_a_batch_arriving_last_first_passes_only_when_the_order_is_not_kept() -> None:
    AnyOrderContract().test_send_messages_returns_the_number_sent(LastFirstBackend())
    AnyOrderContract().test_send_messages_takes_any_iterable_once(LastFirstBackend())
    with pytest.raises(AssertionError, match=r"^one call's messages: .* \(in this order\)$"):
        Contract().test_send_messages_returns_the_number_sent(LastFirstBackend())


@pytest.mark.parametrize(
    ("backend_class", "error"),
    [
        (SwappedResultsBackend, r"^one call's messages: .* \(in any order\)$"),
        (TwiceBackend, r"^6 messages arrived, not 3$"),
        (LatestCallFirstBackend, r"^one call's messages: \[\('third', .* \(in any order\)$"),
    ],
    ids=["a result naming another message", "each message twice", "a later call first"],
)
def test_without_arrival_order_every_other_rule_still_holds(
    backend_class: type[LastFirstBackend], error: str
) -> None:
    with pytest.raises(AssertionError, match=error):
        AnyOrderContract().test_send_messages_takes_any_iterable_once(backend_class())
