"""The queue id read from the final reply of real servers' formats, and which replies
are no SMTP replies at all."""

from __future__ import annotations

import pytest

from mailcore_smtp.replies import malformed_line, queue_id_from_reply


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


@pytest.mark.parametrize(
    ("lines", "malformed"),
    [
        ([b"250 2.1.5 Ok\r\n"], None),
        ([b"250\r\n"], None),  # a code alone
        ([b"250-mx.example.com\r\n", b"250-PIPELINING\r\n", b"250 8BITMIME\r\n"], None),
        ([b"554 5.7.1 Refused\n"], None),  # a bare LF ends the line too
        ([b"hello garbage\r\n"], b"hello garbage"),  # no code
        ([b"199 too low\r\n"], b"199 too low"),  # SMTP codes are 2xx to 5xx
        ([b"600 too high\r\n"], b"600 too high"),
        ([b"25 two digits\r\n"], b"25 two digits"),
        ([b"2500 four digits\r\n"], b"2500 four digits"),
        ([b"250-first\r\n", b"354 go ahead\r\n"], b"354 go ahead"),  # another code
        ([b"250-first\r\n", b"  what?  \r\n"], b"what?"),
    ],
)
def test_malformed_line_names_the_line_that_is_no_smtp_reply(
    lines: list[bytes], malformed: bytes | None
) -> None:
    assert malformed_line(lines) == malformed
