"""The web-process side: validation before anything is enqueued, size limit, options,
URLs, an unreachable broker, and no Celery import until the backend is used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis

import mailcore
from mailcore import BadHeaderError, ConfigurationError
from mailcore_celery import CeleryBackend
from mailcore_celery.backend import BrokerError, QueuedMessageTooBigError
from mailcore_celery.ledger import Ledger
from tests.celery.conftest import message
from tests.celery.harness import RedisServer, free_port


def _enqueued(server: RedisServer) -> int:
    return int(redis.Redis.from_url(server.url).llen("mailcore"))


def test_a_bad_message_means_nothing_is_enqueued(
    queue_env: dict[str, str], redis_server: RedisServer, ledger: Ledger
) -> None:
    bad = message(2, headers={"X-Bad": "one\ntwo"})
    batch = [message(1), bad, message(3)]
    with pytest.raises(BadHeaderError, match=r"message 2 of 3 \(nothing was sent\)"):
        CeleryBackend().send_messages(batch)
    assert _enqueued(redis_server) == 0 and ledger.counts()["queued"] == 0
    assert [m.result.status for m in batch] == ["failed"] * 3  # type: ignore[union-attr]


def test_a_message_over_max_message_size_is_refused_at_enqueue(
    queue_env: dict[str, str], redis_server: RedisServer
) -> None:
    big = message(1, attachments=[("big.bin", b"x" * 30_000, "application/octet-stream")])
    with pytest.raises(
        QueuedMessageTooBigError,
        match=r"more than the celery backend's "
        r"max_message_size of 20000 bytes: it was not enqueued",
    ):
        CeleryBackend(max_message_size=20_000).send_messages([big])
    assert _enqueued(redis_server) == 0
    assert CeleryBackend(max_message_size=20_000).send_messages([message(2)]) == 1
    assert _enqueued(redis_server) == 1


def test_each_message_is_one_task_with_the_options(
    queue_env: dict[str, str], redis_server: RedisServer, ledger: Ledger
) -> None:
    sent = CeleryBackend(queue="bulk", max_retries=2).send_messages([message(1), message(2)])
    assert sent == 2
    client = redis.Redis.from_url(redis_server.url)
    assert client.llen("bulk") == 2 and client.llen("mailcore") == 0
    assert Ledger.from_url(redis_server.url, "bulk").counts()["queued"] == 2


def test_using_is_required() -> None:
    with pytest.raises(ConfigurationError, match="needs the option 'using'"):
        CeleryBackend()


def test_a_celery_url_makes_a_mailer(redis_server: RedisServer) -> None:
    mailcore.configure(
        mailers={
            "queued": {"url": "celery://?using=tx&queue=bulk", "broker_url": redis_server.url},
            "tx": {"url": "locmem://"},
        }
    )
    backend = mailcore.mailers["queued"]
    assert isinstance(backend, CeleryBackend)
    assert (backend.options.using, backend.options.queue) == ("tx", "bulk")
    assert backend.broker_url == redis_server.url
    assert "127.0.0.1" not in repr(backend)  # the broker URL is secret


def test_an_unreachable_broker_is_a_send_error_and_nothing_is_queued() -> None:
    mailcore.configure(mailers={"tx": {"url": "locmem://"}})
    backend = CeleryBackend(using="tx", broker_url=f"redis://127.0.0.1:{free_port()}/0")
    batch = [message(1)]
    with pytest.raises(BrokerError, match=r"cannot reach the broker at redis://127\.0\.0\.1:"):
        backend.send_messages(batch)
    assert batch[0].result is not None and batch[0].result.status == "failed"
    assert (
        CeleryBackend(
            using="tx", broker_url=f"redis://127.0.0.1:{free_port()}/0", fail_silently=True
        ).send_messages([message(2)])
        == 0
    )


def test_listing_and_making_the_backend_never_imports_celery() -> None:
    code = (
        "import sys, mailcore\n"
        "mailcore.configure(mailers={'tx': {'url': 'locmem://'}})\n"
        "from mailcore.cli import main\n"
        "main(['backends'])\n"
        "from mailcore_celery import CeleryBackend\n"
        "CeleryBackend(using='tx')\n"
        "print(sorted(m for m in ('celery', 'kombu', 'redis') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"


def test_queue_commands_report_an_unreachable_broker_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailcore.cli import main

    monkeypatch.setenv("MAILCORE_CELERY_BROKER_URL", f"redis://:pw@127.0.0.1:{free_port()}/0")
    mailcore.configure()
    assert main(["queue", "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mailcore: error: cannot reach the broker at redis://127.0.0.1:")
    assert len(err.splitlines()) == 1 and "pw" not in err and "Traceback" not in err


def test_retry_failed_of_an_unknown_message_id_is_a_usage_error(
    queue_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from mailcore.cli import main

    assert main(["queue", "retry-failed", "--id", "<nope@example.com>"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mailcore: error: no dead letter with Message-ID <nope@example.com>"
    )


def test_worker_with_a_mailer_that_is_not_celery_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mailcore.cli import main

    mailcore.configure(mailers={"tx": {"url": "locmem://"}})
    assert main(["worker", "--mailer", "tx"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mailcore: error: mailer 'tx' does not use the celery backend"
    )


def test_a_batch_bigger_than_a_chunk_is_enqueued_whole(
    queue_env: dict[str, str], redis_server: RedisServer, ledger: Ledger
) -> None:
    from mailcore_celery.backend import CHUNK

    batch = [message(n) for n in range(2 * CHUNK + 7)]
    assert CeleryBackend().send_messages(batch) == len(batch)
    assert _enqueued(redis_server) == len(batch) == ledger.counts()["queued"]
    assert len({m.result.message_id for m in batch}) == len(batch)  # type: ignore[union-attr]
    assert {m.result.status for m in batch} == {"queued"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--concurrency", "-1"], "argument --concurrency: must be from 1 to 256, not -1"),
        (["--concurrency", "0"], "argument --concurrency: must be from 1 to 256, not 0"),
        (["--concurrency", "99999"], "argument --concurrency: must be from 1 to 256, not 99999"),
        (["--visibility-timeout", "-5"], "argument --visibility-timeout: must be more than 0"),
    ],
)
def test_worker_options_out_of_range_are_usage_errors(
    arguments: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailcore.cli import main

    assert main(["worker", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mailcore: error: worker: {error}") and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "broker",
    [
        "redis://:wrongpw@127.0.0.1:{redis}/0",
        "redis://127.0.0.1:{free}/0",
        "redis://nohost.invalid/0",
    ],
)
def test_a_worker_with_a_broken_broker_exits_at_once_in_one_line(
    broker: str,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mailcore.cli import main

    redis.Redis.from_url(redis_server.url).config_set("requirepass", "rightpw")
    url = broker.format(redis=redis_server.port, free=free_port())
    monkeypatch.setenv("MAILCORE_CELERY_BROKER_URL", url)
    mailcore.configure()
    assert main(["worker"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("mailcore: error: cannot reach the broker at redis://")
    assert "wrongpw" not in err


def test_worker_and_queue_take_using_as_check_does(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from mailcore.cli import main

    mailcore.configure(
        mailers={
            "queued": {"url": "celery://?using=tx&queue=bulk", "broker_url": redis_server.url},
            "tx": {"url": "locmem://"},
        }
    )
    mailcore.mailers["queued"].send_messages([message(1)])
    assert main(["queue", "status", "--json", "--using", "queued"]) == 0
    assert json.loads(capsys.readouterr().out)["queued"] == 1
    assert main(["worker", "--using", "tx"]) == 2
    assert "mailer 'tx' does not use the celery backend" in capsys.readouterr().err
