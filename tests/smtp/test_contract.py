"""``mailcore.testing.BackendContractTests`` against a real aiosmtpd server, in each mode
of the SMTP backend: one connection, pipelined (the server offers PIPELINING), and a
pool of 4 pipelined connections; the contract's ``test_async_*`` tests run each mode
through the async API as well. What the server received is read back, and a batch of 8
shows the mode at work on the server's side."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from typing import Any, ClassVar

import pytest

from mailcore import BaseEmailBackend
from mailcore.testing import BackendContractTests
from mailcore_smtp import SMTPBackend
from tests.support.smtp_servers import RecordingSMTPServer

PASSWORD = "s3cret-pa55word"


class TestSMTPContract(BackendContractTests):
    """One connection, no pipelining: each command waits for the previous reply."""

    secrets: ClassVar[list[str]] = [PASSWORD]
    #: How the server is started and the backend configured in this mode.
    server_options: ClassVar[dict[str, Any]] = {}
    backend_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        with RecordingSMTPServer(credentials={"alice": PASSWORD}, **self.server_options) as server:
            self.server = server
            yield SMTPBackend(
                **server.backend_options(
                    username="alice", password=PASSWORD, **self.backend_options
                )
            )

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        return [message.parsed() for message in self.server.messages]

    def check_mode(self, server: RecordingSMTPServer) -> None:
        """What the server saw of a batch of 8 (3 recipients each) in this mode."""
        assert len(server.sessions) == 1
        assert [s.pipelined for s in server.sessions] == [0]

    @pytest.mark.parametrize("api", ["sync", "async"])
    def test_a_batch_goes_through_this_mode(self, backend: BaseEmailBackend, api: str) -> None:
        messages = [self.make_message(f"batch {n}") for n in range(1, 9)]
        if api == "sync":
            sent = backend.send_messages(messages)
        else:
            sent = asyncio.run(backend.asend_messages(messages))
        assert sent == 8
        self._check_arrivals(backend, messages)
        self.check_mode(self.server)


class TestPipelinedSMTPContract(TestSMTPContract):
    """One connection, pipelined: each message's RCPT TOs and DATA go with its MAIL FROM."""

    server_options: ClassVar[dict[str, Any]] = {"pipelining": True}

    def check_mode(self, server: RecordingSMTPServer) -> None:
        assert len(server.sessions) == 1
        # 3 RCPT TO and DATA for each of the 8 messages, none waiting for a reply
        assert [s.pipelined for s in server.sessions] == [8 * 4]


class TestPooledSMTPContract(TestSMTPContract):
    """A pool of up to 4 pipelined connections: one batch is spread over several of
    them, so its messages may arrive in any order (each result is still its own)."""

    keeps_arrival_order: ClassVar[bool] = False
    server_options: ClassVar[dict[str, Any]] = {"pipelining": True}
    backend_options: ClassVar[dict[str, Any]] = {"max_connections": 4}

    def check_mode(self, server: RecordingSMTPServer) -> None:
        used = {message.session for message in server.messages}
        assert 2 <= len(used) <= 4 and server.max_open <= 4
        assert sum(s.pipelined for s in server.sessions) == 8 * 4
