"""Top-level headers: encoding, folding, Date, Message-ID, Bcc, and ``headers=`` overrides."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header

import pytest

from mailcore import EmailMessage, InvalidAddressError
from tests.support.parsed import header_lines, parse, parsed


def make(**kwargs: object) -> EmailMessage:
    values: dict[str, object] = {
        "subject": "Hello",
        "body": "Body",
        "from_email": "from@example.com",
        "to": ["to@example.com"],
    }
    values.update(kwargs)
    return EmailMessage(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "subject",
    [
        "Grüße aus Köln",
        "日本語の件名です",
        "Emoji 🎉 party",
        "Leading and   inner   spaces kept",
        "Ünïcödé " * 30,
        "=?utf-8?q?not_an_encoded_word?=",
    ],
)
def test_subjects_parse_back_to_the_original_text(subject: str) -> None:
    data = make(subject=subject).serialize()

    assert parse(data)["Subject"] == subject
    assert data.isascii()


def test_a_non_ascii_subject_is_rfc2047_encoded_and_folded() -> None:
    subject = "Ünïcödé " * 30
    data = make(subject=subject).serialize()

    lines = header_lines(data, "Subject")
    assert len(lines) > 1
    assert all(len(line) <= 78 for line in lines)
    assert lines[0].startswith(b"Subject: =?utf-8?")


def test_a_long_ascii_subject_is_folded_at_spaces_and_unfolds_exactly() -> None:
    subject = " ".join(f"word{number}" for number in range(40))
    data = make(subject=subject).serialize()

    lines = header_lines(data, "Subject")
    assert len(lines) > 1
    assert all(len(line) <= 78 for line in lines)
    assert b"=?" not in b"".join(lines)
    assert parse(data)["Subject"] == subject


def test_a_word_too_long_to_fold_is_encoded_to_keep_lines_short() -> None:
    subject = "x" * 1500
    data = make(subject=subject).serialize()

    assert all(len(line) <= 78 for line in header_lines(data, "Subject"))
    assert parse(data)["Subject"] == subject


def test_date_is_added_in_rfc5322_format_in_utc() -> None:
    data = make().serialize()

    (line,) = header_lines(data, "Date")
    assert re.fullmatch(
        rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000",
        line,
    )
    sent = parse(data)["Date"].datetime
    assert sent.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=1)


def test_message_id_is_added_and_new_for_each_serialization() -> None:
    message = make()

    first = parsed(message)["Message-ID"]
    second = parsed(message)["Message-ID"]

    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", first)
    assert first != second


def test_message_id_domain_can_be_chosen_per_call_or_per_class() -> None:
    class SiteMessage(EmailMessage):
        msgid_domain = "site.example.com"

    assert parse(make().serialize(msgid_domain="mx.example.com"))["Message-ID"].endswith(
        "@mx.example.com>"
    )
    site = SiteMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    assert parsed(site)["Message-ID"].endswith("@site.example.com>")
    assert str(make().message(msgid_domain="bücher.de")["Message-ID"]).endswith(
        "@xn--bcher-kva.de>"
    )


def test_bcc_is_in_the_envelope_but_never_in_the_headers() -> None:
    message = make(bcc=["hidden@example.com", "Secret <secret@example.com>"])

    data = message.serialize("\r\n")

    assert b"hidden@example.com" not in data
    assert b"secret" not in data.lower()
    assert b"bcc" not in data.lower()
    assert message.message()["Bcc"] is None
    assert message.envelope_recipients() == [
        "to@example.com",
        "hidden@example.com",
        "secret@example.com",
    ]


def test_to_cc_and_reply_to_headers_list_their_addresses() -> None:
    message = make(
        to=["a@example.com", "B <b@example.com>"],
        cc=["c@example.com"],
        reply_to=["Replies <r@example.com>"],
    )

    result = parsed(message)

    assert [a.addr_spec for a in result["To"].addresses] == ["a@example.com", "b@example.com"]
    assert [a.addr_spec for a in result["Cc"].addresses] == ["c@example.com"]
    assert result["Reply-To"].addresses[0].display_name == "Replies"


def test_headers_for_empty_lists_are_left_out() -> None:
    result = parsed(make(to=[], bcc=["only@example.com"]))

    assert (result["To"], result["Cc"], result["Reply-To"]) == (None, None, None)


def test_many_recipients_fold_between_addresses() -> None:
    to = [f"Person {n} <person{n}@example.com>" for n in range(30)]
    data = make(to=to).serialize()

    assert all(len(line) <= 78 for line in header_lines(data, "To"))
    assert [a.addr_spec for a in parse(data)["To"].addresses] == [
        f"person{n}@example.com" for n in range(30)
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("To", "Mailing list <list@example.com>", "list@example.com"),
        ("to", "list@example.com", "list@example.com"),
        ("Cc", "shown@example.com", "shown@example.com"),
        ("CC", "shown@example.com", "shown@example.com"),
        ("Reply-To", "replies@example.com", "replies@example.com"),
        ("reply-to", "replies@example.com", "replies@example.com"),
        ("From", "Shown <shown@example.com>", "shown@example.com"),
        ("FROM", "shown@example.com", "shown@example.com"),
    ],
)
def test_address_headers_can_be_overridden_without_changing_the_envelope(
    name: str, value: str, expected: str
) -> None:
    message = make(
        from_email="real-sender@example.com",
        to=["real-to@example.com"],
        cc=["real-cc@example.com"],
        reply_to=["real-reply@example.com"],
        headers={name: value},
    )

    result = parsed(message)

    canonical = {"to": "To", "cc": "Cc", "reply-to": "Reply-To", "from": "From"}[name.lower()]
    assert [a.addr_spec for a in result[canonical].addresses] == [expected]
    assert len(result.get_all(canonical) or []) == 1
    real = {
        "To": "real-to@example.com",
        "Cc": "real-cc@example.com",
        "Reply-To": "real-reply@example.com",
        "From": "real-sender@example.com",
    }[canonical]
    assert real not in str(result[canonical])
    assert message.envelope_from() == "real-sender@example.com"
    assert message.envelope_recipients() == ["real-to@example.com", "real-cc@example.com"]


def test_a_to_override_can_show_a_group_with_no_addresses() -> None:
    message = make(to=["real@example.com"], headers={"To": "undisclosed-recipients:;"})

    result = parsed(message)

    assert str(result["To"]) == "undisclosed-recipients:;"
    assert message.envelope_recipients() == ["real@example.com"]


@pytest.mark.parametrize("name", ["Date", "date", "DATE"])
def test_date_can_be_given_and_is_then_not_generated(name: str) -> None:
    result = parsed(make(headers={name: "Mon, 01 Jan 2024 10:00:00 +0100"}))

    assert result.get_all("Date") == ["Mon, 01 Jan 2024 10:00:00 +0100"]


def test_date_may_be_given_as_a_datetime() -> None:
    moment = datetime(2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))

    result = parsed(make(headers={"Date": moment}))

    assert result["Date"].datetime == moment


@pytest.mark.parametrize("name", ["Message-ID", "message-id", "Message-Id"])
def test_message_id_can_be_given_and_is_then_not_generated(name: str) -> None:
    result = parsed(make(headers={name: "<fixed@example.com>"}))

    assert result.get_all("Message-ID") == ["<fixed@example.com>"]


def test_subject_can_be_overridden_by_headers() -> None:
    result = parsed(make(subject="Original", headers={"subject": "Replaced"}))

    assert result.get_all("Subject") == ["Replaced"]


def test_extra_headers_are_added_and_non_ascii_values_encoded() -> None:
    result = parsed(make(headers={"X-Mailer": "mailcore", "X-Note": "Grüße", "Keywords": ""}))

    assert result["X-Mailer"] == "mailcore"
    assert result["X-Note"] == "Grüße"
    assert result["Keywords"] == ""


def test_an_address_header_with_non_ascii_is_encoded_per_address() -> None:
    result = parsed(make(headers={"Reply-To": '"Müller, Jörg" <jorg@bücher.de>, b@example.com'}))

    first, second = result["Reply-To"].addresses
    assert (first.display_name, first.addr_spec) == ("Müller, Jörg", "jorg@xn--bcher-kva.de")
    assert second.addr_spec == "b@example.com"


def test_adjacent_encoded_words_in_a_given_address_header_are_read_as_rfc_2047_says() -> None:
    # RFC 2047 6.2: the space between two encoded words is dropped ("ab"); Python's parser
    # up to 3.13 keeps it (CPython gh-128110), which would have sent "a b".
    value = "=?utf-8?q?a?= =?utf-8?q?b?= Zoë <x@example.com>, =?utf-8?q?c_?= =?utf-8?q?d?= <y@b.de>"
    data = make(headers={"To": value}).serialize()

    assert header_lines(data, "To") == [
        b"To: ab =?utf-8?q?Zo=C3=AB?= <x@example.com>, c d <y@b.de>",
    ]


def test_mime_version_appears_once() -> None:
    result = parsed(make())

    assert result.get_all("MIME-Version") == ["1.0"]


@pytest.mark.parametrize("name", ["Bcc", "bcc", "Content-Type", "content-transfer-encoding"])
def test_headers_that_would_break_the_message_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"headers may not set '{name}'"):
        make(headers={name: "x@example.com"}).message()


@pytest.mark.parametrize("name", ["X Space", "X:Colon", "", "Ünïcode"])
def test_invalid_header_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        make(headers={name: "value"}).serialize()


def test_message_returns_a_stdlib_message_with_encoded_headers() -> None:
    message = make(subject="Grüße", to=["Jörg <j@example.com>"])

    built = message.message()

    assert str(make_header(decode_header(built["Subject"]))) == "Grüße"
    assert built["To"].endswith("<j@example.com>")
    assert built.get_content_type() == "text/plain"
    assert built["MIME-Version"] == "1.0"


def test_header_words_use_the_message_charset_when_it_can_hold_the_text() -> None:
    message = make(subject="Café", to=["Rémi <r@example.com>"])
    message.encoding = "iso-8859-1"

    data = message.serialize()

    assert header_lines(data, "Subject")[0].startswith(b"Subject: =?iso-8859-1?")
    assert parse(data)["Subject"] == "Café"
    assert parse(data)["To"].addresses[0].display_name == "Rémi"
    message.subject = "Emoji 🎉"
    assert header_lines(message.serialize(), "Subject")[0].startswith(b"Subject: =?utf-8?")


def test_a_long_header_name_with_encoded_words_still_folds_within_78() -> None:
    name = "X-" + "Long" * 9
    data = make(headers={name: "Grüße " * 20}).serialize()

    assert all(len(line) <= 78 for line in header_lines(data, name))
    assert parse(data)[name] == "Grüße " * 20


def test_a_very_long_header_name_keeps_the_first_word_on_its_line() -> None:
    name = "X-" + "Long" * 20
    data = make(headers={name: "Grüße " * 20}).serialize()

    lines = header_lines(data, name)
    assert lines[0].startswith(name.encode() + b": =?utf-8?")
    assert all(len(line) <= 78 for line in lines[1:])
    assert parse(data)[name] == "Grüße " * 20


def test_a_non_ascii_address_override_must_hold_valid_addresses() -> None:
    with pytest.raises(InvalidAddressError, match="'Jörg <not an address>' in To"):
        make(headers={"To": "Jörg <not an address>"}).serialize()
    with pytest.raises(InvalidAddressError, match=r"in To.*not ASCII"):
        make(headers={"To": "jörg@example.com"}).serialize()
