"""Hostile text in the subject and in extra headers (names and values): a clear
``BadHeaderError``/``ValueError``, or a message that reads back with exactly those headers."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given

from mailcore import BadHeaderError, EmailMessage, InvalidAddressError
from mailcore.message import ADDRESS_HEADERS
from tests.reliability.fuzz.expected import reader_addresses
from tests.reliability.fuzz.profiles import fuzz_settings
from tests.reliability.fuzz.roundtrip import (
    assert_shows,
    decoded_unstructured,
    expected_header_names,
    read_back,
)
from tests.reliability.fuzz.strategies import (
    charsets,
    has_line_break,
    header_names,
    mixed_text,
)
from tests.reliability.fuzz.tally import record

# Printable ASCII but ':', leaving room on the line for ": " and a 75-character encoded word.
_VALID_NAME = re.compile(r"[!-9;-~]{1,921}")
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
    parsed = read_back(msg)
    assert sorted(parsed.keys()) == expected_header_names(True, False, False, [], False)
    assert parsed["Subject"] == subject
    record("subject", "round-trip")


@fuzz_settings
@given(name=header_names, value=mixed_text)
@example(name="X-" + "Long-" * 199, value="")  # a 997-character name: refused
@example(name="X-" + "a" * 919, value="\u2603" * 100)  # the longest name: fits
@example(name="To", value="a@example.com" + " " * 1000 + ", b@example.com")  # 1001 octets
@example(name="To", value="=?utf-8?q?=0D=0ABcc:_evil@example.com?=")  # parsers disagreed
@example(name="From", value=";\x1b")  # a mailbox without an address: TypeError
@example(name="To", value="list:;" * 200)  # not foldable, reparsed: a group as a mailbox
@example(name="MIME-Version", value="\u202e")  # was written unencoded: UnicodeEncodeError
def test_an_extra_header_reads_back_exactly_or_is_refused_naming_it(name: str, value: str) -> None:
    msg = message(headers={name: value})
    lower = name.lower()
    # Checked in this order: the name, a name mailcore writes itself, the value.
    if not _VALID_NAME.fullmatch(name):
        with pytest.raises(BadHeaderError, match=f"header name {re.escape(repr(name))}"):
            msg.serialize()
        record("extra header", "BadHeaderError")
        return
    if lower in _REFUSED:
        with pytest.raises(ValueError, match=f"may not set {re.escape(repr(name))}"):
            msg.serialize()
        record("extra header", "ValueError (refused name)")
        return
    if has_line_break(value):
        with pytest.raises(BadHeaderError, match=f"header {re.escape(repr(name))}"):
            msg.serialize()
        record("extra header", "BadHeaderError")
        return
    if lower in ADDRESS_HEADERS:
        try:
            parsed = read_back(msg)
        except InvalidAddressError as refused:
            assert f"in {name}" in str(refused) or f"header {name!r}" in str(refused)
            record("extra header", "InvalidAddressError")
            return
        intended = reader_addresses(name, value)
        if intended is not None:
            assert_shows(parsed, name, intended, given=value)
    else:
        parsed = read_back(msg)
        assert decoded_unstructured(parsed, name) == [value]
    to = lower != "to"
    assert sorted(parsed.keys()) == expected_header_names(to, False, False, [name], False)
    record("extra header", "round-trip")
