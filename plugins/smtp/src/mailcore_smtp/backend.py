"""The SMTP backend: sends messages to an SMTP server with :mod:`smtplib`.

This module sets connections up and glues the parts together. A connection (made by
:meth:`SMTPBackend.connect_link`) connects, says EHLO, upgrades with STARTTLS when
``use_tls`` (refusing to go on if the server does not offer it) and logs in; any failure
there closes the socket, so no half-open connection is ever reused. Connections come
from a process-wide pool (:mod:`mailcore_smtp.pool`); a batch is sent by
:mod:`mailcore_smtp.sending`, each message as a :class:`~mailcore_smtp.transaction.Transaction`
(MAIL FROM / RCPT TO / DATA, with PIPELINING through :mod:`mailcore_smtp.pipelining`
when offered), so that refused recipients and the queue id of the final reply are
reported on ``message.result``. A server whose EHLO lacks 8BITMIME gets the message in
7 bits (``allow_8bit=False``); one whose EHLO gives a SIZE limit never gets a message
larger than that.

Every wait for the server is bounded: ``connect_timeout`` (by default ``timeout``) for
each step of setting a connection up (connecting, the TLS handshake, the greeting, EHLO,
STARTTLS, AUTH), ``timeout`` for each reply after that, ``data_timeout`` for the reply to
a message's content (:meth:`~mailcore_smtp.SMTPOptions.timeout_at`); each bounds the
whole reply, not each byte (:mod:`mailcore_smtp.deadline`).

With ``retries`` set, a temporary failure (see :mod:`mailcore_smtp.retrying`) of the
connection or of one message is tried again after a growing pause, reconnecting when the
connection was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import smtplib
import socket
import ssl
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from mailcore import (
    BaseEmailBackend,
    ConfigurationError,
)
from mailcore_smtp.auth import (
    Attempt,
    CannotLogIn,
    Refused,
    dialogue,
    login_attempts,
    retry_after,
)
from mailcore_smtp.deadline import DeadlineSMTP, handshake
from mailcore_smtp.envelope import check_envelope
from mailcore_smtp.errors import (
    MESSAGE_STAGES,
    SMTPAuthError,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPError,
    SMTPMessageTooBigError,
    SMTPReplyError,
    SMTPSecurityError,
    Stage,
)
from mailcore_smtp.exchange import Cancelled, OutOfStep
from mailcore_smtp.held import ThreadSession
from mailcore_smtp.options import SMTP_URL_SCHEMES, SMTPOptions
from mailcore_smtp.pool import Link, pool_for
from mailcore_smtp.retrying import is_retryable, retry_delay
from mailcore_smtp.sending import Lease

if TYPE_CHECKING:
    from mailcore import EmailMessage, SerializedMessage

__all__ = ["SMTPBackend"]

log = logging.getLogger("mailcore.smtp")

_STAGE_TEXT: dict[Stage, str] = {
    "connect": "while connecting",
    "greeting": "while waiting for its greeting",
    "ehlo": "at EHLO",
    "starttls": "during STARTTLS",
    "auth": "during login",
    "mail": "at MAIL FROM",
    "rcpt": "at RCPT TO",
    "data": "at DATA",
    "message": "after the message content was sent",
}


def _no_delay(sock: socket.socket) -> socket.socket:
    """``sock`` with Nagle's algorithm off (``TCP_NODELAY``), as asyncio's transports (the
    async client) have it: the client writes each pipelined turn whole, and the tail of a
    write longer than a segment (the next MAIL FROM, RCPT TO and DATA behind a message's
    content) must not wait for the server to acknowledge the segments before it, which a
    delayed acknowledgement can hold back by up to 40 ms."""
    with contextlib.suppress(OSError):  # not a TCP socket: nothing to turn off
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _SMTP(DeadlineSMTP):
    """smtplib.SMTP whose connect() also sets the name TLS verifies (the constructor
    does that only when given the host, and then connects before we can clean up), and
    whose every reply must arrive whole within its ``timeout`` (:mod:`mailcore_smtp.deadline`).
    ``connected``, if set, is called once the TCP connection is made, before the greeting."""

    connected: Callable[[], None] | None = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = _no_delay(super()._get_socket(host, port, timeout))  # type: ignore[misc]
        if self.connected is not None:
            self.connected()
        return sock

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


class _SMTP_SSL(smtplib.SMTP_SSL, DeadlineSMTP):
    """smtplib.SMTP_SSL with the same connect() and reply deadline as :class:`_SMTP`,
    and the TLS handshake within its ``timeout`` too (then ``connected`` is called)."""

    connected: Callable[[], None] | None = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        plain = _no_delay(smtplib.SMTP._get_socket(self, host, port, timeout))  # type: ignore[attr-defined]
        sock = handshake(self.context, plain, self._host, timeout)
        if self.connected is not None:
            self.connected()
        return sock

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


@functools.cache
def _default_local_hostname() -> str:
    """This machine's fully qualified name, looked up once (``smtplib`` would ask every time)."""
    return socket.getfqdn()


