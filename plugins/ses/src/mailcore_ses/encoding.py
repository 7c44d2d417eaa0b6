"""Make a serialized message 7-bit safe, as SES raw content must be.

A message that is all ASCII is returned byte for byte. Otherwise every part carrying
8-bit data (declared ``8bit``/``binary``, or undeclared) is re-encoded: text parts to
quoted-printable (base64 when mostly non-ASCII), other parts to base64. Headers keep
their original folding; the parts' content is unchanged once decoded.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
from email.message import Message

__all__ = ["seven_bit_safe"]

_EIGHT_BIT = frozenset({"8bit", "binary"})
_POLICY = email.policy.default.clone(linesep="\r\n", refold_source="none", cte_type="7bit")


def seven_bit_safe(data: bytes) -> bytes:
    """``data`` (a message serialized with CRLF line ends) with no 8-bit part left."""
    if data.isascii():
        return data
    message = email.parser.BytesParser(policy=_POLICY).parsebytes(data)
    for part in message.walk():
        _make_part_seven_bit(part)
    return message.as_bytes(policy=_POLICY)


def _cte(part: Message) -> str:
    return str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()


def _make_part_seven_bit(part: Message) -> None:
    if part.is_multipart():
        # multipart/* and message/rfc822 may only be 7bit, 8bit or binary: once their
        # children are re-encoded they are 7bit.
        if _cte(part) in _EIGHT_BIT:
            part.replace_header("Content-Transfer-Encoding", "7bit")
        return
    declared = _cte(part)
    if declared in ("quoted-printable", "base64"):
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or (payload.isascii() and declared not in _EIGHT_BIT):
        return
    if payload.isascii():  # declared 8bit but plain ASCII: only the label is wrong
        part.replace_header("Content-Transfer-Encoding", "7bit")
        return
    del part["Content-Transfer-Encoding"]
    if part.get_content_maintype() == "text" and _mostly_ascii(payload):
        part.set_payload(binascii.b2a_qp(payload).decode("ascii"))
        part["Content-Transfer-Encoding"] = "quoted-printable"
    else:
        part.set_payload(base64.encodebytes(payload).decode("ascii"))
        part["Content-Transfer-Encoding"] = "base64"


def _mostly_ascii(payload: bytes) -> bool:
    """True when quoted-printable stays shorter than base64 (under 1/6 non-ASCII bytes)."""
    non_ascii = sum(1 for byte in payload if byte > 0x7F)
    return non_ascii * 6 < len(payload)
