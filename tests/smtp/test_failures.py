"""Refused recipients, dropped connections, timeouts: reported exactly, never hidden as sent."""

from __future__ import annotations

import smtplib
import socket
import time

import pytest

from mailcore import BadHeaderError, InvalidAddressError, RecipientsRefusedError, SendError
from mailcore_smtp import (
    SMTPBackend,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPRecipientsRefusedError,
    SMTPReplyError,
)
from tests.smtp.helpers import make_message
from tests.support.smtp_servers import (
    DROP,
    FaultStage,
    RecordingSMTPServer,
    SessionRecord,
    silent_server,
)

NO_SUCH_USER = (550, "5.1.1 <gone@example.com>: Recipient address rejected")
MAILBOX_FULL = (452, "4.2.2 Mailbox full")


def _statuses(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [m.result.status if m.result else "none" for m in messages]


def test_partial_refusal_delivers_to_the_others_and_reports_the_refused() -> None:
    refuse = {"gone@example.com": NO_SUCH_USER, "full@example.com": MAILBOX_FULL}
    with RecordingSMTPServer(refuse=refuse) as server:
        message = make_message(
            to=["ok@example.com", "gone@example.com"], bcc=["full@example.com", "b@example.com"]
        )
        assert SMTPBackend(**server.backend_options()).send_messages([message]) == 1

    assert server.messages[0].rcpt_tos == ["ok@example.com", "b@example.com"]
    assert message.result is not None
    assert message.result.status == "sent"
    assert message.result.refused == {
        "gone@example.com": NO_SUCH_USER,
        "full@example.com": MAILBOX_FULL,
    }


def test_refusal_of_every_recipient_raises_with_the_refusals() -> None:
    refuse = {"gone@example.com": NO_SUCH_USER, "full@example.com": MAILBOX_FULL}
    with RecordingSMTPServer(refuse=refuse) as server:
        message = make_message(to=["gone@example.com", "full@example.com"])
        with pytest.raises(RecipientsRefusedError) as caught:
            SMTPBackend(**server.backend_options()).send_messages([message])

    error = caught.value
    assert isinstance(error, SMTPRecipientsRefusedError)
    assert error.refused == refuse
    assert str(error) == (
        f"SMTP server 127.0.0.1:{server.port} refused every recipient: "
        f"gone@example.com (550 {NO_SUCH_USER[1]}), full@example.com (452 {MAILBOX_FULL[1]})"
    )
    assert error.temporary is False
    assert message.result is not None
    assert (message.result.status, message.result.refused) == ("failed", refuse)
    assert server.messages == []


def test_total_refusal_with_fail_silently_counts_the_message_as_not_sent() -> None:
    with RecordingSMTPServer(refuse={"gone@example.com": NO_SUCH_USER}) as server:
        refused = make_message("refused", to=["gone@example.com"])
        fine = make_message("fine")
        backend = SMTPBackend(fail_silently=True, **server.backend_options())
        assert backend.send_messages([refused, fine]) == 1

    assert _statuses([refused, fine]) == ["failed", "sent"]
    assert [m.parsed()["Subject"] for m in server.messages] == ["fine"]
    assert [s.messages for s in server.sessions] == [1], "the refusal kept the connection"


def test_refusal_mid_batch_stops_it_and_says_how_many_went() -> None:
    with RecordingSMTPServer(refuse={"gone@example.com": NO_SUCH_USER}) as server:
        batch = [make_message("1"), make_message("2", to=["gone@example.com"]), make_message("3")]
        with pytest.raises(SMTPRecipientsRefusedError) as caught:
            SMTPBackend(**server.backend_options()).send_messages(batch)

    assert caught.value.sent == 1
    assert caught.value.message is batch[1]
    assert str(caught.value).endswith("; 1 of 3 messages were accepted before it")
    assert _statuses(batch) == ["sent", "failed", "failed"]
    assert len(server.messages) == 1


def test_server_dropping_the_connection_mid_batch() -> None:
    with RecordingSMTPServer(drop_after=2) as server:
        batch = [make_message(f"message {n}") for n in range(1, 5)]
        backend = SMTPBackend(**server.backend_options(timeout=5))
        with pytest.raises(SendError) as caught:
            backend.send_messages(batch)

    error = caught.value
    assert isinstance(error, SMTPConnectionError)
    assert error.sent == 2
    assert error.message is batch[2]
    assert str(error) == (
        f"SMTP server 127.0.0.1:{server.port} closed the connection at MAIL FROM; "
        "2 of 4 messages were accepted before it"
    )
    assert (error.stage, error.temporary, error.outcome_unknown) == ("mail", True, False)
    assert _statuses(batch) == ["sent", "sent", "failed", "failed"]
    assert [m.parsed()["Subject"] for m in server.messages] == ["message 1", "message 2"]
    assert backend.connection is None


def test_dropped_connection_with_fail_silently_returns_the_count_accepted() -> None:
    with RecordingSMTPServer(drop_after=1) as server:
        batch = [make_message("a"), make_message("b"), make_message("c")]
        backend = SMTPBackend(fail_silently=True, **server.backend_options(timeout=5))
        backend.open()
        assert backend.send_messages(batch) == 1
        assert backend.connection is None, "a dead connection is not kept for reuse"
    assert _statuses(batch) == ["sent", "failed", "failed"]
    lost, not_attempted = batch[1].result.error, batch[2].result.error  # type: ignore[union-attr]
    assert isinstance(lost, SMTPConnectionError)
    assert isinstance(not_attempted, SMTPBatchStoppedError)
    assert not_attempted.__cause__ is lost and not not_attempted.outcome_unknown


def test_connection_lost_after_the_content_is_reported_failed_and_unknown() -> None:
    def drop_before_final_reply(stage: FaultStage, session: SessionRecord, arg: str) -> object:
        return DROP if stage == "DATA" else None

    with RecordingSMTPServer(fault=drop_before_final_reply) as server:  # type: ignore[arg-type]
        message = make_message()
        with pytest.raises(SMTPConnectionError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])

    assert caught.value.stage == "message"
    assert caught.value.outcome_unknown is True
    assert "after the message content was sent" in str(caught.value)
    assert message.result is not None and message.result.status == "failed"


