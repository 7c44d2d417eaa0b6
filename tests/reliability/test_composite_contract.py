"""The shared backend contract (mailcore.testing) run against ``failover`` and
``roundrobin``, each over two real SMTP servers on 127.0.0.1 (the first needing AUTH)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from typing import ClassVar

import pytest

from mailcore import BaseEmailBackend
from mailcore.composite import FailoverBackend, RoundRobinBackend
from mailcore.testing import BackendContractTests
from tests.support.smtp_servers import FaultAction, FaultStage, RecordingSMTPServer, SessionRecord

SECRET = "contract-Pa55:w@rd"
ENCODED = "contract-Pa55%3Aw%40rd"


class _Servers:
    """Two servers, and the order in which they stored messages (for the delivered list)."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self._lock = threading.Lock()
        self.servers = [
            RecordingSMTPServer(credentials={"user": SECRET}, fault=self._hook(0)),
            RecordingSMTPServer(fault=self._hook(1)),
        ]

    def _hook(self, index: int):  # type: ignore[no-untyped-def]
        def hook(stage: FaultStage, session: SessionRecord, argument: str) -> FaultAction:
            if stage == "QUEUED":
                with self._lock:
                    self.order.append(index)
            return None

        return hook

    def urls(self) -> list[str]:
        first, second = self.servers
        return [
            f"smtp://user:{ENCODED}@{first.host}:{first.port}",
            f"smtp://{second.host}:{second.port}",
        ]

    def delivered(self) -> list[ParsedMessage]:
        taken = [0, 0]
        found = []
        for index in self.order:
            found.append(self.servers[index].messages[taken[index]].parsed())
            taken[index] += 1
        return found


@pytest.fixture
def servers() -> Iterator[_Servers]:
    pair = _Servers()
    for server in pair.servers:
        server.start()
    try:
        yield pair
    finally:
        for server in pair.servers:
            server.stop()


class TestFailoverContract(BackendContractTests):
    secrets: ClassVar[list[str]] = [SECRET, ENCODED]

    @pytest.fixture
    def backend(self, servers: _Servers) -> Iterator[BaseEmailBackend]:
        self.pair = servers
        backend = FailoverBackend(mailers=servers.urls())
        yield backend
        backend.close()

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        return self.pair.delivered()


class TestRoundRobinContract(BackendContractTests):
    secrets: ClassVar[list[str]] = [SECRET, ENCODED]

    @pytest.fixture
    def backend(self, servers: _Servers) -> Iterator[BaseEmailBackend]:
        self.pair = servers
        backend = RoundRobinBackend(mailers=servers.urls())
        yield backend
        backend.close()

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        return self.pair.delivered()


def test_both_servers_took_part_in_round_robin(servers: _Servers) -> None:
    from mailcore import EmailMessage

    backend = RoundRobinBackend(mailers=servers.urls())
    batch = [EmailMessage(f"m{n}", "b", "a@example.com", ["b@example.com"]) for n in range(4)]
    assert backend.send_messages(batch) == 4
    assert [len(s.messages) for s in servers.servers] == [2, 2]
    assert [s.login for s in servers.servers[0].sessions] == ["user"]