def _is_timeout(exc: BaseException) -> bool:
    # smtplib turns a socket timeout into SMTPServerDisconnected("...: timed out").
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


class SMTPBackend(BaseEmailBackend):
    """Sends messages through an SMTP server (see :class:`~mailcore_smtp.SMTPOptions`).

    ``self.connection`` is the :class:`smtplib.SMTP` object while a connection is open,
    else ``None``. After a send each message's ``result`` tells whether the server took
    it, its queue id (``message_id``) and the recipients it refused (``refused``).
    """

    name = "smtp"
    options_model = SMTPOptions
    url_schemes = SMTP_URL_SCHEMES
    options: SMTPOptions

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        #: Between open() and close(): the instance's own connection (held.py).
        self._session: ThreadSession | None = None
        #: Gives the session's connection back if the instance is collected while open.
        self._collected: weakref.finalize[Any, Any] | None = None
        #: An open() is taking a connection (others wait for it, not for the pool).
        self._opening = False
        #: Guards the two above; never held while waiting for the pool.
        self._lock = threading.Condition(threading.RLock())
        self.pool = pool_for(self.options)

    # -- connection ---------------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` of the server, as errors show it."""
        host = self.options.host
        return f"[{host}]:{self.options.port}" if ":" in host else f"{host}:{self.options.port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context: the system trust store (``SSL_CERT_FILE`` honoured)
        and the client certificate from ``ssl_certfile``/``ssl_keyfile``, if set."""
        context = ssl.create_default_context()
        certfile = self.options.ssl_certfile
        if certfile is not None:
            keyfile = self.options.ssl_keyfile
            try:
                context.load_cert_chain(certfile, keyfile)
            except (OSError, ssl.SSLError) as exc:
                files = f"{certfile}" + (f" / {keyfile}" if keyfile else "")
                reason = str(exc) if isinstance(exc, ssl.SSLError) else exc.strerror or str(exc)
                raise ConfigurationError(
                    f"smtp: cannot load the client certificate ssl_certfile/ssl_keyfile "
                    f"({files}): {reason}"
                ) from exc
        return context

    def open(self) -> bool:
        """Connect (TLS, login) unless a connection is open; True only if this call opened one.

        A temporary failure is tried again up to ``retries`` times. With
        ``fail_silently`` a transport failure returns False instead of raising.
        """
        return self.open_quietly(self._connect_unless_open)

    def _connect_unless_open(self) -> bool:
        with self._lock:
            self._lock.wait_for(lambda: not self._opening)
            if self._session is not None:
                return False
            self._opening = True
        try:
            session = ThreadSession(self.pool, self._lock)
            self.pool.hold()
            try:
                session.link = self.pool.acquire(self.connect_link_retrying)
            except BaseException:
                self.pool.unhold()
                raise
            with self._lock:
                self._session = session
                # collected while open (no close()): the pool gets the connection back
                self._collected = weakref.finalize(self, session.collected)
                self._collected.atexit = False
            return True
        finally:
            with self._lock:
                self._opening = False
                self._lock.notify_all()

    def close(self) -> None:
        """Give back the connection :meth:`open` took and stop using the pool.

        When no other instance or thread uses the same pool, that closes every
        connection of it (QUIT; errors while quitting are ignored, the messages were
        already accepted or reported); connections other users are sending on are never
        cut. Safe to call twice, and from another thread while a batch is being sent on
        this instance: close() does not wait for that batch; it goes on, and gives the
        connection back to the pool when it ends (:mod:`mailcore_smtp.held`).
        """
        with self._lock:
            session, self._session = self._session, None
            collected, self._collected = self._collected, None
        if collected is not None:
            collected.detach()
        if session is not None:
            session.close()

    def wait_before_retry(self, retry: int, error: SMTPError) -> None:
        time.sleep(self.retry_pause(retry, error))

    def retry_pause(self, retry: int, error: SMTPError) -> float:
        """The pause before retry number ``retry`` after ``error`` (logged)."""
        delay = retry_delay(retry, self.options.retry_backoff)
        log.info(
            "%s; trying again in %.3g s (retry %d of %d)", error, delay, retry, self.options.retries
        )
        return delay

    def _connect(self, connected: Callable[[], None] | None = None) -> smtplib.SMTP:
        options = self.options
        encrypted = options.use_tls or options.use_ssl
        context = self.ssl_context() if encrypted else None
        kwargs: dict[str, Any] = {
            "local_hostname": options.local_hostname or _default_local_hostname(),
            "timeout": options.setup_timeout,
        }
        connection = _SMTP_SSL(context=context, **kwargs) if options.use_ssl else _SMTP(**kwargs)
        connection.connected = connected
        stage: Stage = "connect"
        try:
            self.judge_greeting(*connection.connect(options.host, options.port))
            stage = "ehlo"
            self._ehlo(connection)
            if options.use_tls:
                stage = "starttls"
                self._starttls(connection, context)
                stage = "ehlo"
                self._ehlo(connection)
            if options.username is not None:
                stage = "auth"
                self._login(connection)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, SMTPError):
                raise
            if stage == "connect" and isinstance(exc, smtplib.SMTPServerDisconnected):
                stage = "greeting"  # connected, then no (or no complete) greeting
            if isinstance(exc, (OSError, smtplib.SMTPException)):
                raise self.translate(exc, stage) from exc
            raise
        # set up: from here each reply (and each send) waits ``timeout``
        connection.timeout = options.timeout
        if connection.sock is not None:
            connection.sock.settimeout(options.timeout)
        log.debug("connected to %s (%s)", self.address, "TLS" if encrypted else "plain text")
        return connection

    def _ehlo(self, connection: smtplib.SMTP) -> None:
        if not self.judge_ehlo(*connection.ehlo()):
            self.judge_helo(*connection.helo())

    def judge_greeting(self, code: int, reply: bytes | str) -> None:
        """Raise unless the greeting was ``220`` (a refusal, or a line that is no SMTP reply)."""
        if code != 220:
            self.fail_reply(SMTPConnectionError, "greeting", code, reply, "refused to talk")

    def judge_ehlo(self, code: int, reply: bytes | str) -> bool:
        """Whether EHLO was accepted; False: try HELO (an old server). Raises for a
        temporary refusal."""
        if 200 <= code < 300:
            return True
        if code < 500:  # a temporary refusal, not an old server without EHLO
            self.fail_reply(SMTPConnectionError, "ehlo", code, reply, "refused EHLO")
        return False

    def judge_helo(self, code: int, reply: bytes | str) -> None:
        """Raise unless HELO (after a refused EHLO) was accepted."""
        if not 200 <= code < 300:
            self.fail_reply(SMTPConnectionError, "ehlo", code, reply, "refused EHLO and HELO")

    def require_starttls(self, offered: bool) -> None:
        """With ``use_tls``: refuse to go on when the server does not offer STARTTLS."""
        if not offered:
            raise SMTPSecurityError(
                f"SMTP server {self.address} does not offer STARTTLS, and use_tls is set: "
                "not continuing without encryption",
                host=self.options.host,
                port=self.options.port,
                stage="starttls",
            )

    def require_auth(self, offered: bool, username: str) -> None:
        """With a login: refuse to go on when the server does not offer AUTH."""
        if not offered:
            raise SMTPAuthError(
                f"SMTP server {self.address} does not offer AUTH, so user {username!r} "
                "cannot log in (unset username/password, or use the submission port "
                "with use_tls)",
                host=self.options.host,
                port=self.options.port,
                stage="auth",
            )

    def login_impossible(self, exc: Exception, username: str) -> SMTPAuthError:
        """The :class:`SMTPAuthError` of a login that could not be tried (no common method)."""
        return SMTPAuthError(
            f"SMTP server {self.address}: cannot log in as {username!r}: {exc}",
            host=self.options.host,
            port=self.options.port,
            stage="auth",
        )

    def _starttls(self, connection: smtplib.SMTP, context: ssl.SSLContext | None) -> None:
        self.require_starttls(connection.has_extn("starttls"))
        code, reply = connection.docmd("STARTTLS")
        if code != 220:
            self.fail_reply(SMTPSecurityError, "starttls", code, reply, "refused STARTTLS")
        # smtplib's starttls() without its unbounded handshake (see mailcore_smtp.deadline)
        assert connection.sock is not None
        connection.sock = handshake(
            context or ssl.create_default_context(),
            connection.sock,
            self.options.host,
            self.options.setup_timeout,
        )
        connection.file = None
        connection.helo_resp = connection.ehlo_resp = None
        connection.esmtp_features = {}
        connection.does_esmtp = False

    def _login(self, connection: smtplib.SMTP) -> None:
        """Log in as :func:`mailcore_smtp.auth.login_attempts` says: with a token
        provider, a refused token is replaced by a fresh one once."""
        username = self.options.username
        assert username is not None
        self.require_auth(connection.has_extn("auth"), username)
        attempts = login_attempts(self.options)
        try:
            attempt = next(attempts)
            while True:
                try:
                    self._authenticate(connection, attempt)
                    return
                except Refused as exc:
                    attempt = self.login_retry(attempts, attempt, exc.code, exc.reply)
        except (CannotLogIn, smtplib.SMTPException) as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected | SMTPError):
                raise
            raise self.login_impossible(exc, username) from exc

    @staticmethod
    def _authenticate(connection: smtplib.SMTP, attempt: Attempt) -> None:
        """One login: the lines of :func:`~mailcore_smtp.auth.dialogue`, each answered."""
        lines = dialogue(attempt, connection.esmtp_features.get("auth", "").split())
        line = next(lines)
        while True:
            try:
                line = lines.send(connection.docmd(line))
            except StopIteration:
                return

    def login_retry(
        self, attempts: Iterator[Attempt], attempt: Attempt, code: int, reply: bytes | str
    ) -> Attempt:
        """The login to try after the server refused ``attempt`` with ``code``: one with
        a fresh token when :func:`~mailcore_smtp.auth.retry_after` says so and
        ``attempts`` has one (asking calls the token provider); else raises the
        refusal's :class:`SMTPAuthError`."""
        following = next(attempts, None) if retry_after(attempt, code) else None
        if following is None:
            how = f"{attempt.mechanism} login" if attempt.mechanism else "login"
            again = " (and a fresh token from oauth_token_provider too)" if attempt.retried else ""
            self.fail_reply(
                SMTPAuthError,
                "auth",
                code,
                reply,
                f"refused the {how} of user {attempt.username!r}{again}",
            )
        log.info(
            "%s refused the %s token of %r (%d); trying a fresh one",
            self.address,
            attempt.mechanism,
            attempt.username,
            code,
        )
        return following

    def fail_reply(
        self,
        error_class: type[SMTPError] | None,
        stage: Stage,
        code: int,
        reply: bytes | str,
        what: str,
    ) -> NoReturn:
        """Raise ``error_class`` (:class:`SMTPReplyError` when ``None``) for a reply.

        Code ``-1`` is a line that is no SMTP reply (:func:`~mailcore_smtp.replies.malformed_line`),
        quoted whole: at the greeting the server does not speak SMTP (a permanent
        :class:`SMTPConnectionError`); later in the set-up client and server are out of
        step (:class:`~mailcore_smtp.exchange.OutOfStep`, as in a transaction)."""
        if code == -1 and stage != "greeting":
            line = reply if isinstance(reply, bytes) else reply.encode()
            raise self.translate(OutOfStep(line), stage)
        text = _reply_text(reply)
        said = f"no SMTP reply: {text!r}" if code == -1 else f"{code} {text}".rstrip()
        raise (error_class or SMTPReplyError)(
            f"SMTP server {self.address} {what} {_STAGE_TEXT[stage]}: {said}",
            host=self.options.host,
            port=self.options.port,
            stage=stage,
            smtp_code=code,
            smtp_reply=text,
        )

    def translate(self, exc: BaseException, stage: Stage) -> SMTPError:
        """An :class:`SMTPError` describing a low-level failure at ``stage``."""
        where = _STAGE_TEXT[stage]
        address = self.address
        common: dict[str, Any] = {
            "host": self.options.host,
            "port": self.options.port,
            "stage": stage,
        }
        if isinstance(exc, ssl.SSLCertVerificationError):
            return SMTPSecurityError(
                f"SMTP server {address}: TLS certificate verification failed: "
                f"{exc.verify_message or exc.reason} (to trust a private CA, point "
                "SSL_CERT_FILE at its certificate)",
                **common,
            )
        if isinstance(exc, ssl.SSLError):
            hint = ""
            if exc.reason == "WRONG_VERSION_NUMBER" and self.options.use_ssl:
                hint = (
                    " (the server does not speak TLS from the start on this port: use_ssl is "
                    "for implicit TLS, usually port 465; for STARTTLS, usually port 587, "
                    "set use_tls instead)"
                )
            return SMTPSecurityError(
                f"SMTP server {address}: TLS failed {where}: {exc.reason or exc}{hint}", **common
            )
        if _is_timeout(exc):
            hint = ""
            if stage == "greeting" and self.options.port == 465 and not self.options.use_ssl:
                hint = "; port 465 usually expects implicit TLS (use_ssl=True)"
            option, seconds = self.options.timeout_at(stage)
            return SMTPConnectionError(
                f"SMTP server {address} did not answer within {seconds:g} s "
                f"{where} ({option}){hint}",
                **common,
            )
        if isinstance(exc, Cancelled):
            return SMTPConnectionError(
                f"SMTP server {address}: the sending task was cancelled {where} (the "
                "connection was closed at once)",
                **common,
            )
        if isinstance(exc, OutOfStep):
            return SMTPConnectionError(
                f"SMTP server {address} sent {exc.what} {where}: {exc.line!r} (client "
                "and server are out of step: the connection was closed)",
                smtp_reply=exc.line,
                **common,
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return SMTPConnectionError(
                f"SMTP server {address} closed the connection {where}", **common
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return SMTPReplyError(
                f"SMTP server {address} answered {where}: {exc.smtp_code} "
                f"{_reply_text(exc.smtp_error)}",
                smtp_code=exc.smtp_code,
                smtp_reply=_reply_text(exc.smtp_error),
                **common,
            )
        if isinstance(exc, socket.gaierror):
            return SMTPConnectionError(
                f"cannot resolve SMTP server host {self.options.host!r}: {exc.strerror}",
                **common,
            )
        if isinstance(exc, ConnectionRefusedError):
            return SMTPConnectionError(
                f"cannot connect to SMTP server {address}: connection refused "
                "(is a server listening on that port?)",
                **common,
            )
        if isinstance(exc, OSError) and stage == "connect":
            return SMTPConnectionError(
                f"cannot connect to SMTP server {address}: {exc.strerror or exc}", **common
            )
        if isinstance(exc, OSError):
            return SMTPConnectionError(
                f"SMTP server {address}: connection lost {where}: {exc.strerror or exc}",
                **common,
            )
        return SMTPError(f"SMTP server {address}: {exc} {where}", **common)

    # -- sending ------------------------------------------------------------------

    @property
    def session(self) -> ThreadSession | None:
        """The instance's own connection between :meth:`open` and :meth:`close`."""
        return self._session

    @property
    def held_link(self) -> Link | None:
        """The pooled connection :meth:`open` took for this instance, if any."""
        session = self._session
        return None if session is None else session.link

    @property
    def connection(self) -> smtplib.SMTP | None:
        """The :class:`smtplib.SMTP` object of the connection :meth:`open` took, if any."""
        link = self.held_link
        return None if link is None else link.smtp

    def connect_link(self, connected: Callable[[], None] | None = None) -> Link:
        """A new connection (:meth:`_connect`) as a pool :class:`Link`; ``connected`` is
        called once its TCP (and implicit TLS) connection is made, before the greeting."""
        smtp = self._connect(connected)
        return Link(smtp, self.options.pipelining and smtp.has_extn("pipelining"))

    def connect_link_retrying(self, connected: Callable[[], None] | None = None) -> Link:
        """:meth:`connect_link`, tried again up to ``retries`` times after a temporary failure."""
        retry = 0
        while True:
            try:
                return self.connect_link(connected)
            except SMTPError as exc:
                if not self.may_retry_connect(retry, exc):
                    raise
                retry += 1
                self.wait_before_retry(retry, exc)

    def may_retry_connect(self, retries_made: int, error: SMTPError) -> bool:
        """Whether a failed connection attempt is tried again (``retries``, temporary)."""
        return retries_made < self.options.retries and is_retryable(error)

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages``; return how many the server accepted.

        Uses this instance's connection when :meth:`open` made one, else one from the
        pool (see :mod:`mailcore_smtp.pool`), and with ``max_connections`` above 1 up to
        that many at once. Each message's ``result`` is set. A message refused for some
        recipients still goes to the others (``result.refused``); refused for all, it
        raises :class:`~mailcore_smtp.SMTPRecipientsRefusedError`. A lost connection
        raises :class:`~mailcore_smtp.SMTPConnectionError` whose ``sent`` counts the
        messages accepted. ``fail_silently`` turns these into failed results. With
        ``retries``, temporary failures are tried again first. Safe to call from many
        threads at once.
        """
        batch = list(messages)
        lease = Lease(self, len(batch))
        try:
            return self.deliver_batch(batch, lease.start, lease.run)
        finally:
            lease.end()

    def batch_goes_on(self, error: SMTPError, connection_alive: bool) -> bool:
        """After a failed message, whether to go on with the next one.

        Only with ``fail_silently``, and only when a connection is left to go on with,
        or may be made again: after a refusal (the backend closed the connection itself,
        as after a ``354`` to a message whose every recipient was refused), or with
        ``retries`` after a lost one; never when connecting itself failed.
        """
        if not self.fail_silently or error.stage not in MESSAGE_STAGES:
            return False
        lost = isinstance(error, SMTPConnectionError)
        return connection_alive or not lost or self.options.retries > 0

    def batch_stopped_error(self, cause: BaseException) -> SMTPBatchStoppedError:
        """The error of a message not attempted: an :class:`SMTPBatchStoppedError`."""
        return SMTPBatchStoppedError.after(cause, host=self.options.host, port=self.options.port)

    def message_chunks(self, message: EmailMessage, allow_8bit: bool = True) -> SerializedMessage:
        """The serialized message as CRLF chunks, streamed to the server (its ``len()`` and
        ``isascii()`` give SIZE and BODY=8BITMIME); 7-bit unless ``allow_8bit`` (for a
        server without 8BITMIME). A Message-ID generated for it uses ``local_hostname``
        as its domain when that is set."""
        return message.iter_serialized(
            "\r\n", msgid_domain=self.options.local_hostname or None, allow_8bit=allow_8bit
        )

    def too_big(
        self, size: int, limit: int | None, stage: Stage, code: int | None, reply: bytes
    ) -> SMTPMessageTooBigError:
        """The error for a message of ``size`` octets too big for the server: found from
        its SIZE ``limit`` before MAIL FROM (``code`` ``None``), or its refusal at ``stage``."""
        server_takes = (
            f"the server takes at most {limit:,}"
            if limit is not None
            else "the server did not say its limit"
        )
        text = _reply_text(reply)
        if code is None:
            what = f"SMTP server {self.address}: the message is too big for the server"
        else:
            what = (
                f"SMTP server {self.address} refused the message as too big for it "
                f"{_STAGE_TEXT[stage]}: {code} {text}".rstrip()
            )
        return SMTPMessageTooBigError(
            f"{what} (the message is {size:,} bytes, {server_takes})",
            message_size=size,
            server_limit=limit,
            host=self.options.host,
            port=self.options.port,
            stage=stage,
            smtp_code=code,
            smtp_reply=text if code is not None else None,
        )

    # -- async: native, on aiosmtplib (mailcore_smtp.aio) ---------------------------

    async def aopen(self) -> bool:
        """:meth:`open` for async code: takes a connection of the event loop's async pool
        for this instance (see :mod:`mailcore_smtp.aio`)."""
        await _import_aio()
        from mailcore_smtp import aio

        return await aio.aopen(self)

    async def aclose(self) -> None:
        """:meth:`close` for async code. Safe to call twice."""
        await _import_aio()
        from mailcore_smtp import aio

        await aio.aclose(self)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages` for async code, natively (:mod:`mailcore_smtp.aio`):
        the same options, results and errors, decided by the same code."""
        await _import_aio()
        from mailcore_smtp import aio

        return await aio.asend_messages(self, messages)

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """:meth:`message_chunks`, after checking the envelope, so that an address the
        envelope cannot carry (a non-ASCII local part, which would need SMTPUTF8) is
        refused before connecting, whatever built the envelope: the core from the
        headers, or a :class:`~mailcore.StoredMessage` as given
        (:mod:`mailcore_smtp.envelope`)."""
        check_envelope(message.envelope_from(), message.envelope_recipients())
        return self.message_chunks(message)


async def _import_aio() -> None:
    """Import :mod:`mailcore_smtp.aio` in a worker thread the first time: with
    aiosmtplib that takes some 30 ms, which would stall the event loop."""
    if "mailcore_smtp.aio" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "mailcore_smtp.aio")
