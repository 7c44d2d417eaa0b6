"""Header injection: a line break in any header value raises BadHeaderError, and nothing
is sent."""

from __future__ import annotations

import io
from collections.abc import Callable
from email.mime.text import MIMEText

import pytest

import mailcore
from mailcore import BadHeaderError, EmailMessage, EmailMultiAlternatives
from tests.support.parsed import parse

# CR and LF, and the other characters Python's str.splitlines() (and so policy.default)
# treats as line ends, and NUL.
LINE_BREAKS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "\x00",
]


def message_with(field: str, value: str) -> EmailMessage:
    """A valid message except that ``field`` holds ``value``."""
    message = EmailMultiAlternatives("Hi", "Body", "from@example.com", ["to@example.com"])
    if field == "subject":
        message.subject = value
    elif field == "from_email":
        message.from_email = value
    elif field in ("to", "cc", "bcc", "reply_to"):
        setattr(message, field, [value])
    elif field == "header value":
        message.extra_headers["X-Custom"] = value
    elif field == "header name":
        message.extra_headers[value] = "value"
    elif field == "overriding header":
        message.extra_headers["To"] = value
    elif field == "attachment filename":
        message.attach(value, b"data", "application/octet-stream")
    elif field == "attachment mimetype":
        message.attach("a.bin", b"data", value)
    elif field == "alternative mimetype":
        message.attach_alternative("<p>Hi</p>", value)
    else:
        raise AssertionError(field)
    return message


# (field, a value holding the marker "{}" where the line break goes, the header named)
FIELDS = [
    ("subject", "Hi{}Bcc: victim@example.com", "Subject"),
    ("from_email", "from@example.com{}Bcc: victim@example.com", "From"),
    ("to", "to@example.com{}Bcc: victim@example.com", "To"),
    ("cc", "cc@example.com{}Bcc: victim@example.com", "Cc"),
    ("bcc", "bcc@example.com{}Bcc: victim@example.com", "Bcc"),
    ("reply_to", "reply@example.com{}Bcc: victim@example.com", "Reply-To"),
    ("header value", "value{}Bcc: victim@example.com", "X-Custom"),
    ("header name", "X-Name{}Bcc", "X-Name"),
    ("overriding header", "list@example.com{}Bcc: victim@example.com", "To"),
    ("attachment filename", "a.txt{}Bcc: victim@example.com", "Content-Disposition"),
    ("attachment mimetype", "application/pdf{}Bcc: victim@example.com", "Content-Type"),
    ("alternative mimetype", "text/html{}Bcc: victim@example.com", "Content-Type"),
]


@pytest.mark.parametrize("line_break", LINE_BREAKS, ids=repr)
@pytest.mark.parametrize(("field", "template", "header"), FIELDS, ids=[f[0] for f in FIELDS])
def test_a_line_break_in_any_header_raises_naming_the_header(
    field: str, template: str, header: str, line_break: str
) -> None:
    message = message_with(field, template.format(line_break))

    with pytest.raises(BadHeaderError, match=header) as from_message:
        message.message()
    with pytest.raises(BadHeaderError, match=header):
        message.serialize()
    assert isinstance(from_message.value, ValueError)


@pytest.mark.parametrize(("field", "template", "header"), FIELDS, ids=[f[0] for f in FIELDS])
def test_nothing_is_written_when_a_header_is_bad(field: str, template: str, header: str) -> None:
    stream = io.StringIO()
    connection = mailcore.get_connection("console", stream=stream)
    good = EmailMessage("Fine", "Body", "from@example.com", ["to@example.com"])
    bad = message_with(field, template.format("\n"))

    with pytest.raises(BadHeaderError):
        connection.send_messages([bad, good])
    assert stream.getvalue() == ""


def test_fail_silently_does_not_swallow_bad_headers() -> None:
    message = message_with("subject", "Hi\nBcc: victim@example.com")
    message.connection = mailcore.get_connection("locmem", fail_silently=True)

    with pytest.raises(BadHeaderError):
        message.send(fail_silently=True)
    assert getattr(mailcore, "outbox", []) == []


def test_send_mail_refuses_a_newline_in_the_subject() -> None:
    connection = mailcore.get_connection("locmem")

    with pytest.raises(BadHeaderError, match="Subject"):
        mailcore.send_mail(
            "Hi\r\nBcc: victim@example.com",
            "Body",
            "from@example.com",
            ["to@example.com"],
            connection=connection,
        )


@pytest.mark.parametrize(
    "make_part",
    [
        lambda: _mime_text_with_header("X-Custom", "value\nBcc: victim@example.com"),
        lambda: _mime_text_with_header("X-Custom", "value\x0bBcc: victim@example.com"),
    ],
)
def test_a_line_break_in_an_attached_mime_part_header_raises(
    make_part: Callable[[], MIMEText],
) -> None:
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    message.attach(make_part())

    with pytest.raises(BadHeaderError, match="X-Custom"):
        message.serialize()


def _mime_text_with_header(name: str, value: str) -> MIMEText:
    part = MIMEText("text")
    part[name] = value  # compat32 stores the value unchecked
    return part


def test_a_folded_header_in_an_attached_mime_part_is_allowed() -> None:
    part = _mime_text_with_header("X-Long", "first\n second")
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    message.attach(part)

    assert b"X-Long: first\n second" in message.serialize()


def test_other_control_characters_in_a_subject_are_encoded_not_sent_raw() -> None:
    message = EmailMessage("tab\there bell\x07", "Body", "from@example.com", ["to@example.com"])

    data = message.serialize()

    assert b"\x07" not in data
    assert parse(data)["Subject"] == "tab\there bell\x07"


@pytest.mark.parametrize(
    ("character", "called"),
    [
        ("\x00", "a NUL character"),
        ("\n", "a newline"),
        ("\r", "a newline"),
        ("\x0b", "a line break"),
    ],
    ids=repr,
)
def test_the_error_says_which_character_it_found(character: str, called: str) -> None:
    message = message_with("subject", f"Hi{character}there")

    with pytest.raises(BadHeaderError) as caught:
        message.serialize()
    assert str(caught.value) == (
        f"header 'Subject' contains {called} ({character!r} in {f'Hi{character}there'!r}); "
        "header values can't contain newlines or NUL characters"
    )


def test_a_nul_in_a_header_name_or_a_mime_part_header_is_called_a_nul() -> None:
    with pytest.raises(BadHeaderError, match=r"^header name 'X-A\\x00B' contains a NUL character$"):
        message_with("header name", "X-A\x00B").serialize()
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    message.attach(_mime_text_with_header("X-Custom", "a\x00b"))
    with pytest.raises(
        BadHeaderError,
        match=r"^header 'X-Custom' of an attached MIME part contains a NUL character",
    ):
        message.serialize()


def test_a_nul_in_an_address_is_called_a_nul_and_names_the_field() -> None:
    message = message_with("cc", "cc@example.com\x00")

    with pytest.raises(BadHeaderError, match=r"^header 'Cc' contains a NUL character"):
        message.serialize()
