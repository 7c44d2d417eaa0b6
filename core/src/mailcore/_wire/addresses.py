"""E-mail addresses: parsing, validation, IDNA domains and header formatting."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import _header_value_parser as header_parser
from email.errors import HeaderParseError, InvalidHeaderDefect, NonASCIILocalPartDefect
from email.headerregistry import Address

from mailcore._wire.domains import ascii_domain
from mailcore._wire.headers import (
    check_header_value,
    encode_words,
    fits_line_limit,
    has_line_break,
    header_charset,
    needs_encoding,
)
from mailcore.errors import InvalidAddressError

__all__ = [
    "Mailbox",
    "address_entries",
    "format_address_list",
    "format_address_value",
    "parse_address_list",
    "parse_mailbox",
]

#: RFC 5321: an SMTP path holds at most 256 octets, so an address at most 254.
MAX_ADDRESS_LENGTH = 254

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_DOT_ATOM_RE = re.compile(_DOT_ATOM)
# Fast paths for the common shapes; everything else goes to the standard library parser.
# A display name of words (\w: letters and digits of any script) and ASCII atext, spaces
# between them, parses as the standard library parses it; other whitespace does not.
_SIMPLE_RE = re.compile(rf"({_DOT_ATOM})@({_HOSTNAME})")
_NAMED_RE = re.compile(rf"([\w!#$%&'*+/=?^`{{|}}~ -]*?)[ \t]*<({_DOT_ATOM})@({_HOSTNAME})>")
# A quoted display name and an address in angle brackets (which may hold no "<", ">").
_QUOTED_NAME_RE = re.compile(r'"((?:[^"\\]|\\.)*)"[ \t]*<([^<>]+)>')
_QUOTED_PAIR = re.compile(r"\\(.)")
# formataddr's rule: a display name with any of these must be quoted.
# (and, for every reader to keep it, a tab).
_NEEDS_QUOTES = re.compile(r'[][\\()<>@,:;".\t]|^\s|\s$|\s\s')
# A word this long would make the header impossible to fold nicely: encode it instead.
_LONG_WORD = 76
# ... and so would a long run of whitespace (inside quotes it cannot be folded away).
_LONG_PIECE = re.compile(rf"\S{{{_LONG_WORD + 1},}}|\s{{{_LONG_WORD + 1},}}")
_FIRST_WORD = 66
# A display name's words and the whitespace between them, and a word that may stay
# unencoded next to encoded words (an RFC 5322 atom short enough to fold).
_PHRASE_TOKENS = re.compile(r"[ \t]+|[^ \t]+")
_PLAIN_WORDS = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")
# Two encoded words and the whitespace between them (which RFC 2047 readers drop).
_ENCODED_WORD = r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?="
_ADJACENT_ENCODED_WORDS = re.compile(rf"({_ENCODED_WORD})[ \t]+(?={_ENCODED_WORD})")


class _Invalid(Exception):
    """Internal: why an address is invalid (the caller adds which field held it)."""


@dataclass(frozen=True)
class Mailbox:
    """One parsed address: ``display_name`` (may be empty), ``local_part`` and ``domain``
    (as given, possibly Unicode)."""

    display_name: str
    local_part: str
    domain: str

    @functools.cached_property
    def addr_spec(self) -> str:
        """``local@domain`` with the domain IDNA-encoded, as used in the SMTP envelope."""
        return _addr_spec(self.local_part, self.domain)

    def format(self, charset: str = "utf-8") -> str:
        """The mailbox for a header: ``addr`` or ``Name <addr>``, the name quoted or
        RFC 2047-encoded as needed."""
        if not self.display_name:
            return self.addr_spec
        return f"{_format_phrase(self.display_name, charset)} <{self.addr_spec}>"


def _addr_spec(local_part: str, domain: str) -> str:
    if "=?" in local_part or "=?" in domain:
        # Readers decode an encoded word from there (even quoted, even up to a "?=" in the
        # next address), so the header would not show the envelope's address.
        raise _Invalid("it holds '=?', which readers take for the start of an encoded word")
    if not _DOT_ATOM_RE.fullmatch(local_part):
        escaped = local_part.replace("\\", "\\\\").replace('"', '\\"')
        local_part = f'"{escaped}"'
    try:
        domain = ascii_domain(domain)
    except ValueError as exc:
        raise _Invalid(f"its {exc}") from None
    spec = f"{local_part}@{domain}"
    if len(spec) > MAX_ADDRESS_LENGTH:
        raise _Invalid(f"it is longer than {MAX_ADDRESS_LENGTH} characters")
    return spec


def _format_phrase(name: str, charset: str) -> str:
    # "=?" alone is encoded too: with a "?=" later in the header (another address's) a
    # reader would decode the text between them as one encoded word.
    if needs_encoding(name) or "=?" in name or _LONG_PIECE.search(name):
        return _encode_phrase(name, header_charset(name, charset))
    if _NEEDS_QUOTES.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return name


def _encode_phrase(name: str, charset: str) -> str:
    """``name`` as a display name of RFC 2047 encoded words, atoms and quoted strings that
    Python's parser (3.11 on) and RFC 2047 readers both read back exactly.

    Readers read each run of whitespace between the words of a phrase as one space
    (Python does so inside an encoded word too), and RFC 2047 readers drop the whitespace
    between two adjacent encoded words, which Python before CPython gh-128110 reads as a
    space. So the words that need encoding (non-ASCII, control characters, ``=?``, ``?=``,
    over 76 characters), joined by single spaces, form encoded runs; the text between the
    runs (ASCII words, tabs, runs of spaces) goes as atoms or as a quoted string, which
    keeps every space. A run too long for one encoded word is split at a space, written
    as ``=?...?= ""=?...?=``: the empty quoted string keeps the encoded words apart, so
    every reader reads the space as one space. Left inexact in Python's reading: a word
    too long for one encoded word (split into adjacent encoded words) and a tab right
    after an encoded word (read as a space).
    """
    tokens = _PHRASE_TOKENS.findall(name)
    encode = [
        _needs_encoded_word(token) if token[0] not in " \t" else _too_long_blank(token)
        for token in tokens
    ]
    # A word right after an encoded run of blanks has no blank of its own to separate it
    # from that run: it goes in the run.
    for index in range(1, len(tokens)):
        if encode[index - 1] and tokens[index - 1][0] in " \t" and tokens[index][0] not in " \t":
            encode[index] = True
    pieces: list[tuple[bool, str]] = []  # (encoded, text), alternating
    index = 0
    while index < len(tokens):
        end = index + 1
        if encode[index]:
            while end < len(tokens):
                if encode[end]:  # adjacent: a run of blanks and the word after it
                    end += 1
                elif tokens[end] == " " and end + 1 < len(tokens) and encode[end + 1]:
                    end += 2
                else:
                    break
        else:
            while end < len(tokens) and not encode[end]:
                end += 1
        pieces.append((encode[index], "".join(tokens[index:end])))
        index = end
    out = ""
    for position, (encoded, text) in enumerate(pieces):
        if encoded:
            words = _encoded_run(text, charset, first=not out)
            out += words if not out or out.endswith('"') else " " + words
            continue
        if position:  # after an encoded word: its first blank is the separator
            out += " "  # (a tab there is read as a space)
            text = text[1:]
        if position == len(pieces) - 1:  # the end of the name
            out += text if _PLAIN_WORDS.fullmatch(text) else _quoted(text)
        elif text[-1:] == " " and _PLAIN_WORDS.fullmatch(text[:-1]):
            out += text[:-1]  # the next encoded run adds the space
        else:
            out += _quoted(text)  # the next encoded word follows the quote directly
    return out


def _needs_encoded_word(word: str) -> bool:
    return needs_encoding(word) or "=?" in word or "?=" in word or len(word) > _LONG_WORD


def _too_long_blank(blank: str) -> bool:
    """True for whitespace a quoted string cannot hold on a line: too long between two
    spaces to split at (encoded instead, read as one space)."""
    return len(blank) > _LONG_WORD and max(map(len, blank.split(" "))) > _LONG_WORD


def _quoted(text: str) -> str:
    """``text`` as quoted strings of about 76 characters at most, split at spaces (each
    space between two of them reads as itself)."""
    parts = []
    start = 0
    while len(text) - start > _LONG_WORD:
        cut = text.rfind(" ", start, start + _LONG_WORD)
        if cut == -1:
            cut = text.find(" ", start + _LONG_WORD)
            if cut == -1:
                break
        parts.append(text[start:cut])
        start = cut + 1
    parts.append(text[start:])
    return " ".join('"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"' for part in parts)


def _encoded_run(text: str, charset: str, first: bool) -> str:
    """``text`` (words joined by single spaces) as encoded words: split at spaces into
    ``=?...?= ""=?...?=`` where it needs more than one, inside a word only when that word
    alone is too long for one encoded word."""
    budget = _FIRST_WORD if first else 75
    words = encode_words(text, charset, budget)
    if len(words) == 1:
        return words[0]
    parts: list[str] = []
    current, *rest = text.split(" ")
    for word in rest:
        candidate = f"{current} {word}"
        if len(encode_words(candidate, charset, budget if not parts else 75)) == 1:
            current = candidate
        else:
            parts.append(current)
            current = word
    parts.append(current)
    return ' ""'.join(
        " ".join(encode_words(part, charset, budget if number == 0 else 75))
        for number, part in enumerate(parts)
    )


@functools.lru_cache(maxsize=1024)
def _parse(address: str) -> Mailbox:
    text = address.strip()
    match = _SIMPLE_RE.fullmatch(text)
    if match:
        mailbox = Mailbox("", match.group(1), match.group(2))
    else:
        match = _NAMED_RE.fullmatch(text) if "=?" not in text else None
        quoted = _QUOTED_NAME_RE.fullmatch(text) if not match else None
        if match:
            name = " ".join(match.group(1).split())
            mailbox = Mailbox(name, match.group(2), match.group(3))
        elif quoted and "=?" in quoted.group(1):
            # A quoted display name is text, never an encoded word (RFC 2047 section 5):
            # kept as written, it is encoded on the wire so no reader decodes it.
            spec = _parse(quoted.group(2))
            if spec.display_name:
                raise _Invalid("it is not a valid address")
            name = _QUOTED_PAIR.sub(r"\1", quoted.group(1))
            mailbox = Mailbox(name, spec.local_part, spec.domain)
        else:
            mailbox = _parse_with_stdlib(text)
    _ = mailbox.addr_spec  # validates the domain and the length
    return mailbox


def _parse_with_stdlib(text: str) -> Mailbox:
    try:
        token, rest = header_parser.get_mailbox(text)
        defects = token.all_defects
    # AttributeError: Python 3.11's parser on an unclosed literal ("a@[1.2.3.4");
    # RecursionError: on comments nested a thousand deep.
    except (HeaderParseError, IndexError, ValueError, AttributeError, RecursionError):
        raise _Invalid("it is not a valid address") from None
    if rest:
        raise _Invalid(f"only {str(token)!r} could be parsed")
    if any(isinstance(defect, NonASCIILocalPartDefect) for defect in defects):
        raise _Invalid("its local part is not ASCII (that would need SMTPUTF8)")
    if any(isinstance(defect, InvalidHeaderDefect) for defect in defects):
        raise _Invalid("it is not a valid address")
    local_part = token.local_part
    domain = token.domain
    if not local_part or not domain:
        raise _Invalid("it has no local part or no domain")
    display_name = token.display_name or ""
    if has_line_break(display_name):
        # Decoded from an encoded word; Python's own parser refuses to read it back.
        raise _Invalid(f"its display name decodes to a line break: {display_name!r}")
    return Mailbox(display_name, local_part, domain)


def parse_mailbox(address: str | Address, field: str) -> Mailbox:
    """Parse one address (``a@example.com``, ``Name <a@example.com>`` or an
    :class:`email.headerregistry.Address`); ``field`` names where it came from in errors.

    Raises :class:`~mailcore.errors.BadHeaderError` for a line break and
    :class:`~mailcore.errors.InvalidAddressError` for a malformed address, a non-ASCII local
    part or a domain that cannot be IDNA-encoded.
    """
    if isinstance(address, Address):
        for part in (address.display_name, address.username, address.domain):
            check_header_value(field, part)
        if not address.username or not address.domain:
            raise InvalidAddressError(f"invalid address {str(address)!r} in {field}: no domain")
        if not address.username.isascii():
            raise InvalidAddressError(
                f"invalid address {str(address)!r} in {field}: its local part is not ASCII"
            )
        mailbox = Mailbox(address.display_name, address.username, address.domain)
        try:
            _ = mailbox.addr_spec
        except _Invalid as exc:
            raise InvalidAddressError(
                f"invalid address {str(address)!r} in {field}: {exc}"
            ) from None
        return mailbox
    if not isinstance(address, str):
        raise _not_an_address(address, field)
    check_header_value(field, address)
    try:
        return _parse(address)
    except _Invalid as exc:
        raise InvalidAddressError(f"invalid address {address!r} in {field}: {exc}") from None


def address_entries(addresses: Iterable[object], field: str) -> list[str | Address]:
    """The entries of an address list such as ``to``: each a ``str`` or an
    :class:`email.headerregistry.Address`, empty strings dropped.

    Raises ``TypeError`` naming ``field`` (``"To"``...) for anything else, ``None``
    included: a recipient is never dropped silently.
    """
    entries: list[str | Address] = []
    for address in addresses:
        if isinstance(address, Address) or (isinstance(address, str) and address):
            entries.append(address)
        elif not isinstance(address, str):
            raise _not_an_address(address, field)
    return entries


def _not_an_address(value: object, field: str) -> TypeError:
    return TypeError(
        f"{field}: an address must be a str or an email.headerregistry.Address, "
        f"not {type(value).__name__} ({value!r})"
    )


def _rfc2047_display_names(value: str, count: int) -> list[str] | None:
    """The display names of the ``count`` mailboxes of ``value`` when it has adjacent
    encoded words, read with the whitespace between them dropped (RFC 2047 section 6.2),
    which Python's parser up to 3.13 keeps (CPython gh-128110); else ``None``."""
    joined = _ADJACENT_ENCODED_WORDS.sub(r"\1", value)
    if joined == value:
        return None
    token, _ = header_parser.get_address_list(joined)
    names = [found.display_name or "" for found in token.all_mailboxes]
    if len(names) != count:
        raise ValueError("the encoded words change the address list")
    return names


