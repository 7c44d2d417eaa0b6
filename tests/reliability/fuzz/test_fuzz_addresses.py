"""Hostile addresses in from_email, to, cc, bcc and reply_to: a clear ``BadHeaderError`` or
``InvalidAddressError`` naming the field, or a message whose headers show exactly the
intended addresses, and whose envelope holds exactly the intended recipients."""

from __future__ import annotations

from email.headerregistry import Address
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailcore import EmailMessage
from tests.reliability.fuzz.expected import expected_mailbox
from tests.reliability.fuzz.profiles import fuzz_settings
from tests.reliability.fuzz.roundtrip import (
    assert_shows,
    expected_header_names,
    read_back,
    split_addr_spec,
)
from tests.reliability.fuzz.strategies import (
    IntendedMailbox,
    MailboxInput,
    mailbox_inputs,
    mostly,
)
from tests.reliability.fuzz.tally import record

_FIELDS = {"to": "To", "cc": "Cc", "bcc": "Bcc", "reply_to": "Reply-To"}


def assert_refusal_names_a_field(error: ValueError, headers: list[str]) -> None:
    text = str(error)
    assert any(f"in {h}:" in text or f"header {h!r}" in text for h in headers), text


@fuzz_settings
@given(sender=mailbox_inputs())
@example(  # an encoded display name hiding CR LF: Python's parser would refuse to read it
    sender=MailboxInput("=?utf-8?q?=0D=0ABcc:_evil@example.com?= <a@example.com>", None)
)
@example(  # a domain that would add an address to the header
    sender=MailboxInput(
        Address("", "a", "example.com>, <evil@example.org"),
        IntendedMailbox("", "a", "example.com>, <evil@example.org"),
    )
)
@example(  # a domain a reader decodes as an encoded word ("hidden")
    sender=MailboxInput(
        Address("", "a", "=?utf-8?q?hidden?="), IntendedMailbox("", "a", "=?utf-8?q?hidden?=")
    )
)
@example(sender=MailboxInput("<a@[1.2.3.4>", None))  # made the stdlib parser raise
@example(  # 1000 spaces in a quoted name made a line of 1002 octets: encoded now
    sender=MailboxInput(
        Address("x" + " " * 1000 + "y", "a", "example.com"),
        IntendedMailbox("x" + " " * 1000 + "y", "a", "example.com"),
    )
)
@example(sender=MailboxInput("(" * 1000 + "a@example.com", None))  # RecursionError
@example(  # a word right after a run of blanks too long to quote lost its first character
    sender=MailboxInput(
        Address("\t" * 77 + "Bcc: evil@example.com", "a", "a"),
        IntendedMailbox("\t" * 77 + "Bcc: evil@example.com", "a", "a"),
    )
)
@example(
    sender=MailboxInput(
        Address("a " + "\t" * 80 + "b" + "\t" * 80, "a", "a"),
        IntendedMailbox("a " + "\t" * 80 + "b" + "\t" * 80, "a", "a"),
    )
)
@example(  # a local part a reader decodes as an encoded word (or fails on)
    sender=MailboxInput(Address("", "=??Q??=", "example.com"), None)
)
def test_from_shows_exactly_the_intended_sender_or_is_refused(sender: MailboxInput) -> None:
    # An Address object is accepted too (mailcore's annotations say str).
    from_email: Any = sender.value
    msg = EmailMessage("Hi", "Body.", from_email, ["to@example.com"])
    try:
        parsed = read_back(msg)
    except ValueError as error:  # BadHeaderError and InvalidAddressError are ValueErrors
        assert_refusal_names_a_field(error, ["From"])
        record("from_email", type(error).__name__)
        return
    # An empty from_email means the default_from_email setting.
    expected = expected_mailbox(sender, "From") if sender.value else ("", "webmaster", "localhost")
    assert_shows(parsed, "From", [expected])
    assert split_addr_spec(msg.envelope_from()) == expected[1:]
    assert sorted(parsed.keys()) == expected_header_names(True, False, False, [], False)
    record("from_email", "round-trip")


# Mostly addresses mailcore must accept, so that most examples are whole messages.
_entries = st.lists(mostly(mailbox_inputs(valid=True), mailbox_inputs()), max_size=3)


@fuzz_settings
@given(to=_entries, cc=_entries, bcc=_entries, reply_to=_entries)
@example(  # "=?" in one address and "?=" in the next: read as one encoded word
    to=[
        MailboxInput(Address("=?", "a", "example.com"), IntendedMailbox("=?", "a", "example.com")),
        MailboxInput("b@example.com", IntendedMailbox("", "b", "example.com")),
        MailboxInput(Address("", "?=", "example.com"), IntendedMailbox("", "?=", "example.com")),
    ],
    cc=[],
    bcc=[],
    reply_to=[],
)
@example(  # a long non-ASCII display name: Python read "...longT ó Example..." (issue 10)
    to=[
        MailboxInput(
            "Tó Example very long" * 4 + " <to@example.com>",
            IntendedMailbox("Tó Example very long" * 4, "to", "example.com"),
        ),
        MailboxInput(
            Address(" ".join(["Ünïcödé"] * 12), "u", "straße.de"),
            IntendedMailbox(" ".join(["Ünïcödé"] * 12), "u", "straße.de"),
        ),
    ],
    cc=[],
    bcc=[],
    reply_to=[],
)
def test_recipients_show_exactly_as_intended_and_bcc_never_shows(
    to: list[MailboxInput],
    cc: list[MailboxInput],
    bcc: list[MailboxInput],
    reply_to: list[MailboxInput],
) -> None:
    given_fields = {"to": to, "cc": cc, "bcc": bcc, "reply_to": reply_to}
    values: dict[str, Any] = {
        field: [entry.value for entry in entries] for field, entries in given_fields.items()
    }
    msg = EmailMessage("Hi", "Body.", "from@example.com", **values)
    try:
        parsed = read_back(msg)
    except ValueError as error:
        assert_refusal_names_a_field(
            error, [_FIELDS[field] for field, entries in given_fields.items() if entries]
        )
        record("to/cc/bcc/reply_to", type(error).__name__)
        return
    # Empty entries are skipped, as in Django.
    shown = {
        field: [expected_mailbox(e, _FIELDS[field]) for e in entries if e.value]
        for field, entries in given_fields.items()
    }
    assert_shows(parsed, "To", shown["to"])
    assert_shows(parsed, "Cc", shown["cc"])
    assert_shows(parsed, "Reply-To", shown["reply_to"])
    assert "Bcc" not in parsed
    assert sorted(parsed.keys()) == expected_header_names(
        bool(shown["to"]), bool(shown["cc"]), bool(shown["reply_to"]), [], False
    )
    # The envelope: exactly To + Cc + Bcc, duplicates removed, nothing else.
    envelope = [(user, domain) for field in ("to", "cc", "bcc") for _, user, domain in shown[field]]
    sent_to = [split_addr_spec(spec) for spec in msg.envelope_recipients()]
    assert sent_to == list(dict.fromkeys(envelope))
    record("to/cc/bcc/reply_to", "round-trip")


def test_intended_mailbox_is_checked_against_the_parse() -> None:
    """The helper itself: an unambiguous input is compared with what mailcore parsed."""
    entry = MailboxInput('"Zoë" <zoe@exämple.com>', IntendedMailbox(None, "zoe", "exämple.com"))
    assert expected_mailbox(entry, "To") == ("Zoë", "zoe", "xn--exmple-cua.com")

    with pytest.raises(AssertionError):
        expected_mailbox(
            MailboxInput("a@example.com", IntendedMailbox(None, "b", "example.com")), "To"
        )
