"""The SMTP backend: sends messages to an SMTP server with :mod:`smtplib`.

One connection serves a whole batch. ``open()`` connects, says EHLO, upgrades with
STARTTLS when ``use_tls`` (refusing to go on if the server does not offer it) and logs
in; any failure there closes the socket, so no half-open connection is ever reused.
Each message is sent with MAIL FROM / RCPT TO / DATA, so that refused recipients and
the queue id of the final reply can be reported on ``message.result``. A server whose
EHLO lacks 8BITMIME gets the message in 7 bits (``allow_8bit=False``); one whose EHLO
gives a SIZE limit never gets a message larger than that.

Every wait for the server is bounded: ``timeout`` for connecting, the greeting and each
reply, ``data_timeout`` for the reply to a message's content.

With ``retries`` set, a temporary failure (see :mod:`mailcore_smtp.retrying`) of the
connection or of one message is tried again after a growing pause, reconnecting when the
connection was lost.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

from mailcore import (
    BaseEmailBackend,
    ConfigurationError,
    InvalidAddressError,
    SendError,
    SendResult,
)
from mailcore_smtp.errors import (
    MESSAGE_STAGES,
    SMTPAuthError,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPError,
    SMTPMessageTooBigError,
    SMTPRecipientsRefusedError,
    SMTPReplyError,
    SMTPSecurityError,
    Stage,
)
from mailcore_smtp.options import SMTP_URL_SCHEMES, SMTPOptions
from mailcore_smtp.replies import means_too_big, queue_id_from_reply
from mailcore_smtp.retrying import is_retryable, retry_delay
from mailcore_smtp.transmit import mail_from, rcpt_to, send_content

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


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP whose connect() also sets the name TLS verifies (the constructor
    does that only when given the host, and then connects before we can clean up)."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


class _SMTP_SSL(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL with the same connect() as :class:`_SMTP`."""

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


