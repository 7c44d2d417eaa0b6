"""EmailMessage basics: defaults, recipient lists, sending, copies, named tuples."""

from __future__ import annotations

import copy
import io

import pytest

import mailcore
from mailcore import (
    EmailAlternative,
    EmailAttachment,
    EmailMessage,
    EmailMultiAlternatives,
    SendResult,
)
from tests.support.parsed import parsed


def test_a_new_message_has_the_documented_defaults() -> None:
    message = EmailMessage()

    assert (message.subject, message.body) == ("", "")
    assert (message.to, message.cc, message.bcc, message.reply_to) == ([], [], [], [])
    assert message.attachments == []
    assert message.extra_headers == {}
    assert message.connection is None
    assert message.result is None
    assert (message.content_subtype, message.mixed_subtype) == ("plain", "mixed")
    assert message.alternative_subtype == "alternative"
    assert message.encoding is None
    assert message.from_email == "webmaster@localhost"


def test_from_email_defaults_to_the_setting_read_when_needed() -> None:
    message = EmailMessage("Hi", "Body", to=["to@example.com"])
    mailcore.configure(default_from_email="Site <site@example.com>")

    assert message.from_email == "Site <site@example.com>"
    assert parsed(message)["From"].addresses[0].addr_spec == "site@example.com"
    assert message.envelope_from() == "site@example.com"


def test_an_explicit_from_email_wins_over_the_setting() -> None:
    mailcore.configure(default_from_email="site@example.com")

    assert EmailMessage(from_email="me@example.com").from_email == "me@example.com"


def test_default_charset_setting_applies_when_encoding_is_not_set() -> None:
    mailcore.configure(default_charset="iso-8859-1")
    message = EmailMessage("Hi", "Café", "from@example.com", ["to@example.com"])

    result = parsed(message)

    assert result.get_content_charset() == "iso-8859-1"
    assert result.get_content() == "Café"


@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to"])
def test_a_bare_string_instead_of_a_list_is_a_type_error_naming_the_field(field: str) -> None:
    with pytest.raises(TypeError, match=f'"{field}" argument must be a list or tuple'):
        EmailMessage(**{field: "someone@example.com"})  # type: ignore[arg-type]


def test_a_string_assigned_later_is_refused_when_the_message_is_built() -> None:
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    message.cc = "oops@example.com"  # type: ignore[assignment]

    with pytest.raises(TypeError, match='"cc" argument must be a list or tuple'):
        message.message()


def test_tuples_and_other_sequences_become_lists() -> None:
    message = EmailMessage(to=("a@example.com",), cc=["b@example.com"], bcc=("c@example.com",))

    assert message.to == ["a@example.com"]
    assert message.bcc == ["c@example.com"]


def test_recipients_are_to_cc_and_bcc_without_empty_entries() -> None:
    message = EmailMessage(
        to=["to@example.com", ""], cc=[""], bcc=["bcc@example.com"], reply_to=["r@example.com"]
    )

    assert message.recipients() == ["to@example.com", "bcc@example.com"]


class RefusingBackend(mailcore.BaseEmailBackend):
    """A backend that fails as soon as a connection is asked for."""

    def __init__(self, fail_silently: bool = False, **options: object) -> None:
        raise RuntimeError("a connection was made")


def test_send_without_recipients_returns_zero_and_makes_no_connection() -> None:
    mailcore.configure(backend=f"{__name__}:RefusingBackend")
    message = EmailMessage("Hi", "Body", "from@example.com", [""])

    assert message.send() == 0
    with pytest.raises(RuntimeError, match="a connection was made"):
        EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"]).send()


def test_send_uses_the_given_connection_and_returns_one() -> None:
    stream = io.StringIO()
    connection = mailcore.get_connection("console", stream=stream)
    message = EmailMessage(
        "Hi", "Body", "from@example.com", ["to@example.com"], connection=connection
    )

    assert message.send() == 1
    assert "Subject: Hi" in stream.getvalue()
    assert message.result is not None
    header = message.result.message_id_header
    assert message.result == SendResult("sent", message_id_header=header)
    assert f"Message-ID: {header}\n" in stream.getvalue()


def test_send_without_a_connection_uses_the_configured_backend() -> None:
    mailcore.configure(backend="locmem")

    assert EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"]).send() == 1
    assert [sent.subject for sent in mailcore.outbox] == ["Hi"]


def test_a_deep_copy_shares_the_connection_and_nothing_else() -> None:
    connection = mailcore.get_connection("locmem")
    original = EmailMultiAlternatives(
        "Hi",
        "Body",
        "from@example.com",
        ["to@example.com"],
        connection=connection,
        headers={"X-Tag": "one"},
    )
    original.attach("a.txt", "text", "text/plain")
    original.attach_alternative("<p>Body</p>", "text/html")

    clone = copy.deepcopy(original)
    clone.to.append("other@example.com")
    clone.extra_headers["X-Tag"] = "two"
    clone.attachments.clear()
    clone.alternatives.clear()
    clone.from_email = "changed@example.com"

    assert clone.connection is connection
    assert original.to == ["to@example.com"]
    assert original.extra_headers == {"X-Tag": "one"}
    assert original.attachments == [EmailAttachment("a.txt", "text", "text/plain")]
    assert original.alternatives == [EmailAlternative("<p>Body</p>", "text/html")]
    assert original.from_email == "from@example.com"


def test_named_tuples_have_the_django_fields() -> None:
    attachment = EmailAttachment("a.pdf", b"%PDF", "application/pdf")
    alternative = EmailAlternative("<p>Hi</p>", "text/html")

    assert (attachment.filename, attachment.content, attachment.mimetype) == (
        "a.pdf",
        b"%PDF",
        "application/pdf",
    )
    assert (alternative.content, alternative.mimetype) == ("<p>Hi</p>", "text/html")


def test_alternatives_given_as_tuples_become_email_alternatives() -> None:
    message = EmailMultiAlternatives(alternatives=[("<p>Hi</p>", "text/html")])

    assert message.alternatives == [EmailAlternative("<p>Hi</p>", "text/html")]
    assert isinstance(message.alternatives[0], EmailAlternative)


def test_attach_alternative_needs_content_and_mimetype() -> None:
    message = EmailMultiAlternatives()

    with pytest.raises(ValueError, match="Both content and mimetype must be provided"):
        message.attach_alternative(None, "text/html")


def test_body_contains_checks_the_body_and_every_text_alternative() -> None:
    message = EmailMultiAlternatives("Hi", "I am content.")
    message.attach_alternative("<p>I am more than content.</p>", "text/html")
    message.attach_alternative(b"%PDF binary", "application/pdf")

    assert message.body_contains("I am")
    assert message.body_contains("content.")
    assert not message.body_contains("I am more")  # not in the plain body
    message.attach_alternative("<p>different</p>", "text/plain")
    assert not message.body_contains("I am")
