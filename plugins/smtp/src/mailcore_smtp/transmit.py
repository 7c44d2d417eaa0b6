"""Streaming SMTP transactions: the message content sent chunk by chunk.

:func:`send_content` sends a message's content after the server's ``354``, for a message
given as an iterable of CRLF-only ``bytes`` chunks (as
:meth:`mailcore.EmailMessage.iter_serialized` gives with ``"\\r\\n"``): it never joins the
chunks, so sending a large message takes little memory beyond the chunks themselves.
:func:`mail_from` and :func:`rcpt_to` are :meth:`smtplib.SMTP.mail` and
:meth:`~smtplib.SMTP.rcpt` for addresses that are already bare addr-specs (as
:meth:`~mailcore.EmailMessage.envelope_from` gives), without parsing them again.

If a chunk iterator raises part-way, the server is left inside DATA: the connection
cannot be used for another message and should be closed.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterable, Iterator, Sequence

__all__ = [
    "SEND_BUFFER_SIZE",
    "content_writes",
    "mail_from",
    "rcpt_to",
    "send_content",
    "wire_content",
]

#: Chunks are gathered into writes of about this many bytes (a small message: one write).
SEND_BUFFER_SIZE = 64 * 1024

_CRLF = b"\r\n"
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


def _stuffed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` as they go on the wire: a period starting a line doubled, the last line
    ended, then the final ``.CRLF``."""
    at_line_start = True  # the next octet starts a line
    empty = True
    for chunk in chunks:
        if not chunk:
            continue
        empty = False
        if _DOT_AFTER_LF.search(chunk):
            chunk = chunk.replace(b"\n.", b"\n..")
        if at_line_start and chunk.startswith(b"."):
            chunk = b"." + chunk
        at_line_start = chunk.endswith(b"\n")
        yield chunk
    if empty or not at_line_start:
        # End the last line; an empty message is sent as one empty line, as smtplib does.
        yield _CRLF
    yield b"." + _CRLF


def wire_content(chunks: Iterable[bytes]) -> bytes:
    """A message's content in one ``bytes``, exactly as :func:`send_content` sends it
    (dot-stuffed, ending with ``CRLF.CRLF``): for a small message, built while the
    server works on something else, then sent with :func:`send_content`."""
    return b"".join(_stuffed(chunks))


def send_content(
    smtp: smtplib.SMTP,
    chunks: Iterable[bytes] | bytes,
    buffer_size: int = SEND_BUFFER_SIZE,
    trailer: bytes = b"",
) -> int:
    """Send a message's content, then the terminating ``CRLF.CRLF``; return the octets sent.

    To be called after the server answered ``DATA`` with ``354``; the final reply is
    left for the caller to read (``smtp.getreply()``). Every line end in ``chunks`` must
    be CRLF (``iter_serialized("\\r\\n")`` promises it; nothing here checks). A period
    starting a line is doubled (RFC 5321 4.5.2), wherever the chunks are split; a final
    line without a line end gets one. Chunks are gathered into writes of about
    ``buffer_size`` bytes through :meth:`smtplib.SMTP.send`, so a lost connection raises
    :class:`smtplib.SMTPServerDisconnected` as :meth:`smtplib.SMTP.data` would.
    ``trailer`` (the next commands, with PIPELINING) goes out in the same last write,
    right after the final dot. ``chunks`` may also be :func:`wire_content`'s ``bytes``,
    sent as they are.
    """
    sent = 0
    for data in content_writes(chunks, buffer_size, trailer):
        smtp.send(data)
        sent += len(data)
    return sent


def content_writes(
    chunks: Iterable[bytes] | bytes, buffer_size: int = SEND_BUFFER_SIZE, trailer: bytes = b""
) -> Iterator[bytes]:
    """The writes :func:`send_content` makes (the async client makes the same ones):
    ``chunks`` dot-stuffed and gathered into writes of about ``buffer_size`` bytes, the
    last one ending with the final dot and ``trailer``. Joins no more than one write."""
    if isinstance(chunks, bytes):
        yield chunks + trailer
        return
    pending: list[bytes] = []
    pending_size = 0
    for chunk in _stuffed(chunks):
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= buffer_size:
            data = b"".join(pending) if len(pending) > 1 else pending[0]
            pending.clear()
            pending_size = 0
            yield data
    if trailer:
        pending.append(trailer)
    yield b"".join(pending)
