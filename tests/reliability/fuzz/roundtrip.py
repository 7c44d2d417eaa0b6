"""Serialize a message both ways, read it back with the standard parser, and check what
every property shares: no line over 998 octets, ASCII headers, no structural defect."""

from __future__ import annotations

import email
import email.policy
import itertools
import re
from collections.abc import Iterable
from email import _header_value_parser as header_parser
from email.errors import NonPrintableDefect
from email.header import decode_header, make_header
from email.message import EmailMessage as ParsedMessage

import idna as idna_package

from mailcore import EmailMessage
from tests.reliability.fuzz.tally import record

__all__ = [
    "PYTHON_KEEPS_SPACE_BETWEEN_ENCODED_WORDS",
    "assert_shows",
    "compared",
    "decoded_unstructured",
    "expected_header_names",
    "idna",
    "phrase",
    "read_back",
    "rfc2047_reading",
    "split_addr_spec",
    "splits_only_long_words",
]

_MAX_LINE = 998


def idna(domain: str) -> str:
    """``domain`` as it goes on the wire: IDNA 2008 with the UTS #46 mapping (computed
    here with the ``idna`` package itself, not with mailcore's code)."""
    return domain if domain.isascii() else idna_package.encode(domain, uts46=True).decode()


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


_BLANKS = re.compile(r"[ \t]\s*")
# What readers cannot read back exactly (documented): a tab right after a word that goes
# as an encoded word (Python reads a space), and a space or tab followed by another kind
# of whitespace inside an encoded word (Python reads one space), and more than 76 tabs
# or other blanks without a space (too long for one line: encoded, read as one space).
_TOKENS = re.compile(r"[ \t]+|[^ \t]+")
_ENCODED = re.compile(r"[^!-~]|=\?|\?=")


def _tab_after_encoded(display_name: str) -> bool:
    """True when a word that goes as an encoded word (non-ASCII or control characters,
    ``=?``, ``?=``, over 76 characters) is followed directly by a tab."""
    tokens = _TOKENS.findall(display_name)
    return any(
        following[0] == "\t" and (len(word) > 76 or _ENCODED.search(word) is not None)
        for word, following in itertools.pairwise(tokens)
        if word[0] not in " \t"
    )


_MIXED_BLANKS = re.compile(r"[ \t][^\S \t]|[^ \S]{77,}")


def compared(display_name: str) -> str:
    """``display_name`` as read back: exactly, or as :func:`phrase` gives it when it holds
    blanks no reader keeps exactly next to an encoded word (a tab right after one, or a
    space followed by other whitespace such as U+3000)."""
    if _tab_after_encoded(display_name) or _MIXED_BLANKS.search(display_name):
        record("display names compared", "blanks as one space")
        return phrase(display_name)
    record("display names compared", "exactly")
    return display_name


_ENCODED_WORD = r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?="
_ADJACENT_WORDS = re.compile(rf"({_ENCODED_WORD})\s+(?=({_ENCODED_WORD}))")


def rfc2047_reading(value: str) -> str:
    """``value`` (an address header's value) with the whitespace between adjacent encoded
    words removed, so that Python's parser reads it as RFC 2047 section 6.2 says every
    reader must: "any 'linear-white-space' that separates a pair of adjacent
    'encoded-word's is ignored"."""
    return _ADJACENT_WORDS.sub(r"\1", "".join(value.splitlines()))


def _decoded(word: str) -> str:
    return str(make_header(decode_header(word)))


def splits_only_long_words(value: str) -> bool:
    """True when two adjacent encoded words of ``value`` split a word (neither the first
    ends nor the second starts with a space or tab), and every such split is one a writer
    cannot avoid: the first word holds no space or tab, so the word is longer than one
    encoded word. A split inside a word where the encoded text had a space to split at
    instead gives False (as does a value without such splits)."""
    unavoidable = False
    for match in _ADJACENT_WORDS.finditer("".join(value.splitlines())):
        left, right = _decoded(match.group(1)), _decoded(match.group(2))
        if left[-1:] in (" ", "\t") or right[:1] in (" ", "\t"):
            continue
        if " " in left or "\t" in left:
            return False
        unavoidable = True
    return unavoidable


#: Whether this Python's address parser keeps the whitespace between two adjacent
#: encoded words of a display name (CPython gh-128110; RFC 2047 says to drop it).
PYTHON_KEEPS_SPACE_BETWEEN_ENCODED_WORDS = (
    email.policy.default.header_factory("To", "=?utf-8?q?a?= =?utf-8?q?b?= <a@example.com>")
    .addresses[0]
    .display_name
    == "a b"
)


def _rfc2047_addresses(name: str, raw: str) -> list[tuple[str, str, str]]:
    header = email.policy.default.header_factory(name, rfc2047_reading(raw))
    return [(a.display_name, a.username, a.domain) for a in header.addresses]


def assert_shows(
    message: ParsedMessage,
    name: str,
    expected: list[tuple[str, str, str]],
    given: str | None = None,
) -> None:
    """Header ``name`` (all of its occurrences) holds exactly the addresses ``expected``
    (``(display_name, username, domain)``, domain as on the wire), display names compared
    exactly (or as :func:`phrase` gives them, see :func:`compared`), read twice: by an
    RFC 2047 reader (Python's parser given
    :func:`rfc2047_reading`) and by ``policy.default`` as it is. No whitespace may be
    inserted or lost in a display name. Python's own reading is not compared when this
    Python has CPython gh-128110 (it reads a space between adjacent encoded words) and
    the header splits only words too long for one encoded word
    (:func:`splits_only_long_words`), nor when the header is ``given`` (a ``headers=``
    value) sent as it was written.

    The header must parse without defects, except ``NonPrintableDefect`` for control
    characters the caller put in a display name (they read back as written).
    """
    python_reading: list[tuple[str, str, str]] = []
    rfc_reading: list[tuple[str, str, str]] = []
    for value in message.get_all(name) or []:
        defects = [d for d in value.defects if not isinstance(d, NonPrintableDefect)]
        assert not defects, f"{name}: parser defects {defects} in {str(value)!r}"
        python_reading.extend((a.display_name, a.username, a.domain) for a in value.addresses)
    raws = [raw for key, raw in message.raw_items() if key.lower() == name.lower()]
    for raw in raws:
        rfc_reading.extend(_rfc2047_addresses(name, raw))
    exact = all(compared(d) == d for d, _, _ in expected)
    read = compared if exact else phrase
    wanted = [(read(d), u, h) for d, u, h in expected]
    assert [(read(d), u, h) for d, u, h in rfc_reading] == wanted, "as RFC 2047 reads it"
    if given is not None and ["".join(raw.splitlines()) for raw in raws] == [given]:
        record("address headers read by Python", "not compared: sent as given")
    elif PYTHON_KEEPS_SPACE_BETWEEN_ENCODED_WORDS and any(map(splits_only_long_words, raws)):
        record("address headers read by Python", "not compared: long word, gh-128110")
    else:
        assert [(read(d), u, h) for d, u, h in python_reading] == wanted, "as Python reads it"
        record("address headers read by Python", "exact")


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
