"""Tasks the broker lost: kombu's Redis transport pops a task (BRPOP) a moment before it
records it as unacknowledged, so a worker killed (or Redis stopped) in that moment loses
it. The ledger keeps each message's payload, and the sweep of the workers (or
``mailcore queue recover``) enqueues it again; a copy is never sent twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis

from mailcore.cli import main
from mailcore_celery.backend import BrokerError, celery_app
from mailcore_celery.ledger import Ledger
from mailcore_celery.tasks import grace, publish
from tests.celery.conftest import backend, counts, message
from tests.celery.harness import RedisServer, Workers, wait_for
from tests.support.smtp_servers import FaultAction, FaultStage, RecordingSMTPServer, SessionRecord


def _recovered(capsys: pytest.CaptureFixture[str]) -> int:
    """How many messages ``mailcore queue recover`` enqueued again (grace period 3 s)."""
    assert main(["queue", "recover", "--visibility-timeout", "0"]) == 0
    return int(capsys.readouterr().out.split()[0])


def _payload(n: int) -> str:
    return f'{{"data": "bWVzc2FnZSB7bn0=", "n": {n}}}'


def test_the_sweep_finds_what_left_the_list_and_never_began(
    redis_server: RedisServer, ledger: Ledger
) -> None:
    ledger.queued([("<a@x>", _payload(1)), ("<b@x>", _payload(2)), ("<c@x>", _payload(3))])
    client = redis.Redis.from_url(redis_server.url)
    client.lpush("mailcore", "a task still in the list")  # so the list is not empty
    assert ledger.sweep(grace=0) == []  # nobody began anything: nothing is known lost
    assert ledger.begin("<c@x>", "task-c") == ("queued", {"data": "bWVzc2FnZSB7bn0=", "n": 3})
    # <c@x> began: <a@x> and <b@x>, enqueued before it, left the list too, and never began
    assert ledger.sweep(grace=60) == []  # ... but not for longer than the grace period
    assert sorted(ledger.sweep(grace=0)) == [("<a@x>", 0), ("<b@x>", 0)]
    assert ledger.sweep(grace=0) == []  # enqueued again: they wait at the end of the queue
    client.delete("mailcore")
    assert sorted(ledger.sweep(grace=0)) == [("<a@x>", 0), ("<b@x>", 0)]  # the list is empty


def test_one_attempt_at_a_time_and_none_after_the_message_was_sent(ledger: Ledger) -> None:
    ledger.queued([("<a@x>", _payload(1))])
    assert ledger.begin("<a@x>", "task-1")[0] == "queued"
    assert ledger.begin("<a@x>", "task-2") == ("busy", None)  # a copy: task-1 is sending it
    assert ledger.counts()["unknown"] == 0
    assert ledger.begin("<a@x>", "task-1")[0] == "queued"  # task-1 again: its worker died
    assert ledger.counts()["unknown"] == 1
    ledger.sent("<a@x>")
    assert ledger.begin("<a@x>", "task-2") == ("sent", None)
    assert ledger.begin("<a@x>", "task-1") == ("sent", None)
    assert ledger.client.hlen(ledger.payload_key) == 0  # the payload goes once it is sent


def test_a_retry_overdue_past_the_grace_period_is_found_with_its_number(ledger: Ledger) -> None:
    ledger.queued([("<a@x>", _payload(1))])
    ledger.begin("<a@x>", "task-1")
    ledger.retrying("<a@x>", unknown=False, delay=0.0, retry=2)
    assert ledger.sweep(grace=60) == []
    assert ledger.sweep(grace=0) == [("<a@x>", 2)]
    assert ledger.counts()["retrying"] == 1


def test_the_grace_period_leaves_kombu_its_own_redelivery_first() -> None:
    # the visibility timeout, kombu's search interval for dead workers' tasks, and 2 s
    assert (grace(5.0), grace(300.0)) == (9.5, 312.0)


def test_a_task_the_broker_lost_is_enqueued_again_by_a_worker_and_sent_once(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    redis_server: RedisServer,
    ledger: Ledger,
) -> None:
    queued = message(1)
    assert backend().send_messages([queued]) == 1
    # what kombu does before a worker that dies in the window records anything
    assert redis.Redis.from_url(redis_server.url).brpop(["mailcore"], 5) is not None
    workers = start_workers(1, visibility_timeout=1.0)
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the lost message sent")
    (received,) = smtp_server.messages
    assert str(received.parsed()["Message-ID"]) == queued.result.message_id_header  # type: ignore[union-attr]
    assert ledger.counts() == counts(sent=1)
    assert "1 lost task(s) of queue 'mailcore' enqueued again" in workers.output()


def test_queue_recover_enqueues_again_what_the_broker_lost(
    queue_env: dict[str, str],
    redis_server: RedisServer,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert backend().send_messages([message(1), message(2)]) == 2
    client = redis.Redis.from_url(redis_server.url)
    assert client.brpop(["mailcore"], 5) is not None and client.brpop(["mailcore"], 5)

    assert _recovered(capsys) == 0  # just left the list: a worker may be about to begin them
    wait_for(lambda: _recovered(capsys) == 2, 30, "both taken for lost after the grace period")
    assert client.llen("mailcore") == 2  # their tasks again, for any worker to send
    assert ledger.counts()["queued"] == 2
    assert _recovered(capsys) == 0  # enqueued again once, not at every sweep


def test_a_copy_enqueued_while_the_message_is_being_sent_is_not_sent_again(
    start_workers: Callable[..., Workers],
    smtp_server: RecordingSMTPServer,
    redis_server: RedisServer,
    ledger: Ledger,
) -> None:
    in_mail, release = threading.Event(), threading.Event()

    def hold_the_first_mail(
        stage: FaultStage, session: SessionRecord, argument: str
    ) -> FaultAction:
        if stage == "MAIL" and not in_mail.is_set():
            in_mail.set()
            release.wait(30)  # the whole server waits: the first worker is mid-send
        return None

    smtp_server.fault = hold_the_first_mail
    queued = message(1)
    assert backend().send_messages([queued]) == 1
    workers = start_workers(2)
    assert in_mail.wait(60)
    # a second task of the same message, as the sweep would publish for a task it took
    # for lost while that task was in fact about to run
    header = queued.result.message_id_header  # type: ignore[union-attr]
    publish(celery_app(redis_server.url, "mailcore"), "mailcore", [(header, 0)])  # type: ignore[list-item]
    wait_for(lambda: "'busy'" in workers.output(), 60, "the other worker to skip the copy")
    release.set()
    wait_for(lambda: ledger.counts()["sent"] == 1, 60, "the first attempt to finish")
    assert len(smtp_server.messages) == 1
    assert ledger.counts() == counts(sent=1)


def test_tasks_the_broker_refused_while_publishing_are_unknown_then_recovered(
    queue_env: dict[str, str],
    redis_server: RedisServer,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("mailcore", "not a list")  # the broker refuses every LPUSH to the queue
    batch = [message(1), message(2)]
    with pytest.raises(BrokerError, match="failed while 2 task"):
        backend().send_messages(batch)
    assert [m.result.status for m in batch] == ["unknown", "unknown"]  # type: ignore[union-attr]
    assert ledger.counts()["queued"] == 2  # the messages are stored all the same
    client.delete("mailcore")

    wait_for(lambda: _recovered(capsys) == 2, 30, "both enqueued again by the sweep")
    assert client.llen("mailcore") == 2
