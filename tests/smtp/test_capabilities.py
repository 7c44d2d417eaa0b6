"""What the server's EHLO offers decides how a message goes: 8BITMIME, SIZE, SMTPUTF8."""

from __future__ import annotations

import asyncio

import pytest

from mailcore import InvalidAddressError, StoredMessage
from mailcore_smtp import SMTPBackend, SMTPMessageTooBigError, SMTPReplyError
from tests.smtp.helpers import make_message
from tests.support.fault_server import Fault, FaultScript
from tests.support.smtp_servers import LimitedSMTPServer, RecordingSMTPServer

SUBJECT = "Grüße aus Köln ✓"
BODY = "Schöne Grüße aus Köln, 東京 und Αθήνα ✓\n"


def test_a_server_without_8bitmime_gets_seven_bit_that_decodes_to_the_original() -> None:
    with LimitedSMTPServer(eight_bit=False) as server:
        message = make_message(SUBJECT, body=BODY)
        message.attach("notes.txt", "Übersicht: naïve café\n", "text/plain")

        sent = SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])

    assert sent == 1 and message.result is not None and message.result.sent
    (received,) = server.messages
    assert received.data.isascii(), "only 7-bit octets reach a server without 8BITMIME"
    assert not any(option.startswith("BODY=") for option in received.mail_options)
    assert b"Content-Transfer-Encoding: 8bit" not in received.data
    parsed = received.parsed()
    assert parsed["Subject"] == SUBJECT
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == BODY
    assert body["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_content().replace("\r\n", "\n") == "Übersicht: naïve café\n"


def test_a_server_with_8bitmime_gets_8bit_content_announced_with_body_8bitmime(
    server: RecordingSMTPServer,
) -> None:
    message = make_message(SUBJECT, body=BODY)

    assert SMTPBackend(**server.backend_options(timeout=5)).send_messages([message]) == 1

    (received,) = server.messages
    assert "BODY=8BITMIME" in received.mail_options
    assert not received.data.isascii()
    assert b"Content-Transfer-Encoding: 8bit\r\n" in received.data
    assert BODY.replace("\n", "\r\n").encode() in received.data, "the text as UTF-8, as is"
    parsed = received.parsed()
    assert parsed["Subject"] == SUBJECT
    assert parsed.get_content().replace("\r\n", "\n") == BODY


def test_an_ascii_message_goes_without_body_8bitmime(server: RecordingSMTPServer) -> None:
    SMTPBackend(**server.backend_options(timeout=5)).send_messages([make_message()])

    (received,) = server.messages
    assert received.mail_options == [f"SIZE={len(received.data)}"]


@pytest.mark.parametrize("field", ["from_email", "to"])
def test_a_non_ascii_local_part_is_refused_naming_smtputf8(field: str) -> None:
    """mailcore does not speak SMTPUTF8: such an address is refused before MAIL FROM,
    whatever the server offers (the recording server offers SMTPUTF8)."""
    with RecordingSMTPServer() as server:
        if field == "from_email":
            message = make_message(from_email="jörg@example.com")
        else:
            message = make_message(to=["jörg@example.com"])
        with pytest.raises(InvalidAddressError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])

    assert "'jörg@example.com'" in str(caught.value)
    assert "its local part is not ASCII (that would need SMTPUTF8)" in str(caught.value)
    assert server.messages == []


STORED = b"From: a@example.com\r\nSubject: Stored\r\n\r\nRendered elsewhere.\r\n"


LOCAL = "its local part is not ASCII (that would need SMTPUTF8)"
DOMAIN = "its domain is not ASCII (an international domain goes in its IDNA form, xn--...)"


