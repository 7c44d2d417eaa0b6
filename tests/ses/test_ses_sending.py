"""Messages sent through moto's SES arrive as they were written, 7-bit safe, Bcc included."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage as ParsedMessage
from email.message import MIMEPart

import mailcore
from mailcore import EmailMessage, EmailMultiAlternatives
from mailcore_ses import SESBackend
from tests.ses.conftest import SENDER, FakeSES, RequestRecorder


def parse(raw: bytes) -> ParsedMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return parsed


def text_of(part: MIMEPart) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def assert_seven_bit(raw: bytes) -> None:
    assert raw.isascii()
    for part in parse(raw).walk():
        assert str(part.get("Content-Transfer-Encoding", "7bit")).lower() not in ("8bit", "binary")


def test_plain_message_reaches_ses_with_its_message_id(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage("Hello", "Plain body.\n", SENDER, ["to@example.com"])

    assert backend.send_messages([message]) == 1

    (stored,) = ses.sent
    assert stored.source == SENDER
    assert "to@example.com" in stored.destinations
    parsed = parse(ses.sent_bytes()[0])
    assert message.result == mailcore.SendResult(
        "sent", message_id=stored.id, message_id_header=parsed["Message-ID"]
    )
    assert parsed["Subject"] == "Hello"
    assert parsed["From"] == SENDER
    assert parsed["To"] == "to@example.com"
    assert parsed["Message-ID"]
    assert text_of(parsed) == "Plain body.\n"


def test_raw_bytes_are_the_serialized_message(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage(
        "Same bytes",
        "ASCII only.\n",
        SENDER,
        ["to@example.com"],
        headers={"Message-ID": "<fixed@example.com>", "Date": "Tue, 01 Jul 2025 10:00:00 +0000"},
    )

    backend.send_messages([message])

    assert ses.sent_bytes() == [message.serialize(linesep="\r\n")]


def test_unicode_subject_names_and_body_survive(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage(
        "Grüße aus Köln ✓",
        "Ünïcödé body — 日本語 ✓\n",
        f"Jörg Müller <{SENDER}>",
        ["Zoë Ça <zoe@example.com>"],
        cc=["Δημήτρης <dimitris@example.com>"],
    )

    assert not message.serialize().isascii()  # mailcore itself writes the body as 8bit

    assert backend.send_messages([message]) == 1

    raw = ses.sent_bytes()[0]
    assert_seven_bit(raw)
    parsed = parse(raw)
    assert parsed["Subject"] == "Grüße aus Köln ✓"
    assert parsed["From"].addresses[0].display_name == "Jörg Müller"
    assert parsed["To"].addresses[0].display_name == "Zoë Ça"
    assert parsed["Cc"].addresses[0].display_name == "Δημήτρης"
    assert text_of(parsed) == "Ünïcödé body — 日本語 ✓\n"
    assert ses.sent[0].source == SENDER


def test_html_alternative_arrives_as_multipart_alternative(
    backend: SESBackend, ses: FakeSES
) -> None:
    message = EmailMultiAlternatives("Newsletter", "Text version é\n", SENDER, ["to@example.com"])
    message.attach_alternative("<p>HTML version <b>é</b></p>", "text/html")

    assert backend.send_messages([message]) == 1

    raw = ses.sent_bytes()[0]
    assert_seven_bit(raw)
    parsed = parse(raw)
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and text_of(plain) == "Text version é\n"
    assert html is not None and text_of(html) == "<p>HTML version <b>é</b></p>"


def test_attachments_arrive_byte_for_byte(backend: SESBackend, ses: FakeSES) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    message = EmailMessage("Report", "See attached.\n", SENDER, ["to@example.com"])
    message.attach("report.pdf", pdf, "application/pdf")
    message.attach("notes ✓.txt", "Notes: naïve café\n", "text/plain")

    assert backend.send_messages([message]) == 1

    raw = ses.sent_bytes()[0]
    assert_seven_bit(raw)
    attachments = {part.get_filename(): part for part in parse(raw).iter_attachments()}
    assert set(attachments) == {"report.pdf", "notes ✓.txt"}
    assert attachments["report.pdf"].get_content_type() == "application/pdf"
    assert attachments["report.pdf"].get_content() == pdf
    assert text_of(attachments["notes ✓.txt"]) == "Notes: naïve café\n"


def test_bcc_is_in_the_destination_but_not_in_the_message(
    backend: SESBackend, ses: FakeSES, requests: RequestRecorder
) -> None:
    message = EmailMessage(
        "Hidden copy",
        "Body\n",
        SENDER,
        ["Visible <to@example.com>"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
    )

    assert backend.send_messages([message]) == 1

    (body,) = requests.bodies
    assert body["Destination"] == {
        "ToAddresses": ["to@example.com", "cc@example.com", "hidden@example.com"]
    }
    assert body["FromEmailAddress"] == SENDER
    assert "hidden@example.com" in ses.sent[0].destinations
    raw = ses.sent_bytes()[0]
    assert b"hidden@example.com" not in raw
    assert parse(raw)["Bcc"] is None


def test_a_recipient_listed_twice_is_sent_to_once(
    backend: SESBackend, ses: FakeSES, requests: RequestRecorder
) -> None:
    message = EmailMessage("Twice", "Body\n", SENDER, ["to@example.com"], cc=["to@example.com"])

    backend.send_messages([message])

    assert requests.bodies[0]["Destination"] == {"ToAddresses": ["to@example.com"]}


def test_configuration_set_tags_and_from_arn_reach_the_api(
    ses: FakeSES,
) -> None:
    arn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
    backend = SESBackend(
        region="eu-west-1",
        configuration_set="transactional",
        tags={"campaign": "welcome", "env": "test-1"},
        from_arn=arn,
    )
    requests = RequestRecorder(backend)
    message = EmailMessage("Tagged", "Body\n", SENDER, ["to@example.com"])

    assert backend.send_messages([message]) == 1

    (body,) = requests.bodies
    assert body["ConfigurationSetName"] == "transactional"
    assert body["EmailTags"] == [
        {"Name": "campaign", "Value": "welcome"},
        {"Name": "env", "Value": "test-1"},
    ]
    assert body["FromEmailAddressIdentityArn"] == arn
    assert message.result is not None and message.result.message_id == ses.sent[0].id


def test_without_those_options_the_request_has_none_of_them(
    backend: SESBackend, ses: FakeSES, requests: RequestRecorder
) -> None:
    backend.send_messages([EmailMessage("Plain", "Body\n", SENDER, ["to@example.com"])])

    assert set(requests.bodies[0]) == {"FromEmailAddress", "Destination", "Content"}


def test_message_without_recipients_is_not_sent(backend: SESBackend, ses: FakeSES) -> None:
    message = EmailMessage("Nobody", "Body\n", SENDER, [])

    assert backend.send_messages([message]) == 0

    assert ses.sent == []
    assert message.result is not None and not message.result.sent


def test_send_mail_through_get_connection(ses: FakeSES) -> None:
    connection = mailcore.get_connection("ses", region="eu-west-1")
    assert isinstance(connection, SESBackend)

    sent = mailcore.send_mail(
        "Via send_mail", "Body\n", SENDER, ["to@example.com"], connection=connection
    )

    assert sent == 1
    assert parse(ses.sent_bytes()[0])["Subject"] == "Via send_mail"


def test_send_mass_mail_uses_one_client(ses: FakeSES) -> None:
    connection = SESBackend(region="eu-west-1")
    requests = RequestRecorder(connection)  # creates the client; every request must use it

    sent = mailcore.send_mass_mail(
        [
            ("First", "One\n", SENDER, ["a@example.com"]),
            ("Second", "Two\n", SENDER, ["b@example.com"]),
        ],
        connection=connection,
    )

    assert sent == 2
    assert len(requests.bodies) == 2
    assert [parse(raw)["Subject"] for raw in ses.sent_bytes()] == ["First", "Second"]
