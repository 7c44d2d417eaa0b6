"""``mailcore.testing.BackendContractTests`` for the celery backend, with a real
redis-server, one real worker and a real SMTP server: ``delivered`` waits until the worker
has sent what the backend enqueued and returns what the server received."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import mailcore
from mailcore import BaseEmailBackend, EmailMessage
from mailcore.testing import BackendContractTests, ParsedMessage
from mailcore_celery import CeleryBackend
from mailcore_celery.ledger import Ledger
from tests.celery.conftest import settings_env
from tests.celery.harness import RedisServer, Workers, wait_for
from tests.support.smtp_servers import RecordingSMTPServer


class _Tracking(CeleryBackend):
    """Remembers the Message-IDs it enqueued."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.enqueued: list[str] = []

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        batch = list(messages)
        try:
            return super().send_messages(batch)
        finally:
            self.enqueued += [
                m.result.message_id_header
                for m in batch
                if m.result is not None
                and m.result.status == "queued"
                and m.result.message_id_header
            ]


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RedisServer, RecordingSMTPServer]]:
    directory: Path = tmp_path_factory.mktemp("contract")
    redis = RedisServer(directory / "redis").start()
    smtp = RecordingSMTPServer().start()
    workers = Workers(settings_env(redis, smtp), directory).start(1)
    yield redis, smtp
    workers.stop()
    smtp.stop()
    redis.stop()


class TestCeleryContract(BackendContractTests):
    accepted_status: ClassVar[str] = "queued"
    secrets: ClassVar[list[str]] = ["s3cret-broker-password"]

    @pytest.fixture
    def backend(
        self, running: tuple[RedisServer, RecordingSMTPServer]
    ) -> Iterator[BaseEmailBackend]:
        redis, smtp = running
        smtp.messages.clear()
        self.redis, self.smtp = redis, smtp
        mailcore.configure(mailers={"tx": {"url": f"smtp://127.0.0.1:{smtp.port}"}})
        yield _Tracking(using="tx", broker_url=redis.url)

    def test_repr_shows_no_secret(self, backend: BaseEmailBackend) -> None:
        with_password = CeleryBackend(
            using="tx", broker_url="redis://:s3cret-broker-password@127.0.0.1:6379/0"
        )
        super().test_repr_shows_no_secret(with_password)

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        assert isinstance(backend, _Tracking)
        ledger = Ledger.from_url(self.redis.url, "mailcore", patience=0)
        wanted = set(backend.enqueued)

        def all_sent() -> bool:
            states = ledger.states()
            return all(states.get(mid) == "sent" for mid in wanted)

        wait_for(all_sent, 50, f"the worker to send {len(wanted)} message(s)")
        # and nothing else is waiting in the queue (a refused batch enqueued nothing)
        assert ledger.client.llen("mailcore") == 0
        received = [m.parsed() for m in self.smtp.messages]
        return [m for m in received if str(m["Message-ID"]) in wanted]
