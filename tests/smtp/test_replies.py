"""The queue id read from the final reply of real servers' formats."""

from __future__ import annotations

import pytest

from mailcore_smtp.replies import queue_id_from_reply


@pytest.mark.parametrize(
    ("reply", "queue_id"),
    [
        ("2.0.0 Ok: queued as 4Bq2Zk3HxYz9", "4Bq2Zk3HxYz9"),  # Postfix
        ("OK id=1rX5Yz-0001Ab-Cd", "1rX5Yz-0001Ab-Cd"),  # Exim
        ("2.0.0 x8LF5bL3012345 Message accepted for delivery", "x8LF5bL3012345"),  # Sendmail
        ("Ok 0100018c2f7e9a1b-5a1e2c3d-0000-000000", "0100018c2f7e9a1b-5a1e2c3d-0000-000000"),
        ("2.0.0 OK: queued as <abc.123@mx.example.com>", "abc.123@mx.example.com"),
        ("Ok: queued as\n  ABC123", "ABC123"),
        ("OK", None),
        ("2.0.0 Ok", None),
        ("Message accepted", None),
        ("", None),
    ],
)
def test_queue_id_from_reply(reply: str, queue_id: str | None) -> None:
    assert queue_id_from_reply(reply) == queue_id