@pytest.mark.parametrize(
    ("sender", "recipient", "problem"),
    [
        ("a@example.com", "jörg@example.com", LOCAL),
        ("jörg@example.com", "b@example.com", LOCAL),
        ("a@example.com", "b@straße.de", DOMAIN),
        ("a@example.com", "b@example.com\r\nRCPT TO:<c@example.com>",
         "it holds the control character '\\r'"),
    ],
    ids=["recipient", "sender", "domain", "line-break"],
)  # fmt: skip
@pytest.mark.parametrize("api", ["sync", "async"])
def test_an_envelope_given_as_it_is_obeys_the_same_rule(
    sender: str, recipient: str, problem: str, api: str
) -> None:
    """A :class:`StoredMessage` (a Celery worker's, Django's through the bridge) brings its
    envelope as it is; the transport applies its rule to it all the same: nothing of the
    batch is sent, and the server sees no connection."""
    good = StoredMessage(STORED, "a@example.com", ["ok@example.com"])
    bad = StoredMessage(STORED, sender, [recipient])
    with RecordingSMTPServer() as server:
        backend = SMTPBackend(**server.backend_options(timeout=5))
        with pytest.raises(InvalidAddressError) as caught:
            if api == "sync":
                backend.send_messages([good, bad])
            else:
                asyncio.run(backend.asend_messages([good, bad]))

    role = "sender" if sender != "a@example.com" else "recipient"
    address = sender if role == "sender" else recipient
    assert str(caught.value) == (
        f"message 2 of 2 (nothing was sent): envelope {role} {address!r} cannot be sent: {problem}"
    )
    assert server.messages == [] and server.sessions == []


def test_a_message_over_the_ehlo_size_limit_is_refused_before_mail_from() -> None:
    script = FaultScript()
    with LimitedSMTPServer(size_limit=10_000, fault=script) as server:
        big = make_message("big", body=("y" * 76 + "\n") * 200)
        small = make_message("small")
        backend = SMTPBackend(fail_silently=True, **server.backend_options(timeout=5))

        assert backend.send_messages([big, small]) == 1

    assert big.result is not None
    error = big.result.error
    assert isinstance(error, SMTPMessageTooBigError)
    size = error.message_size
    assert 15_000 < size < 17_000
    assert (error.server_limit, error.stage, error.smtp_code) == (10_000, "mail", None)
    assert (error.temporary, error.outcome_unknown) == (False, False)
    assert str(error) == (
        f"SMTP server {server.host}:{server.port}: the message is too big for the server "
        f"(the message is {size:,} bytes, the server takes at most 10,000); "
        "0 of 2 messages were accepted before it"
    )
    assert [stage for stage, _ in script.calls].count("MAIL") == 1, "only the small one's"
    assert [m.parsed()["Subject"] for m in server.messages] == ["small"]


def test_a_552_at_mail_from_says_the_message_is_too_big_with_both_sizes() -> None:
    refuse = Fault("MAIL", "552 5.3.4 Message size exceeds fixed limit")
    with LimitedSMTPServer(size_limit=1_000_000, fault=FaultScript(refuse)) as server:
        message = make_message()
        with pytest.raises(SMTPMessageTooBigError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])

    error = caught.value
    size = error.message_size
    assert isinstance(error, SMTPReplyError)
    assert (error.stage, error.smtp_code, error.server_limit) == ("mail", 552, 1_000_000)
    assert str(error) == (
        f"SMTP server {server.host}:{server.port} refused the message as too big for it "
        "at MAIL FROM: 552 5.3.4 Message size exceeds fixed limit "
        f"(the message is {size:,} bytes, the server takes at most 1,000,000)"
    )
    assert size > 100 and server.messages == []


def test_a_552_after_the_content_from_a_server_without_size_says_so() -> None:
    refuse = Fault("DATA", "552 Error: Too much mail data")
    with LimitedSMTPServer(size_limit=None, fault=FaultScript(refuse)) as server:
        message = make_message()
        with pytest.raises(SMTPMessageTooBigError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])
        (session,) = server.sessions

    error = caught.value
    assert (error.stage, error.smtp_code, error.server_limit) == ("message", 552, None)
    assert error.outcome_unknown is False, "refused, with a reply"
    assert str(error) == (
        f"SMTP server {server.host}:{server.port} refused the message as too big for it "
        "after the message content was sent: 552 Error: Too much mail data "
        f"(the message is {error.message_size:,} bytes, the server did not say its limit)"
    )
    assert session.messages == 0


def test_a_552_mailbox_full_is_not_called_too_big() -> None:
    refuse = Fault("DATA", "552 5.2.2 Mailbox full")
    with (
        RecordingSMTPServer(fault=FaultScript(refuse)) as server,
        pytest.raises(SMTPReplyError) as caught,
    ):
        SMTPBackend(**server.backend_options(timeout=5)).send_messages([make_message()])

    assert not isinstance(caught.value, SMTPMessageTooBigError)
    assert "refused the message after the message content was sent: 552 5.2.2" in str(caught.value)
