"""Read a received message for the preview without copying its bodies.

The standard library's parser (``email``, modern policy) reads every header block; the
part bodies are located as byte ranges inside the message as received, so a 20 MB
attachment is never held a second time: its size is counted, and its download decoded,
64 KiB at a time. A message that cannot be read this way (no header block, an absurd
header block, a broken structure) is marked ``raw_only``; reading never raises.
"""

from __future__ import annotations

import binascii
import email.parser
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

__all__ = ["Attachment", "ParsedMail", "iter_decoded", "parse_mail", "safe_filename"]

#: Bodies are decoded in chunks of about this size (cut at a line end).
CHUNK = 64 * 1024
#: A header block longer than this is not a header block.
_MAX_HEADER_BLOCK = 1024 * 1024
#: Deeper nesting than this is treated as a leaf.
_MAX_DEPTH = 30
#: Parts read of one message; the rest are listed as not shown (a problem note).
MAX_PARTS = 1000
#: How much of the text is searched.
_MAX_SEARCH_TEXT = 1024 * 1024

_HEADER_PARSER = email.parser.BytesParser(policy=email.policy.default)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]")


@dataclass(frozen=True)
class _Part:
    headers: EmailMessage
    body_start: int
    body_end: int
    children: tuple[_Part, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """One attachment (or inline part) of a message, with its body's place in the bytes."""

    index: int
    filename: str
    content_type: str
    size: int
    content_id: str | None
    inline: bool
    encoding: str
    body_start: int
    body_end: int

    def as_json(self) -> dict[str, object]:
        """The attachment as the JSON API shows it."""
        return {
            "index": self.index,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "content_id": self.content_id,
            "inline": self.inline,
        }


@dataclass
class ParsedMail:
    """What the preview shows of one message (all strings are valid Unicode)."""

    subject: str = ""
    from_: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    header_date: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    raw_only: bool = False
    problems: list[str] = field(default_factory=list)


def _clean(text: str) -> str:
    """``text`` with undecodable bytes (surrogate escapes) as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header(headers: EmailMessage, name: str) -> str:
    try:
        value = headers.get(name)
        return _clean(str(value)) if value is not None else ""
    except Exception:  # a header the policy cannot read: show it as it came
        raw = [v for k, v in headers.raw_items() if k.lower() == name.lower()]
        return _clean(str(raw[0])) if raw else ""


def _addresses(headers: EmailMessage, name: str) -> list[str]:
    value = _header(headers, name)
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _header_list(headers: EmailMessage) -> list[tuple[str, str]]:
    """Every header, decoded and unfolded (as it came when it cannot be decoded)."""
    listed: list[tuple[str, str]] = []
    for name, raw_value in headers.raw_items():
        try:
            value = str(headers.policy.header_fetch_parse(name, raw_value))
        except Exception:
            value = str(raw_value)
        listed.append((_clean(name), " ".join(_clean(value).split())))
    return listed


def _line_end_after(raw: bytes, pos: int, end: int) -> int:
    """The index just after the line end at or after ``pos`` (``end`` if none)."""
    found = raw.find(b"\n", pos, end)
    return end if found < 0 else found + 1


def _locate(raw: bytes, start: int, end: int, depth: int, budget: list[int]) -> _Part:
    """The part ``raw[start:end]``; ``budget[0]`` is how many more parts may be read."""
    budget[0] -= 1
    if raw.startswith(b"\r\n", start) or raw.startswith(b"\n", start):
        header_end, body_start = start, _line_end_after(raw, start, end)
    else:
        candidates = [
            (at, at + len(sep))
            for sep in (b"\r\n\r\n", b"\n\n")
            if (at := raw.find(sep, start, min(end, start + _MAX_HEADER_BLOCK))) >= 0
        ]
        if candidates:
            header_end, body_start = min(candidates)
        elif end - start <= _MAX_HEADER_BLOCK:  # headers only, no body
            header_end = body_start = end
        else:
            raise ValueError("no end of the header block")
    headers = _HEADER_PARSER.parsebytes(raw[start:header_end] + b"\n\n", headersonly=True)
    assert isinstance(headers, EmailMessage)
    if headers.get_content_maintype() != "multipart" or depth >= _MAX_DEPTH:
        return _Part(headers, body_start, end)
    boundary = headers.get_boundary()
    if not boundary:
        return _Part(headers, body_start, end)
    delimiter = b"--" + boundary.encode("utf-8", "surrogateescape")
    children: list[_Part] = []
    part_start: int | None = None
    pos = body_start
    while pos < end:
        at = raw.find(delimiter, pos, end)
        if at < 0:
            break
        if at != body_start and raw[at - 1 : at] != b"\n":
            pos = at + len(delimiter)
            continue
        if part_start is not None:
            if budget[0] <= 0:
                budget[1] += 1
            else:
                part_end = at - 2 if raw[at - 2 : at] == b"\r\n" else at - 1
                part_end = max(part_start, part_end)
                children.append(_locate(raw, part_start, part_end, depth + 1, budget))
        closing = raw.startswith(b"--", at + len(delimiter))
        part_start = _line_end_after(raw, at, end)
        pos = part_start
        if closing:
            part_start = None
            break
    if part_start is not None and part_start < end:  # no closing delimiter: take the rest
        if budget[0] <= 0:
            budget[1] += 1
        else:
            children.append(_locate(raw, part_start, end, depth + 1, budget))
    return _Part(headers, body_start, end, tuple(children))


def _cut_lines(raw: bytes, start: int, end: int) -> Iterator[bytes]:
    pos = start
    while pos < end:
        stop = _line_end_after(raw, min(pos + CHUNK, end), end) if pos + CHUNK < end else end
        yield raw[pos:stop]
        pos = stop


def iter_decoded(raw: bytes, encoding: str, start: int, end: int) -> Iterator[bytes]:
    """The body ``raw[start:end]`` decoded from its Content-Transfer-Encoding, in chunks.

    Malformed base64 or quoted-printable yields what can be decoded; it never raises.
    """
    if encoding == "base64":
        carry = b""
        for chunk in _cut_lines(raw, start, end):
            data = carry + _NOT_BASE64.sub(b"", chunk)
            usable = len(data) - len(data) % 4
            carry = data[usable:]
            if usable:
                try:
                    yield binascii.a2b_base64(data[:usable])
                except binascii.Error:
                    return
        if carry.rstrip(b"="):
            try:
                yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))
            except binascii.Error:
                return
    elif encoding == "quoted-printable":
        for chunk in _cut_lines(raw, start, end):
            yield binascii.a2b_qp(chunk)
    else:
        yield from _cut_lines(raw, start, end)


def _encoding(headers: EmailMessage) -> str:
    return _header(headers, "content-transfer-encoding").strip().lower() or "7bit"


def _leaves(part: _Part) -> Iterator[_Part]:
    if part.children:
        for child in part.children:
            yield from _leaves(child)
    elif part.headers.get_content_maintype() != "multipart":
        yield part


def safe_filename(name: str, fallback: str) -> str:
    """A file name with no directory, quote, backslash or control character in it."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\"'`<>:|?*;")
    name = name.strip(" .")
    return name[:200] or fallback


