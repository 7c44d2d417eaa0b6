"""The ``failover`` and ``roundrobin`` backends against real SMTP servers on 127.0.0.1.

Every count is taken server-side: what each aiosmtpd server received.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

import mailcore
from mailcore import BadHeaderError, EmailMessage, MailersFailedError, SendError
from mailcore.composite import FailoverBackend, RoundRobinBackend
from mailcore_smtp import SMTPError
from tests.support.fault_server import DROP, STALL, Fault, FaultScript
from tests.support.smtp_servers import RecordingSMTPServer


def url(server: RecordingSMTPServer, **query: object) -> str:
    text = f"smtp://{server.host}:{server.port}"
    if query:
        text += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return text


def message(number: int) -> EmailMessage:
    return EmailMessage(
        f"Message {number}", "Body.\n", "sender@example.com", [f"to{number}@example.com"]
    )


def received(*servers: RecordingSMTPServer) -> Counter[str]:
    """How many times each subject arrived, over all ``servers``."""
    return Counter(str(m.parsed()["Subject"]) for s in servers for m in s.messages)


@pytest.fixture
def healthy() -> Iterator[RecordingSMTPServer]:
    with RecordingSMTPServer() as server:
        yield server


@pytest.fixture
def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure_pair(first: str, second: str, **composite: object) -> None:
    mailcore.configure(
        mailers={
            "primary": {"url": first},
            "backup": {"url": second},
            "main": {"backend": "failover", "mailers": ["primary", "backup"], **composite},
        }
    )


def test_failover_from_a_refused_connection(
    refused_port: int, healthy: RecordingSMTPServer
) -> None:
    configure_pair(f"smtp://127.0.0.1:{refused_port}?timeout=5", url(healthy))
    batch = [message(n) for n in range(1, 4)]

    assert mailcore.get_connection(using="main").send_messages(batch) == 3

    assert received(healthy) == {"Message 1": 1, "Message 2": 1, "Message 3": 1}
    assert [m.result.mailer for m in batch if m.result] == ["backup"] * 3


def test_failover_from_a_421_greeting(healthy: RecordingSMTPServer) -> None:
    script = FaultScript(Fault("GREETING", "421 4.3.2 Service shutting down"))
    with RecordingSMTPServer(fault=script) as closing:
        configure_pair(url(closing), url(healthy))
        batch = [message(n) for n in range(1, 4)]

        sent = mailcore.send_mass_mail(
            [(m.subject, m.body, m.from_email, m.to) for m in batch], using="main"
        )

        assert sent == 3
        assert closing.messages == []
        assert len(closing.sessions) == 1  # marked down after the first: not asked again
    assert received(healthy) == {"Message 1": 1, "Message 2": 1, "Message 3": 1}


def test_failover_from_a_421_on_one_message_sends_it_once(
    healthy: RecordingSMTPServer,
) -> None:
    script = FaultScript(Fault("MAIL", "421 4.7.0 Try again later", times=1))
    with RecordingSMTPServer(fault=script) as flaky:
        configure_pair(url(flaky), url(healthy))
        backend = mailcore.mailers["main"]
        batch = [message(n) for n in range(1, 3)]

        assert backend.send_messages(batch) == 2

        assert received(flaky, healthy) == {"Message 1": 1, "Message 2": 1}
        assert [m.result.mailer for m in batch if m.result] == ["backup", "backup"]
        assert backend.down() == ["primary"]


def test_failover_from_a_server_that_stalls_past_the_timeout(
    healthy: RecordingSMTPServer,
) -> None:
    script = FaultScript(Fault("MAIL", STALL))
    with RecordingSMTPServer(fault=script, stall_seconds=3) as stalling:
        configure_pair(url(stalling, timeout=0.5), url(healthy))
        first = message(1)
        started = time.monotonic()

        assert (
            mailcore.send_mail(first.subject, first.body, first.from_email, first.to, using="main")
            == 1
        )

        assert time.monotonic() - started < 3
        assert stalling.messages == []
    assert received(healthy) == {"Message 1": 1}


def test_the_outcome_unknown_is_not_sent_again(healthy: RecordingSMTPServer) -> None:
    """The server stored the message and lost its reply: the second mailer never gets it."""
    script = FaultScript(Fault("QUEUED", STALL))
    with RecordingSMTPServer(fault=script, stall_seconds=3) as losing:
        configure_pair(url(losing, timeout=0.5), url(healthy))
        lost = message(1)

        with pytest.raises(SMTPError) as caught:
            mailcore.mailers["main"].send_messages([lost])

        assert caught.value.outcome_unknown
        assert received(losing) == {"Message 1": 1}
    assert healthy.messages == []
    assert lost.result is not None and lost.result.error is caught.value
    assert (lost.result.status, lost.result.mailer) == ("unknown", "primary")


def test_no_failover_for_a_550_on_the_content(healthy: RecordingSMTPServer) -> None:
    script = FaultScript(Fault("DATA", "550 5.7.1 Content rejected"))
    with RecordingSMTPServer(fault=script) as refusing:
        configure_pair(url(refusing), url(healthy))
        refused = message(1)

        with pytest.raises(SMTPError, match="550"):
            mailcore.mailers["main"].send_messages([refused])

    assert healthy.messages == []
    assert refused.result is not None and refused.result.mailer == "primary"


def test_no_failover_for_a_bad_header(healthy: RecordingSMTPServer) -> None:
    with RecordingSMTPServer() as first:
        configure_pair(url(first), url(healthy))
        bad = EmailMessage(
            "Hi\nBcc: victim@example.com", "Body", "a@example.com", ["b@example.com"]
        )

        with pytest.raises(BadHeaderError):
            mailcore.mailers["main"].send_messages([message(1), bad])

        assert first.sessions == [] and healthy.sessions == []


def test_every_mailer_failing_says_what_each_answered(refused_port: int) -> None:
    script = FaultScript(Fault("GREETING", "421 4.3.2 Going down"))
    with RecordingSMTPServer(fault=script) as closing:
        configure_pair(f"smtp://127.0.0.1:{refused_port}", url(closing))
        lost = message(1)

        with pytest.raises(MailersFailedError) as caught:
            mailcore.mailers["main"].send_messages([lost])

    assert list(caught.value.answers) == ["primary", "backup"]
    text = str(caught.value)
    assert "primary:" in text and "refused" in text.lower()
    assert "backup:" in text and "421" in text
    assert lost.result is not None and lost.result.error is caught.value
    assert lost.result.mailer == "main"


def test_fail_silently_counts_what_was_sent(refused_port: int) -> None:
    configure_pair(f"smtp://127.0.0.1:{refused_port}", f"smtp://127.0.0.1:{refused_port}")
    batch = [message(1), message(2)]
    backend = mailcore.get_connection(using="main", fail_silently=True)

    assert backend.send_messages(batch) == 0
    assert all(isinstance(m.result.error, MailersFailedError) for m in batch if m.result)


def test_a_down_mailer_is_tried_again_after_the_retry_period(
    healthy: RecordingSMTPServer,
) -> None:
    script = FaultScript(Fault("GREETING", "421 4.3.2 Busy", times=1))
    with RecordingSMTPServer(fault=script) as recovering:
        configure_pair(url(recovering), url(healthy), retry_period=0.5)
        backend = mailcore.mailers["main"]

        backend.send_messages([first := message(1)])
        backend.send_messages([second := message(2)])
        assert len(recovering.sessions) == 1  # down: the second message skipped it
        time.sleep(0.6)
        backend.send_messages([third := message(3)])

        assert len(recovering.sessions) == 2
        assert received(recovering) == {"Message 3": 1}
    assert received(healthy) == {"Message 1": 1, "Message 2": 1}
    assert [m.result.mailer for m in (first, second, third) if m.result] == [
        "backup",
        "backup",
        "primary",
    ]


def test_round_robin_spreads_100_messages_evenly_over_three_servers() -> None:
    with RecordingSMTPServer() as a, RecordingSMTPServer() as b, RecordingSMTPServer() as c:
        mailcore.configure(
            mailers={
                "a": {"url": url(a)},
                "b": {"url": url(b)},
                "c": {"url": url(c)},
                "spread": {"backend": "roundrobin", "mailers": ["a", "b", "c"]},
            }
        )
        batch = [message(n) for n in range(100)]

        assert mailcore.get_connection(using="spread").send_messages(batch) == 100

        counts = sorted(len(s.messages) for s in (a, b, c))
        assert counts == [33, 33, 34]
        assert received(a, b, c) == {f"Message {n}": 1 for n in range(100)}
        by_mailer = Counter(m.result.mailer for m in batch if m.result)
        assert sorted(by_mailer.values()) == [33, 33, 34]
        assert {"a": len(a.messages), "b": len(b.messages), "c": len(c.messages)} == by_mailer


def test_round_robin_moves_on_from_a_dead_server(refused_port: int) -> None:
    with RecordingSMTPServer() as a, RecordingSMTPServer() as b:
        backend = RoundRobinBackend(mailers=[url(a), f"smtp://127.0.0.1:{refused_port}", url(b)])
        batch = [message(n) for n in range(9)]

        assert backend.send_messages(batch) == 9

        assert received(a, b) == {f"Message {n}": 1 for n in range(9)}
        assert backend.down() == [f"smtp://127.0.0.1:{refused_port}"]


def test_one_instance_shared_by_threads_sends_each_message_once(refused_port: int) -> None:
    with RecordingSMTPServer() as healthy:
        backend = FailoverBackend(
            mailers=[f"smtp://127.0.0.1:{refused_port}", url(healthy)], retry_period=60
        )
        batches = [[message(t * 10 + n) for n in range(5)] for t in range(4)]
        errors: list[BaseException] = []

        def send(batch: list[EmailMessage]) -> None:
            try:
                backend.send_messages(batch)
            except SendError as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(b,)) for b in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert received(healthy) == {f"Message {t * 10 + n}": 1 for t in range(4) for n in range(5)}
        assert backend.down() == [f"smtp://127.0.0.1:{refused_port}"]


def test_which_ses_errors_move_on() -> None:
    """SES's errors, classified by the one rule (no SES call needed to build them)."""
    from mailcore.composite import moves_on
    from mailcore_ses.errors import (
        SESAccountError,
        SESCredentialsError,
        SESEndpointError,
        SESIdentityNotVerifiedError,
        SESMessageRejectedError,
        SESThrottlingError,
    )

    def verdict(kind: type[SendError]) -> bool:
        return moves_on(kind("text", code="X"), (SendError,))  # type: ignore[call-arg]

    assert verdict(SESThrottlingError) and verdict(SESEndpointError)
    assert verdict(SESCredentialsError) and verdict(SESAccountError)
    assert not verdict(SESMessageRejectedError)
    assert not verdict(SESIdentityNotVerifiedError)
    assert not moves_on(BadHeaderError("x"), (SendError,))
    assert not moves_on(mailcore.ConfigurationError("x"), (SendError,))


