"""Streaming SMTP transactions: the message content sent chunk by chunk.

:func:`send_data` is :meth:`smtplib.SMTP.data` for a message given as an iterable of
``bytes`` chunks (such as :meth:`mailcore.EmailMessage.iter_serialized` gives): it never
joins the chunks, so sending a large message takes little memory beyond the chunks
themselves. :func:`send_content` is its second half alone (the content after the server's
``354``), for a caller that sends ``DATA`` and reads the replies itself.
:func:`mail_from` and :func:`rcpt_to` are :meth:`smtplib.SMTP.mail` and
:meth:`~smtplib.SMTP.rcpt` for addresses that are already bare addr-specs (as
:meth:`~mailcore.EmailMessage.envelope_from` gives), without parsing them again.

If a chunk iterator raises part-way, the server is left inside DATA: the connection
cannot be used for another message and should be closed.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterable, Sequence

__all__ = ["SEND_BUFFER_SIZE", "mail_from", "rcpt_to", "send_content", "send_data"]

#: Chunks are gathered into writes of about this many bytes (a small message: one write).
SEND_BUFFER_SIZE = 64 * 1024

_CRLF = b"\r\n"
_LINE_END = re.compile(rb"\r\n|\r|\n")
# Faster than ``b"\n." in chunk`` on base64 (the regex engine skips to each LF).
_DOT_AFTER_LF = re.compile(rb"\n\.")


def _options(options: Sequence[str]) -> str:
    return "".join(f" {option}" for option in options)


def mail_from(smtp: smtplib.SMTP, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
    """Send ``MAIL FROM:<sender> [options]``; the server's reply.

    ``sender`` is an ASCII addr-spec (``local@domain``, or empty for the null sender),
    sent as it is, where :meth:`smtplib.SMTP.mail` would parse it again.
    """
    smtp.putcmd("mail", f"FROM:<{sender}>{_options(options)}")
    return smtp.getreply()


def rcpt_to(smtp: smtplib.SMTP, recipient: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
    """Send ``RCPT TO:<recipient> [options]``; the server's reply (``recipient`` as for
    :func:`mail_from`)."""
    smtp.putcmd("rcpt", f"TO:<{recipient}>{_options(options)}")
    return smtp.getreply()


def _normalized(chunk: bytes) -> bytes:
    """``chunk`` with every line end CRLF (a bare CR or LF becomes CRLF)."""
    pairs = chunk.count(_CRLF)
    if chunk.count(b"\n") == pairs and chunk.count(b"\r") == pairs:
        return chunk
    return _LINE_END.sub(_CRLF, chunk)


def send_content(
    smtp: smtplib.SMTP,
    chunks: Iterable[bytes],
    buffer_size: int = SEND_BUFFER_SIZE,
    *,
    crlf_only: bool = False,
) -> int:
    """Send a message's content, then the terminating ``CRLF.CRLF``; return the octets sent.

    To be called after the server answered ``DATA`` with ``354``; the final reply is
    left for the caller to read (``smtp.getreply()``). Line ends become CRLF (a bare CR
    or LF, even one split between chunks) unless ``crlf_only`` says the chunks have no
    other line ends (as ``iter_serialized("\\r\\n")`` gives; this skips a check of
    every octet); a period starting a line is doubled (RFC 5321 4.5.2), wherever the
    chunks are split; a final line without a line end gets one.
    Chunks are gathered into writes of about ``buffer_size`` bytes through
    :meth:`smtplib.SMTP.send`, so a lost connection raises
    :class:`smtplib.SMTPServerDisconnected` as it would from :meth:`smtplib.SMTP.data`.
    """
    pending: list[bytes] = []
    pending_size = 0
    sent = 0
    at_line_start = True  # the next octet starts a line
    held_cr = b""  # a CR ending a chunk: its LF may start the next one
    empty = True
    for chunk in chunks:
        if not crlf_only:
            if held_cr:
                chunk = held_cr + chunk
                held_cr = b""
            if chunk.endswith(b"\r"):
                chunk, held_cr = chunk[:-1], b"\r"
            chunk = _normalized(chunk)
        if not chunk:
            continue
        empty = False
        if _DOT_AFTER_LF.search(chunk):
            chunk = chunk.replace(b"\n.", b"\n..")
        if at_line_start and chunk.startswith(b"."):
            chunk = b"." + chunk
        at_line_start = chunk.endswith(b"\n")
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= buffer_size:
            data = b"".join(pending) if len(pending) > 1 else pending[0]
            pending.clear()
            pending_size = 0
            smtp.send(data)
            sent += len(data)
    if held_cr or empty or not at_line_start:
        # End the last line (a held CR becomes CRLF); an empty message is sent as one
        # empty line, as smtplib does.
        pending.append(_CRLF)
    pending.append(b"." + _CRLF)
    data = b"".join(pending)
    smtp.send(data)
    return sent + len(data)


def send_data(
    smtp: smtplib.SMTP,
    chunks: Iterable[bytes],
    buffer_size: int = SEND_BUFFER_SIZE,
    *,
    crlf_only: bool = False,
) -> tuple[int, bytes]:
    """:meth:`smtplib.SMTP.data` for a message in chunks: send ``DATA``, then (on ``354``)
    the content as :func:`send_content` does; return the server's final reply.

    Raises :class:`smtplib.SMTPDataError` when the server does not answer ``DATA`` with
    ``354`` (nothing of the content is then read from ``chunks``).
    """
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    send_content(smtp, chunks, buffer_size, crlf_only=crlf_only)
    return smtp.getreply()
