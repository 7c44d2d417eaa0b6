"""Header values as they go on the wire: injection checks, RFC 2047, RFC 2231, folding.

Every function here returns ASCII text. Values are built unfolded; :func:`fold_header`
folds one header line for output, so folding depends only on the line separator.
"""

from __future__ import annotations

import base64
import codecs
import email.charset
import email.utils
import functools
import re
import socket
import urllib.parse
from datetime import UTC, datetime

from mailcore._wire.domains import ascii_domain
from mailcore.errors import BadHeaderError

__all__ = [
    "MAX_LINE_LENGTH",
    "check_header_name",
    "check_header_value",
    "describe_line_break",
    "encode_unstructured",
    "encode_words",
    "fits_line_limit",
    "fold_header",
    "format_date",
    "format_param",
    "has_line_break",
    "header_charset",
    "make_message_id",
    "needs_encoding",
    "resolve_charset",
]

#: RFC 5322: a line must not be longer than this many octets (without CRLF).
MAX_LINE_LENGTH = 998
#: RFC 5322: lines should not be longer than this; header lines are folded to it.
FOLD_WIDTH = 78
#: RFC 2047: a line holding encoded words should be at most this long.
RFC2047_LINE = 76
#: RFC 2047: an encoded word is at most this long.
_ENCODED_WORD_MAX = 75
#: The longest header name: its line must still hold ": " and an encoded word.
MAX_HEADER_NAME_LENGTH = MAX_LINE_LENGTH - 2 - _ENCODED_WORD_MAX

# Characters that end a header line for some parser: CR and LF for every MTA, the others
# for Python's str.splitlines() (policy.default refuses them in header values), and NUL.
_LINE_BREAK = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00]")
# A header name is printable ASCII without a colon (RFC 5322 ftext).
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# Anything but printable ASCII or tab must be RFC 2047-encoded.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e\t]")
# Folding points: each piece is optional leading whitespace plus a word.
_FOLD_PIECES = re.compile(r"[ \t]*[^ \t]+|[ \t]+$")

# RFC 2047 section 5 (3): characters a "Q"-encoded word may hold anywhere, even in a phrase.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = tuple(
    "_" if byte == 0x20 else chr(byte) if byte in _Q_SAFE else f"={byte:02X}" for byte in range(256)
)
# The octets a "Q" word writes as one character (deleted by translate to count the rest).
_Q_ONE_CHARACTER = bytes(sorted(_Q_SAFE | {0x20}))
# RFC 2231 attribute-char: what may stay unescaped in an extended parameter value.
_ATTRIBUTE_SAFE = "!#$&+-.^_`|~"
_QUOTED_PARAM_MAX = 900
_PARAM_CHUNK = 60


def check_header_name(name: str) -> None:
    """Raise :class:`BadHeaderError` unless ``name`` is a valid header field name."""
    found = _LINE_BREAK.search(name)
    if found:
        raise BadHeaderError(f"header name {name!r} contains {describe_line_break(found.group())}")
    if not _HEADER_NAME.fullmatch(name):
        raise BadHeaderError(
            f"header name {name!r} is invalid: use printable ASCII without spaces or ':'"
        )
    if len(name) > MAX_HEADER_NAME_LENGTH:
        raise BadHeaderError(
            f"header name {name!r} is {len(name)} characters long; at most "
            f"{MAX_HEADER_NAME_LENGTH} leave room for the value on a 998-octet line"
        )


def has_line_break(value: str) -> bool:
    """True when ``value`` holds a character :func:`check_header_value` refuses."""
    return _LINE_BREAK.search(value) is not None


def check_header_value(name: str, value: str) -> None:
    """Raise :class:`BadHeaderError` if ``value`` holds a line break (or NUL).

    Besides CR and LF this refuses the other characters :meth:`str.splitlines` breaks on
    (VT, FF, FS, GS, RS, NEL, U+2028, U+2029): Python's own e-mail parser and generator
    treat them as line ends, so they could start a forged header there.
    """
    found = _LINE_BREAK.search(value)
    if found:
        raise BadHeaderError(
            f"header {name!r} contains {describe_line_break(found.group())} ({found.group()!r} in "
            f"{value!r}); header values can't contain newlines or NUL characters"
        )


def describe_line_break(character: str) -> str:
    """What a character :func:`check_header_value` refuses is, for an error message."""
    if character == "\x00":
        return "a NUL character"
    if character in "\r\n":
        return "a newline"
    return "a line break"


def needs_encoding(value: str) -> bool:
    """True when ``value`` cannot go on the wire as it is (non-ASCII, control characters,
    or text a decoder would mistake for an RFC 2047 encoded word)."""
    return _NOT_PLAIN.search(value) is not None or looks_encoded(value)


