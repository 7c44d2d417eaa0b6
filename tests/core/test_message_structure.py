"""MIME structure: how body, alternatives and attachments nest."""

from __future__ import annotations

from email.message import Message

import pytest

from mailcore import EmailMessage, EmailMultiAlternatives
from tests.support.parsed import content_types, parse, parsed

HTML = "<p>Hello <b>there</b></p>"
PDF = b"%PDF-1.4 fake"


def make(
    body: str = "Hello there", *, html: bool = False, pdf: bool = False
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives("Hi", body, "from@example.com", ["to@example.com"])
    if html:
        message.attach_alternative(HTML, "text/html")
    if pdf:
        message.attach("report.pdf", PDF, "application/pdf")
    return message


def stdlib_types(message: Message) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


@pytest.mark.parametrize(
    ("body", "html", "pdf", "expected"),
    [
        ("Hello there", False, False, ["text/plain"]),
        ("", False, False, ["text/plain"]),
        ("Hello there", True, False, ["multipart/alternative", "text/plain", "text/html"]),
        ("", True, False, ["multipart/alternative", "text/html"]),
        ("Hello there", False, True, ["multipart/mixed", "text/plain", "application/pdf"]),
        ("", False, True, ["multipart/mixed", "application/pdf"]),
        (
            "Hello there",
            True,
            True,
            [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "text/html",
                "application/pdf",
            ],
        ),
        (
            "",
            True,
            True,
            ["multipart/mixed", "multipart/alternative", "text/html", "application/pdf"],
        ),
    ],
)
def test_parts_nest_as_mixed_around_alternative(
    body: str, html: bool, pdf: bool, expected: list[str]
) -> None:
    message = make(body, html=html, pdf=pdf)

    assert content_types(parsed(message)) == expected
    assert stdlib_types(message.message()) == expected


def test_the_parts_hold_the_content() -> None:
    result = parsed(make(html=True, pdf=True))

    body = result.get_body(preferencelist=("plain",))
    html = result.get_body(preferencelist=("html",))
    (attachment,) = result.iter_attachments()
    assert body is not None and body.get_content() == "Hello there"
    assert html is not None and html.get_content() == HTML
    assert attachment.get_content() == PDF
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_disposition() == "attachment"


def test_an_html_body_with_an_attachment() -> None:
    message = EmailMessage("Hi", HTML, "from@example.com", ["to@example.com"])
    message.content_subtype = "html"
    message.attach("report.pdf", PDF, "application/pdf")

    result = parsed(message)

    assert content_types(result) == ["multipart/mixed", "text/html", "application/pdf"]
    assert result.get_body(preferencelist=("html",)).get_content() == HTML  # type: ignore[union-attr]


def test_mixed_and_alternative_subtypes_can_be_changed() -> None:
    message = make(html=True, pdf=True)
    message.mixed_subtype = "related"
    message.alternative_subtype = "alternative"

    assert content_types(parsed(message))[0] == "multipart/related"


def test_a_plain_email_message_has_no_alternatives_part() -> None:
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    message.attach("a.txt", "text", "text/plain")

    assert content_types(parsed(message)) == ["multipart/mixed", "text/plain", "text/plain"]


def test_top_level_headers_sit_on_the_outermost_part_only() -> None:
    result = parsed(make(html=True, pdf=True))

    assert result["Subject"] == "Hi"
    assert result["MIME-Version"] == "1.0"
    for part in list(result.walk())[1:]:
        assert part["Subject"] is None
        assert part["MIME-Version"] is None


def test_boundaries_are_different_and_absent_from_the_content() -> None:
    message = make(html=True, pdf=True)

    data = message.serialize()
    result = parse(data)

    outer = result.get_boundary()
    inner = next(
        part for part in result.walk() if part.get_content_type() == "multipart/alternative"
    )
    assert outer and inner.get_boundary() and outer != inner.get_boundary()
    assert data.count(f"--{outer}".encode()) == 3  # two parts, then the closing delimiter


def test_message_and_serialize_describe_the_same_message() -> None:
    message = make(body="Grüße", html=True, pdf=True)

    from_stdlib = parse(message.message().as_bytes())
    from_serialize = parsed(message)

    assert content_types(from_stdlib) == content_types(from_serialize)
    assert from_stdlib["Subject"] == from_serialize["Subject"]
    assert [p.get_content() for p in from_stdlib.walk() if not p.is_multipart()] == [
        p.get_content() for p in from_serialize.walk() if not p.is_multipart()
    ]
