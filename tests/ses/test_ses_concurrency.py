"""SES throughput: ``max_connections`` concurrent calls, ``max_per_second``, throttling."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mailcore import EmailMessage
from mailcore_ses import SESBackend, SESThrottlingError
from mailcore_ses.backend import THROTTLE_PAUSE, suggested_connections
from tests.ses.conftest import REGION, SENDER, FakeSES, ScriptedSES


class InFlight:
    """Counts SendEmail calls in flight (each held ``hold`` seconds before it goes) and
    when each went out."""

    def __init__(self, backend: SESBackend, hold: float = 0.0) -> None:
        self.hold = hold
        self.now = 0
        self.most = 0
        self.starts: list[float] = []
        self._lock = threading.Lock()
        events = backend.client.meta.events
        events.register("before-call.sesv2.SendEmail", self._begin)
        events.register("before-send.sesv2.SendEmail", self._send)
        events.register("after-call.sesv2.SendEmail", self._end)

    def _begin(self, **kwargs: Any) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def _send(self, **kwargs: Any) -> None:
        with self._lock:
            self.starts.append(time.monotonic())
        time.sleep(self.hold)

    def _end(self, **kwargs: Any) -> None:
        with self._lock:
            self.now -= 1


def batch(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"m{n}", f"body {n}", SENDER, [f"to{n}@example.com"]) for n in range(count)
    ]


def test_max_connections_sends_that_many_calls_at_once_results_in_order(ses: FakeSES) -> None:
    backend = SESBackend(region=REGION, max_connections=8)
    calls = InFlight(backend, hold=0.05)
    messages = batch(40)
    start = time.monotonic()
    assert backend.send_messages(messages) == 40
    elapsed = time.monotonic() - start
    backend.close()
    assert calls.most == 8
    assert elapsed < 40 * 0.05 / 2  # far less than one call after the other
    # each result carries the id SES gave that very message
    by_id = {raw.id: raw for raw in ses.sent}
    for n, message in enumerate(messages):
        assert message.result is not None and message.result.message_id in by_id
        assert f"to{n}@example.com" in by_id[message.result.message_id].destinations


def test_one_connection_sends_one_call_at_a_time(ses: FakeSES) -> None:
    backend = SESBackend(region=REGION)
    calls = InFlight(backend, hold=0.01)
    assert backend.send_messages(batch(5)) == 5
    assert calls.most == 1


def test_max_per_second_paces_every_call(ses: FakeSES) -> None:
    backend = SESBackend(region=REGION, max_connections=4, max_per_second=20)
    calls = InFlight(backend)
    start = time.monotonic()
    assert backend.send_messages(batch(30)) == 30
    assert time.monotonic() - start >= (30 - 20) / 20
    starts = sorted(calls.starts)
    for first in starts:
        # the limiter claims at most 20 a window; a call may reach the wire a little late
        assert sum(1 for t in starts if first <= t < first + 1.0) <= 20 + 1


def test_throttling_holds_every_sender_back(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    """SES answered Throttling (after botocore's own retries): the message is reported
    failed, and the next call waits ``THROTTLE_PAUSE`` before it goes."""
    backend, script = scripted
    script.refuse(400, "TooManyRequestsException", "Maximum sending rate exceeded.")
    script.accept("id-2")
    messages = batch(2)
    start = time.monotonic()
    with pytest.raises(SESThrottlingError) as caught:
        backend.send_messages(messages)
    assert time.monotonic() - start >= THROTTLE_PAUSE
    assert caught.value.sent == 1
    assert [m.result.status for m in messages] == ["failed", "sent"]  # type: ignore[union-attr]
    assert messages[1].result.message_id == "id-2"  # type: ignore[union-attr]


def test_check_suggests_settings_from_the_send_rate() -> None:
    assert [suggested_connections(r) for r in (1, 14, 50, 400, 10_000)] == [1, 2, 5, 40, 50]