def test_a_message_without_recipients_fails_as_with_the_mailer_itself(
    healthy: RecordingSMTPServer,
) -> None:
    backend = FailoverBackend(mailers=[url(healthy)])
    nobody = EmailMessage("Nobody", "Body", "a@example.com", [])

    assert backend.send_messages([nobody, message(1)]) == 1

    assert nobody.result is not None and nobody.result.status == "failed"
    assert "no recipients" in str(nobody.result.error)
    assert received(healthy) == {"Message 1": 1}


# -- findings of the review: the batch after an unknown outcome, shared down state -----


@pytest.mark.parametrize("fail_silently", [False, True])
def test_an_unknown_outcome_does_not_stop_the_rest_of_the_batch(
    healthy: RecordingSMTPServer, fail_silently: bool
) -> None:
    """``drop`` closes the connection after the final dot: message 1 is unknown, 2 and 3
    go on to ``two`` whatever ``fail_silently`` says."""
    script = FaultScript(Fault("QUEUED", DROP))
    with RecordingSMTPServer(fault=script) as drop:
        mailcore.configure(
            mailers={
                "drop": {"url": url(drop)},
                "two": {"url": url(healthy)},
                "fo": {"backend": "failover", "mailers": ["drop", "two"]},
            }
        )
        batch = [message(n) for n in range(1, 4)]
        backend = mailcore.get_connection(using="fo", fail_silently=fail_silently)
        if fail_silently:
            assert backend.send_messages(batch) == 2
        else:
            with pytest.raises(SMTPError) as caught:
                backend.send_messages(batch)
            assert caught.value.outcome_unknown and caught.value.sent == 2
        assert received(drop) == {"Message 1": 1}
    assert received(healthy) == {"Message 2": 1, "Message 3": 1}
    assert [(m.result.status, m.result.mailer) for m in batch if m.result] == [
        ("unknown", "drop"),
        ("sent", "two"),
        ("sent", "two"),
    ]


