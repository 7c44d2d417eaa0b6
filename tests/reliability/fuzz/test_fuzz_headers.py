"""Hostile text in the subject and in extra headers (names and values): a clear
``BadHeaderError``/``ValueError``, or a message that reads back with exactly those headers."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given

from mailcore import BadHeaderError, EmailMessage
from tests.reliability.fuzz.profiles import fuzz_settings
from tests.reliability.fuzz.roundtrip import (
    decoded_unstructured,
    expected_header_names,
    read_back,
)
from tests.reliability.fuzz.strategies import (
    charsets,
    has_line_break,
    mixed_text,
)
from tests.reliability.fuzz.tally import record

_VALID_NAME = re.compile(r"[!-9;-~]+")
_REFUSED = {"bcc", "content-type", "content-transfer-encoding"}


def message(subject: str = "Hello", headers: dict[str, str] | None = None) -> EmailMessage:
    return EmailMessage(subject, "Body.", "from@example.com", ["to@example.com"], headers=headers)


@fuzz_settings
@given(subject=mixed_text, charset=charsets)
@example(subject="  leading spaces", charset="utf-8")  # parsers drop them: encoded
@example(subject="x" + " " * 1000, charset="utf-8")  # too long a run for one line: encoded
@example(subject=" " * 1000 + "x", charset="utf-8")
@example(subject="=?utf-8?q?two words?=", charset="utf-8")  # decoded as an encoded word
@example(subject="=?unknown?q?x?=", charset="utf-8")
def test_a_subject_reads_back_exactly_or_is_refused_for_a_line_break(
    subject: str, charset: str
) -> None:
    msg = message(subject)
    msg.encoding = charset
    if has_line_break(subject):
        with pytest.raises(BadHeaderError, match="'Subject'"):
            msg.serialize()
        record("subject", "BadHeaderError")
        return
    for parsed in read_back(msg):
        assert sorted(parsed.keys()) == expected_header_names(True, False, False, [], False)
        assert decoded_unstructured(parsed, "Subject") == [subject]
        assert str(parsed["Subject"]) == subject
    record("subject", "round-trip")
