"""What SES receives is 7-bit, and decodes back to what was written.

The SES backend has no encoder of its own: it sends ``serialize(allow_8bit=False)``, the
core's one 7-bit path. Each test sends through moto's SES and reads back the raw bytes
it stored: composed messages, and messages read from a file (``mailcore send --eml``),
whose 8-bit parts and header text the core re-encodes.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage as ParsedMessage
from email.message import MIMEPart
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore import EmailMessage, EmailMultiAlternatives
from mailcore.cli import main
from mailcore.cli.eml import FileMessage
from mailcore_ses import SESBackend
from tests.ses.conftest import REGION, SENDER, FakeSES

FIXED = {"Message-ID": "<fixed@example.com>", "Date": "Tue, 01 Jul 2025 10:00:00 +0000"}


def parse(raw: bytes) -> ParsedMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return parsed


def encodings(raw: bytes) -> list[tuple[str, str | None]]:
    return [
        (part.get_content_type(), part["Content-Transfer-Encoding"]) for part in parse(raw).walk()
    ]


def text_of(part: MIMEPart) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def sent_through(backend: SESBackend, ses: FakeSES, message: EmailMessage) -> bytes:
    """The bytes SES stored for ``message``, checked to be 7-bit with no 8-bit label."""
    assert backend.send_messages([message]) == 1
    raw = ses.sent_bytes()[-1]  # encoding to ASCII inside sent_bytes() already checks it
    assert raw.isascii()
    for name, encoding in encodings(raw):
        assert (encoding or "7bit").lower() in ("7bit", "quoted-printable", "base64"), name
    return raw


def file_message(data: bytes) -> FileMessage:
    parsed = email.message_from_bytes(data, _class=ParsedMessage, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return FileMessage(parsed)


# -- composed messages -------------------------------------------------------------------


def test_an_ascii_message_is_sent_as_it_is_serialized(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage("Plain", "Hello\n", SENDER, ["to@example.com"], headers=FIXED)

    raw = sent_through(backend, ses, message)

    assert raw == message.serialize(linesep="\r\n")  # 8-bit allowed or not: the same bytes


def test_mostly_ascii_text_goes_quoted_printable(backend: SESBackend, ses: FakeSES) -> None:
    body = "Grüße aus Köln, this line is mostly plain ASCII text.\n"
    message = EmailMessage("Grüße", body, SENDER, ["to@example.com"])

    raw = sent_through(backend, ses, message)

    assert encodings(raw) == [("text/plain", "quoted-printable")]
    assert b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln" in raw
    assert text_of(parse(raw)) == body


def test_mostly_non_ascii_text_goes_base64(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage("日本語", "日本語のテキストです。\n", SENDER, ["to@example.com"])

    raw = sent_through(backend, ses, message)

    assert encodings(raw) == [("text/plain", "base64")]
    assert text_of(parse(raw)) == "日本語のテキストです。\n"
    assert parse(raw)["Subject"] == "日本語"


def test_only_the_transfer_encoding_differs_from_the_8bit_form(
    backend: SESBackend, ses: FakeSES
) -> None:
    subject = " ".join(["folded"] * 30)
    message = EmailMessage(
        subject, "Grüße\n", f"Jörg <{SENDER}>", ["to@example.com"], headers=FIXED
    )
    eight_bit = message.serialize(linesep="\r\n")
    assert not eight_bit.isascii()

    raw = sent_through(backend, ses, message)

    def header_lines(data: bytes) -> list[bytes]:
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        return [line for line in head if not line.startswith(b"Content-Transfer-Encoding")]

    assert header_lines(raw) == header_lines(eight_bit)
    assert len(header_lines(raw)) > 8  # the long subject really was folded
    assert parse(raw)["Subject"] == subject


def test_alternatives_and_attachments_are_each_seven_bit(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMultiAlternatives("Mixed", "Text é\n", SENDER, ["to@example.com"])
    message.attach_alternative("<p>HTML é</p>\n", "text/html")
    binary = bytes(range(256))
    message.attach("b.bin", binary, "application/octet-stream")
    message.attach("notes.txt", "naïve café\n", "text/plain")

    raw = sent_through(backend, ses, message)

    parsed = parse(raw)
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and text_of(plain) == "Text é\n"
    assert html is not None and text_of(html) == "<p>HTML é</p>\n"
    attachments = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert attachments["b.bin"].get_content() == binary
    assert text_of(attachments["notes.txt"]) == "naïve café\n"


def test_an_attached_message_with_8bit_parts_is_re_encoded_inside(
    backend: SESBackend, ses: FakeSES
) -> None:
    inner = ParsedMessage()
    inner["Subject"] = "Inner"
    inner.set_content("Ünïcödé inside\n", cte="8bit")
    message = EmailMessage("Outer", "See the attached messages.\n", SENDER, ["to@example.com"])
    message.attach("inner.eml", inner, "message/rfc822")
    message.attach("raw.eml", "Subject: Grüße\n\nÜber alles\n".encode(), "message/rfc822")

    raw = sent_through(backend, ses, message)

    assert encodings(raw).count(("message/rfc822", "7bit")) == 2
    first, second = (part.get_content() for part in parse(raw).iter_attachments())
    assert first["Subject"] == "Inner" and text_of(first) == "Ünïcödé inside\n"
    assert second["Subject"] == "Grüße"  # no charset declared: compare the bytes
    assert second.get_payload(decode=True) == "Über alles\n".encode()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(max_size=300), attachment=st.binary(max_size=300))
def test_any_text_and_bytes_come_back_identical_and_seven_bit(
    backend: SESBackend, ses: FakeSES, body: str, attachment: bytes
) -> None:
    message = EmailMessage("Any", body, SENDER, ["to@example.com"])
    message.attach("d", attachment, "application/x-data")

    raw = sent_through(backend, ses, message)

    parsed = parse(raw)
    text = parsed.get_body(preferencelist=("plain",))
    expected = body.replace("\r\n", "\n").replace("\r", "\n")
    if body:
        assert text is not None and text_of(text) == expected
    (attached,) = parsed.iter_attachments()
    assert attached.get_content() == attachment


# -- messages read from a file (mailcore send --eml) -------------------------------------

EIGHT_BIT_FILE = (
    "From: Jörg <sender@example.com>\r\n"
    "To: Zoë <to@example.com>\r\n"
    "Subject: Grüße aus Köln\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n'
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Ünïcödé body\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    'Content-Disposition: attachment; filename="raw.bin"\r\n'
    "\r\n"
).encode() + b"\x00\xff binary \xfe\r\n--b1--\r\n"


def test_a_file_message_with_8bit_parts_and_headers_goes_out_seven_bit(
    backend: SESBackend, ses: FakeSES
) -> None:
    message = file_message(EIGHT_BIT_FILE)
    assert not message.serialize(linesep="\r\n").isascii()

    raw = sent_through(backend, ses, message)

    assert encodings(raw) == [
        ("multipart/mixed", None),
        ("text/plain", "base64"),
        ("application/octet-stream", "base64"),
    ]
    parsed = parse(raw)
    assert parsed["Subject"] == "Grüße aus Köln"
    assert parsed.get_boundary() == "b1"
    text, attachment = parsed.iter_parts()
    assert isinstance(text, MIMEPart) and text_of(text) == "Ünïcödé body"
    assert isinstance(attachment, MIMEPart)
    assert attachment.get_content() == b"\x00\xff binary \xfe"


def test_mailcore_send_eml_through_ses_is_seven_bit(
    ses: FakeSES, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "message.eml"
    path.write_bytes(EIGHT_BIT_FILE)

    status = main(["send", "--backend", "ses", "-o", f"region={REGION}", "--eml", str(path)])

    assert status == 0, capsys.readouterr()
    (raw,) = ses.sent_bytes()
    assert raw.isascii()
    parsed = parse(raw)
    assert parsed["Subject"] == "Grüße aus Köln"
    assert [part.get_content() for part in parsed.iter_attachments()] == [b"\x00\xff binary \xfe"]
    body = parsed.get_body(preferencelist=("plain",))
    assert isinstance(body, MIMEPart) and text_of(body) == "Ünïcödé body"