def test_the_down_state_is_shared_by_every_instance_of_the_mailer(
    healthy: RecordingSMTPServer,
) -> None:
    """``send_mail(using=...)`` makes a new instance per call: the second and third calls
    still skip the primary that stalled (counted server-side: one session)."""
    script = FaultScript(Fault("MAIL", STALL))
    with RecordingSMTPServer(fault=script, stall_seconds=2) as stalling:
        configure_pair(url(stalling, timeout=0.5), url(healthy))
        for number in (1, 2, 3):
            sent = message(number)
            assert (
                mailcore.send_mail(sent.subject, sent.body, sent.from_email, sent.to, using="main")
                == 1
            )
        assert len(stalling.sessions) == 1
        assert mailcore.mailers["main"].down() == ["primary"]
        mailcore.configure(**mailcore.settings.current_configuration())  # starts afresh
        assert mailcore.mailers["main"].down() == []
    assert received(healthy) == {"Message 1": 1, "Message 2": 1, "Message 3": 1}


def test_a_password_in_a_query_is_masked_in_repr_and_errors(refused_port: int) -> None:
    secret = "QSECRET"
    target = (
        f"smtp://127.0.0.1:{refused_port}?password={secret}&username=u"
        "&allow_plaintext_auth=true&timeout=5"
    )
    mailcore.configure(mailers={"f": {"backend": "failover", "mailers": [target]}})
    backend = mailcore.mailers["f"]
    lost = message(1)

    with pytest.raises(MailersFailedError) as caught:
        backend.send_messages([lost])

    shown = f"smtp://127.0.0.1:{refused_port}?password=********&username=u"
    assert shown in repr(backend)
    assert shown in str(caught.value)
    assert lost.result is not None and shown in str(lost.result.error)
    for text in (repr(backend), str(caught.value), repr(caught.value.answers)):
        assert secret not in text


def test_mailoutbox_reports_the_mailer_a_real_send_would_use(
    mailoutbox: list[EmailMessage],
) -> None:
    configure_pair("smtp://127.0.0.1:9", "smtp://127.0.0.1:10")
    sent = message(1)
    mailcore.send_mail(sent.subject, sent.body, sent.from_email, sent.to, using="main")
    backend = mailcore.mailers["main"]
    other = message(2)
    backend.send_messages([other])

    assert [m.sent_using for m in mailoutbox] == ["primary", "primary"]  # type: ignore[attr-defined]
    assert other.result is not None and other.result.mailer == "primary"
