"""Retries, dead letters, outcome unknown and the ``mailcore queue`` commands, with a
real redis-server, real workers and a real SMTP server answering as each test says."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mailcore.cli import main
from mailcore_celery.ledger import Ledger
from tests.celery.conftest import backend, counts, message
from tests.celery.harness import Workers, wait_for
from tests.support.smtp_servers import (
    DROP,
    STALL,
    FaultAction,
    FaultStage,
    RecordingSMTPServer,
    SessionRecord,
)


def _counts(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert main(["queue", "status", "--json"]) == 0
    counts: dict[str, int] = json.loads(capsys.readouterr().out)
    return counts


def test_transient_refusals_are_retried_until_accepted(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refusals: list[str] = []

    def busy_twice(stage: FaultStage, session: SessionRecord, argument: str) -> FaultAction:
        if stage == "RCPT" and len(refusals) < 2:
            refusals.append(argument)
            return "451 4.3.0 try again later"
        return None

    smtp_server.fault = busy_twice
    backend().send_messages([message(1)])
    start_workers(1)
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the message sent after 2 retries")
    assert len(refusals) == 2 and len(smtp_server.messages) == 1
    assert _counts(capsys) == counts(sent=1)


def test_permanent_refusal_is_a_dead_letter_and_retry_failed_sends_it(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    smtp_server.refuse = {"rcpt2@example.com": (550, "5.1.1 no such user")}
    sent = [message(1), message(2)]
    backend().send_messages(sent)
    start_workers(1)
    wait_for(lambda: ledger.counts()["failed"] == 1, 60, "the refused message failed")
    wait_for(lambda: ledger.counts()["sent"] == 1, 10, "the other one sent")
    assert _counts(capsys) == counts(sent=1, failed=1)
    header = sent[1].result.message_id_header  # type: ignore[union-attr]
    assert main(["queue", "failed"]) == 0
    listing = capsys.readouterr().out
    assert header in listing and "550 5.1.1 no such user" in listing and "None" not in listing
    assert "attempts 1" in listing  # a permanent refusal is not retried

    smtp_server.refuse = {}  # the mailbox exists now
    assert main(["queue", "retry-failed", "--id", header]) == 0  # type: ignore[list-item]
    assert "1 message(s) enqueued again" in capsys.readouterr().out
    wait_for(lambda: ledger.counts()["sent"] == 2, 60, "the dead letter sent")
    assert ledger.dead_letters() == {}
    assert [r.rcpt_tos for r in smtp_server.messages].count(["rcpt2@example.com"]) == 1


def test_retries_used_up_make_a_dead_letter_with_the_last_answer(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
    queue_env: dict[str, str],
) -> None:
    smtp_server.refuse = {"rcpt1@example.com": (452, "4.2.2 mailbox full")}
    backend(max_retries=2).send_messages([message(1)])
    start_workers(1)
    wait_for(lambda: ledger.counts()["failed"] == 1, 60, "retries used up")
    (letter,) = ledger.dead_letters().values()
    assert (
        letter["attempts"] == 3 and "452" in letter["error"] and "mailbox full" in letter["error"]
    )
    assert smtp_server.messages == []


def test_a_reply_lost_after_the_server_took_the_message_is_counted_unknown(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
) -> None:
    dropped: list[str] = []

    def drop_first_reply(stage: FaultStage, session: SessionRecord, argument: str) -> FaultAction:
        if stage == "QUEUED" and not dropped:
            dropped.append(argument)
            return DROP  # the message is recorded, its 250 never arrives
        return None

    smtp_server.fault = drop_first_reply
    backend().send_messages([message(1)])
    start_workers(1)
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the message sent again")
    # one duplicate at the server, and it is accounted for: outcome unknown once
    assert len(smtp_server.messages) == 2
    assert ledger.counts()["unknown"] == 1


def test_queue_status_prints_each_count(
    queue_env: dict[str, str], ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    backend().send_messages([message(1), message(2), message(3)])
    assert main(["queue", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "queued    3",
        "sent      0",
        "retrying  0",
        "failed    0",
        "unknown   0",
        "partly_refused 0",
    ]


def test_a_task_lost_with_its_worker_is_delivered_again(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
) -> None:
    stalled: list[int] = []

    def stall_first_session(
        stage: FaultStage, session: SessionRecord, argument: str
    ) -> FaultAction:
        if stage == "MAIL" and session.number == 1:
            stalled.append(session.number)
            return STALL  # the worker waits here until it is killed
        return None

    smtp_server.fault = stall_first_session
    smtp_server.stall_seconds = 30
    backend().send_messages([message(1)])
    first = start_workers(1, visibility_timeout=3.0)
    wait_for(lambda: bool(stalled), 30, "the first worker in the SMTP conversation")
    first.kill(first.processes[0])  # SIGKILL: the task was not acknowledged
    assert ledger.counts()["sent"] == 0
    start_workers(1, visibility_timeout=3.0)
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the task delivered again and sent")
    assert len(smtp_server.messages) == 1
    # the lost attempt had started: it is counted, though the server never took it
    assert ledger.counts()["unknown"] == 1


def test_a_recipient_refused_while_others_accepted_is_recorded_with_the_answer(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    smtp_server.refuse = {"gone@example.com": (550, "5.1.1 no such user here")}
    sent = message(1, cc=["gone@example.com"])
    backend().send_messages([sent])
    start_workers(1)
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the message sent to rcpt1")
    assert [r.rcpt_tos for r in smtp_server.messages] == [["rcpt1@example.com"]]
    counts = _counts(capsys)
    assert (counts["sent"], counts["failed"], counts["partly_refused"]) == (1, 0, 1)
    header = sent.result.message_id_header  # type: ignore[union-attr]
    assert main(["queue", "failed"]) == 0
    assert capsys.readouterr().out == (
        f"{header}  sent, partly refused  gone@example.com: 550 5.1.1 no such user here\n"
    )
    assert main(["queue", "failed", "--refused", "--json"]) == 0
    (note,) = json.loads(capsys.readouterr().out).values()
    assert note["refused"] == {"gone@example.com": [550, "5.1.1 no such user here"]}
