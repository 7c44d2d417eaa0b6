"""SES raw content must be 7-bit: 8-bit parts are re-encoded, everything else kept."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage as ParsedMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore_ses.encoding import seven_bit_safe

CRLF = email.policy.default.clone(linesep="\r\n")


def serialize(message: ParsedMessage) -> bytes:
    return message.as_bytes(policy=CRLF)


def parse(raw: bytes) -> ParsedMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return parsed


def encodings(raw: bytes) -> list[tuple[str, str | None]]:
    return [
        (part.get_content_type(), part["Content-Transfer-Encoding"]) for part in parse(raw).walk()
    ]


def new_message(subject: str = "Grüße") -> ParsedMessage:
    message = ParsedMessage()
    message["Subject"] = subject
    message["From"] = "Jörg <sender@example.com>"
    message["To"] = "to@example.com"
    return message


def test_an_ascii_message_is_returned_byte_for_byte() -> None:
    message = new_message("Plain")
    message.set_content("Hello\n")
    raw = serialize(message)

    assert seven_bit_safe(raw) is raw


def test_mostly_ascii_8bit_text_becomes_quoted_printable() -> None:
    message = new_message()
    message.set_content("Grüße aus Köln, this line is mostly plain ASCII text.\n", cte="8bit")

    out = seven_bit_safe(serialize(message))

    assert out.isascii()
    assert encodings(out) == [("text/plain", "quoted-printable")]
    assert b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln" in out
    assert parse(out).get_content() == "Grüße aus Köln, this line is mostly plain ASCII text.\r\n"


def test_mostly_non_ascii_text_becomes_base64() -> None:
    message = new_message()
    message.set_content("日本語のテキストです。\n", cte="8bit")

    out = seven_bit_safe(serialize(message))

    assert encodings(out) == [("text/plain", "base64")]
    assert parse(out).get_content().replace("\r\n", "\n") == "日本語のテキストです。\n"


def test_headers_keep_their_original_folding() -> None:
    subject = " ".join(["folded"] * 30)
    message = new_message(subject)
    message["X-Custom"] = "kept as it was"
    message.set_content("Grüße\n", cte="8bit")
    raw = serialize(message)

    out = seven_bit_safe(raw)

    def header_lines(data: bytes) -> list[bytes]:
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        return [line for line in head if not line.startswith(b"Content-Transfer-Encoding")]

    assert header_lines(out) == header_lines(raw)
    assert len(header_lines(raw)) > 7  # the long subject really was folded
    assert parse(out)["Subject"] == subject


def test_alternatives_and_attachments_are_each_made_seven_bit() -> None:
    message = new_message()
    message.set_content("Text é\n", cte="8bit")
    message.add_alternative("<p>HTML é</p>\n", subtype="html", cte="8bit")
    binary = bytes(range(256))
    message.add_attachment(binary, maintype="application", subtype="octet-stream", filename="b.bin")
    raw = serialize(message)

    out = seven_bit_safe(raw)

    assert out.isascii()
    parsed = parse(out)
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content() == "Text é\r\n"
    assert html is not None and html.get_content() == "<p>HTML é</p>\r\n"
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content() == binary
    boundary = parse(raw).get_boundary()
    assert boundary is not None and parsed.get_boundary() == boundary


def test_an_undeclared_8bit_attachment_becomes_base64() -> None:
    data = b"\x00\xff binary \xfe\r\n"
    raw = (
        b"From: sender@example.com\r\nTo: to@example.com\r\nSubject: raw\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\r\n" + data
    )

    out = seven_bit_safe(raw)

    assert encodings(out) == [("application/octet-stream", "base64")]
    assert parse(out).get_content() == data


def test_an_attached_message_with_8bit_parts_is_re_encoded_inside() -> None:
    inner = new_message("Inner")
    inner.set_content("Ünïcödé inside\n", cte="8bit")
    outer = new_message("Outer")
    outer.set_content("See the attached message.\n")
    outer.add_attachment(inner)
    raw = serialize(outer)
    assert not raw.isascii()

    out = seven_bit_safe(raw)

    assert out.isascii()
    assert ("message/rfc822", "7bit") in encodings(out)
    (attached,) = parse(out).iter_attachments()
    (inner_back,) = attached.iter_parts()
    assert inner_back.get_content() == "Ünïcödé inside\r\n"


@settings(max_examples=60, deadline=None)
@given(
    body=st.text(max_size=300),
    attachment=st.binary(max_size=300),
)
def test_any_text_and_bytes_come_back_identical_and_seven_bit(body: str, attachment: bytes) -> None:
    message = new_message()
    message.set_content(body, cte="8bit")
    message.add_attachment(attachment, maintype="application", subtype="x-data", filename="d")
    raw = serialize(message)
    expected = parse(raw)

    out = seven_bit_safe(raw)

    assert out.isascii()
    parsed = parse(out)
    text_part = parsed.get_body(preferencelist=("plain",))
    expected_text = expected.get_body(preferencelist=("plain",))
    assert text_part is not None and expected_text is not None
    assert text_part.get_content() == expected_text.get_content()
    (attached,) = parsed.iter_attachments()
    assert attached.get_content() == attachment
