"""Real SMTP servers for tests, on 127.0.0.1 with a free port (aiosmtpd in a thread).

:class:`RecordingSMTPServer` records every message (envelope and raw bytes, exactly as
received) and every connection, and can be told to offer STARTTLS, speak implicit TLS,
require AUTH with given credentials, refuse given recipients, or drop the connection
after a number of messages::

    with RecordingSMTPServer(refuse={"nobody@example.com": (550, "5.1.1 No such user")}) as server:
        backend = SMTPBackend(**server.backend_options())
        ...
    assert server.messages[0].rcpt_tos == ["to@example.com"]

For other faults, pass ``fault``: a function ``fault(stage, session, argument)`` called
at each step of the conversation (see :data:`FaultStage`) that returns ``None`` (carry
on), a reply line to send instead (``"451 4.3.0 try later"``), :data:`DROP` to close the
connection without a reply, :data:`STALL` to say nothing for ``stall_seconds`` and
then close it (a client with a shorter timeout gives up first),
:class:`ReplyThenDrop` to send a reply and then close it, or :class:`Pause` to say
nothing for a while and then carry on (a slow server).
:mod:`tests.support.fault_server` builds such functions from a declarative script.

:func:`silent_server` is a listener that accepts TCP connections and never says a word
(for timeouts). :class:`LimitedSMTPServer` is a recording server whose EHLO offers less
(no 8BITMIME, a small SIZE).

``pipelining=True`` makes the server offer PIPELINING in its EHLO reply (aiosmtpd reads
pipelined commands in order either way); ``idle_close`` closes a connection that said
nothing for that many seconds; ``max_open`` is the most connections it ever had open at
once, and each session's ``pipelined`` counts its RCPT TO and DATA commands that arrived
in one read with the command before them (none from a client that waits for each reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage
from typing import Any, Final, Literal, NoReturn, Self

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from mailcore.testing import parse_message
from mailcore_smtp.serving import BackgroundServer, ServerContext

__all__ = [
    "DROP",
    "STALL",
    "FaultAction",
    "FaultHook",
    "FaultStage",
    "LimitedSMTPServer",
    "Pause",
    "ReceivedMessage",
    "RecordingSMTPServer",
    "ReplyThenDrop",
    "SessionRecord",
    "silent_server",
]


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


class _Stall:
    def __repr__(self) -> str:
        return "STALL"


#: Returned by a fault hook: close the connection without replying.
DROP: Final = _Drop()
#: Returned by a fault hook: say nothing for ``stall_seconds``, then close the connection.
STALL: Final = _Stall()

#: Where a fault hook is called, and the ``argument`` it gets there:
#:
#: - ``"GREETING"``: a client connected, before the 220 greeting (``""``); a reply
#:   replaces the greeting and the server then closes the connection;
#: - ``"EHLO"``: at EHLO and at HELO (the client's name);
#: - ``"STARTTLS"``: at STARTTLS, before ``220 Ready`` (``""``);
#: - ``"AUTH"``: at AUTH, before the exchange (the mechanism, ``"PLAIN"``);
#: - ``"MAIL"``: at MAIL FROM (the sender); ``"RCPT"``: at RCPT TO (the recipient);
#: - ``"DATA_COMMAND"``: at the DATA command, before ``354`` (the sender);
#: - ``"DATA"``: the content received (final dot), not yet stored (the sender);
#: - ``"QUEUED"``: the content stored in :attr:`RecordingSMTPServer.messages`, before
#:   the final ``250`` (the sender): a fault here loses the reply of an accepted message.
FaultStage = Literal[
    "GREETING", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA_COMMAND", "DATA", "QUEUED"
]


@dataclass(frozen=True)
class ReplyThenDrop:
    """Returned by a fault hook: send ``reply``, then close the connection at once.

    At ``"DATA_COMMAND"`` with ``"354 Go ahead"``: the client starts sending the
    content into a closed connection.
    """

    reply: str


@dataclass(frozen=True)
class Pause:
    """Returned by a fault hook: say nothing for ``seconds``, then carry on as usual."""

    seconds: float


#: What a fault hook returns: carry on (``None``), a reply line, :data:`DROP`,
#: :data:`STALL`, :class:`ReplyThenDrop` or :class:`Pause`.
FaultAction = str | _Drop | _Stall | ReplyThenDrop | Pause | None
FaultHook = Callable[[FaultStage, "SessionRecord", str], FaultAction]


@dataclass
class SessionRecord:
    """One client connection: its number (from 1), EHLO name, TLS, login, message count."""

    number: int
    peer: Any
    ehlo_name: str | None = None
    tls: bool = False
    login: str | None = None
    auth_mechanisms: list[str] = field(default_factory=list)
    messages: int = 0
    #: RCPT TO and DATA commands that arrived in the same read as the line before them:
    #: sent without waiting for the previous reply (a line of content that starts
    #: with one of them counts as well).
    pipelined: int = 0
    closed: bool = False
    #: ``time.monotonic()`` when the connection was accepted.
    opened_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    session: int
    queue_id: str
    #: ``time.monotonic()`` when the content's final dot arrived.
    received_at: float = 0.0

    def parsed(self) -> ParsedMessage:
        """The message parsed by the standard library (modern policy)."""
        return parse_message(self.data)


#: The commands :attr:`SessionRecord.pipelined` counts (always pipelined when offered).
_PIPELINED = (b"RCPT TO:", b"DATA\r\n")


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP protocol that opens a :class:`SessionRecord` per connection."""

    def __init__(self, server: RecordingSMTPServer, **kwargs: Any) -> None:
        super().__init__(_RecordingHandler(server), **kwargs)
        self.recorder = server
        self.record: SessionRecord | None = None

    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        """CRAM-MD5 (RFC 2195), offered when ``auth_mechanisms`` names it: the client's
        digest is checked with the password of ``credentials`` (as UTF-8); a match
        logs in as LOGIN and PLAIN do (through the server's authenticator)."""
        challenge = f"<{id(self)}.{time.monotonic_ns()}@{self.hostname}>".encode()
        answer = await self.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False)
        assert isinstance(answer, bytes)
        login, _, digest = answer.rpartition(b" ")
        password = self.recorder.credentials.get(login.decode("utf-8", "replace"))
        if password is not None:
            expected = hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest()
            if not hmac.compare_digest(digest, expected.encode("ascii")):
                password = None
        given = b"\0" if password is None else password.encode("utf-8")
        return self._authenticate("CRAM-MD5", LoginPassword(login, given))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.record is None
        super().connection_made(transport)
        if first:
            self.record = self.recorder._new_session(transport.get_extra_info("peername"))
            self.record.tls = transport.get_extra_info("ssl_object") is not None

    def data_received(self, data: bytes) -> None:
        if self.record is not None:
            self.record.pipelined += sum(data.count(b"\r\n" + verb) for verb in _PIPELINED)
        super().data_received(data)

    async def smtp_QUIT(self, arg: str) -> None:
        # the session ends with the 221 reply: count it closed from then on
        if not arg and self.record is not None and not self.record.closed:
            self.record.closed = True
            self.recorder._session_closed()
        await super().smtp_QUIT(arg)

    def connection_lost(self, error: Exception | None) -> None:
        if self.record is not None and not self.record.closed:
            self.record.closed = True
            self.recorder._session_closed()
        super().connection_lost(error)

    async def fault_reply(self, stage: FaultStage, argument: str) -> str | None:
        """Apply the server's fault hook at ``stage``: a reply line to send, or ``None``.

        :data:`DROP` closes the connection here; :data:`STALL` waits, then closes it
        (both end this session's handling by raising :class:`asyncio.CancelledError`).
        """
        hook = self.recorder.fault
        if hook is None or self.record is None:
            return None
        outcome = hook(stage, self.record, argument)
        if isinstance(outcome, Pause):
            await asyncio.sleep(outcome.seconds)
            return None
        if isinstance(outcome, ReplyThenDrop):
            await self.push(outcome.reply)
            outcome = DROP
        if isinstance(outcome, _Stall):
            await asyncio.sleep(self.recorder.stall_seconds)
            outcome = DROP
        if isinstance(outcome, _Drop):
            _RecordingHandler._drop(self)
        return outcome

    async def _handle_client(self) -> None:
        try:
            reply = await self.fault_reply("GREETING", "")
        except asyncio.CancelledError:
            return  # dropped before the greeting
        if reply is not None:
            # A server that will not talk says so in its greeting, then hangs up.
            await self.push(reply)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str) -> None:
        reply = await self.fault_reply("EHLO", hostname or "")
        if reply is not None:
            await self.push(reply)
            return
        if not self.recorder.pipelining:
            await super().smtp_EHLO(hostname)
            return
        push = self.push

        async def push_offering_pipelining(status: str) -> None:
            if status == "250 HELP":
                await push("250-PIPELINING")
            await push(status)

        self.push = push_offering_pipelining  # type: ignore[method-assign,assignment]
        try:
            await super().smtp_EHLO(hostname)
        finally:
            del self.push

    async def smtp_HELO(self, hostname: str) -> None:
        reply = await self.fault_reply("EHLO", hostname or "")
        if reply is not None:
            await self.push(reply)
            return
        await super().smtp_HELO(hostname)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.tls_context and not arg:
            reply = await self.fault_reply("STARTTLS", "")
            if reply is not None:
                await self.push(reply)
                return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        if arg:
            reply = await self.fault_reply("AUTH", arg.split()[0].upper())
            if reply is not None:
                await self.push(reply)
                return
        await super().smtp_AUTH(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is not None and self.envelope.rcpt_tos and not arg:
            reply = await self.fault_reply("DATA_COMMAND", self.envelope.mail_from or "")
            if reply is not None:
                await self.push(reply)
                return
        await super().smtp_DATA(arg)


class _RecordingHandler:
    """The aiosmtpd handler: applies refusals and faults, records accepted messages."""

    def __init__(self, server: RecordingSMTPServer) -> None:
        self.server = server

    @staticmethod
    def _record(protocol: SMTP) -> SessionRecord:
        assert isinstance(protocol, _RecordingSMTP) and protocol.record is not None
        return protocol.record

    async def _apply_fault(self, protocol: SMTP, stage: FaultStage, argument: str) -> str | None:
        assert isinstance(protocol, _RecordingSMTP)
        if stage == "MAIL":
            limit = self.server.drop_after
            if limit is not None and len(self.server.messages) >= limit:
                self._drop(protocol)
        return await protocol.fault_reply(stage, argument)

    @staticmethod
    def _drop(protocol: SMTP) -> NoReturn:
        assert protocol.transport is not None
        protocol.transport.close()
        # aiosmtpd closes its writer and ends the session on CancelledError.
        raise asyncio.CancelledError

    async def handle_MAIL(
        self,
        protocol: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        record = self._record(protocol)
        record.tls = record.tls or session.ssl is not None
        record.ehlo_name = session.host_name
        if self.server.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        faulted = await self._apply_fault(protocol, "MAIL", address)
        if faulted is not None:
            return faulted
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        protocol: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.server.refuse.get(address)
        if refusal is not None:
            code, text = refusal
            return f"{code} {text}"
        faulted = await self._apply_fault(protocol, "RCPT", address)
        if faulted is not None:
            return faulted
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, protocol: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.mail_from is not None and envelope.original_content is not None
        faulted = await self._apply_fault(protocol, "DATA", envelope.mail_from)
        if faulted is not None:
            return faulted
        record = self._record(protocol)
        queue_id = f"MC{len(self.server.messages) + 1:05d}"
        self.server.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content,
                mail_options=list(envelope.mail_options),
                session=record.number,
                queue_id=queue_id,
                received_at=time.monotonic(),
            )
        )
        record.messages += 1
        faulted = await self._apply_fault(protocol, "QUEUED", envelope.mail_from)
        if faulted is not None:
            return faulted
        return self.server.data_reply.format(queue_id=queue_id)


