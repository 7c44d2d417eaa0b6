"""Queued delivery end to end: real redis-server, real ``mailcore worker`` processes, real
aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mailcore import EmailMessage, SerializedMessage
from mailcore_celery import CeleryBackend
from mailcore_celery.ledger import Ledger
from tests.celery.conftest import counts, message
from tests.celery.harness import Workers, wait_for
from tests.support.smtp_servers import RecordingSMTPServer


def test_workers_send_the_exact_bytes_the_web_process_built(
    start_workers: Callable[..., Workers], smtp_server: RecordingSMTPServer, ledger: Ledger
) -> None:
    built: dict[str, bytes] = {}

    class Capturing(CeleryBackend):
        def prepare_message(self, message: EmailMessage) -> SerializedMessage:
            data = super().prepare_message(message)
            built[data.message_id or ""] = data.to_bytes()
            return data

    messages = [message(n, attachments=[("a.bin", bytes(range(256)) * 40, None)]) for n in range(5)]
    queued = Capturing()
    assert queued.send_messages(messages) == 5
    for item in messages:
        assert item.result is not None and item.result.status == "queued"
        assert item.result.message_id and len(item.result.message_id) == 36  # the task id
        assert item.result.message_id_header
    assert set(built) == {m.result.message_id_header for m in messages}  # type: ignore[union-attr]
    assert ledger.counts()["queued"] == 5
    start_workers(2)
    wait_for(lambda: len(smtp_server.messages) == 5, 60, "5 messages at the server")
    wait_for(lambda: ledger.counts()["sent"] == 5, 10, "5 sent records")
    for received in smtp_server.messages:
        header = str(received.parsed()["Message-ID"])
        assert received.data == built[header]  # byte for byte, CRLF and all
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        f"rcpt{n}@example.com" for n in range(5)
    ]
    # each worker keeps its SMTP connection open from one task to the next
    assert len({r.session for r in smtp_server.messages}) <= 2
    assert ledger.counts() == counts(sent=5)


def test_celery_itself_runs_the_workers_app(
    queue_env: dict[str, str],
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
    isolated_settings: Path,
) -> None:
    """``celery -A mailcore_celery.app worker``: broker and queue from the settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    command = [
        sys.executable, "-m", "celery", "-A", "mailcore_celery.app", "worker",
        "--pool", "solo", "-Q", "mailcore", "--loglevel", "WARNING",
    ]  # fmt: skip
    CeleryBackend().send_messages([message(1)])
    worker = subprocess.Popen(
        command,
        env={**base, **queue_env},
        cwd=isolated_settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ledger.counts()["sent"] == 1, 60, "celery's worker to send it")
    finally:
        worker.terminate()
        worker.wait(15)
    assert [r.rcpt_tos for r in smtp_server.messages] == [["rcpt1@example.com"]]


def test_two_workers_on_one_host_get_their_own_node_names(
    start_workers: Callable[..., Workers],
) -> None:
    workers = start_workers(2)
    wait_for(lambda: len(workers.ready()) == 2, 30, "two workers ready")
    output = workers.output()
    names = {f"mailcore-{process.pid}@" for process in workers.processes}
    assert all(name in output for name in names) and len(names) == 2
    assert "DuplicateNodenameWarning" not in output