def looks_encoded(value: str) -> bool:
    """True when a decoder might take part of ``value`` for an encoded word: Python's
    decodes "=?utf-8?q?two words?=" too, so anything from "=?" to a later "?="."""
    start = value.find("=?")
    return start != -1 and value.find("?=", start + 2) != -1


@functools.lru_cache(maxsize=64)
def resolve_charset(name: str) -> tuple[str, str]:
    """``(mime_name, python_codec)`` for a charset name such as ``"utf8"`` or ``"latin-1"``.

    Raises ``ValueError`` for a charset Python does not know.
    """
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown charset {name!r}") from None
    if codec == "utf-8":
        return "utf-8", "utf-8"
    return str(email.charset.Charset(name).input_charset), codec


def header_charset(text: str, preferred: str) -> str:
    """The charset for encoded words holding ``text``: ``preferred`` when it is UTF-8 or a
    single-byte charset able to encode ``text``, otherwise UTF-8."""
    mime_name, codec = resolve_charset(preferred)
    if codec == "utf-8":
        return "utf-8"
    try:
        encoded = text.encode(codec)
    except UnicodeEncodeError:
        return "utf-8"
    return mime_name if len(encoded) == len(text) else "utf-8"


def encode_words(text: str, charset: str = "utf-8", first: int = _ENCODED_WORD_MAX) -> list[str]:
    """RFC 2047 encoded words (each at most 75 characters, the first at most ``first``)
    that decode to ``text``.

    Uses "Q" (restricted to the characters allowed in phrases, so the result is also a
    valid display name) or "B", whichever is shorter. Words split after a space or tab
    when the text has one where a split is needed, else between characters (never inside
    one); the caller joins them with spaces, which RFC 2047 decoders ignore.
    """
    _, codec = resolve_charset(charset)
    data = text.encode(codec)
    q_length = len(data) + 2 * len(data.translate(None, _Q_ONE_CHARACTER))
    b_length = (len(data) + 2) // 3 * 4
    kind = "q" if q_length <= b_length else "b"
    prefix = f"=?{charset}?{kind}?"
    overhead = len(prefix) + 2
    budget = _ENCODED_WORD_MAX - overhead
    # The first word is shorter when it shares a line with the header name, but always
    # has room for a few characters.
    first_budget = max(min(first, _ENCODED_WORD_MAX) - overhead, 12)
    # One word, when it fits, from the text encoded at once (the same octets as character
    # by character for UTF-8 and single-byte charsets).
    one_word = codec == "utf-8" or len(data) == len(text)
    if kind == "q":
        if one_word and q_length <= first_budget:
            return [f"{prefix}{''.join(map(_Q_TABLE.__getitem__, data))}?="]
        pieces = ["".join(_Q_TABLE[byte] for byte in char.encode(codec)) for char in text]
        sizes = list(map(len, pieces))
        return [
            f"{prefix}{''.join(pieces[start:end])}?="
            for start, end in _word_spans(text, sizes, first_budget, budget)
        ]
    if one_word and len(data) <= first_budget // 4 * 3:
        return [f"{prefix}{_b64(data)}?="]
    encoded = [char.encode(codec) for char in text]
    sizes = list(map(len, encoded))
    return [
        f"{prefix}{_b64(b''.join(encoded[start:end]))}?="
        for start, end in _word_spans(text, sizes, first_budget // 4 * 3, budget // 4 * 3)
    ]


def _word_spans(text: str, sizes: list[int], first: int, limit: int) -> list[tuple[int, int]]:
    """``(start, end)`` slices of ``text`` whose ``sizes`` add up to at most ``first`` (the
    first slice) or ``limit`` (the others), each of at least one character: a slice ends
    after its last space or tab when it has one, else where the next character would not
    fit.

    A reader that (against RFC 2047) keeps the whitespace between two encoded words, such
    as Python's address parser before CPython gh-128110, then only doubles a space of the
    text (a phrase reads a run of spaces as one) instead of inserting one into a word.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    size = 0
    after_blank = 0  # index just after the last space or tab in text[start:], or 0
    for index, char_size in enumerate(sizes):
        while size + char_size > (limit if spans else first) and index > start:
            end = after_blank if after_blank > start else index
            spans.append((start, end))
            size -= sum(sizes[start:end])
            start = end
            after_blank = 0
        size += char_size
        if text[index] in " \t":
            after_blank = index + 1
    spans.append((start, len(text)))
    return spans


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_unstructured(name: str, value: str, charset: str) -> str:
    """An unstructured header value (such as Subject) ready for the wire.

    Plain printable ASCII stays as it is when it does not start with whitespace (which
    parsers drop) and folds into lines of at most 998 octets; anything else becomes
    RFC 2047 encoded words in ``charset`` (or UTF-8), which decode back to ``value``.
    """
    if not needs_encoding(value) and not value[:1].isspace() and fits_line_limit(name, value):
        return value
    first = RFC2047_LINE - len(name) - 2
    return " ".join(encode_words(value, header_charset(value, charset), first))


def fits_line_limit(name: str, value: str) -> bool:
    """True when ``name: value`` folds into lines of at most 998 octets (a long word, or a
    long run of whitespace, may not)."""
    if len(name) + 2 + len(value) <= MAX_LINE_LENGTH:
        return True
    return all(len(line) <= MAX_LINE_LENGTH for line in fold_header(name, value).split("\n"))


def fold_header(name: str, value: str, linesep: str = "\n", width: int = FOLD_WIDTH) -> str:
    """``name: value`` folded at whitespace to ``width`` where possible, ending in ``linesep``.

    Folding inserts ``linesep`` before existing whitespace, so unfolding gives the value back
    exactly; no continuation line is whitespace only.
    """
    line = f"{name}: {value}"
    if len(line) <= width:
        return line + linesep
    pieces = _FOLD_PIECES.findall(value)
    if not pieces:
        return line + linesep
    # The first word stays on the name's line: folding right after the colon would add
    # leading whitespace to the value for some parsers (Python's policy.default).
    lines = [f"{name}: {pieces[0]}"]
    for piece in pieces[1:]:
        if len(lines[-1]) + len(piece) <= width or not piece.strip() or piece[0] not in " \t":
            lines[-1] += piece
        else:
            lines.append(piece)
    return linesep.join(lines) + linesep


def format_param(key: str, value: str) -> str:
    """A MIME parameter: ``key="value"`` for plain ASCII, else RFC 2231 (``key*=utf-8''...``),
    split into ``key*0*``, ``key*1*``... continuations when long."""
    # Readers decode an encoded word even inside quotes, so "=?" goes RFC 2231 too.
    if not _NOT_PLAIN.search(value) and "=?" not in value:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        if len(escaped) <= _QUOTED_PARAM_MAX:  # measured escaped: "\\" * 500 is 1000 long
            return f'{key}="{escaped}"'
    encoded = urllib.parse.quote(value, safe=_ATTRIBUTE_SAFE, encoding="utf-8")
    if len(encoded) <= _PARAM_CHUNK:
        return f"{key}*=utf-8''{encoded}"
    chunks: list[str] = []
    start = 0
    while start < len(encoded):
        # The first segment shares its line with "utf-8''" (and maybe the header name).
        end = min(start + _PARAM_CHUNK - (0 if chunks else 10), len(encoded))
        if end < len(encoded):
            # Never split a %XX escape, nor a UTF-8 character (before a %80-%BF escape).
            percent = encoded.rfind("%", max(end - 2, start), end)
            if percent != -1:
                end = percent
            while end - start > 3 and encoded[end] == "%" and encoded[end + 1] in "89AB":
                end -= 3
        chunks.append(encoded[start:end])
        start = end
    first, *rest = chunks
    parts = [f"{key}*0*=utf-8''{first}"]
    parts.extend(f"{key}*{index}*={chunk}" for index, chunk in enumerate(rest, 1))
    return "; ".join(parts)


def format_date(moment: datetime | None = None) -> str:
    """An RFC 5322 date, e.g. ``Tue, 05 Mar 2024 14:03:09 +0000`` (now, in UTC, by default).

    A naive ``moment`` is taken as UTC.
    """
    if moment is None:  # what email.utils.format_datetime gives, three times faster
        now = datetime.now(UTC)
        return (
            f"{_DAYS[now.weekday()]}, {now.day:02d} {_MONTHS[now.month - 1]} {now.year:04d} "
            f"{now.hour:02d}:{now.minute:02d}:{now.second:02d} +0000"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return email.utils.format_datetime(moment)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.cache
def _local_domain() -> str:
    try:
        return ascii_domain(socket.getfqdn())
    except ValueError:  # a host name that is no domain (such as "my_host-")
        return "localhost"


def make_message_id(domain: str | None = None) -> str:
    """A new ``<...@domain>`` Message-ID; ``domain`` defaults to this host's FQDN (looked
    up once per process) and is IDNA-encoded (``ValueError`` if IDNA 2008 refuses it)."""
    return email.utils.make_msgid(domain=ascii_domain(domain) if domain else _local_domain())
