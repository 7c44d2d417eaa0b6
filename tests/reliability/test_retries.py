"""Retries of the SMTP backend: temporary failures only, never a duplicate.

``retries`` (default 0) and ``retry_backoff`` (seconds, doubled per retry, with jitter)
are opt-in. A 4xx reply, a lost connection or a timeout before the server accepted the
message is tried again, reconnecting if needed; a 5xx never is, and neither is a
message whose outcome is unknown.
"""

from __future__ import annotations

import logging
import time

import pytest

from mailcore import ConfigurationError, EmailMessage
from mailcore_smtp import (
    SMTPBackend,
    SMTPConnectionError,
    SMTPRecipientsRefusedError,
    SMTPReplyError,
    SMTPSecurityError,
)
from mailcore_smtp.retrying import is_retryable, retry_delay
from tests.support.certs import TestCertificates
from tests.support.fault_server import DROP, Fault, FaultScript
from tests.support.smtp_servers import RecordingSMTPServer, ReplyThenDrop

FAST = {"retry_backoff": 0.001, "timeout": 5}


def message(subject: str = "Hello", to: tuple[str, ...] = ("to@example.com",)) -> EmailMessage:
    return EmailMessage(subject, "Body.\n", "sender@example.com", list(to))


def test_a_transient_421_at_mail_from_is_delivered_once_over_a_new_connection() -> None:
    script = FaultScript(Fault("MAIL", "421 4.3.2 Shutting down, try later", times=1))
    with RecordingSMTPServer(fault=script) as server:
        sent = message()
        backend = SMTPBackend(retries=1, **server.backend_options(**FAST))
        assert backend.send_messages([sent]) == 1

    assert script.fired == [1]
    assert len(server.messages) == 1
    assert [session.messages for session in server.sessions] == [0, 1]  # reconnected
    assert sent.result is not None and sent.result.sent
    assert sent.result.message_id == server.messages[0].queue_id


def test_a_persistent_4xx_fails_after_retries_plus_one_attempts() -> None:
    script = FaultScript(Fault("MAIL", "451 4.3.0 Try again later"))
    with RecordingSMTPServer(fault=script) as server:
        failed = message()
        backend = SMTPBackend(retries=3, **server.backend_options(**FAST))
        with pytest.raises(SMTPReplyError) as caught:
            backend.send_messages([failed])

    assert script.fired == [4]
    assert (caught.value.smtp_code, caught.value.temporary) == (451, True)
    assert [session.messages for session in server.sessions] == [0]  # RSET kept it usable
    assert failed.result is not None and failed.result.error is caught.value
    assert server.messages == []


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("MAIL", "550 5.7.1 Sender rejected"),
        ("DATA_COMMAND", "554 5.5.1 No valid recipients"),
        ("DATA", "552 5.3.4 Message too big"),
    ],
)
def test_a_5xx_is_never_retried(stage: str, reply: str) -> None:
    script = FaultScript(Fault(stage, reply))  # type: ignore[arg-type]
    with RecordingSMTPServer(fault=script) as server:
        failed = message()
        backend = SMTPBackend(fail_silently=True, retries=3, **server.backend_options(**FAST))
        assert backend.send_messages([failed]) == 0

    assert script.fired == [1]
    assert failed.result is not None and not failed.result.sent
    assert isinstance(failed.result.error, SMTPReplyError)
    assert failed.result.error.temporary is False


