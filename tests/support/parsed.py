"""Read serialized messages back with the standard library, as a mail client would."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage as ParsedMessage

from mailcore import EmailMessage

__all__ = ["content_types", "header_lines", "longest_line", "parse", "parsed"]


def parse(data: bytes) -> ParsedMessage:
    """``data`` parsed with ``policy.default`` (decoded headers, ``get_content()``)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, ParsedMessage)
    return message


def parsed(message: EmailMessage, linesep: str = "\n") -> ParsedMessage:
    """``message`` serialized, then parsed back."""
    return parse(message.serialize(linesep))


def content_types(message: ParsedMessage) -> list[str]:
    """Every part's content type, depth first, the message itself first."""
    return [part.get_content_type() for part in message.walk()]


def longest_line(data: bytes) -> int:
    """The longest line of ``data`` in octets, line ends excluded."""
    return max(len(line) for line in data.replace(b"\r\n", b"\n").split(b"\n"))


def header_lines(data: bytes, name: str) -> list[bytes]:
    """The physical lines (first and continuation lines) of the top-level header ``name``."""
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].split(b"\n")
    prefix = name.lower().encode("ascii") + b":"
    found: list[bytes] = []
    for line in head:
        if found and line[:1] in (b" ", b"\t"):
            found.append(line)
        elif found:
            break
        elif line.lower().startswith(prefix):
            found.append(line)
    return found
