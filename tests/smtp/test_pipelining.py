"""PIPELINING (RFC 2920): the same mail and results as without it, in fewer round trips."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.wan_proxy import WanProxy
from mailcore import EmailMessage
from mailcore_smtp import (
    SMTPBackend,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPRecipientsRefusedError,
    SMTPReplyError,
)
from tests.support.fault_server import DROP, Fault, FaultScript
from tests.support.smtp_servers import RecordingSMTPServer

REFUSE = {
    "gone2@example.com": (550, "5.1.1 No such user"),
    "full3@example.com": (452, "4.2.2 Mailbox full"),
    "gone3@example.com": (550, "5.1.1 No such user"),
}


def batch() -> list[EmailMessage]:
    """Five messages with fixed Date and Message-ID (so both runs send the same bytes):
    Bcc, a line starting with a dot, 8-bit text, refused recipients."""
    recipients = [
        ["a1@example.com"],
        ["a2@example.com", "gone2@example.com"],
        ["full3@example.com", "gone3@example.com"],  # every recipient refused
        ["a4@example.com"],
        ["a5@example.com", "b5@example.com"],
    ]
    return [
        EmailMessage(
            f"Message {n}",
            f"Body {n}\n.a line starting with a dot\nGrüße\n",
            f"sender{n}@example.com",
            to[:1],
            bcc=to[1:],
            headers={
                "Date": "Mon, 30 Nov 2026 05:00:00 +0000",
                "Message-ID": f"<m{n}@example.com>",
            },
        )
        for n, to in enumerate(recipients, start=1)
    ]


def _send(pipelining: bool) -> tuple[RecordingSMTPServer, list[EmailMessage], int]:
    messages = batch()
    with RecordingSMTPServer(pipelining=pipelining, refuse=REFUSE) as server:
        backend = SMTPBackend(fail_silently=True, **server.backend_options(timeout=5))
        sent = backend.send_messages(messages)
    return server, messages, sent


def test_pipelined_and_plain_runs_give_the_server_the_same_envelopes_and_bytes() -> None:
    plain_server, plain, plain_sent = _send(pipelining=False)
    piped_server, piped, piped_sent = _send(pipelining=True)

    def seen(server: RecordingSMTPServer) -> list[tuple[str, list[str], bytes, list[str]]]:
        return [(m.mail_from, m.rcpt_tos, m.data, m.mail_options) for m in server.messages]

    assert plain_sent == piped_sent == 4
    assert seen(piped_server) == seen(plain_server)
    assert [m.mail_from for m in piped_server.messages] == [
        f"sender{n}@example.com" for n in (1, 2, 4, 5)
    ]
    assert b"\r\n.a line starting" in piped_server.messages[0].data  # dot-stuffing undone
    for a, b in zip(plain, piped, strict=True):
        assert a.result is not None and b.result is not None
        assert (a.result.status, a.result.message_id, a.result.refused) == (
            b.result.status,
            b.result.message_id,
            b.result.refused,
        )
        assert type(a.result.error) is type(b.result.error)
        assert str(a.result.error).replace(str(plain_server.port), "PORT") == str(
            b.result.error
        ).replace(str(piped_server.port), "PORT")


def test_mixed_refusals_inside_a_pipelined_group_are_reported_per_recipient() -> None:
    server, messages, sent = _send(pipelining=True)
    results = [m.result for m in messages]
    assert all(r is not None for r in results)
    assert sent == 4
    assert results[1].refused == {"gone2@example.com": (550, "5.1.1 No such user")}  # type: ignore[union-attr]
    assert server.messages[1].rcpt_tos == ["a2@example.com"]
    error = results[2].error  # type: ignore[union-attr]
    assert isinstance(error, SMTPRecipientsRefusedError)
    assert error.refused == {
        "full3@example.com": (452, "4.2.2 Mailbox full"),
        "gone3@example.com": (550, "5.1.1 No such user"),
    }
    assert [m.result.message_id for m in messages if m.result and m.result.sent] == [
        received.queue_id for received in server.messages
    ]
    assert len(server.sessions) == 1, "a refused group does not cost the connection"


def test_a_refused_sender_in_a_group_is_reported_like_without_pipelining() -> None:
    script = FaultScript(Fault("MAIL", "550 5.7.1 Sender rejected", match=("sender2@example.com",)))
    messages = batch()[:3]
    with RecordingSMTPServer(pipelining=True, fault=script) as server:
        backend = SMTPBackend(**server.backend_options(timeout=5))
        with pytest.raises(SMTPReplyError) as caught:
            backend.send_messages(messages)
    assert caught.value.stage == "mail" and caught.value.smtp_code == 550
    assert caught.value.sent == 1
    assert [m.mail_from for m in server.messages] == ["sender1@example.com"]
    assert isinstance(messages[2].result.error, SMTPBatchStoppedError)  # type: ignore[union-attr]


def _plain_batch(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"m{n}", "body\n", f"s{n}@example.com", [f"r{n}@example.com"])
        for n in range(1, count + 1)
    ]


def test_a_drop_in_the_middle_of_a_group_loses_and_duplicates_nothing() -> None:
    """The server drops the connection at message 3's RCPT TO: 1 and 2 are reported sent
    and held once, 3 failed and is not held, 4 and 5 were not attempted."""
    script = FaultScript(Fault("RCPT", DROP, match=("r3@example.com",)))
    messages = _plain_batch(5)
    with RecordingSMTPServer(pipelining=True, fault=script) as server:
        backend = SMTPBackend(**server.backend_options(timeout=5))
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages(messages)
    assert (caught.value.stage, caught.value.outcome_unknown, caught.value.sent) == (
        "rcpt",
        False,
        2,
    )
    assert [m.result.status for m in messages] == ["sent", "sent", "failed", "failed", "failed"]  # type: ignore[union-attr]
    assert [m.mail_from for m in server.messages] == ["s1@example.com", "s2@example.com"]


def test_a_drop_after_queueing_leaves_that_message_unknown_and_never_resends_it() -> None:
    """Dropped right after message 2 was queued (before its 250 came back): 2 is
    ``outcome_unknown`` and not sent again; 3, whose commands went in the same write, was
    not accepted and goes again (retries) on a new connection with the rest."""
    script = FaultScript(Fault("QUEUED", DROP, match=("s2@example.com",)))
    messages = _plain_batch(5)
    with RecordingSMTPServer(pipelining=True, fault=script) as server:
        backend = SMTPBackend(
            fail_silently=True, retries=2, retry_backoff=0.001, **server.backend_options(timeout=5)
        )
        assert backend.send_messages(messages) == 4
    statuses = [m.result.status for m in messages]  # type: ignore[union-attr]
    assert statuses == ["sent", "failed", "sent", "sent", "sent"]
    error = messages[1].result.error  # type: ignore[union-attr]
    assert isinstance(error, SMTPConnectionError) and error.outcome_unknown
    copies = Counter(m.mail_from for m in server.messages)
    assert copies == {f"s{n}@example.com": 1 for n in range(1, 6)}  # 2 was queued once
    assert len(server.sessions) == 2


def test_one_round_trip_per_message_in_steady_state() -> None:
    messages = _plain_batch(40)
    with (
        RecordingSMTPServer(pipelining=True) as server,
        WanProxy(server.port, delay=0.002) as proxy,
    ):
        backend = SMTPBackend(host=proxy.host, port=proxy.port, timeout=5)
        assert backend.send_messages(messages) == 40
    # TCP handshake, EHLO, then one per message, the last final reply, QUIT
    assert proxy.turns == 1 + 1 + 40 + 1 + 1
    assert len(server.messages) == 40


def test_pipelining_off_or_not_offered_waits_for_each_reply() -> None:
    for offered, option in ((True, False), (False, True)):
        messages = _plain_batch(5)
        with (
            RecordingSMTPServer(pipelining=offered) as server,
            WanProxy(server.port, delay=0.002) as proxy,
        ):
            backend = SMTPBackend(host=proxy.host, port=proxy.port, timeout=5, pipelining=option)
            assert backend.send_messages(messages) == 5
        # TCP handshake, EHLO; MAIL, RCPT, DATA, content per message; QUIT
        assert proxy.turns == 1 + 1 + 4 * 5 + 1
