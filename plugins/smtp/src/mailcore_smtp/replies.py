"""Reading SMTP replies: whether a reply is one at all, the queue id in the final
``250`` reply to a message, and whether a refusal says the message is too big."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "malformed_line",
    "means_throttled",
    "means_too_big",
    "queue_id_from_reply",
    "reply_text",
]

#: One line of a reply (RFC 5321 4.2): a code 2xx to 5xx, then a space, a hyphen (more
#: lines follow) or nothing.
_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])(?:[ -]|\Z)")


def malformed_line(lines: Sequence[bytes]) -> bytes | None:
    """The first of a reply's ``lines`` that is no SMTP reply line (no code of three
    digits 2xx to 5xx, or another code than the lines before it), stripped; ``None``
    when the reply is well formed.

    Such a line means that client and server no longer agree on which reply answers
    which command: :func:`mailcore_smtp.exchange.well_formed` ends the conversation.
    """
    code = None
    for line in lines:
        text = line.rstrip(b"\r\n")
        match = _REPLY_LINE.match(text)
        if match is None or code not in (None, match.group(1)):
            return text.strip(b" \t")
        code = match.group(1)
    return None


_ENHANCED_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\s+")
_ENHANCED_CODE = re.compile(r"^[245]\.(\d{1,3}\.\d{1,3})(?!\S)")
#: RFC 3463: 5.3.4 "message too big for system", 5.2.3 "message length exceeds
#: administrative limit".
_TOO_BIG_DETAILS = frozenset({"3.4", "2.3"})
_TOKEN = r"<?([A-Za-z0-9][A-Za-z0-9._@=+/-]*[A-Za-z0-9])>?"
_PATTERNS = (
    # Postfix and most servers: "Ok: queued as 4Bq2Zk3HxYz9".
    re.compile(r"queued as\s+" + _TOKEN, re.IGNORECASE),
    # Exim: "OK id=1rX5Yz-0001Ab-Cd".
    re.compile(r"\bid=" + _TOKEN, re.IGNORECASE),
    # Amazon SES, Mailgun-like: "Ok 0100018c...-000000" / "OK <id@domain>".
    re.compile(r"^ok:?\s+" + _TOKEN + r"$", re.IGNORECASE),
    # Sendmail: "x8LF5bL3012345 Message accepted for delivery".
    re.compile(r"^" + _TOKEN + r"\s+message accepted", re.IGNORECASE),
)


def queue_id_from_reply(reply: str) -> str | None:
    """The server's queue id in a final reply text (without the code), or ``None``.

    Recognises the forms of Postfix (``queued as ID``), Exim (``id=ID``), Sendmail
    (``ID Message accepted``) and ``Ok ID``; a bare ``OK`` gives ``None``.
    """
    text = _ENHANCED_STATUS.sub("", " ".join(reply.split()))
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def means_too_big(code: int, reply: str) -> bool:
    """True when a refusal of ``MAIL FROM`` or of the message content says the message is
    larger than the server takes.

    That is ``552`` (RFC 1870: "message size exceeds fixed maximum message size") unless
    its enhanced status says otherwise (``552 5.2.2`` is a full mailbox), or any 5xx
    reply whose enhanced status is ``5.3.4`` or ``5.2.3`` (RFC 3463).
    """
    if not 500 <= code < 600:
        return False
    match = _ENHANCED_CODE.match(reply.strip())
    if match is None:
        return code == 552
    return match.group(1) in _TOO_BIG_DETAILS


_THROTTLE_WORDS = re.compile(r"\brate\b|throttl|too many|too fast|slow down|quota", re.IGNORECASE)


def means_throttled(code: int, reply: str) -> bool:
    """True when a temporary refusal (``421``, ``450``, ``451``, ``454``) says the client
    sends too fast (``451 4.7.1 Rate limit exceeded``, ``421 Too many messages``): the
    backend then slows down every sender of that server before trying again."""
    return code in (421, 450, 451, 454) and bool(_THROTTLE_WORDS.search(reply))


def reply_text(reply: bytes | str) -> str:
    """A reply's text on one line (continuation lines joined by spaces)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
