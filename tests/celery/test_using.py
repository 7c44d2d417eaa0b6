"""The mailer ``using`` names: one that exists and delivers, never a queueing mailer
(a worker would enqueue each message again, for ever), checked when the settings are
read, by ``mailcore check`` and, as a last defence, by the worker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import mailcore
from mailcore import InvalidMailer, MailerDoesNotExist
from mailcore_celery import CeleryBackend
from mailcore_celery.ledger import Ledger
from tests.celery.conftest import backend, message
from tests.celery.harness import RedisServer, Workers, wait_for
from tests.support.smtp_servers import RecordingSMTPServer


def _check(alias: str) -> subprocess.CompletedProcess[str]:
    """``mailcore check --using alias`` as a user runs it, with the mailcore.toml here."""
    return subprocess.run(
        [sys.executable, "-m", "mailcore", "check", "--using", alias],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_celery_mailer_using_itself_is_refused_and_check_fails(
    isolated_settings: Path,
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[mailers.loop]\nurl = "celery://?using=loop"\n'
    )
    with pytest.raises(InvalidMailer, match="loop: loop -> loop"):
        mailcore.configure()
    check = _check("loop")
    err = check.stderr
    assert check.returncode == 2
    assert "loop: loop -> loop" in err and len(err.strip().splitlines()) == 1


def test_a_celery_mailer_reaching_another_celery_mailer_is_refused() -> None:
    chain = {
        "web": {"url": "celery://?using=spread"},
        "spread": {"backend": "failover", "mailers": ["smtp", "bulk"]},
        "bulk": {"url": "celery://?using=smtp&queue=bulk"},
        "smtp": {"url": "smtp://127.0.0.1:2525"},
    }
    with pytest.raises(
        InvalidMailer,
        match="invalid option 'using' of mailer 'web': it sends through 'spread', which "
        "reaches the queueing mailer 'bulk'",
    ):
        mailcore.configure(mailers=chain)
    del chain["web"]
    mailcore.configure(mailers=chain)  # bulk itself sends with smtp: fine
    assert isinstance(mailcore.mailers["bulk"], CeleryBackend)


def test_using_a_mailer_that_does_not_exist_is_refused_up_front(
    isolated_settings: Path,
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[mailers.q]\nurl = "celery://?using=nosuch"\n'
    )
    with pytest.raises(InvalidMailer, match="invalid option 'using' of mailer 'q': 'nosuch' is"):
        mailcore.configure()
    check = _check("q")
    assert check.returncode == 2 and "'nosuch' is no mailer" in check.stderr
    (isolated_settings / "mailcore.toml").unlink()
    mailcore.configure(mailers={"tx": {"url": "locmem://"}})
    with pytest.raises(MailerDoesNotExist, match="'using' names 'nosuch', which is no mailer"):
        backend(using="nosuch")


def test_a_worker_whose_mailer_enqueues_makes_a_dead_letter_not_a_flood(
    start_workers: Callable[..., Workers],
    queue_env: dict[str, str],
    redis_server: RedisServer,
    smtp_server: RecordingSMTPServer,
    ledger: Ledger,
) -> None:
    # the web process sends with tx = smtp; the workers' settings make tx a celery mailer
    queue_env["MAILCORE_MAILERS_TX"] = "celery://?using=out&queue=other"
    queue_env["MAILCORE_MAILERS_OUT"] = f"smtp://127.0.0.1:{smtp_server.port}"
    backend().send_messages([message(1)])
    workers = start_workers(1)
    wait_for(lambda: ledger.counts()["failed"] == 1, 30, "the message a dead letter")
    (letter,) = ledger.dead_letters().values()
    assert "the mailer 'tx' enqueues messages instead of sending them" in letter["error"]
    assert letter["attempts"] == 1 and ledger.counts()["retrying"] == 0
    assert Ledger.from_url(redis_server.url, "other", patience=0).counts()["queued"] == 0
    assert smtp_server.messages == [] and workers.alive()
