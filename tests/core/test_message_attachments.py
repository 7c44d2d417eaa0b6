"""Attachments: types, file names (RFC 2231), files on disk, MIME parts, message/rfc822."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage as StdlibMessage
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from mailcore import EmailAttachment, EmailMessage, EmailMultiAlternatives
from tests.support.parsed import content_types, header_lines, longest_line, parse, parsed

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def make() -> EmailMessage:
    return EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])


def only_attachment(message: EmailMessage) -> StdlibMessage:
    (attachment,) = parsed(message).iter_attachments()
    assert isinstance(attachment, StdlibMessage)
    return attachment


def test_binary_content_is_sent_base64_and_comes_back_unchanged() -> None:
    message = make()
    message.attach("image.png", PNG, "image/png")

    attachment = only_attachment(message)

    assert attachment.get_content_type() == "image/png"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_filename() == "image.png"
    assert attachment.get_content() == PNG


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [
        ("photo.png", "image/png"),
        ("report.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("page.html", "text/html"),
        ("forward.eml", "message/rfc822"),
        ("data.no-such-extension", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_the_mimetype_is_guessed_from_the_file_name(filename: str, mimetype: str) -> None:
    message = make()
    content = b"Subject: x\n\nbody\n" if mimetype == "message/rfc822" else b"content"
    message.attach(filename, content)

    assert message.attachments[0].mimetype == mimetype  # type: ignore[union-attr]
    assert only_attachment(message).get_content_type() == mimetype


def test_text_content_is_sent_in_the_message_charset() -> None:
    message = make()
    message.attach("notes.txt", "Grüße\n", "text/plain")

    attachment = only_attachment(message)

    assert attachment.get_content_charset() == "utf-8"
    assert attachment.get_content() == "Grüße\n"


def test_text_bytes_are_decoded_as_utf8_when_attached() -> None:
    message = make()
    message.attach("notes.txt", "Grüße".encode())

    assert message.attachments == [EmailAttachment("notes.txt", "Grüße", "text/plain")]
    assert only_attachment(message).get_content() == "Grüße"


def test_text_bytes_that_are_not_utf8_are_sent_as_octet_stream() -> None:
    message = make()
    message.attach("notes.txt", b"\xff\xfe binary")

    assert message.attachments == [
        EmailAttachment("notes.txt", b"\xff\xfe binary", "application/octet-stream")
    ]
    attachment = only_attachment(message)
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_content() == b"\xff\xfe binary"


def test_text_mimetype_parameters_are_kept() -> None:
    message = make()
    message.attach("table.csv", "a,b\n1,2\n", "text/csv; header=present")

    attachment = only_attachment(message)

    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_param("header") == "present"
    assert attachment.get_content_charset() == "utf-8"


def test_str_content_of_a_binary_type_is_sent_as_utf8_bytes() -> None:
    message = make()
    message.attach("data.json", '{"name": "Jörg"}', "application/json")

    assert only_attachment(message).get_content() == '{"name": "Jörg"}'.encode()


def test_content_of_another_type_is_a_type_error() -> None:
    message = make()

    with pytest.raises(TypeError, match=r"attachment 'n\.bin': content must be str, bytes"):
        message.attach("n.bin", 12345, "application/octet-stream")


def test_an_invalid_mimetype_is_refused() -> None:
    message = make()
    message.attach("a.bin", b"x", "not a mimetype")

    with pytest.raises(ValueError, match="invalid MIME type 'not a mimetype'"):
        message.serialize()


@pytest.mark.parametrize(
    "filename",
    [
        "résumé.pdf",
        "日本語のファイル名.txt",
        "emoji 🎉.png",
        'quote " and back\\slash.txt',
        "a; b=c, d.txt",
        "Ünïcödé-" * 40 + ".txt",
        "long-ascii-name-" * 70 + ".txt",
    ],
)
def test_file_names_come_back_unchanged(filename: str) -> None:
    message = make()
    message.attach(filename, b"data", "application/octet-stream")

    data = message.serialize()

    assert only_attachment(message).get_filename() == filename
    assert longest_line(data) <= 998
    assert data.isascii()


def test_a_non_ascii_file_name_uses_rfc2231() -> None:
    message = make()
    message.attach("résumé.pdf", b"data", "application/pdf")

    data = message.serialize()

    assert b"filename*=utf-8''r%C3%A9sum%C3%A9.pdf" in data


def test_a_long_non_ascii_file_name_uses_rfc2231_continuations() -> None:
    message = make()
    filename = "Ünïcödé-" * 40 + ".txt"
    message.attach(filename, b"data", "application/octet-stream")

    data = message.serialize()

    segments = re.findall(rb"filename\*(\d+)\*=(?:utf-8'')?([^;\s]+)", data)
    assert [int(number) for number, _ in segments] == list(range(len(segments)))
    assert len(segments) > 1
    # Each segment holds whole characters, for decoders that decode segment by segment.
    assert "".join(unquote_to_bytes(value).decode("utf-8") for _, value in segments) == filename
    assert all(len(line) <= 78 for line in data.split(b"\n") if b"filename*" in line)


def test_attach_file_reads_the_file_and_guesses_its_type(tmp_path: Path) -> None:
    path = tmp_path / "weather map.png"
    path.write_bytes(PNG)
    message = make()

    message.attach_file(path)
    message.attach_file(str(path), mimetype="application/x-custom")

    first, second = parsed(message).iter_attachments()
    assert (first.get_filename(), first.get_content_type()) == ("weather map.png", "image/png")
    assert first.get_content() == PNG
    assert second.get_content_type() == "application/x-custom"


def test_attach_file_decodes_text_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Grüße\n", encoding="utf-8")
    message = make()

    message.attach_file(path)

    assert message.attachments == [EmailAttachment("notes.txt", "Grüße\n", "text/plain")]


def test_attach_file_names_a_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pdf"

    with pytest.raises(FileNotFoundError, match=r"missing\.pdf"):
        make().attach_file(missing)


def test_a_ready_mime_part_is_inserted_as_it_is() -> None:
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo>")
    message = make()

    message.attach(image)

    assert message.attachments == [image]
    result = parsed(message)
    assert content_types(result) == ["multipart/mixed", "text/plain", "image/png"]
    part = list(result.walk())[2]
    assert part["Content-ID"] == "<logo>"
    assert part.get_content() == PNG
    assert message.message().get_payload()[1] is image  # type: ignore[index]


def test_a_mime_part_cannot_come_with_content_or_mimetype() -> None:
    with pytest.raises(ValueError, match="content and mimetype must not be given"):
        make().attach(MIMEText("x"), "content")


def test_content_is_required() -> None:
    with pytest.raises(ValueError, match="content must be provided"):
        make().attach("a.txt")


def test_a_mime_part_with_an_over_long_line_is_reencoded_on_a_copy() -> None:
    part = MIMEText("x" * 3000, "plain", "utf-8")
    part.replace_header("Content-Transfer-Encoding", "7bit")
    part.set_payload("x" * 3000)
    message = make()
    message.attach(part)

    data = message.serialize()

    assert longest_line(data) <= 998
    assert list(parse(data).walk())[2].get_content() == "x" * 3000
    assert part.get_payload() == "x" * 3000


def test_attachments_given_to_the_constructor() -> None:
    image = MIMEImage(PNG, "png")
    message = EmailMessage(
        "Hi",
        "Body",
        "from@example.com",
        ["to@example.com"],
        attachments=[("a.txt", "text", "text/plain"), image, EmailAttachment("b.bin", b"x", None)],
    )

    assert message.attachments == [
        EmailAttachment("a.txt", "text", "text/plain"),
        image,
        EmailAttachment("b.bin", b"x", "application/octet-stream"),
    ]


# -- message/rfc822 -------------------------------------------------------------------


def inner_message() -> EmailMessage:
    return EmailMessage("Inner subject", "Inner body\n", "inner@example.com", ["x@example.com"])


def stdlib_inner() -> StdlibMessage:
    inner = StdlibMessage()
    inner["Subject"] = "Inner subject"
    inner["From"] = "inner@example.com"
    inner.set_content("Inner body\n")
    return inner


RFC822_SOURCES: dict[str, Callable[[], object]] = {
    "mailcore message": inner_message,
    "stdlib message": stdlib_inner,
    "str": lambda: "Subject: Inner subject\nFrom: inner@example.com\n\nInner body\n",
    "bytes": lambda: b"Subject: Inner subject\r\nFrom: inner@example.com\r\n\r\nInner body\r\n",
}


@pytest.mark.parametrize("source", list(RFC822_SOURCES))
def test_rfc822_attachments_from_each_kind_of_source(source: str) -> None:
    message = make()
    message.attach("forward.eml", RFC822_SOURCES[source](), "message/rfc822")

    attachment = only_attachment(message)

    assert attachment.get_content_type() == "message/rfc822"
    assert attachment["Content-Transfer-Encoding"] == "7bit"
    assert attachment.get_filename() == "forward.eml"
    inner = attachment.get_content()
    assert inner["Subject"] == "Inner subject"
    assert inner["From"] == "inner@example.com"
    assert inner.get_content().replace("\r\n", "\n") == "Inner body\n"


@pytest.mark.parametrize("source", list(RFC822_SOURCES))
def test_message_gives_the_rfc822_part_as_a_nested_message(source: str) -> None:
    message = make()
    message.attach("forward.eml", RFC822_SOURCES[source](), "message/rfc822")

    part = message.message().get_payload()[1]  # type: ignore[index]
    assert isinstance(part, Message)

    assert part.get_content_type() == "message/rfc822"
    payload = part.get_payload()
    assert isinstance(payload, list) and len(payload) == 1
    inner = payload[0]
    assert isinstance(inner, Message)
    assert "Inner subject" in str(inner["Subject"])


def test_a_message_is_attached_as_rfc822_without_a_mimetype() -> None:
    message = make()
    message.attach("forward.eml", inner_message())
    message.attach(None, stdlib_inner())

    assert [a.mimetype for a in message.attachments] == ["message/rfc822", "message/rfc822"]  # type: ignore[union-attr]


def test_an_rfc822_attachment_with_8bit_content_is_8bit_not_base64() -> None:
    message = make()
    inner = EmailMessage("Grüße", "Grüße aus Köln\n", "inner@example.com", ["x@example.com"])
    message.attach("forward.eml", inner, "message/rfc822")

    attachment = only_attachment(message)

    assert attachment["Content-Transfer-Encoding"] == "8bit"
    assert attachment.get_content()["Subject"] == "Grüße"
    assert attachment.get_content().get_content() == "Grüße aus Köln\n"


def test_an_rfc822_attachment_with_an_over_long_line_is_reencoded() -> None:
    message = make()
    raw = b"Subject: long\nContent-Type: text/plain\n\n" + b"q" * 3000 + b"\n"
    message.attach("forward.eml", raw, "message/rfc822")

    data = message.serialize("\r\n")

    assert longest_line(data) <= 998
    assert only_attachment(message).get_content().get_content() == "q" * 3000 + "\n"


def test_an_rfc822_attachment_of_another_type_is_a_type_error() -> None:
    message = make()

    with pytest.raises(TypeError, match=r"attachment 'forward\.eml': content must be str, "):
        message.attach("forward.eml", 42, "message/rfc822")


def test_html_alternative_with_non_ascii_text() -> None:
    message = EmailMultiAlternatives("Hi", "Grüße", "from@example.com", ["to@example.com"])
    message.attach_alternative("<p>Grüße 🎉</p>", "text/html")

    result = parsed(message)

    html = result.get_body(preferencelist=("html",))
    assert html is not None and html.get_content() == "<p>Grüße 🎉</p>"


def test_a_serialized_rfc822_attachment_parses_with_the_default_policy_too() -> None:
    message = make()
    message.attach("forward.eml", inner_message(), "message/rfc822")

    data = message.serialize()
    reparsed = email.message_from_bytes(data, policy=email.policy.SMTP)

    assert [part.get_content_type() for part in reparsed.walk()] == [
        "multipart/mixed",
        "text/plain",
        "message/rfc822",
        "text/plain",
    ]
    assert header_lines(data, "Content-Type")[0].startswith(b"Content-Type: multipart/mixed")