def test_a_message_with_an_unknown_outcome_is_never_sent_again() -> None:
    """The server stored the message, then the connection died before its 250: a retry
    would deliver it twice, so it is reported failed with ``outcome_unknown`` instead."""
    script = FaultScript(Fault("QUEUED", DROP, match=("sender@example.com",)))
    with RecordingSMTPServer(fault=script) as server:
        first, second = message("first"), message("second")
        second.from_email = "other@example.com"
        backend = SMTPBackend(fail_silently=True, retries=3, **server.backend_options(**FAST))
        assert backend.send_messages([first, second]) == 1

    assert script.fired == [1]
    assert [m.mail_from for m in server.messages] == ["sender@example.com", "other@example.com"]
    assert first.result is not None and first.result.status == "failed"
    error = first.result.error
    assert isinstance(error, SMTPConnectionError)
    assert (error.stage, error.outcome_unknown, is_retryable(error)) == ("message", True, False)
    # the batch went on over a new connection
    assert second.result is not None and second.result.sent
    assert len(server.sessions) == 2


def test_a_connection_lost_while_the_content_is_sent_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server says 354, then hangs up: the content (too big for the socket buffers)
    meets a closed connection before its final dot, so the server cannot have accepted
    it. That is a known failure at DATA, not an unknown outcome, so it is retried."""
    caplog.set_level(logging.INFO, logger="mailcore.smtp")
    script = FaultScript(Fault("DATA_COMMAND", ReplyThenDrop("354 Go ahead"), times=1))
    big = EmailMessage("Big", "Body.\n", "sender@example.com", ["to@example.com"])
    big.attach("big.bin", bytes(12 * 1024 * 1024), "application/octet-stream")
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(retries=1, **server.backend_options(**FAST))
        assert backend.send_messages([big]) == 1

    assert script.fired == [1]
    assert len(server.messages) == 1 and len(server.sessions) == 2
    [retry] = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert "closed the connection at DATA; trying again" in retry, retry


def test_without_retries_a_temporary_failure_is_tried_once() -> None:
    script = FaultScript(Fault("MAIL", "451 4.3.0 Try again later"))
    with RecordingSMTPServer(fault=script) as server, pytest.raises(SMTPReplyError):
        SMTPBackend(**server.backend_options(timeout=5)).send_messages([message()])
    assert SMTPBackend().options.retries == 0
    assert script.fired == [1]


def test_opening_retries_a_temporary_greeting() -> None:
    script = FaultScript(Fault("GREETING", "421 4.3.2 Too busy, try later", times=2))
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(retries=2, **server.backend_options(**FAST))
        assert backend.open() is True
        backend.close()
    assert script.fired == [2]
    assert len(server.sessions) == 3


def test_a_temporary_refusal_of_every_recipient_is_retried() -> None:
    refuse_all = Fault("RCPT", "450 4.2.1 Mailbox busy", times=2)
    script = FaultScript(refuse_all)
    with RecordingSMTPServer(fault=script) as server:
        sent = message(to=("ann@example.com", "bob@example.com"))
        assert SMTPBackend(retries=1, **server.backend_options(**FAST)).send_messages([sent]) == 1
    assert script.fired == [2]
    assert server.messages[0].rcpt_tos == ["ann@example.com", "bob@example.com"]
    assert sent.result is not None and sent.result.refused == {}


def test_a_partial_refusal_is_not_retried() -> None:
    """The message was accepted for the others: sending it again would duplicate it."""
    script = FaultScript(Fault("RCPT", "452 4.2.2 Mailbox full", match=("bob@example.com",)))
    with RecordingSMTPServer(fault=script) as server:
        sent = message(to=("ann@example.com", "bob@example.com"))
        assert SMTPBackend(retries=3, **server.backend_options(**FAST)).send_messages([sent]) == 1
    assert script.fired == [1]
    assert [m.rcpt_tos for m in server.messages] == [["ann@example.com"]]
    assert sent.result is not None
    assert sent.result.refused == {"bob@example.com": (452, "4.2.2 Mailbox full")}


def test_a_permanent_refusal_of_every_recipient_is_not_retried() -> None:
    script = FaultScript(Fault("RCPT", "550 5.1.1 No such user"))
    with RecordingSMTPServer(fault=script) as server:
        failed = message()
        with pytest.raises(SMTPRecipientsRefusedError):
            SMTPBackend(retries=3, **server.backend_options(**FAST)).send_messages([failed])
    assert script.fired == [1]


def test_an_untrusted_certificate_is_not_retried(
    certs: TestCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with RecordingSMTPServer(starttls=certs.server_context()) as server:
        backend = SMTPBackend(use_tls=True, retries=3, **server.backend_options(**FAST))
        with pytest.raises(SMTPSecurityError) as caught:
            backend.send_messages([message()])
    assert caught.value.temporary is False
    assert len(server.sessions) == 1


def test_a_connection_opened_by_the_caller_is_replaced_when_it_died() -> None:
    """The server closed the idle connection; with retries, the next send reconnects
    and the new connection stays open for the caller, as the old one would have."""
    script = FaultScript(Fault("MAIL", DROP, times=1))
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(retries=1, **server.backend_options(**FAST))
        backend.open()
        try:
            assert backend.send_messages([message("one")]) == 1
            assert backend.connection is not None
            assert backend.send_messages([message("two")]) == 1
        finally:
            backend.close()
    assert [session.messages for session in server.sessions] == [0, 2]


def test_each_retry_is_logged_with_its_reason_and_wait(caplog: pytest.LogCaptureFixture) -> None:
    script = FaultScript(Fault("MAIL", "451 4.3.0 Try again later", times=2))
    caplog.set_level(logging.INFO, logger="mailcore.smtp")
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(retries=2, **server.backend_options(**FAST))
        assert backend.send_messages([message()]) == 1

    lines = [r.getMessage() for r in caplog.records if r.name == "mailcore.smtp"]
    retries = [line for line in lines if "trying again" in line]
    assert len(retries) == 2
    assert retries[0].startswith(
        f"SMTP server 127.0.0.1:{server.port} refused sender 'sender@example.com' at MAIL "
        "FROM: 451 4.3.0 Try again later; trying again in "
    )
    assert retries[0].endswith("(retry 1 of 2)") and retries[1].endswith("(retry 2 of 2)")


def test_the_wait_doubles_with_each_retry_within_the_jitter() -> None:
    assert [retry_delay(n, 1.0, uniform=lambda: 0.5) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_delay(3, 0.5, uniform=lambda: 0.0) == 1.0  # 0.5 * 4 * 0.5
    assert retry_delay(3, 0.5, uniform=lambda: 0.999999) == pytest.approx(3.0)  # * 1.5
    delays = {retry_delay(1, 1.0) for _ in range(50)}
    assert len(delays) > 1 and all(0.5 <= d < 1.5 for d in delays)
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(0, 1.0)


def test_the_backoff_is_really_waited() -> None:
    script = FaultScript(Fault("MAIL", "451 4.3.0 Try again later"))
    with RecordingSMTPServer(fault=script) as server:
        backend = SMTPBackend(
            fail_silently=True, retries=2, **server.backend_options(retry_backoff=0.05, timeout=5)
        )
        started = time.monotonic()
        assert backend.send_messages([message()]) == 0
        elapsed = time.monotonic() - started
    # at least 0.05 * 0.5 + 0.1 * 0.5, at most 0.05 * 1.5 + 0.1 * 1.5 plus the talking
    assert 0.075 <= elapsed < 1.0
    assert script.fired == [3]


def test_retry_options_are_validated_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match=r"smtp\.retries"):
        SMTPBackend(retries=-1)
    with pytest.raises(ConfigurationError, match=r"smtp\.retry_backoff"):
        SMTPBackend(retry_backoff=-0.5)
    monkeypatch.setenv("MAILCORE_SMTP_RETRIES", "3")
    monkeypatch.setenv("MAILCORE_SMTP_RETRY_BACKOFF", "0.25")
    backend = SMTPBackend()
    assert (backend.options.retries, backend.options.retry_backoff) == (3, 0.25)
    assert backend.option_sources["retries"] == "environment"