def test_a_refused_message_does_not_stop_a_silent_batch() -> None:
    data_count = 0

    def refuse_big(stage: FaultStage, session: SessionRecord, arg: str) -> str | None:
        nonlocal data_count
        if stage == "DATA":
            data_count += 1
            if data_count == 2:
                return "552 5.3.4 Message too big for system"
        return None

    with RecordingSMTPServer(fault=refuse_big) as server:
        batch = [make_message("1"), make_message("2"), make_message("3")]
        backend = SMTPBackend(fail_silently=True, **server.backend_options())
        assert backend.send_messages(batch) == 2

    assert _statuses(batch) == ["sent", "failed", "sent"]
    error = batch[1].result.error  # type: ignore[union-attr]
    assert isinstance(error, SMTPReplyError)
    assert (error.stage, error.smtp_code, error.temporary) == ("message", 552, False)
    assert [m.parsed()["Subject"] for m in server.messages] == ["1", "3"]


def test_a_temporary_refusal_at_mail_from_is_marked_temporary() -> None:
    def busy(stage: FaultStage, session: SessionRecord, arg: str) -> str | None:
        return "451 4.3.0 Try again later" if stage == "MAIL" else None

    with RecordingSMTPServer(fault=busy) as server, pytest.raises(SMTPReplyError) as caught:
        SMTPBackend(**server.backend_options()).send_messages([make_message()])

    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{server.port} refused sender 'sender@example.com' "
        "at MAIL FROM: 451 4.3.0 Try again later"
    )
    assert (caught.value.smtp_code, caught.value.temporary) == (451, True)


def test_timeout_against_a_server_that_never_answers() -> None:
    with silent_server() as (host, port):
        backend = SMTPBackend(host=host, port=port, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])
        elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 2
    assert str(caught.value) == (
        f"SMTP server {host}:{port} did not answer within 0.3 s "
        "while waiting for its greeting (timeout)"
    )
    assert caught.value.stage == "greeting"
    assert backend.connection is None


def test_timeout_with_fail_silently() -> None:
    with silent_server() as (host, port):
        message = make_message()
        backend = SMTPBackend(fail_silently=True, host=host, port=port, timeout=0.2)
        assert backend.send_messages([message]) == 0
    assert message.result is not None and isinstance(message.result.error, SMTPConnectionError)


def test_nothing_listening_is_a_clear_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free now, and nothing will listen on it
    backend = SMTPBackend(host="127.0.0.1", port=port, timeout=2)

    with pytest.raises(SMTPConnectionError) as caught:
        backend.open()

    assert str(caught.value) == (
        f"cannot connect to SMTP server 127.0.0.1:{port}: connection refused "
        "(is a server listening on that port?)"
    )
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    # As the seed documents for Django, SMTP failures are smtplib.SMTPException too.
    assert isinstance(caught.value, smtplib.SMTPException)
    assert isinstance(caught.value, SendError) and caught.value.sent == 0


def test_bad_header_is_raised_even_with_fail_silently(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(fail_silently=True, **server.backend_options())
    good, bad = make_message("fine"), make_message("Hi\nBcc: victim@example.com")

    with pytest.raises(BadHeaderError):
        backend.send_messages([good, bad, make_message("after")])

    assert server.messages == []  # the whole batch is checked before connecting
    assert backend.connection is None


@pytest.mark.parametrize(
    ("field", "address", "header"),
    [
        ("to", "é@example.com", "To"),
        ("from_email", "Zoë <zoë@example.com>", "From"),
        ("bcc", '"jürgen"@example.com', "Bcc"),
    ],
)
def test_a_non_ascii_local_part_gets_the_cores_error_before_connecting(
    field: str, address: str, header: str
) -> None:
    """The core owns the rule (SMTPUTF8 is not spoken): the backend never connects."""
    value: object = address if field == "from_email" else [address]
    message = make_message(**{field: value})
    with silent_server() as (host, port):
        backend = SMTPBackend(host=host, port=port, timeout=5)
        with pytest.raises(InvalidAddressError) as caught:
            backend.send_messages([message])
        assert backend.connection is None

    assert str(caught.value) == (
        f"invalid address {address!r} in {header}: its local part is not ASCII "
        "(that would need SMTPUTF8)"
    )


def test_a_non_ascii_local_part_in_a_message_read_from_a_file_is_refused_before_connecting() -> (
    None
):
    """A file's addresses go through the core's address parser when the message is
    built from it, so the refusal comes before any backend exists or connects."""
    import email
    import email.policy

    from mailcore.cli.eml import FileMessage

    raw = b"From: ann@example.com\nTo: j\xc3\xb6rg@example.com\nSubject: Hi\n\nBody\n"
    with silent_server() as (host, port):
        backend = SMTPBackend(host=host, port=port, timeout=5)
        with pytest.raises(InvalidAddressError) as caught:
            backend.send_messages(
                [FileMessage(email.message_from_bytes(raw, policy=email.policy.default))]
            )
        assert backend.connection is None

    assert str(caught.value).endswith(
        "in To: its local part is not ASCII (that would need SMTPUTF8)"
    )