def _decode_text(raw: bytes, part: _Part, mail: ParsedMail) -> str:
    data = b"".join(iter_decoded(raw, _encoding(part.headers), part.body_start, part.body_end))
    charset = part.headers.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset)
    except LookupError:
        mail.problems.append(f"unknown charset {charset!r}")
        mail.raw_only = True
        text = data.decode("utf-8", "replace")
    except UnicodeDecodeError:
        encoding = _encoding(part.headers)
        if encoding == "base64" and not _valid_base64(raw, part.body_start, part.body_end):
            mail.problems.append("a text part whose base64 is broken (cannot be decoded)")
        else:
            mail.problems.append(f"text that is not valid {charset}")
        mail.raw_only = True
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _valid_base64(raw: bytes, start: int, end: int) -> bool:
    """True when ``raw[start:end]`` is base64 with nothing but whitespace besides."""
    data = re.sub(rb"\s", b"", raw[start:end])
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        return False
    return True


def parse_mail(raw: bytes) -> ParsedMail:
    """Read ``raw`` for the preview; a message that cannot be read comes back ``raw_only``."""
    mail = ParsedMail()
    try:
        budget = [MAX_PARTS + 1, 0]  # parts (the root too) that may still be read, skipped
        root = _locate(raw, 0, len(raw), 0, budget)
    except Exception as exc:
        mail.raw_only = True
        mail.problems.append(f"not a readable message: {exc}")
        mail.text = raw[:_MAX_SEARCH_TEXT].decode("utf-8", "replace").replace("\r\n", "\n")
        return mail
    headers = root.headers
    mail.headers = _header_list(headers)
    if not mail.headers:
        mail.raw_only = True
        mail.problems.append("no headers")
    mail.subject = " ".join(_header(headers, "subject").split())
    mail.from_ = _header(headers, "from")
    mail.to = _addresses(headers, "to")
    mail.cc = _addresses(headers, "cc")
    mail.header_date = _header(headers, "date")
    if budget[1]:
        mail.problems.append(
            f"{budget[1]:,} more part(s) not shown: only the first {MAX_PARTS:,} parts are read"
        )
    for leaf in _leaves(root):
        leaf_headers = leaf.headers
        content_type = leaf_headers.get_content_type()
        disposition = (leaf_headers.get_content_disposition() or "").lower()
        try:
            filename = leaf_headers.get_filename()
        except Exception:
            filename = None
        is_body_text = (
            content_type in ("text/plain", "text/html")
            and disposition != "attachment"
            and not filename
        )
        if is_body_text and content_type == "text/plain" and mail.text is None:
            mail.text = _decode_text(raw, leaf, mail)
            continue
        if is_body_text and content_type == "text/html" and mail.html is None:
            mail.html = _decode_text(raw, leaf, mail)
            continue
        encoding = _encoding(leaf_headers)
        size = sum(len(c) for c in iter_decoded(raw, encoding, leaf.body_start, leaf.body_end))
        index = len(mail.attachments)
        content_id = _header(leaf_headers, "content-id").strip().strip("<>") or None
        mail.attachments.append(
            Attachment(
                index=index,
                filename=safe_filename(_clean(filename or ""), f"attachment-{index + 1}"),
                content_type=content_type,
                size=size,
                content_id=content_id,
                inline=disposition == "inline" or (content_id is not None and not disposition),
                encoding=encoding,
                body_start=leaf.body_start,
                body_end=leaf.body_end,
            )
        )
    if mail.text is None and mail.html is None and not mail.attachments:
        mail.text = ""
    return mail


def search_text(mail: ParsedMail, mail_from: str, rcpt_tos: list[str]) -> str:
    """The lower-cased text that ``?q=`` searches: subject, addresses and body."""
    parts = [mail.subject, mail.from_, *mail.to, *mail.cc, mail_from, *rcpt_tos]
    parts.append((mail.text or "")[:_MAX_SEARCH_TEXT])
    parts.append((mail.html or "")[:_MAX_SEARCH_TEXT])
    return "\n".join(parts).casefold()
