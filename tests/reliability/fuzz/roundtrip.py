"""Serialize a message both ways, read it back with the standard parser, and check what
every property shares: no line over 998 octets, ASCII headers, no structural defect."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from email import _header_value_parser as header_parser
from email.errors import NonPrintableDefect
from email.message import EmailMessage as ParsedMessage

from mailcore import EmailMessage

__all__ = [
    "assert_shows",
    "decoded_unstructured",
    "expected_header_names",
    "idna",
    "phrase",
    "read_back",
    "split_addr_spec",
    "squeezed",
]

_MAX_LINE = 998


def idna(domain: str) -> str:
    """``domain`` as it goes on the wire."""
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def read_back(message: EmailMessage) -> ParsedMessage:
    """``message`` serialized with ``"\\r\\n"`` and with ``"\\n"``, each checked (line
    lengths, ASCII header, no parser defect) and parsed with ``policy.default``; both must
    carry the same headers. Returns the ``"\\r\\n"`` one (what SMTP sends)."""
    crlf = _parse_checked(message.serialize("\r\n"), b"\r\n")
    lf = _parse_checked(message.serialize("\n"), b"\n")
    assert _shape(crlf) == _shape(lf), "the two line separators give different headers"
    return crlf


def _parse_checked(data: bytes, newline: bytes) -> ParsedMessage:
    lines = data.split(newline)
    assert max(map(len, lines)) <= _MAX_LINE, "a line is longer than 998 octets"
    assert all(b"\r" not in line and b"\n" not in line for line in lines), "a stray CR or LF"
    assert data.split(newline * 2, 1)[0].isascii(), "8-bit octets in the header"
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    for part in parsed.walk():
        assert not part.defects, f"parser defects {part.defects} in {part.get_content_type()}"
    return parsed


_VOLATILE = frozenset({"date", "message-id", "content-type"})  # time, random id, boundary


def _shape(parsed: ParsedMessage) -> list[list[tuple[str, str]]]:
    """Every part's header fields, unfolded, except the ones that differ between two
    serializations of the same message; and its content type."""
    return [
        [("content-type", part.get_content_type())]
        + [
            (name, "".join(raw.splitlines()))
            for name, raw in part.raw_items()
            if name.lower() not in _VOLATILE
        ]
        for part in parsed.walk()
    ]


def decoded_unstructured(message: ParsedMessage, name: str) -> list[str]:
    """Every value of header ``name``, unfolded and RFC 2047-decoded as ``policy.default``
    decodes an unstructured header such as Subject, whatever the header's name."""
    return [
        str(email.policy.default.header_fetch_parse("X-Unstructured", raw))
        for key, raw in message.raw_items()
        if key.lower() == name.lower()
    ]


def phrase(display_name: str) -> str:
    """``display_name`` as a reader compares it: a space or tab and any whitespace after
    it (``str.isspace``, such as U+3000 or U+001F) is one space.

    RFC 5322 gives a phrase's whitespace that meaning, and Python's parser reads an RFC
    2047-encoded display name (one with non-ASCII or control characters) that way, so
    ``"Zoë\\t\\u3000Ü"`` reads back as ``"Zoë Ü"``. (Quoted ASCII names keep every space.)
    """
    return _BLANKS.sub(" ", display_name)


def squeezed(display_name: str) -> str:
    """``display_name`` without whitespace (``str.isspace``): how names sent as two or
    more encoded words are compared, because Python up to 3.13 reads a space between
    adjacent encoded words of a display name (CPython gh-128110; RFC 2047 section 6.2
    says to drop it), which :func:`phrase` then merges with the whitespace around it."""
    return _WHITESPACE.sub("", display_name)


_BLANKS = re.compile(r"[ \t]\s*")
_WHITESPACE = re.compile(r"\s+")
_ADJACENT_WORDS = re.compile(r"\?=[ \t\r\n]+=\?")


def assert_shows(message: ParsedMessage, name: str, expected: list[tuple[str, str, str]]) -> None:
    """Header ``name`` (all of its occurrences) holds exactly the addresses ``expected``
    (``(display_name, username, domain)``, domain as on the wire), as ``policy.default``
    reads them, display names compared as :func:`phrase` (or :func:`squeezed`) gives them.

    The header must parse without defects, except ``NonPrintableDefect`` for control
    characters the caller put in a display name (they read back as written).
    """
    shown: list[tuple[str, str, str]] = []
    adjacent = False
    for value in message.get_all(name) or []:
        defects = [d for d in value.defects if not isinstance(d, NonPrintableDefect)]
        assert not defects, f"{name}: parser defects {defects} in {str(value)!r}"
        shown.extend((a.display_name, a.username, a.domain) for a in value.addresses)
    for key, raw in message.raw_items():
        if key.lower() == name.lower() and _ADJACENT_WORDS.search(raw):
            adjacent = True
    normal = squeezed if adjacent else phrase
    assert [(normal(d), u, h) for d, u, h in shown] == [(normal(d), u, h) for d, u, h in expected]


def split_addr_spec(spec: str) -> tuple[str, str]:
    """``(local_part, domain)`` of an envelope address, unquoted, as a reader parses it."""
    token, rest = header_parser.get_addr_spec(spec)
    assert not rest, f"{spec!r} is not one addr-spec"
    return token.local_part, token.domain


def expected_header_names(
    to: bool, cc: bool, reply_to: bool, extra: Iterable[str], multipart: bool
) -> list[str]:
    """The sorted top-level header names mailcore is documented to write: the generated
    ones, each replaced by a same-named extra header (Subject, From, To, Cc, Reply-To,
    Date, Message-ID, MIME-Version; any case), then the other extra headers."""
    names = ["Subject", "From"]
    names += ["To"] * to + ["Cc"] * cc + ["Reply-To"] * reply_to
    names += ["Date", "Message-ID", "MIME-Version", "Content-Type"]
    if not multipart:
        names.append("Content-Transfer-Encoding")
    lowered = {name.lower(): index for index, name in enumerate(names)}
    for name in extra:
        index = lowered.get(name.lower())
        if index is not None:
            names[index] = name
        else:
            names.append(name)
    return sorted(names)