class RecordingSMTPServer(ServerContext):
    """An aiosmtpd server on ``127.0.0.1`` (free port) that records what it receives.

    - ``starttls``: a server :class:`ssl.SSLContext`; the server then offers STARTTLS
      (and requires it before MAIL when ``require_starttls``).
    - ``implicit_tls``: a server context; the server speaks TLS from the first byte.
    - ``credentials``: ``{username: password}``; AUTH is then required before MAIL
      (over STARTTLS when ``starttls`` is given, else on the connection as it is).
    - ``auth_mechanisms``: the mechanisms offered (default: LOGIN and PLAIN; CRAM-MD5
      too when named).
    - ``refuse``: ``{recipient: (code, text)}`` refused at RCPT TO.
    - ``drop_after``: close the connection at MAIL FROM once that many messages arrived.
    - ``fault``: a :data:`FaultHook` (see the module doc); ``stall_seconds``: how long
      :data:`STALL` keeps silent before closing the connection.
    - ``data_reply``: the final reply; ``{queue_id}`` is replaced by ``MC00001``, ...
    - ``pipelining``: offer PIPELINING; ``idle_close``: close a connection silent for
      that many seconds (as real servers do).
    """

    __test__ = False

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        starttls: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: Mapping[str, str] | None = None,
        auth_mechanisms: Collection[str] = ("LOGIN", "PLAIN"),
        refuse: Mapping[str, tuple[int, str]] | None = None,
        drop_after: int | None = None,
        fault: FaultHook | None = None,
        stall_seconds: float = 5.0,
        data_reply: str = "250 2.0.0 Ok: queued as {queue_id}",
        hostname: str = "mailcore-test.localhost",
        pipelining: bool = False,
        idle_close: float | None = None,
    ) -> None:
        self.pipelining = pipelining
        self.idle_close = idle_close
        #: Connections open now, and the most ever open at once.
        self.open_now = 0
        self.max_open = 0
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.credentials = dict(credentials or {})
        self.auth_mechanisms = {m.upper() for m in auth_mechanisms}
        self.refuse = dict(refuse or {})
        self.drop_after = drop_after
        self.fault = fault
        self.stall_seconds = stall_seconds
        self.data_reply = data_reply
        self.hostname = hostname
        #: Every message accepted, in order.
        self.messages: list[ReceivedMessage] = []
        #: Every connection, in order.
        self.sessions: list[SessionRecord] = []
        self._lock = threading.Lock()
        self._runner = BackgroundServer(self._protocol, host, port, ssl_context=implicit_tls)

    @property
    def host(self) -> str:
        return self._runner.host

    @property
    def port(self) -> int:
        return self._runner.port

    def backend_options(self, **extra: Any) -> dict[str, Any]:
        """``host`` and ``port`` of this server (plus ``extra``), for the SMTP backend."""
        return {"host": self.host, "port": self.port, **extra}

    def _new_session(self, peer: Any) -> SessionRecord:
        with self._lock:
            record = SessionRecord(number=len(self.sessions) + 1, peer=peer)
            self.sessions.append(record)
            self.open_now += 1
            self.max_open = max(self.max_open, self.open_now)
            return record

    def _session_closed(self) -> None:
        with self._lock:
            self.open_now -= 1

    def _authenticate(
        self,
        protocol: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        record = protocol.record if isinstance(protocol, _RecordingSMTP) else None
        if record is not None:
            record.auth_mechanisms.append(mechanism)
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if login in self.credentials and self.credentials[login] == password:
                if record is not None:
                    record.login = login
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def _protocol(self) -> SMTP:
        all_mechanisms = {"LOGIN", "PLAIN", "CRAM-MD5"}
        # aiosmtpd only sees STARTTLS as TLS: without it, AUTH must be allowed in the
        # clear (implicit TLS, or a plain loopback test) or it is never offered.
        auth_require_tls = not (self.credentials and self.starttls is None)
        return _RecordingSMTP(
            self,
            hostname=self.hostname,
            tls_context=self.starttls,
            require_starttls=self.require_starttls,
            authenticator=self._authenticate,
            auth_require_tls=auth_require_tls,
            auth_exclude_mechanism=all_mechanisms - self.auth_mechanisms,
            enable_SMTPUTF8=True,
            **({"timeout": self.idle_close} if self.idle_close else {}),
        )

    def start(self) -> Self:
        self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()


class LimitedSMTPServer(RecordingSMTPServer):
    """A :class:`RecordingSMTPServer` whose EHLO offers less than aiosmtpd's default.

    - ``eight_bit=False``: no 8BITMIME and no SMTPUTF8 in the EHLO reply, and the server
      is strict about it: ``BODY=8BITMIME`` at MAIL FROM gets ``555`` and content with
      an octet over 127 gets ``500 Error: strict ASCII mode`` (aiosmtpd offers 8BITMIME
      exactly when it does not decode the content, and decodes it as ASCII without
      SMTPUTF8).
    - ``size_limit``: the SIZE in the EHLO reply (aiosmtpd refuses a larger ``SIZE=`` at
      MAIL FROM with ``552`` and larger content with ``552``); ``None``: no SIZE.

    Other arguments as for :class:`RecordingSMTPServer`.
    """

    def __init__(
        self, *, eight_bit: bool = True, size_limit: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.eight_bit = eight_bit
        self.size_limit = size_limit

    def _protocol(self) -> SMTP:
        protocol = super()._protocol()
        if not self.eight_bit:
            protocol._decode_data = True
            protocol.enable_SMTPUTF8 = False
        protocol.data_size_limit = self.size_limit
        return protocol


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """A listener on 127.0.0.1 whose connections complete but never get a byte back.

    The kernel finishes the TCP handshake for queued connections, so a client connects
    and then waits for a greeting that never comes. Yields ``(host, port)``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield "127.0.0.1", listener.getsockname()[1]
