"""Every field hostile at once: subject, sender, recipients, extra headers (overriding
or not) and attachments. Either a clear ``ValueError`` naming a field, or a message that
reads back with exactly the intended headers, recipients and file names."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mailcore import EmailMessage
from mailcore.message import ADDRESS_HEADERS
from tests.reliability.fuzz.expected import expected_mailbox, reader_addresses
from tests.reliability.fuzz.profiles import fuzz_settings
from tests.reliability.fuzz.roundtrip import (
    assert_shows,
    decoded_unstructured,
    expected_header_names,
    read_back,
    split_addr_spec,
)
from tests.reliability.fuzz.strategies import (
    MailboxInput,
    clean_text,
    header_names,
    mailbox_inputs,
    mixed_text,
    mostly,
    valid_header_names,
)
from tests.reliability.fuzz.tally import record
from tests.reliability.fuzz.test_fuzz_attachments import CONTENT, filename_of

_FIELDS = {"to": "To", "cc": "Cc", "bcc": "Bcc", "reply_to": "Reply-To"}
# Mostly valid input, so that most examples are whole messages whose fields meet.
_mailboxes = mostly(mailbox_inputs(valid=True), mailbox_inputs())
_entries = st.lists(_mailboxes, max_size=2)
_text = mostly(clean_text, mixed_text)
_extra_headers = st.lists(
    st.tuples(mostly(valid_header_names, header_names), _text),
    max_size=3,
    unique_by=lambda item: item[0].lower(),
).map(dict)


def _names_a_field(text: str, extra: dict[str, str]) -> bool:
    fields = ["Subject", "From", "To", "Cc", "Bcc", "Reply-To", "Content-Disposition"]
    return any(
        re.search(rf"\b(in|header|set) '?{re.escape(field)}\b", text) for field in fields
    ) or any(repr(name) in text or f" in {name}:" in text for name in extra)


@fuzz_settings
@given(
    subject=_text,
    sender=_mailboxes,
    to=_entries,
    cc=_entries,
    bcc=_entries,
    reply_to=_entries,
    extra=_extra_headers,
    filenames=st.lists(_text, max_size=2),
)
def test_a_whole_hostile_message_reads_back_exactly_or_is_refused(
    subject: str,
    sender: MailboxInput,
    to: list[MailboxInput],
    cc: list[MailboxInput],
    bcc: list[MailboxInput],
    reply_to: list[MailboxInput],
    extra: dict[str, str],
    filenames: list[str],
) -> None:
    lists = {"to": to, "cc": cc, "bcc": bcc, "reply_to": reply_to}
    values: dict[str, Any] = {field: [e.value for e in entries] for field, entries in lists.items()}
    from_email: Any = sender.value  # an Address object is accepted too
    msg = EmailMessage(subject, "Body.", from_email, headers=extra, **values)
    for filename in filenames:
        msg.attach(filename, CONTENT, "application/octet-stream")
    try:
        parsed = read_back(msg)
    except ValueError as error:
        assert _names_a_field(str(error), extra), str(error)
        record("whole message", type(error).__name__)
        return

    overrides = {name.lower(): (name, value) for name, value in extra.items()}
    shown = {
        field: [expected_mailbox(e, _FIELDS[field]) for e in entries if e.value]
        for field, entries in lists.items()
    }
    # Subject, From, To, Cc, Reply-To: the override when there is one.
    if "subject" in overrides:
        assert decoded_unstructured(parsed, "Subject") == [overrides["subject"][1]]
    else:
        assert decoded_unstructured(parsed, "Subject") == [subject]
    if "from" not in overrides:
        default = ("", "webmaster", "localhost")
        assert_shows(
            parsed, "From", [expected_mailbox(sender, "From") if sender.value else default]
        )
    for field in ("to", "cc", "reply_to"):
        if _FIELDS[field].lower() not in overrides:
            assert_shows(parsed, _FIELDS[field], shown[field])
    # Every extra header, as given.
    for lower, (name, value) in overrides.items():
        if lower in ADDRESS_HEADERS:
            addresses = reader_addresses(name, value)
            if addresses is not None:
                assert_shows(parsed, name, addresses, given=value)
        elif lower not in ("date", "message-id", "mime-version"):
            assert decoded_unstructured(parsed, name) == [value]
    assert "Bcc" not in parsed
    assert sorted(parsed.keys()) == expected_header_names(
        bool(shown["to"]), bool(shown["cc"]), bool(shown["reply_to"]), extra, bool(filenames)
    )
    # The envelope ignores the overrides: exactly to + cc + bcc, and from_email.
    envelope = [(u, d) for field in ("to", "cc", "bcc") for _, u, d in shown[field]]
    sent_to = [split_addr_spec(spec) for spec in msg.envelope_recipients()]
    assert sent_to == list(dict.fromkeys(envelope))
    if filenames:
        _, *attachments = parsed.iter_parts()
        assert [filename_of(part) for part in attachments] == [n or None for n in filenames]
    record("whole message", "round-trip")
