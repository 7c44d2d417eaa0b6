"""Hostile text for header fields: control characters, Unicode line separators, very long
values, encoded-word look-alikes, quotes, commas, angle brackets, backslashes, non-ASCII.

The strategies are built from cheap pieces (sampled fragments, short random text, one
piece repeated up to a few thousand characters) so that 10,000 examples per property run
in about a minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from typing import TypeVar

from hypothesis import strategies as st

__all__ = [
    "LINE_BREAKS",
    "IntendedMailbox",
    "MailboxInput",
    "ascii_text",
    "charsets",
    "clean_text",
    "has_line_break",
    "header_names",
    "hostile_text",
    "mailbox_inputs",
    "mixed_text",
    "mostly",
    "valid_header_names",
    "without_line_breaks",
    "worded_text",
]

#: What mailcore refuses in a header value: CR, LF, the other characters
#: ``str.splitlines()`` (and so Python's e-mail parser) breaks lines on, and NUL.
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
_LINE_BREAK_RE = re.compile(f"[{re.escape(LINE_BREAKS)}]")

# Characters with a meaning somewhere in a header: separators, quoting, encoded words,
# RFC 2231, comments, groups, whitespace of several kinds.
_SPECIALS = " \t\"\\,;:<>@()[]=?_%'*.!#$&+-/^`{|}~"
_CONTROLS = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
_UNICODE = "éüßñØΩж中文日本語한국어😀🎉\u0301\u200b\u200d\u202e\ufeff\u00a0\u3000\u2009\uffff"
_ALPHABET = _SPECIALS + _CONTROLS + LINE_BREAKS + _UNICODE + "aAzZ09"

# Fragments a parser or a decoder may treat specially.
_FRAGMENTS = [
    "=?utf-8?q?",
    "=?UTF-8?B?",
    "?=",
    "=?utf-8?q?hidden?=",
    "=?utf-8?q?two words?=",
    "=?utf-8?b?QmNjOiBldmlsQGV4YW1wbGUuY29t?=",
    "=?iso-8859-1?q?caf=E9?=",
    "=?us-ascii*en?q?x?=",
    "=?unknown-charset?q?x?=",
    "=?utf-8?q?=0D=0ABcc:_evil@example.com?=",
    "=?=?=",
    "\r\nBcc: evil@example.com",
    "\nBcc: evil@example.com",
    "Bcc: evil@example.com",
    "evil@example.com",
    "<evil@example.com>",
    ", evil@example.com",
    '"Doe, John"',
    "undisclosed-recipients:;",
    "(comment)",
    "utf-8''%0D%0A",
    "filename*0*=",
    "--boundary",
    "data:",
    ".txt",
    ".eml",
    "From ",
    ">From ",
    "\\",
    '\\"',
    " ",
    "  ",
    "\t",
]

_SHORT_TEXT = st.text(alphabet=_ALPHABET, max_size=6)
_ANY_UNICODE = st.text(st.characters(exclude_categories=["Cs"]), max_size=4)
_PIECE = st.one_of(st.sampled_from(_FRAGMENTS), _SHORT_TEXT, _ANY_UNICODE)
# One piece repeated: very long words, very long whitespace runs, long encoded text.
_LONG = st.builds(lambda piece, times: (piece * times)[:1500], _PIECE, st.integers(30, 1000))

# Names of words (non-ASCII ones, emoji, ASCII ones, look-alikes of encoded words) and
# the blanks between them (single and double spaces, tabs), sometimes repeated: a long
# name is split into several encoded words, where a reader may add or drop a space.
_WORDS = ["Zoë", "Ünal", "Ωμέγα", "άλφα", "Жёлтый", "синий", "😀", "Tó", "Example", "a", "=?x?="]
_BLANKS = [" ", " ", " ", "  ", "\t", " \t", "   "]
_WORDED = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_BLANKS)), min_size=1, max_size=8
).map(lambda pairs: "".join(word + blank for word, blank in pairs))
#: Names of words and blanks, sometimes repeated (up to a few hundred characters).
worded_text = st.builds(
    lambda text, times, strip: (text * times).strip() if strip else text * times,
    _WORDED,
    st.integers(1, 12),
    st.booleans(),
)

#: Any text, line breaks included; sometimes several kilobytes long.
hostile_text = st.one_of(
    st.lists(st.one_of(_PIECE, _PIECE, _PIECE, _PIECE, _PIECE, _LONG), max_size=8).map("".join),
    worded_text,
)


def has_line_break(text: str) -> bool:
    """True when ``text`` holds one of :data:`LINE_BREAKS`."""
    return _LINE_BREAK_RE.search(text) is not None


def without_line_breaks(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``strategy`` with every line break removed (text mailcore must accept)."""
    return strategy.map(lambda text: _LINE_BREAK_RE.sub("", text))


T = TypeVar("T")
_TENTH = st.sampled_from([False] * 9 + [True])

#: Hostile text without line breaks: what mailcore must accept in a header value.
clean_text = without_line_breaks(hostile_text)
#: Hostile text, with line breaks two times out of five.
mixed_text = st.one_of(clean_text, clean_text, clean_text, hostile_text, hostile_text)


@st.composite
def mostly(draw: st.DrawFn, valid: st.SearchStrategy[T], anything: st.SearchStrategy[T]) -> T:
    """A value of ``valid`` about nine times out of ten, else one of ``anything``."""
    return draw(anything if draw(_TENTH) else valid)


#: Printable ASCII only (what is kept as it is on the wire), sometimes long.
ascii_text = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    st.builds(
        lambda piece, times: piece * times,
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=5),
        st.integers(50, 600),
    ),
)

