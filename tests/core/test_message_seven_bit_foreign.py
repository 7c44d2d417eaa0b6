"""``allow_8bit=False`` also makes foreign content 7-bit: a message read from a file, a
caller-built MIME part, a raw ``message/rfc822`` attachment, 8-bit header text included.
With 8-bit allowed, such content is sent as it was given."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage as ParsedMessage

from mailcore import EmailMessage
from mailcore.cli.eml import FileMessage

RAW_FILE = (
    "From: Jörg <from@example.com>\n"
    "To: to@example.com\n"
    "Subject: Grüße\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße aus Köln\n"
).encode()


def parse(data: bytes) -> ParsedMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return parsed


def read(data: bytes, policy: email.policy.EmailPolicy = email.policy.default) -> ParsedMessage:
    parsed = email.message_from_bytes(data, _class=ParsedMessage, policy=policy)
    assert isinstance(parsed, ParsedMessage)
    return parsed


def test_a_file_message_with_8bit_headers_becomes_7bit() -> None:
    message = FileMessage(read(RAW_FILE))

    eight_bit = message.serialize("\r\n")
    seven_bit = message.serialize("\r\n", allow_8bit=False)

    assert "Subject: Grüße\r\n".encode() in eight_bit  # kept as given when 8-bit is allowed
    assert seven_bit.isascii()
    assert b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" in seven_bit  # valid UTF-8
    result = parse(seven_bit)
    assert result["Subject"] == "Grüße"
    assert result["From"] == "Jörg <from@example.com>"
    assert result["Content-Transfer-Encoding"] == "base64"
    assert result.get_content() == "Grüße aus Köln\n"


def test_a_file_read_with_a_utf8_policy_becomes_7bit_too() -> None:
    message = FileMessage(read(RAW_FILE, email.policy.SMTPUTF8))

    seven_bit = message.serialize("\r\n", allow_8bit=False)

    assert seven_bit.isascii()
    assert parse(seven_bit)["Subject"] == "Grüße"


def test_attached_messages_with_8bit_content_are_relabelled_7bit() -> None:
    inner = read(RAW_FILE)
    outer = ParsedMessage()
    outer["Subject"] = "Outer"
    outer.set_content("see the attachment")
    outer.add_attachment(inner)
    (forwarded,) = outer.iter_attachments()
    assert forwarded["Content-Transfer-Encoding"] == "8bit"
    message = EmailMessage("Fwd", "Body\n", "from@example.com", ["to@example.com"])
    message.attach(forwarded)
    message.attach("raw.eml", "Subject: Über\n\nroh\n".encode(), "message/rfc822")

    data = message.serialize("\r\n", allow_8bit=False)

    assert data.isascii()
    result = parse(data)
    attached = list(result.iter_attachments())
    assert [part["Content-Transfer-Encoding"] for part in attached] == ["7bit", "7bit"]
    first, second = (part.get_content() for part in attached)
    assert first["Subject"] == "Grüße" and first.get_content() == "Grüße aus Köln\n"
    assert second["Subject"] == "Über"


def _file_message(subject: bytes) -> bytes:
    raw = (
        b"From: a@example.com\nTo: b@example.com\nSubject: " + subject + b"\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCaf\xc3\xa9\n"
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return FileMessage(parsed).serialize(allow_8bit=False)


def test_8bit_header_text_that_is_utf8_is_labelled_utf8_when_sent_7bit() -> None:
    data = _file_message("Café ☕".encode())

    assert data.isascii()
    assert b"Subject: =?utf-8?b?Q2Fmw6kg4piV?=\n" in data
    assert b"unknown-8bit" not in data
    assert email.message_from_bytes(data, policy=email.policy.default)["Subject"] == "Café ☕"


def test_8bit_header_octets_that_are_not_utf8_stay_unknown_8bit() -> None:
    data = _file_message(b"Caf\xe9")

    assert data.isascii()
    assert b"Subject: =?unknown-8bit?" in data
