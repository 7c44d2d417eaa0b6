"""Sending over plain SMTP to a real aiosmtpd server: envelope, bytes, results, connections."""

from __future__ import annotations

import email.utils

import mailcore
from mailcore import EmailMessage, get_connection, send_mail, send_mass_mail
from mailcore_smtp import SMTPBackend
from tests.smtp.helpers import make_message, wait_until
from tests.support.smtp_servers import RecordingSMTPServer


def test_envelope_comes_from_from_email_and_all_recipients_including_bcc(
    server: RecordingSMTPServer,
) -> None:
    message = EmailMessage(
        "Quarterly report",
        "See attached.\n",
        "Reports <reports@example.com>",
        ["Ann <ann@example.com>"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        headers={"From": "Boss <boss@example.com>"},
    )

    assert SMTPBackend(**server.backend_options()).send_messages([message]) == 1

    (received,) = server.messages
    assert received.mail_from == "reports@example.com"
    assert received.rcpt_tos == ["ann@example.com", "cc@example.com", "hidden@example.com"]
    parsed = received.parsed()
    assert parsed["Subject"] == "Quarterly report"
    assert parsed["To"] == "Ann <ann@example.com>"
    assert parsed["Bcc"] is None
    assert b"hidden@example.com" not in received.data


def test_received_bytes_use_crlf_only_and_keep_leading_dots(server: RecordingSMTPServer) -> None:
    body = "first line\n.a line starting with a dot\n..two dots\nlast line\n"
    message = make_message("Dots", body=body)

    SMTPBackend(**server.backend_options()).send_messages([message])

    data = server.messages[0].data
    assert data.replace(b"\r\n", b"").count(b"\n") == 0, "a bare LF reached the server"
    assert data.replace(b"\r\n", b"").count(b"\r") == 0, "a bare CR reached the server"
    assert data.endswith(b"\r\n")
    parsed = server.messages[0].parsed()
    assert parsed.get_content().replace("\r\n", "\n") == body


def test_result_carries_the_queue_id_from_the_final_reply(server: RecordingSMTPServer) -> None:
    first, second = make_message("one"), make_message("two")

    assert SMTPBackend(**server.backend_options()).send_messages([first, second]) == 2

    assert first.result is not None and second.result is not None
    assert (first.result.status, first.result.message_id) == ("sent", "MC00001")
    assert (second.result.status, second.result.message_id) == ("sent", "MC00002")
    assert first.result.refused == {} and first.result.error is None


def test_plain_ok_reply_gives_no_message_id() -> None:
    with RecordingSMTPServer(data_reply="250 OK") as server:
        message = make_message()
        SMTPBackend(**server.backend_options()).send_messages([message])
    assert message.result is not None
    assert message.result.sent and message.result.message_id is None


def test_send_messages_opens_and_closes_its_own_connection(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(**server.backend_options())

    assert backend.send_messages([make_message("a"), make_message("b")]) == 2
    assert backend.send_messages([make_message("c")]) == 1

    assert backend.connection is None
    assert [s.messages for s in server.sessions] == [2, 1]
    assert wait_until(lambda: all(s.closed for s in server.sessions))


def test_an_open_connection_is_reused_and_left_open(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(**server.backend_options())

    assert backend.open() is True
    assert backend.open() is False
    for batch in range(3):
        assert backend.send_messages([make_message(f"{batch}-a"), make_message(f"{batch}-b")]) == 2
        assert backend.connection is not None, "send_messages closed a connection it did not open"
    backend.close()
    backend.close()

    assert len(server.sessions) == 1
    assert server.sessions[0].messages == 6
    assert wait_until(lambda: server.sessions[0].closed)


def test_context_manager_sends_everything_over_one_connection(
    server: RecordingSMTPServer,
) -> None:
    with SMTPBackend(**server.backend_options()) as backend:
        for number in range(5):
            make_message(f"message {number}", connection=backend).send()

    assert [s.messages for s in server.sessions] == [5]


def test_send_mail_and_send_mass_mail_through_settings(server: RecordingSMTPServer) -> None:
    mailcore.configure(backend="smtp", smtp=server.backend_options())

    assert send_mail("Hi", "Body\n", "from@example.com", ["a@example.com", "b@example.com"]) == 1
    sent = send_mass_mail(
        [
            ("One", "Body 1\n", "from@example.com", ["one@example.com"]),
            ("Two", "Body 2\n", "from@example.com", ["two@example.com"]),
        ]
    )

    assert sent == 2
    assert [m.rcpt_tos for m in server.messages] == [
        ["a@example.com", "b@example.com"],
        ["one@example.com"],
        ["two@example.com"],
    ]
    assert [s.messages for s in server.sessions] == [1, 2], "send_mass_mail uses one connection"


def test_local_hostname_is_used_in_ehlo_and_message_id(server: RecordingSMTPServer) -> None:
    message = make_message()
    backend = SMTPBackend(**server.backend_options(local_hostname="mail.example.org"))

    backend.send_messages([message])

    assert server.sessions[0].ehlo_name == "mail.example.org"
    message_id = server.messages[0].parsed()["Message-ID"]
    assert email.utils.parseaddr(message_id)[1].endswith("@mail.example.org")


def test_a_message_without_recipients_is_not_sent(server: RecordingSMTPServer) -> None:
    empty = EmailMessage("Nobody", "Body\n", "sender@example.com", [])

    assert SMTPBackend(**server.backend_options()).send_messages([empty]) == 0

    assert empty.result is not None and empty.result.status == "failed"
    assert server.messages == []


def test_get_connection_by_short_name_gives_the_smtp_backend(server: RecordingSMTPServer) -> None:
    backend = get_connection("smtp", host=server.host, port=server.port, timeout=5)

    assert isinstance(backend, SMTPBackend)
    assert backend.options.timeout == 5
    assert backend.send_messages([make_message()]) == 1