#: Charsets for ``message.encoding``: UTF-8, single-byte ones, and multi-byte ones that
#: headers replace by UTF-8.
charsets = st.sampled_from(["utf-8", "iso-8859-1", "iso-8859-15", "koi8-r", "cp1252", "shift_jis"])

_NAME_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != ":")
_SPECIAL_NAMES = [
    "Subject",
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-From",
    "Bcc",
    "Resent-Bcc",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Comments",
    "Keywords",
    "X-Mailer",
    "List-Unsubscribe",
]


def _random_case(name: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=False))


#: Valid header field names: X- names of any printable ASCII but ":", and the names
#: mailcore generates or refuses, in any case.
valid_header_names = st.one_of(
    st.text(st.sampled_from(_NAME_CHARS), min_size=1, max_size=30).map(lambda n: "X-" + n),
    st.builds(_random_case, st.sampled_from(_SPECIAL_NAMES), st.lists(st.booleans(), max_size=20)),
)
#: Header field names: valid ones, very long ones, and hostile text.
header_names = st.one_of(
    valid_header_names,
    valid_header_names,
    st.builds(
        lambda n, times: "X-" + n * times, st.sampled_from(["a", "Long-"]), st.integers(1, 1100)
    ),
    hostile_text,
)


@dataclass(frozen=True)
class IntendedMailbox:
    """What the caller means: a display name (``None`` when only a parser can tell) and an
    address (the domain as given, before IDNA)."""

    display_name: str | None
    username: str
    domain: str


@dataclass(frozen=True)
class MailboxInput:
    """One address as passed to mailcore, and what it means (``intended`` is ``None`` for
    raw text whose meaning only the parser can tell)."""

    value: str | Address
    intended: IntendedMailbox | None


# Atoms of local parts: every atext character appears in one.
_ATOMS = ["a", "john", "x0", "o'neil", "x+tag", "Z_9", "#!$%&'*+-/", "=?^_`{|}~", "a" * 20]
_DOT_ATOM = st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=3).map(".".join)
_DOT_ATOM_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
#: Local parts a caller may mean: dot-atoms, and printable ASCII that needs quoting.
clean_local_parts = st.one_of(
    _DOT_ATOM, _DOT_ATOM, st.text(_PRINTABLE, min_size=1, max_size=20), st.just("a" * 64)
)
#: Local parts mailcore must refuse or quote: non-ASCII, empty, too long, hostile.
hostile_local_parts = st.one_of(
    st.sampled_from(["zoë", "用户", "", "a" * 65, "a" * 300, "a\tb", "a\x7fb"]),
    mixed_text,
)
# Sampled, not generated: drawing labels character by character made the address
# properties spend most of their time in data generation.
_LABEL = st.sampled_from(["a", "b0", "mail", "example", "x-y", "0", "9z", "mx-01", "a" * 63])
_UNICODE_LABEL = st.sampled_from(["exämple", "bücher", "пример", "例え", "😀", "straße", "é"])
#: Domains a caller may mean: host names, IDN names (IDNA-encoded on the wire), literals.
clean_domains = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.lists(st.one_of(_LABEL, _UNICODE_LABEL), min_size=1, max_size=4).map(".".join),
    st.sampled_from(["example.com", "exämple.com", "[127.0.0.1]", "xn--ls8h.la", "localhost"]),
)
#: Domains mailcore must refuse: empty or long labels, specials, hostile text.
hostile_domains = st.one_of(
    st.sampled_from(
        ["", "a..b", ".com", "a" * 64 + ".com", "b.com>, <evil@example.org", "[1.2.3.4", "a b"]
    ),
    mixed_text,
)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _addr_spec(username: str, domain: str) -> str:
    local = username if _DOT_ATOM_RE.fullmatch(username) else _quote(username)
    return f"{local}@{domain}"


_FORMS = ["object", "quoted", "bare", "angle", "unquoted", "raw"]


@st.composite
def mailbox_inputs(draw: st.DrawFn, valid: bool = False) -> MailboxInput:
    """One address in one of the forms a caller uses (an ``Address`` object, a quoted
    display name, a bare or angle-bracketed address), or raw hostile text. With ``valid``,
    one of the first four forms, a well-formed address, a name without line breaks."""
    if valid:
        name = draw(
            st.one_of(st.just(""), without_line_breaks(hostile_text), ascii_text, worded_text)
        )
        clean = True
        form = draw(st.sampled_from(_FORMS[:4]))
    else:
        name = draw(st.one_of(st.just(""), mixed_text, ascii_text, worded_text))
        clean = draw(st.booleans())
        form = draw(st.sampled_from(_FORMS))
    username = draw(
        clean_local_parts if clean else st.one_of(clean_local_parts, hostile_local_parts)
    )
    domain = draw(clean_domains if clean else st.one_of(clean_domains, hostile_domains))
    if form == "object":
        try:
            return MailboxInput(
                Address(name, username, domain), IntendedMailbox(name, username, domain)
            )
        except ValueError:  # CR or LF: the standard library refuses it already
            form = "quoted"
    if form == "raw":
        return MailboxInput(draw(mixed_text), None)
    spec = _addr_spec(username, domain)
    if form == "unquoted":
        return MailboxInput(f"{name} <{spec}>", None)
    # A quoted name is text: mailcore keeps encoded-word look-alikes in it as written.
    shown = name
    value = {"quoted": f"{_quote(name)} <{spec}>", "bare": spec, "angle": f"<{spec}>"}[form]
    if form != "quoted":
        shown = ""
    intended = IntendedMailbox(shown, username, domain) if clean else None
    return MailboxInput(value, intended)
