"""Body text: charsets, transfer encodings, line ends and the 998-octet line limit."""

from __future__ import annotations

from email.mime.text import MIMEText

import pytest

import mailcore
from mailcore import EmailMessage, EmailMultiAlternatives
from tests.support.parsed import longest_line, parse, parsed


def make(body: str, encoding: str | None = None) -> EmailMessage:
    message = EmailMessage("Hi", body, "from@example.com", ["to@example.com"])
    message.encoding = encoding
    return message


def encoding_of(message: EmailMessage) -> tuple[str, str | None, str]:
    """(Content-Transfer-Encoding, charset, decoded text) of a single-part message."""
    result = parsed(message)
    return result["Content-Transfer-Encoding"], result.get_content_charset(), result.get_content()


def test_short_ascii_lines_are_sent_7bit_as_they_are() -> None:
    data = make("Hello,\nthis is plain.\n").serialize()

    assert b'Content-Type: text/plain; charset="utf-8"' in data
    assert data.endswith(b"\n\nHello,\nthis is plain.\n")
    assert encoding_of(make("Hello,\nthis is plain.\n")) == (
        "7bit",
        "utf-8",
        "Hello,\nthis is plain.\n",
    )


def test_utf8_text_with_short_lines_is_sent_8bit() -> None:
    assert encoding_of(make("Grüße aus Köln\n")) == ("8bit", "utf-8", "Grüße aus Köln\n")


def test_a_mostly_ascii_long_line_is_sent_quoted_printable() -> None:
    body = "Grüße " + "word " * 400 + "\n"

    data = make(body).serialize()

    assert encoding_of(make(body)) == ("quoted-printable", "utf-8", body)
    assert longest_line(data) <= 76


def test_a_mostly_non_ascii_long_line_is_sent_base64() -> None:
    body = "日本語のテキスト" * 100

    data = make(body).serialize()

    assert encoding_of(make(body)) == ("base64", "utf-8", body)
    assert longest_line(data) <= 76


def test_an_ascii_line_over_998_octets_is_not_sent_7bit() -> None:
    body = "a" * 2000

    data = make(body).serialize()

    assert encoding_of(make(body)) == ("quoted-printable", "utf-8", body)
    assert longest_line(data) <= 998


def test_a_nul_character_forces_an_encoding() -> None:
    cte, _, text = encoding_of(make("nul\x00here\n"))

    assert cte == "quoted-printable"
    assert text == "nul\x00here\n"


def test_a_non_utf8_charset_is_never_sent_8bit() -> None:
    assert encoding_of(make("Café  \nnext line\n", encoding="iso-8859-1")) == (
        "quoted-printable",
        "iso-8859-1",
        "Café  \nnext line\n",
    )


def test_per_message_encoding_sets_the_charset() -> None:
    message = make("Prix: 5 €")
    message.encoding = "iso-8859-15"

    assert encoding_of(message)[1:] == ("iso-8859-15", "Prix: 5 €")


def test_charset_names_are_normalised() -> None:
    assert encoding_of(make("plain", encoding="UTF8"))[1] == "utf-8"
    assert encoding_of(make("plain", encoding="latin-1"))[1] == "iso-8859-1"


def test_text_the_charset_cannot_hold_is_sent_as_utf8() -> None:
    message = make("Emoji 🎉", encoding="iso-8859-1")

    assert encoding_of(message) == ("8bit", "utf-8", "Emoji 🎉")


def test_the_default_charset_setting_is_used() -> None:
    mailcore.configure(default_charset="iso-8859-15")

    assert encoding_of(make("5 €"))[1:] == ("iso-8859-15", "5 €")


def test_an_unknown_charset_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown charset 'no-such-charset'"):
        make("text", encoding="no-such-charset").serialize()


def test_utf16_text_is_sent_base64() -> None:
    assert encoding_of(make("Hello\nWorld", encoding="utf-16")) == (
        "base64",
        "utf-16",
        "Hello\nWorld",
    )


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_every_line_ends_with_the_requested_separator(linesep: str) -> None:
    message = make("one\r\ntwo\rthree\nfour")
    message.attach("a.txt", "x\ry\r\nz", "text/plain")

    data = message.serialize(linesep)

    other = b"\n" if linesep == "\r\n" else b"\r"
    assert other not in data.replace(linesep.encode(), b"")
    assert data.count(linesep.encode()) > 10


def test_mixed_line_ends_in_the_body_become_newlines() -> None:
    assert parsed(make("one\r\ntwo\rthree\nfour")).get_content() == "one\ntwo\nthree\nfour"


def test_crlf_serialization_parses_back_to_the_same_text() -> None:
    result = parse(make("Grüße\nzwei").serialize("\r\n"))

    assert result.get_content().replace("\r\n", "\n") == "Grüße\nzwei"


def test_an_unsupported_line_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="linesep"):
        make("x").serialize("\r")


def test_lines_starting_with_from_are_not_mangled() -> None:
    data = make("Hi\nFrom here on\n").serialize()

    assert b"\nFrom here on\n" in data
    assert b">From" not in data


def test_an_empty_body_gives_an_empty_text_part() -> None:
    result = parsed(make(""))

    assert result.get_content_type() == "text/plain"
    assert result.get_content() == ""


def test_content_subtype_html_makes_the_body_html() -> None:
    message = make("<p>Hello</p>")
    message.content_subtype = "html"

    result = parsed(message)

    assert result.get_content_type() == "text/html"
    assert result.get_content() == "<p>Hello</p>"