def format_address_list(mailboxes: Iterable[Mailbox], charset: str) -> str:
    """Mailboxes joined for an address header (``To``, ``Cc``...)."""
    return ", ".join(mailbox.format(charset) for mailbox in mailboxes)


def format_address_value(name: str, value: str, charset: str) -> str:
    """A caller-given address header value (from ``headers=``) made ready for the wire.

    Plain ASCII that folds into lines of at most 998 octets is kept as given (the caller
    owns its format: groups such as ``undisclosed-recipients:;`` stay possible); otherwise
    the addresses are parsed as readers parse them and formatted with RFC 2047 names and
    IDNA domains.
    """
    check_header_value(name, value)
    if not needs_encoding(value) and fits_line_limit(name, value):
        return value
    mailboxes = _parse_address_list(name, value)
    if not mailboxes:
        raise InvalidAddressError(f"no address in header {name!r}: {value!r}")
    return format_address_list(mailboxes, charset)


def parse_address_list(name: str, value: str) -> list[Mailbox]:
    """The mailboxes of the address header ``name: value`` (groups flattened), each
    validated as :func:`parse_mailbox`; :class:`~mailcore.errors.InvalidAddressError`
    naming the header otherwise."""
    check_header_value(name, value)
    return _parse_address_list(name, value)


