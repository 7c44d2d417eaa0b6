"""The native async SMTP connection: set up by aiosmtplib, then driven by our own reader.

:func:`open_link` lets :mod:`aiosmtplib` connect (implicit TLS with ``use_ssl``), read the
greeting, say EHLO, upgrade with STARTTLS (``use_tls``) and log in, each bounded by
``connect_timeout`` (:attr:`~mailcore_smtp.SMTPOptions.setup_timeout`), with the
backend's verifying :class:`ssl.SSLContext`. Every decision there
(what a greeting, EHLO, STARTTLS or login reply means, which error and ``stage``) is the
backend's, as for the sync connection; aiosmtplib's exceptions are turned into the
:mod:`smtplib` ones the backend's :meth:`~mailcore_smtp.SMTPBackend.translate` knows.

Then the transport is handed to :class:`_Replies`, our own protocol. aiosmtplib reads one
reply per command it wrote and drops what the server says while no command of its own
waits: it cannot read the replies of pipelined commands, and it has no way to write a
message's content in chunks as they are serialized. :class:`AsyncLink` therefore writes
the transaction's requests (:mod:`mailcore_smtp.exchange`) on the transport itself, with
flow control (each write of about 64 KiB waits until the transport drained, so a big
message takes bounded memory), and reads replies in order from :class:`_Replies`.

:func:`adrive` runs the very steps the sync client runs (:mod:`mailcore_smtp.transaction`,
:mod:`mailcore_smtp.pipelining`), so a reply or a lost connection means the same here.
A task cancelled while a transaction is on the wire closes the connection at once
(``transport.abort()``): a message whose final dot was not yet written is never
completed by the server, and the steps judge the break like any lost connection (not
accepted before the dot; ``outcome_unknown`` after it); :attr:`AsyncLink.cancelled` then
tells the sender to re-raise the cancellation once the results are set.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import smtplib
import time
import weakref
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol

from mailcore import adrive_steps
from mailcore_smtp.auth import Attempt, CannotLogIn, Refused, dialogue, login_attempts
from mailcore_smtp.errors import SMTPError, SMTPSecurityError, Stage
from mailcore_smtp.exchange import Cancelled, Content, Reply, Request, Send, Steps, well_formed
from mailcore_smtp.pool import LinkState
from mailcore_smtp.replies import malformed_line
from mailcore_smtp.transaction import Done
from mailcore_smtp.transmit import content_writes

if TYPE_CHECKING:
    from mailcore_smtp.backend import SMTPBackend
    from mailcore_smtp.transaction import Transaction

__all__ = ["AsyncLink", "adrive", "handoffs", "open_link"]

log = logging.getLogger("mailcore.smtp")

T = TypeVar("T")

#: Transactions whose call handed their connection on with their content still to send
#: (see :mod:`mailcore_smtp.aio`): the future their call awaits their end on.
handoffs: weakref.WeakKeyDictionary[Transaction, asyncio.Future[Done]] = weakref.WeakKeyDictionary()

#: smtplib's limit for one reply line.
_MAX_LINE = 8192


class _Replies(asyncio.Protocol):
    """Everything the server says, split into replies ``(code, text)`` as
    :meth:`smtplib.SMTP.getreply` gives them (``-1`` and the line for a reply that is
    none, as :class:`~mailcore_smtp.deadline.DeadlineSMTP` gives it), kept in order
    until read; and the transport's flow control for the writer."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the reply being read, whole
        self._replies: collections.deque[tuple[int, bytes]] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.lost: BaseException | None = None
        self._paused = False

    # -- reading ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > _MAX_LINE:
                    self._lose(smtplib.SMTPResponseException(500, "Line too long."))
                return
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if len(line) > _MAX_LINE:
                self._lose(smtplib.SMTPResponseException(500, "Line too long."))
                return
            try:
                code = int(line[:3])
            except ValueError:
                code = -1  # as smtplib: an unreadable code ends the reply
            self._lines.append(line)
            if code == -1 or line[3:4] != b"-":
                bad = malformed_line(self._lines)
                text = b"\n".join(whole[4:].strip(b" \t\r\n") for whole in self._lines)
                self._replies.append((-1, bad) if bad is not None else (code, text))
                self._lines = []
                self._wake()

    def eof_received(self) -> bool:
        self._lose(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        lost = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        if exc is not None:
            lost.__cause__ = exc
        self._lose(lost)
        self._paused = False
        self._release_writer()

    def _lose(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = exc
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def unasked(self) -> bool:
        """The server said something nobody asked for (or closed)."""
        return bool(self._replies or self._buffer or self._lines) or self.lost is not None

    async def reply(self, seconds: float) -> tuple[int, bytes]:
        """The next reply, all of it within ``seconds`` (else :class:`TimeoutError`)."""
        if self._replies:
            return self._replies.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._replies:
            if self.lost is not None:
                raise self.lost
            remaining = deadline - loop.time()
            if remaining <= 0:
                _timed_out("Connection unexpectedly closed: timed out")
            await self._sleep(loop, remaining)
        return self._replies.popleft()

    async def _sleep(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Wait for news (data, loss, drained) or ``seconds``. Not ``asyncio.wait_for``:
        in Python 3.11 it can swallow a cancellation that comes as the wait ends."""
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(seconds, self._wake)
        try:
            await waiter
        finally:
            timer.cancel()

    # -- writing ---------------------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._release_writer()

    def _release_writer(self) -> None:
        self._wake()

    async def drain(self, seconds: float) -> None:
        """Wait until the transport takes more (at most ``seconds``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if self.lost is not None:
                raise self.lost
            if not self._paused:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                _timed_out("Server not connected")
            await self._sleep(loop, remaining)


def _timed_out(text: str) -> NoReturn:
    raise _disconnected_by_timeout(text)


def _disconnected_by_timeout(text: str) -> smtplib.SMTPServerDisconnected:
    """What :mod:`smtplib` raises when its socket times out while reading or writing: a
    disconnection whose context is the :class:`TimeoutError` (so both paths' errors,
    and their causes, are alike)."""
    exc = smtplib.SMTPServerDisconnected(text)
    exc.__context__ = TimeoutError("timed out")
    return exc


class _CheckedProtocol(SMTPProtocol):
    """aiosmtplib's reader, judging each reply by :func:`~mailcore_smtp.replies.malformed_line`
    first (as the sync client's reader does): a reply with a line that is no SMTP reply
    line (no code 2xx to 5xx, or another code than the lines before it) raises
    :class:`aiosmtplib.SMTPResponseException` ``-1`` quoting that line, as aiosmtplib
    does for a line without a code (so :func:`_reply_of` gives the line)."""

    def _read_response_from_buffer(self) -> aiosmtplib.SMTPResponse | None:
        lines = []
        for line in bytes(self._buffer).splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            lines.append(line)
            if line[3:4] != b"-":
                break
        bad = malformed_line(lines)
        if bad is not None:
            del self._buffer[:]
            text = bad.decode("utf-8", "replace")
            raise aiosmtplib.SMTPResponseException(-1, f"Malformed SMTP response line: {text}")
        return super()._read_response_from_buffer()


class _CheckingLoop:
    """The running loop, whose ``create_connection`` makes aiosmtplib's protocol a
    :class:`_CheckedProtocol` (aiosmtplib builds its protocol itself: this is its one
    way in)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def create_connection(self, factory: Any, *args: Any, **kwargs: Any) -> Any:
        def checked() -> Any:
            protocol = factory()
            if type(protocol) is SMTPProtocol:
                protocol.__class__ = _CheckedProtocol
            return protocol

        return self._loop.create_connection(checked, *args, **kwargs)


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, reading replies with :class:`_CheckedProtocol`, and closing
    at once: its ``close()`` closes a TLS transport gracefully, waiting for the server's
    close_notify, which a stalled server never sends (the socket would outlive the
    event loop)."""

    async def _create_connection(self, timeout: float | None) -> aiosmtplib.SMTPResponse:
        loop = self.loop
        assert loop is not None
        self.loop = cast("asyncio.AbstractEventLoop", _CheckingLoop(loop))
        try:
            return await super()._create_connection(timeout)
        finally:
            self.loop = loop

    def close(self) -> None:
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
        super().close()


class _Capabilities:
    """What the connection's EHLO said, as a :class:`~mailcore_smtp.transaction.Capabilities`."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.does_esmtp = bool(client.supports_esmtp)
        self.esmtp_features = dict(client.esmtp_extensions)

    def has_extn(self, opt: str) -> bool:
        return opt.lower() in self.esmtp_features


class AsyncLink(LinkState):
    """One async pooled connection: the transport, its reader and the bookkeeping of
    every pooled connection (``pending``, ``transactions``, ``reused``...)."""

    def __init__(
        self, transport: asyncio.Transport, capabilities: _Capabilities, pipelining: bool
    ) -> None:
        super().__init__(pipelining)
        self.transport = transport
        self.replies = _Replies()
        transport.set_protocol(self.replies)
        self.smtp = capabilities
        #: Set when the sending task was cancelled in the middle of a transaction.
        self.cancelled = False

    def looks_closed(self) -> bool:
        """True when the server closed it or spoke unasked (a 421 before closing)."""
        return not self.alive or self.transport.is_closing() or self.replies.unasked

    def discard(self) -> None:
        """Close at once, without a word, dropping what was not yet written (after a
        failure, or to abandon a DATA whose final dot was not sent)."""
        self.alive = False
        pending, self.pending = self.pending, None
        try:
            self.transport.abort()
        except RuntimeError:  # its event loop is closed: close the socket here
            _close_socket(self.transport)
        waiting = handoffs.pop(pending, None) if pending is not None else None
        if waiting is not None and not waiting.done():
            # another call's message, its final dot never sent: not accepted
            lost = smtplib.SMTPServerDisconnected("Connection closed before the final dot")
            assert pending is not None
            waiting.set_result(Done(pending, error=pending.backend.translate(lost, "data")))

    async def quit(self, seconds: float) -> None:
        """Say QUIT and close; errors while quitting are ignored (inside DATA: only close)."""
        if self.alive and self.pending is None and not self.transport.is_closing():
            try:
                self.transport.write(b"QUIT\r\n")
                await self.replies.reply(seconds)
            except (OSError, smtplib.SMTPException) as exc:
                log.debug("QUIT failed (ignored): %s", exc)
        self.discard()  # abort: a TLS close would wait for the server's close_notify


def _close_socket(transport: asyncio.Transport) -> None:
    """Close the socket of a transport whose event loop is closed (``abort()`` cannot
    schedule it): asyncio's own last step of a closing transport, run here."""
    inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
    lost = getattr(inner, "_call_connection_lost", None)
    if lost is not None and getattr(inner, "_sock", None) is not None:
        # closes the socket, then tells the protocols (a TLS layer's news would be
        # scheduled on the closed loop: RuntimeError)
        with contextlib.suppress(RuntimeError):
            lost(None)


async def adrive(steps: Steps[T], link: AsyncLink, timeout: float) -> T:
    """:func:`mailcore_smtp.exchange.drive` on an :class:`AsyncLink`
    (:func:`mailcore.adrive_steps`): the same steps, their requests done on the transport
    (``timeout`` for a reply or a blocked write)."""
    replies = link.replies

    async def act(request: Request) -> Any:
        if link.cancelled:
            raise Cancelled
        try:
            if isinstance(request, Reply):
                seconds = timeout if request.seconds is None else request.seconds
                return well_formed(await replies.reply(seconds), request)
            if isinstance(request, Send):
                _write(link, request.data)
                return await replies.drain(timeout)
            if isinstance(request, Content):
                writes = content_writes(request.chunks, trailer=request.trailer)
                data = next(writes)
                for following in writes:
                    _write(link, data)
                    await replies.drain(timeout)
                    data = following
                # the last write, with the final dot: from here a break means the
                # outcome is unknown, judged when its reply is missing
                return _write(link, data)
            start = request.limiter.wait(sleep=lambda _: None)  # claims the start
            delay = start - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            return None
        except asyncio.CancelledError:
            # no half message may stay on a connection: close it now; the steps judge
            # the break, and the sender re-raises the cancellation
            link.discard()
            link.cancelled = True
            raise Cancelled from None

    return await adrive_steps(steps, act)


def _write(link: AsyncLink, data: bytes) -> None:
    if link.replies.lost is not None:
        raise link.replies.lost
    if link.transport.is_closing():
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    link.transport.write(data)


def _as_smtplib(exc: BaseException) -> tuple[BaseException, bool]:
    """``exc`` as :mod:`smtplib` (or the socket) would have raised it, for
    :meth:`SMTPBackend.translate`; and whether it broke the greeting (connected, then no
    complete greeting) rather than the connection itself."""
    if isinstance(exc, aiosmtplib.SMTPReadTimeoutError) or (
        isinstance(exc, aiosmtplib.SMTPConnectTimeoutError)
        and isinstance(exc.__cause__, aiosmtplib.SMTPReadTimeoutError)
    ):  # no (complete) reply in time
        greeting = isinstance(exc, aiosmtplib.SMTPConnectTimeoutError)
        return _disconnected_by_timeout("Connection unexpectedly closed: timed out"), greeting
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):  # connecting, or a TLS handshake
        return TimeoutError("timed out"), False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return smtplib.SMTPResponseException(exc.code, _reply_of(exc)), False
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        cause = exc.__cause__
        if isinstance(cause, OSError) and not isinstance(cause, aiosmtplib.SMTPException):
            return cause, False
        return smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False
    if isinstance(exc, aiosmtplib.SMTPException):
        return smtplib.SMTPException(str(exc)), False
    return exc, False


def _reply_of(exc: aiosmtplib.SMTPResponseException) -> str:
    """The server's reply text; for a line that is no SMTP reply, the line itself."""
    return exc.message.removeprefix("Malformed SMTP response line: ")


async def open_link(backend: SMTPBackend, local_hostname: str) -> AsyncLink:
    """A new connection set up as :meth:`SMTPBackend.connect_link` sets one up (see the
    module doc); any failure closes it and raises the sync path's :class:`SMTPError`."""
    options = backend.options
    encrypted = options.use_tls or options.use_ssl
    # loading the trust store reads files: not on the event loop
    context = await asyncio.to_thread(backend.ssl_context) if encrypted else None
    client = _Client(
        hostname=options.host,
        port=options.port,
        local_hostname=local_hostname,
        timeout=options.setup_timeout,
        use_tls=options.use_ssl,
        start_tls=False,
        tls_context=context,
    )
    stage: Stage = "connect"
    try:
        try:
            await client.connect()
        except aiosmtplib.SMTPResponseException as exc:  # not 220, or no SMTP reply
            backend.judge_greeting(exc.code, _reply_of(exc))
            raise
        stage = "ehlo"
        await _ehlo(backend, client)
        if options.use_tls:
            stage = "starttls"
            backend.require_starttls(client.supports_extension("starttls"))
            try:
                await client.starttls(server_hostname=options.host, tls_context=context)
            except aiosmtplib.SMTPResponseException as exc:
                backend.fail_reply(
                    SMTPSecurityError, "starttls", exc.code, _reply_of(exc), "refused STARTTLS"
                )
            stage = "ehlo"
            await _ehlo(backend, client)
        if options.username is not None:
            stage = "auth"
            await _login(backend, client)
        transport = client.transport
        if not isinstance(transport, asyncio.Transport) or transport.is_closing():
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        # what the server said after its last reply, unasked (aiosmtplib keeps it unread)
        unread = bytes(getattr(client.protocol, "_buffer", b""))
    except BaseException as exc:
        client.close()
        if isinstance(exc, SMTPError):
            raise
        low, greeting = _as_smtplib(exc)
        if stage == "connect" and greeting:
            stage = "greeting"  # connected, then no (or no complete) greeting
        if isinstance(low, (OSError, smtplib.SMTPException)):
            raise backend.translate(low, stage) from low
        raise
    capabilities = _Capabilities(client)
    link = AsyncLink(
        transport, capabilities, options.pipelining and capabilities.has_extn("pipelining")
    )
    if unread:  # read by the transaction's steps as the sync client reads it
        link.replies.data_received(unread)
    log.debug("connected to %s (%s)", backend.address, "TLS" if encrypted else "plain text")
    return link


async def _ehlo(backend: SMTPBackend, client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPResponseException as exc:  # refused, or no SMTP reply
        if backend.judge_ehlo(exc.code, _reply_of(exc)):
            return
        try:
            await client.helo()
        except aiosmtplib.SMTPResponseException as refused:
            backend.judge_helo(refused.code, _reply_of(refused))


async def _login(backend: SMTPBackend, client: aiosmtplib.SMTP) -> None:
    """Log in as the sync client does (:meth:`SMTPBackend._login`): the attempts of
    :func:`~mailcore_smtp.auth.login_attempts`, a refusal judged by
    :meth:`SMTPBackend.login_retry` (a fresh token once, or the error)."""
    options = backend.options
    username = options.username
    assert username is not None
    backend.require_auth(client.supports_extension("auth"), username)
    attempts = login_attempts(options)
    try:
        attempt = next(attempts)
        while True:
            try:
                await _authenticate(client, attempt)
                return
            except Refused as exc:
                attempt = backend.login_retry(attempts, attempt, exc.code, exc.reply)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, SMTPError):
        raise
    except (CannotLogIn, aiosmtplib.SMTPException) as exc:
        raise backend.login_impossible(exc, username) from exc


async def _authenticate(client: aiosmtplib.SMTP, attempt: Attempt) -> None:
    """One login: the lines of :func:`~mailcore_smtp.auth.dialogue`, each answered (as
    the sync client does it)."""
    lines = dialogue(attempt, client.server_auth_methods)
    line = next(lines)
    while True:
        try:
            response = await client.execute_command(line.encode("ascii"))
            answer = (response.code, response.message)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code != -1:
                raise
            answer = (-1, _reply_of(exc))  # no SMTP reply: judged as the sync client does
        try:
            line = lines.send(answer)
        except StopIteration:
            return