def test_no_line_anywhere_exceeds_998_octets() -> None:
    message = EmailMultiAlternatives(
        "Subject " + "ü" * 600 + "x" * 1200,
        "long line " + "y" * 5000 + "\n" + "日本" * 2000,
        '"' + "Name " * 300 + '" <from@example.com>',
        [f"Person {n} <p{n}@example.com>" for n in range(50)],
        headers={"X-Long": "z" * 3000, "X-Words": "word " * 500},
    )
    message.attach_alternative("<p>" + "h" * 3000 + "</p>", "text/html")
    message.attach("ü" * 300 + ".txt", "t" * 4000, "text/plain")
    message.attach("data.bin", bytes(range(256)) * 100, "application/octet-stream")
    message.attach("forward.eml", b"Subject: inner\n\n" + b"q" * 3000 + b"\n", "message/rfc822")

    for linesep in ("\n", "\r\n"):
        data = message.serialize(linesep)
        assert longest_line(data) <= 998
        result = parse(data)
        assert result["Subject"] == "Subject " + "ü" * 600 + "x" * 1200
        assert result["X-Long"] == "z" * 3000
        attachment = next(result.iter_attachments())
        assert attachment.get_filename() == "ü" * 300 + ".txt"
        assert attachment.get_content() == "t" * 4000


def test_allow_8bit_false_gives_a_7bit_message_with_the_same_content() -> None:
    message = EmailMultiAlternatives(
        "Grüße", "Grüße aus Köln\n", "from@example.com", ["to@example.com"]
    )
    message.attach_alternative("<p>日本語のテキスト</p>", "text/html")
    message.attach("notes.txt", "Ünïcödé\n", "text/plain")
    inner = EmailMessage("Inner", "Grüße innen\n", "inner@example.com", ["x@example.com"])
    message.attach("inner.eml", inner, "message/rfc822")
    message.attach(
        "raw.eml",
        "Subject: raw\nContent-Type: text/plain; charset=utf-8\n\nGrüße roh\n".encode(),
        "message/rfc822",
    )
    message.attach(MIMEText("Grüße als Teil\n", "plain", "utf-8"))

    data = message.serialize("\r\n", allow_8bit=False)

    assert data.isascii()
    result = parse(data)
    encodings = [
        part["Content-Transfer-Encoding"] for part in result.walk() if not part.is_multipart()
    ]
    assert "8bit" not in encodings
    texts = [
        part.get_content().replace("\r\n", "\n")
        for part in result.walk()
        if part.get_content_maintype() == "text"
    ]
    assert texts == [
        "Grüße aus Köln\n",
        "<p>日本語のテキスト</p>",
        "Ünïcödé\n",
        "Grüße innen\n",
        "Grüße roh\n",
        "Grüße als Teil\n",
    ]
    assert b"Content-Transfer-Encoding: 8bit" in message.serialize()


def test_a_bytes_body_is_decoded_as_the_message_charset() -> None:
    message = make(b"Gr\xc3\xbc\xc3\x9fe\n")  # type: ignore[arg-type]

    assert encoding_of(message) == ("8bit", "utf-8", "Grüße\n")
    assert b"b'" not in message.serialize()


def test_a_bytes_body_in_another_charset_needs_that_encoding() -> None:
    message = make("Grüße\n".encode("iso-8859-1"), encoding="iso-8859-1")  # type: ignore[arg-type]

    assert encoding_of(message) == ("base64", "iso-8859-1", "Grüße\n")  # shorter than QP here


def test_bytes_the_charset_cannot_decode_are_a_type_error_naming_the_body() -> None:
    connection = mailcore.get_connection("locmem")
    message = make("Grüße\n".encode("iso-8859-1"))  # type: ignore[arg-type]
    message.connection = connection

    expected = (
        "body: the bytes given are not valid utf-8 text (invalid start byte at byte 2); "
        "pass str, or bytes in the message's charset (encoding)"
    )
    with pytest.raises(TypeError) as caught:
        message.serialize()
    assert str(caught.value) == expected
    with pytest.raises(TypeError, match=r"^body: "):
        message.send()
    assert getattr(mailcore, "outbox", []) == []


def test_text_alternatives_given_as_bytes_are_decoded() -> None:
    message = EmailMultiAlternatives(
        "Hi", b"Plain \xc3\xa9", "from@example.com", ["to@example.com"]
    )  # type: ignore[arg-type]
    message.attach_alternative("<p>Grüße</p>".encode(), "text/html")
    message.attach_alternative("<p>Grüße</p>".encode("iso-8859-1"), "text/html; charset=iso-8859-1")

    plain, html, latin = parsed(message).iter_parts()
    assert plain.get_content() == "Plain é"
    assert (html.get_content_type(), html.get_content()) == ("text/html", "<p>Grüße</p>")
    assert (latin.get_content_charset(), latin.get_content()) == ("iso-8859-1", "<p>Grüße</p>")
    assert message.body_contains("Gr") is False  # not in the plain body
    assert message.body_contains("é") is False  # not in the HTML
    assert message.body_contains("") is True


def test_a_text_alternative_that_is_not_valid_in_its_charset_is_a_type_error() -> None:
    message = EmailMultiAlternatives("Hi", "Plain", "from@example.com", ["to@example.com"])
    message.attach_alternative(b"<p>\xff</p>", "text/html")

    with pytest.raises(
        TypeError, match=r"^alternative 'text/html': the bytes given are not valid utf-8"
    ):
        message.serialize()