def _parse_address_list(name: str, value: str) -> list[Mailbox]:
    """The mailboxes of ``value`` as Python's ``policy.default`` parser reads them
    (encoded words decoded, groups flattened), each validated as :func:`parse_mailbox`;
    display names as RFC 2047 reads them (:func:`_rfc2047_display_names`)."""
    invalid = InvalidAddressError(f"invalid address list {value!r} in header {name!r}")
    try:
        token, rest = header_parser.get_address_list(value)
        defects = token.all_defects
        found_mailboxes = token.all_mailboxes
        names = _rfc2047_display_names(value, len(found_mailboxes))
    except (HeaderParseError, IndexError, ValueError, AttributeError, RecursionError):
        raise invalid from None
    if rest:
        raise invalid
    mailboxes = []
    for index, found in enumerate(found_mailboxes):
        invalid_here = any(isinstance(d, InvalidHeaderDefect) for d in found.all_defects)
        # No addr_spec: Python 3.11 lists a group there for "a:;a:;".
        if invalid_here or not getattr(found, "addr_spec", None):
            raise InvalidAddressError(
                f"invalid address {str(found).strip()!r} in {name}: it is not a valid address"
            )
        display_name = names[index] if names else found.display_name or ""
        if has_line_break(display_name):
            raise InvalidAddressError(
                f"a display name in header {name!r} decodes to a line break: {display_name!r}"
            )
        mailbox = parse_mailbox(found.addr_spec, name)
        mailboxes.append(Mailbox(display_name, mailbox.local_part, mailbox.domain))
    if any(isinstance(defect, InvalidHeaderDefect) for defect in defects):
        raise invalid  # between the addresses: "a@example.com x"
    return mailboxes
