"""A readable rendering of a received message: envelope, decoded headers, text, attachments.

Used by ``mailcore debug-server``. Headers are shown decoded (RFC 2047 encoded words
become text), text parts are decoded from their transfer encoding and charset, and
other parts are summarised by file name, type and size. Whatever the input, rendering
never raises: what cannot be parsed is shown as raw text.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable, Iterator
from email.message import EmailMessage, Message

__all__ = ["RULE", "THIN_RULE", "render_message"]

RULE = "=" * 79
THIN_RULE = "-" * 79


def _header_lines(message: Message) -> Iterator[str]:
    for name, value in message.items():
        text = " ".join(str(value).split())
        yield f"{name}: {text}"


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def _text_of(part: Message) -> str:
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return content
        except (LookupError, ValueError, KeyError):
            pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")
    return str(part.get_payload())


def _body_lines(message: Message) -> Iterator[str]:
    first = True
    for part in message.walk():
        if part.is_multipart():
            continue
        if not first:
            yield ""
        first = False
        content_type = part.get_content_type()
        filename = part.get_filename()
        if part.get_content_maintype() == "text" and part.get_content_disposition() != (
            "attachment"
        ):
            charset = part.get_content_charset()
            label = f"{content_type}; charset={charset}" if charset else content_type
            yield f"[{label}]"
            yield from _text_of(part).rstrip("\n").splitlines()
        else:
            kind = "attachment" if part.get_content_disposition() == "attachment" else "part"
            name = f" {filename}" if filename else ""
            yield f"[{kind}]{name} ({content_type}, {_size(part)} bytes)"


def render_message(
    data: bytes,
    mail_from: str | None,
    rcpt_tos: Iterable[str],
    *,
    title: str = "Message",
    login: str | None = None,
    notes: Iterable[str] = (),
) -> str:
    """The text ``mailcore debug-server`` prints for one message: ``title``, the envelope,
    headers and body, ending with a line of ``=`` (so consecutive messages stay apart).

    ``notes`` are lines shown after the body (where the message was saved).
    """
    lines = [title, f"MAIL FROM: <{mail_from or ''}>"]
    recipients = list(rcpt_tos) or [""]
    lines.append(f"RCPT TO:   <{recipients[0]}>")
    lines.extend(f"           <{address}>" for address in recipients[1:])
    if login is not None:
        lines.append(f"AUTH:      {login}")
    lines.append(THIN_RULE)
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
        lines.extend(_header_lines(message))
        lines.append(THIN_RULE)
        lines.extend(_body_lines(message))
    except Exception as exc:  # a debugging aid must show what it got, whatever it got
        lines.append(f"(could not parse the message: {exc}; raw content follows)")
        lines.extend(data.decode("utf-8", errors="replace").splitlines())
    notes = list(notes)
    if notes:
        lines.append(THIN_RULE)
        lines.extend(notes)
    lines.append(RULE)
    return "\n".join(lines) + "\n"
