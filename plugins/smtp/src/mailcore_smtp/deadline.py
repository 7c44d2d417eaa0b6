"""Reading a server's reply within a deadline for the whole reply.

A socket timeout bounds each ``recv``: a server sending one byte a second and never
ending the line would restart it forever. :class:`DeadlineSMTP` reads every reply
(greeting, each command's, the final one after the content) through
:class:`_DeadlineReader`, which gives each ``recv`` only the time left until the
reply's deadline, so a reply takes at most ``reply_timeout`` seconds (``timeout``, or
``data_timeout`` inside :func:`read_reply_within`). Running out raises
:class:`TimeoutError` inside :meth:`smtplib.SMTP.getreply`, which turns it into
``SMTPServerDisconnected`` exactly as for a silent server. A reply that breaks SMTP's
grammar (:func:`~mailcore_smtp.replies.malformed_line`) is returned as code ``-1`` with
the offending line, as :mod:`smtplib` does for a line without a code.
:func:`handshake` bounds a TLS handshake the same way.
"""

from __future__ import annotations

import io
import select
import smtplib
import socket
import ssl
import time
from typing import Any

from mailcore_smtp.replies import malformed_line

__all__ = ["DeadlineSMTP", "handshake", "read_reply_within"]


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes; each ``recv`` waits only until the owner's deadline."""

    def __init__(self, sock: socket.socket, owner: DeadlineSMTP) -> None:
        super().__init__()
        self._sock = sock
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        deadline = self._owner.reply_deadline
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class _LineReader(io.BufferedReader):
    """A buffered reader keeping the lines of the reply being read, whole (smtplib
    drops the first four bytes of each, taking them for its code)."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__(raw)
        self.lines: list[bytes] = []

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.lines.append(line)
        return line


class DeadlineSMTP(smtplib.SMTP):
    """:class:`smtplib.SMTP` whose every reply must arrive whole within ``reply_timeout``
    seconds (the constructor's ``timeout`` unless changed)."""

    reply_deadline: float | None = None
    reply_timeout: float | None = None

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _LineReader(_DeadlineReader(self.sock, self))
        if isinstance(self.file, _LineReader):
            self.file.lines = []
        seconds = self.reply_timeout if self.reply_timeout is not None else self.timeout
        if isinstance(seconds, (int, float)):
            self.reply_deadline = time.monotonic() + seconds
        try:
            code, reply = super().getreply()
            bad = malformed_line(self.file.lines) if isinstance(self.file, _LineReader) else None
            if bad is not None:  # no SMTP reply: -1 and that line, whole
                return -1, bad
            return code, reply
        finally:
            self.reply_deadline = None
            if self.sock is not None:  # sends keep the plain per-operation timeout
                self.sock.settimeout(self.timeout)


def read_reply_within(smtp: smtplib.SMTP, seconds: float) -> tuple[int, bytes]:
    """``smtp.getreply()`` with ``seconds`` for the whole reply (``data_timeout``)."""
    if not isinstance(smtp, DeadlineSMTP):  # a plain smtplib.SMTP: per-recv only
        sock = smtp.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("connection closed")
        previous = sock.gettimeout()
        sock.settimeout(seconds)
        try:
            return smtp.getreply()
        finally:
            if smtp.sock is not None:
                smtp.sock.settimeout(previous)
    saved = smtp.reply_timeout
    smtp.reply_timeout = seconds
    try:
        return smtp.getreply()
    finally:
        smtp.reply_timeout = saved


def handshake(
    context: ssl.SSLContext, sock: socket.socket, server_hostname: str | None, seconds: float
) -> ssl.SSLSocket:
    """``context.wrap_socket(sock)`` with the whole TLS handshake within ``seconds``
    (raises :class:`TimeoutError`); the returned socket has ``sock``'s timeout."""
    timeout = sock.gettimeout()
    wrapped = context.wrap_socket(
        sock, server_hostname=server_hostname, do_handshake_on_connect=False
    )
    deadline = time.monotonic() + seconds
    try:
        wrapped.setblocking(False)
        while True:
            try:
                wrapped.do_handshake()
                break
            except ssl.SSLWantReadError:
                readable, writable = [wrapped], []
            except ssl.SSLWantWriteError:
                readable, writable = [], [wrapped]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not any(select.select(readable, writable, [], remaining)):
                raise TimeoutError("timed out during the TLS handshake")
        wrapped.settimeout(timeout)
    except BaseException:
        wrapped.close()
        raise
    return wrapped