def _size_limit(connection: smtplib.SMTP) -> int | None:
    """The largest message the server takes, from the SIZE of its EHLO reply (RFC 1870);
    ``None`` when it gave none, or 0 (no fixed limit)."""
    value = connection.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


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
        self.connection: smtplib.SMTP | None = None
        self._lock = threading.RLock()

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
            if self.connection is not None:
                return False
            self.connection = self._connect_retrying()
            return True

    def close(self) -> None:
        """Say QUIT and close the socket; errors while quitting are ignored (the messages
        were already accepted or reported). Safe to call twice."""
        with self._lock:
            connection, self.connection = self.connection, None
            if connection is None:
                return
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError) as exc:
                log.debug("QUIT to %s failed (ignored): %s", self.address, exc)
            finally:
                connection.close()

    def _wait_before_retry(self, retry: int, error: SMTPError) -> None:
        delay = retry_delay(retry, self.options.retry_backoff)
        log.info(
            "%s; trying again in %.3g s (retry %d of %d)", error, delay, retry, self.options.retries
        )
        time.sleep(delay)

    def _connect_retrying(self) -> smtplib.SMTP:
        """:meth:`_connect`, tried again up to ``retries`` times after a temporary failure."""
        retry = 0
        while True:
            try:
                return self._connect()
            except SMTPError as exc:
                if retry >= self.options.retries or not is_retryable(exc):
                    raise
                retry += 1
                self._wait_before_retry(retry, exc)

    def _connect(self) -> smtplib.SMTP:
        options = self.options
        encrypted = options.use_tls or options.use_ssl
        context = self.ssl_context() if encrypted else None
        kwargs: dict[str, Any] = {
            "local_hostname": options.local_hostname or _default_local_hostname(),
            "timeout": options.timeout,
        }
        connection = _SMTP_SSL(context=context, **kwargs) if options.use_ssl else _SMTP(**kwargs)
        stage: Stage = "connect"
        try:
            code, reply = connection.connect(options.host, options.port)
            if code != 220:
                self._fail_reply(SMTPConnectionError, "greeting", code, reply, "refused to talk")
            stage = "ehlo"
            self._ehlo(connection)
            if options.use_tls:
                stage = "starttls"
                self._starttls(connection, context)
                stage = "ehlo"
                self._ehlo(connection)
            if options.username is not None and options.password is not None:
                stage = "auth"
                self._login(connection, options.username, options.password.get_secret_value())
        except BaseException as exc:
            connection.close()
            if isinstance(exc, SMTPError):
                raise
            if stage == "connect" and isinstance(exc, smtplib.SMTPServerDisconnected):
                stage = "greeting"  # connected, then no (or no complete) greeting
            if isinstance(exc, (OSError, smtplib.SMTPException)):
                raise self._translate(exc, stage) from exc
            raise
        log.debug("connected to %s (%s)", self.address, "TLS" if encrypted else "plain text")
        return connection

    def _ehlo(self, connection: smtplib.SMTP) -> None:
        code, reply = connection.ehlo()
        if 200 <= code < 300:
            return
        if code < 500:  # a temporary refusal, not an old server without EHLO
            self._fail_reply(SMTPConnectionError, "ehlo", code, reply, "refused EHLO")
        code, reply = connection.helo()
        if not 200 <= code < 300:
            self._fail_reply(SMTPConnectionError, "ehlo", code, reply, "refused EHLO and HELO")

    def _starttls(self, connection: smtplib.SMTP, context: ssl.SSLContext | None) -> None:
        if not connection.has_extn("starttls"):
            raise SMTPSecurityError(
                f"SMTP server {self.address} does not offer STARTTLS, and use_tls is set: "
                "not continuing without encryption",
                host=self.options.host,
                port=self.options.port,
                stage="starttls",
            )
        try:
            connection.starttls(context=context)
        except smtplib.SMTPResponseException as exc:
            self._fail_reply(
                SMTPSecurityError, "starttls", exc.smtp_code, exc.smtp_error, "refused STARTTLS"
            )

    def _login(self, connection: smtplib.SMTP, username: str, password: str) -> None:
        if not connection.has_extn("auth"):
            raise SMTPAuthError(
                f"SMTP server {self.address} does not offer AUTH, so user {username!r} "
                "cannot log in (unset username/password, or use the submission port "
                "with use_tls)",
                host=self.options.host,
                port=self.options.port,
                stage="auth",
            )
        try:
            connection.login(username, password)
        except smtplib.SMTPResponseException as exc:
            self._fail_reply(
                SMTPAuthError,
                "auth",
                exc.smtp_code,
                exc.smtp_error,
                f"refused the login of user {username!r}",
            )
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise
            raise SMTPAuthError(
                f"SMTP server {self.address}: cannot log in as {username!r}: {exc}",
                host=self.options.host,
                port=self.options.port,
                stage="auth",
            ) from exc

    def _fail_reply(
        self,
        error_class: type[SMTPError],
        stage: Stage,
        code: int,
        reply: bytes | str,
        what: str,
    ) -> NoReturn:
        text = _reply_text(reply)
        raise error_class(
            f"SMTP server {self.address} {what} {_STAGE_TEXT[stage]}: {code} {text}".rstrip(),
            host=self.options.host,
            port=self.options.port,
            stage=stage,
            smtp_code=code,
            smtp_reply=text,
        )

    def _translate(self, exc: BaseException, stage: Stage) -> SMTPError:
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
            option = "data_timeout" if stage == "message" else "timeout"
            seconds: float = getattr(self.options, option)
            return SMTPConnectionError(
                f"SMTP server {address} did not answer within {seconds:g} s "
                f"{where} ({option}){hint}",
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

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages`` over one connection; return how many the server accepted.

        Opens and closes the connection only when none was open. Each message's
        ``result`` is set. A message refused for some recipients still goes to the
        others (``result.refused``); refused for all, it raises
        :class:`~mailcore_smtp.SMTPRecipientsRefusedError`. A lost connection raises
        :class:`~mailcore_smtp.SMTPConnectionError` whose ``sent`` counts the messages
        accepted before it. ``fail_silently`` turns these into failed results. With
        ``retries``, temporary failures are tried again first.
        """
        with self._lock:
            return self.deliver_batch(messages, self._connect_unless_open, self._send_batch)

    def _send_batch(self, messages: list[EmailMessage]) -> int:
        sent = 0
        for index, message in enumerate(messages):
            try:
                message.result = self._send_retrying(message)
            except SMTPError as exc:
                exc.add_batch_progress(sent, len(messages), message)
                message.result = SendResult("failed", error=exc)
                refused = getattr(exc, "refused", None)
                if isinstance(refused, dict):
                    message.result.refused = dict(refused)
                if self._batch_goes_on(exc):
                    continue
                self.stop_batch(messages[index + 1 :], exc)
                if self.fail_silently:
                    return sent
                raise
            except BaseException as exc:
                # A bad header, an invalid address: never hidden, nothing more is sent.
                message.result = SendResult("failed", error=exc)
                self.stop_batch(messages[index + 1 :], exc)
                raise
            if message.result.sent:
                sent += 1
        return sent

    def _batch_goes_on(self, error: SMTPError) -> bool:
        """After a failed message, whether to go on with the next one.

        Only with ``fail_silently``, and only when a connection is left to go on with,
        or may be made again (``retries``); never when connecting itself failed.
        """
        if not self.fail_silently or error.stage not in MESSAGE_STAGES:
            return False
        return self.connection is not None or self.options.retries > 0

    def _send_retrying(self, message: EmailMessage) -> SendResult:
        """Send one message, trying again up to ``retries`` times after a temporary
        failure before the server accepted it (reconnecting if the connection was lost)."""
        retry = 0
        while True:
            try:
                if self.connection is None:
                    self.connection = self._connect()
                return self._send_one(self.connection, message)
            except SMTPError as exc:
                if isinstance(exc, SMTPConnectionError):
                    self._discard_connection()
                if retry >= self.options.retries or not is_retryable(exc):
                    raise
                retry += 1
                self._wait_before_retry(retry, exc)

    def batch_stopped_error(self, cause: BaseException) -> SMTPBatchStoppedError:
        """The error of a message not attempted: an :class:`SMTPBatchStoppedError`."""
        return SMTPBatchStoppedError.after(cause, host=self.options.host, port=self.options.port)

    def _discard_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def message_chunks(self, message: EmailMessage, allow_8bit: bool = True) -> SerializedMessage:
        """The serialized message as CRLF chunks, streamed to the server (its ``len()`` and
        ``isascii()`` give SIZE and BODY=8BITMIME); 7-bit unless ``allow_8bit`` (for a
        server without 8BITMIME). A Message-ID generated for it uses ``local_hostname``
        as its domain when that is set."""
        return message.iter_serialized(
            "\r\n", msgid_domain=self.options.local_hostname or None, allow_8bit=allow_8bit
        )

    def _too_big(
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

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """:meth:`message_chunks`, after checking that the envelope addresses are ASCII."""
        for address in (message.envelope_from(), *message.envelope_recipients()):
            if not address.isascii():
                raise InvalidAddressError(
                    f"address {address!r} is not ASCII and cannot be used in the SMTP envelope"
                )
        return self.message_chunks(message)

    def _send_one(self, connection: smtplib.SMTP, message: EmailMessage) -> SendResult:
        sender = message.envelope_from()
        recipients = message.envelope_recipients()
        if not recipients:
            return SendResult("failed", error=SendError("the message has no recipients"))
        esmtp = connection.does_esmtp
        eight_bit = esmtp and connection.has_extn("8bitmime")
        data = self.prepared(message)
        message_id_header = None
        if not eight_bit and not data.isascii():
            # built before EHLO with 8-bit parts: this server takes 7-bit only
            data = self.message_chunks(message, allow_8bit=False)
            message_id_header = data.message_id
        size = len(data)
        limit = _size_limit(connection) if esmtp else None
        if limit is not None and size > limit:
            raise self._too_big(size, limit, "mail", None, b"")

        stage: Stage = "mail"
        try:
            mail_options = []
            if esmtp and connection.has_extn("size"):
                mail_options.append(f"SIZE={size}")
            if eight_bit and not data.isascii():
                mail_options.append("BODY=8BITMIME")
            code, reply = mail_from(connection, sender, mail_options)
            if means_too_big(code, _reply_text(reply)):
                self._reset(connection)
                raise self._too_big(size, limit, stage, code, reply)
            self._expect(connection, stage, code, reply, {250}, f"refused sender {sender!r}")

            stage = "rcpt"
            refused: dict[str, tuple[int, str]] = {}
            for recipient in recipients:
                code, reply = rcpt_to(connection, recipient)
                if code == 421:
                    self._expect(connection, stage, code, reply, {250, 251}, "")
                if code not in (250, 251):
                    refused[recipient] = (code, _reply_text(reply))
            if len(refused) == len(recipients):
                self._reset(connection)
                described = ", ".join(f"{a} ({c} {t})" for a, (c, t) in refused.items())
                raise SMTPRecipientsRefusedError(
                    f"SMTP server {self.address} refused every recipient: {described}",
                    refused,
                    host=self.options.host,
                    port=self.options.port,
                    message=message,
                )

            stage = "data"
            connection.putcmd("data")
            code, reply = connection.getreply()
            self._expect(connection, stage, code, reply, {354}, "refused DATA")

            # Still "data" while the content goes out: if sending fails, the final dot
            # did not, so the server cannot have accepted the message (safe to retry).
            try:
                send_content(connection, data)
            except BaseException:
                # interrupted mid-DATA (Ctrl-C, say): the server still waits for the rest,
                # so this connection must never carry another message
                self._discard_connection()
                raise
            stage = "message"
            code, reply = self._final_reply(connection)
            if means_too_big(code, _reply_text(reply)):
                raise self._too_big(size, limit, stage, code, reply)
            self._expect(connection, stage, code, reply, {250}, "refused the message")
        except SMTPError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise self._translate(exc, stage) from exc
        message_id = queue_id_from_reply(_reply_text(reply))
        log.debug("%s accepted a message (queue id %s)", self.address, message_id)
        return SendResult(
            "sent",
            message_id=message_id,
            message_id_header=message_id_header,
            refused=refused,
        )

    def _final_reply(self, connection: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to a message's content, waited for up to ``data_timeout``."""
        sock = connection.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("connection closed")
        sock.settimeout(self.options.data_timeout)
        try:
            return connection.getreply()
        finally:
            if connection.sock is not None:
                connection.sock.settimeout(self.options.timeout)

    def _expect(
        self,
        connection: smtplib.SMTP,
        stage: Stage,
        code: int,
        reply: bytes,
        expected: set[int],
        what: str,
    ) -> None:
        """Raise unless ``code`` is expected; 421 means the server is closing the connection."""
        if code in expected:
            return
        if code == 421:
            self._fail_reply(SMTPConnectionError, stage, code, reply, "is closing the connection")
        if stage != "message":
            self._reset(connection)
        self._fail_reply(SMTPReplyError, stage, code, reply, what)

    def _reset(self, connection: smtplib.SMTP) -> None:
        """RSET after a refused transaction; a connection that fails it is dropped."""
        try:
            code, _ = connection.rset()
        except (smtplib.SMTPException, OSError):
            code = -1
        if code != 250:
            self._discard_connection()
