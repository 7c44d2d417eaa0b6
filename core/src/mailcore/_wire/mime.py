"""MIME parts as mailcore builds them, and their two renderings.

Building a message gives a tree of :data:`Part` objects whose header values are final
(ASCII, unfolded) and whose bodies are transfer-encoded with ``\\n`` line breaks, except
base64 bodies (:class:`Base64Body`), which keep their raw bytes and are encoded only when
written. :class:`SerializedMessage` writes that tree with either line separator, folding
headers on the way, as a stream of chunks (large bodies are encoded chunk by chunk, so the
whole encoded message never needs to be in memory); :func:`to_stdlib` turns it into
standard-library :class:`email.message.Message` objects.
"""

from __future__ import annotations

import base64
import binascii
import copy
import email
import email.parser
import email.policy
import functools
import io
import re
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message

from mailcore._wire.headers import (
    MAX_LINE_LENGTH,
    check_header_value,
    describe_line_break,
    fold_header,
    resolve_charset,
)
from mailcore.errors import BadHeaderError

__all__ = [
    "DEFAULT_ATTACHMENT_MIME_TYPE",
    "DEFAULT_CHUNK_SIZE",
    "Leaf",
    "Multipart",
    "Part",
    "SerializedMessage",
    "binary_part",
    "decode_text",
    "foreign_part",
    "message_part",
    "multipart",
    "serialized_message_part",
    "split_mimetype",
    "text_charset",
    "text_part",
    "to_stdlib",
]

#: The type of an attachment whose type is neither given nor guessable.
DEFAULT_ATTACHMENT_MIME_TYPE = "application/octet-stream"
#: The policy of the standard-library messages :func:`to_stdlib` returns: compat32 (what
#: Django's ``message()`` gives) without ``>From`` mangling.
STDLIB_POLICY = email.policy.compat32.clone(mangle_from_=False)
#: About how many bytes each chunk of a large body holds when a message is streamed.
DEFAULT_CHUNK_SIZE = 64 * 1024

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIMETYPE = re.compile(rf"({_TOKEN})/({_TOKEN})\s*(;.*)?", re.DOTALL)
_CHARSET_PARAM = re.compile(r';\s*charset\s*=\s*"?([^";\s]+)"?', re.IGNORECASE)
# A line break that does not start a continuation line, inside a foreign part's header.
_BARE_BREAK = re.compile("(?:\r\n|\r|\n)(?![ \t])|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00]")
# RFC 2045: base64 lines of 76 characters, each encoding 57 input bytes.
_BASE64_LINE = 76
_BASE64_LINE_INPUT = 57
# Splitting encoded text into lines is done by struct.unpack_from with "76s76s..." formats
# of 2**k lines (k <= 10), a C loop: several times faster than slicing in Python.
_MAX_SPLIT_POWER = 10


class Base64Body:
    """Raw bytes sent base64-encoded: lines of 76 characters, without a final line break.

    Nothing is encoded until the body is written, and then in chunks of whole lines, so
    a large attachment never exists encoded in full while a message is streamed.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Base64Body(<{len(self.data)} bytes>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Base64Body) and other.data == self.data

    __hash__ = None  # type: ignore[assignment]

    def encoded_size(self, newline: bytes = b"\n") -> int:
        """The length of :meth:`encode`'s result."""
        characters = (len(self.data) + 2) // 3 * 4
        lines = -(-characters // _BASE64_LINE)
        return characters + max(lines - 1, 0) * len(newline)

    def isascii(self) -> bool:
        """Always True: base64 is ASCII."""
        return True

    def encode(self, newline: bytes = b"\n") -> bytes:
        """The whole encoded body, lines separated by ``newline``."""
        return _base64_lines(self.data, newline)

    def iter_encoded(
        self, newline: bytes = b"\n", chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """:meth:`encode`'s result in chunks of whole lines, each about ``chunk_size`` bytes."""
        data = self.data
        step = max(chunk_size * 3 // 4 // _BASE64_LINE_INPUT, 1) * _BASE64_LINE_INPUT
        if len(data) <= step:
            yield _base64_lines(data, newline)
            return
        view = memoryview(data)
        last = (len(data) - 1) // step * step
        for start in range(0, last, step):
            yield _base64_lines(view[start : start + step], newline, newline)
        yield _base64_lines(view[last:], newline)


@functools.cache
def _line_splitter(power: int) -> struct.Struct:
    return struct.Struct(f"{_BASE64_LINE}s" * (1 << power))


def _base64_lines(data: bytes | memoryview, newline: bytes, end: bytes = b"") -> bytes:
    """``data`` base64-encoded in lines of 76 characters joined by ``newline``, then ``end``."""
    encoded = binascii.b2a_base64(data, newline=False)
    full, rest = divmod(len(encoded), _BASE64_LINE)
    if full == 0 or (full == 1 and not rest):
        return encoded + end
    lines: list[bytes] = []
    offset = 0
    while full:
        splitter = _line_splitter(min(full.bit_length() - 1, _MAX_SPLIT_POWER))
        lines += splitter.unpack_from(encoded, offset)
        offset += splitter.size
        full -= splitter.size // _BASE64_LINE
    if rest:
        lines.append(encoded[offset:])
    if end:
        lines.append(b"")
    return newline.join(lines)


#: A leaf's body: transfer-encoded bytes with ``\\n`` line breaks, or base64 to encode.
Body = bytes | Base64Body


@dataclass(slots=True)
class Leaf:
    """A single part: final headers and its transfer-encoded body (``\\n`` line breaks, or
    a :class:`Base64Body`).

    ``embedded`` builds the standard-library message held by a ``message/rfc822`` part.
    """

    headers: list[tuple[str, str]]
    body: Body
    embedded: Callable[[], Message] | None = None


@dataclass(slots=True)
class Multipart:
    """A ``multipart/*`` part and its children."""

    headers: list[tuple[str, str]]
    parts: list[Part]
    boundary: str = field(default_factory=lambda: f"==============={secrets.token_hex(16)}==")


@dataclass(slots=True)
class ForeignPart:
    """A part the caller built with the standard library, kept as given."""

    part: Message
    data: bytes


Part = Leaf | Multipart | ForeignPart


def longest_line(data: bytes) -> int:
    """The length of the longest ``\\n``-separated line of ``data``."""
    if len(data) <= MAX_LINE_LENGTH:
        return len(data)
    return max(map(len, data.split(b"\n")))


def _normalize_newlines(data: bytes) -> bytes:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def encode_text(text: str, charset: str, allow_8bit: bool = True) -> tuple[str, str, Body]:
    """Encode ``text`` for a body: ``(mime_charset, transfer_encoding, body)``.

    Line breaks become ``\\n``. The result is ``7bit`` for ASCII with lines of at most 998
    octets; ``8bit`` for such UTF-8 (when allowed); otherwise the shorter of
    ``quoted-printable`` and ``base64``. Text that ``charset`` cannot encode is sent as UTF-8.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    mime_charset, codec = resolve_charset(charset)
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        mime_charset, codec = "utf-8", "utf-8"
        data = text.encode(codec)
    if "\n".encode(codec) != b"\n":  # UTF-16 and the like: only base64 is safe
        return mime_charset, "base64", Base64Body(data)
    clean = b"\0" not in data and longest_line(data) <= MAX_LINE_LENGTH
    if clean and data.isascii():
        return mime_charset, "7bit", data
    if clean and allow_8bit and codec == "utf-8":
        return mime_charset, "8bit", data
    quoted = binascii.b2a_qp(data, istext=True)
    base64_length = (len(data) + 2) // 3 * 4
    base64_length += (base64_length - 1) // 76
    if len(quoted) <= base64_length:
        return mime_charset, "quoted-printable", quoted
    return mime_charset, "base64", Base64Body(data)


def split_mimetype(mimetype: str) -> tuple[str, str, str]:
    """``("text", "csv", "; header=present")`` from ``"text/csv; header=present"``.

    Raises :class:`BadHeaderError` for a line break, ``ValueError`` for anything that is not
    ``type/subtype[; params]``.
    """
    check_header_value("Content-Type", mimetype)
    match = _MIMETYPE.fullmatch(mimetype.strip())
    if not match:
        raise ValueError(f"invalid MIME type {mimetype!r}: expected 'type/subtype'")
    maintype, subtype, params = match.groups()
    return maintype.lower(), subtype.lower(), (params or "").rstrip()


def decode_text(data: bytes, charset: str, what: str) -> str:
    """Text given as bytes, decoded as ``charset``.

    Raises ``TypeError`` naming ``what`` (``"body"``...) when ``data`` is not valid in
    that charset: sending it as it is, or as ``b'...'``, would garble it.
    """
    _, codec = resolve_charset(charset)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise TypeError(
            f"{what}: the bytes given are not valid {charset} text ({exc.reason} at byte "
            f"{exc.start}); pass str, or bytes in the message's charset (encoding)"
        ) from None


def text_charset(params: str, charset: str) -> str:
    """The charset of a text part: the ``charset`` parameter in ``params`` (the part of a
    MIME type after ``type/subtype``) when there is one, else ``charset``."""
    given = _CHARSET_PARAM.search(params)
    return given.group(1) if given else charset


def text_part(
    text: str | bytes,
    subtype: str,
    charset: str,
    params: str = "",
    allow_8bit: bool = True,
    what: str = "body",
) -> Leaf:
    """A ``text/<subtype>`` part; a ``charset`` in ``params`` overrides ``charset``.

    Bytes are decoded as that charset (:func:`decode_text`, errors naming ``what``).
    """
    charset = text_charset(params, charset)
    params = _CHARSET_PARAM.sub("", params)
    if isinstance(text, bytes):
        text = decode_text(text, charset, what)
    mime_charset, encoding, body = encode_text(text, charset, allow_8bit)
    return Leaf(
        [
            ("Content-Type", f'text/{subtype}{params}; charset="{mime_charset}"'),
            ("Content-Transfer-Encoding", encoding),
        ],
        body,
    )


def binary_part(data: bytes, content_type: str) -> Leaf:
    """A base64-encoded part of ``content_type`` (``type/subtype[; params]``)."""
    return Leaf(
        [("Content-Type", content_type), ("Content-Transfer-Encoding", "base64")],
        Base64Body(data),
    )


def _generate(message: Message, seven_bit: bool = False) -> bytes:
    """``message`` as bytes with ``\\n`` line breaks; when ``seven_bit``, 8-bit header text
    becomes RFC 2047 encoded words (``utf-8`` when it is valid UTF-8, see
    :func:`_decode_utf8_headers`, else ``unknown-8bit``)."""
    buffer = io.BytesIO()
    policy = message.policy.clone(linesep="\n")
    if seven_bit:
        policy = policy.clone(cte_type="7bit")
        if isinstance(policy, email.policy.EmailPolicy) and policy.utf8:
            policy = policy.clone(utf8=False)
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message)
    return _normalize_newlines(buffer.getvalue())


def _needs_reencoding(leaf: Message, raw: bytes, seven_bit: bool) -> bool:
    """True when ``leaf``'s body as it would be written has a line over 998 octets, or an
    8-bit octet when ``seven_bit``; ``raw`` is its decoded body."""
    encoding = str(leaf.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable"):
        written = leaf.get_payload()
        if not isinstance(written, str) or not written.isascii():
            return True
        return longest_line(_normalize_newlines(written.encode("ascii"))) > MAX_LINE_LENGTH
    written_bytes = _normalize_newlines(raw)
    too_long = longest_line(written_bytes) > MAX_LINE_LENGTH
    return too_long or (seven_bit and not written_bytes.isascii())


def _reencode_leaves(message: Message, seven_bit: bool) -> None:
    """Base64-encode, in place, every leaf of ``message`` whose body has a line longer than
    998 octets (or, when ``seven_bit``, any 8-bit octet); when ``seven_bit``, relabel
    ``8bit``/``binary`` multiparts (and ``message/rfc822`` parts) as ``7bit``."""
    for leaf in message.walk():
        if leaf.is_multipart():
            encoding = str(leaf.get("Content-Transfer-Encoding", "")).strip().lower()
            if seven_bit and encoding in ("8bit", "binary"):
                leaf.replace_header("Content-Transfer-Encoding", "7bit")
            continue
        raw = leaf.get_payload(decode=True)
        if not isinstance(raw, bytes) or not _needs_reencoding(leaf, raw, seven_bit):
            continue
        del leaf["Content-Transfer-Encoding"]
        leaf.set_payload(base64.encodebytes(raw).decode("ascii"))
        leaf["Content-Transfer-Encoding"] = "base64"


def _wire_bytes(message: Message, seven_bit: bool = False) -> bytes:
    """``message`` generated with ``\\n`` line breaks and no line over 998 octets, and all
    7-bit when ``seven_bit`` (8-bit bodies re-encoded as base64, 8-bit header text as
    encoded words, on a copy; ``message`` is left as it is). Otherwise 8-bit header text,
    if any, is kept."""
    data = _generate(message)
    if longest_line(data) <= MAX_LINE_LENGTH and not (seven_bit and not data.isascii()):
        return data
    fixed = copy.deepcopy(message)
    _reencode_leaves(fixed, seven_bit)
    if seven_bit:
        _decode_utf8_headers(fixed)
    return _generate(fixed, seven_bit)


_ESCAPED_OCTET = re.compile("[\udc80-\udcff]")


def _decode_utf8_headers(message: Message) -> None:
    """Replace, in place, header values whose 8-bit octets (read from bytes, kept by the
    parser as surrogate escapes) are valid UTF-8 by the text they encode, so that a 7-bit
    generator labels them ``utf-8`` (octets that are not UTF-8 stay ``unknown-8bit``)."""
    for part in message.walk():
        items = [(name, "".join(str(raw).splitlines())) for name, raw in part.raw_items()]
        decoded = [(name, _utf8_text(value)) for name, value in items]
        if decoded == items:
            continue
        for name in {name.lower() for name, _ in items}:
            del part[name]
        for name, value in decoded:
            part[name] = value


def _utf8_text(value: str) -> str:
    if not _ESCAPED_OCTET.search(value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeDecodeError:
        return value


def _parse(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=STDLIB_POLICY)


def message_part(content: Message | bytes | str, allow_8bit: bool = True) -> Leaf:
    """A ``message/rfc822`` part holding ``content`` (a message, or its text).

    It is never base64-encoded (RFC 2046 5.2.1): ``7bit`` or ``8bit``, lines of at most
    998 octets (over-long bodies inside, and 8-bit ones unless ``allow_8bit``, are
    re-encoded as base64).
    """
    if isinstance(content, Message):
        message = content
        return serialized_message_part(_wire_bytes(content, not allow_8bit), lambda: message)
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogateescape")
    data = _normalize_newlines(bytes(content))
    if longest_line(data) > MAX_LINE_LENGTH or not (allow_8bit or data.isascii()):
        data = _wire_bytes(_parse(data), not allow_8bit)
    return serialized_message_part(data, lambda: _parse(data))


def serialized_message_part(data: bytes, embedded: Callable[[], Message]) -> Leaf:
    """A ``message/rfc822`` part from a message already serialized with ``\\n`` line
    breaks and short lines; ``embedded`` gives it as a standard-library message."""
    encoding = "7bit" if data.isascii() else "8bit"
    return Leaf(
        [("Content-Type", "message/rfc822"), ("Content-Transfer-Encoding", encoding)],
        data,
        embedded,
    )


def foreign_part(part: Message, allow_8bit: bool = True) -> ForeignPart:
    """A caller-built standard-library part, checked for header injection (bodies with
    over-long lines, or 8-bit ones unless ``allow_8bit``, are re-encoded on a copy)."""
    for sub in part.walk():
        for name, value in sub.items():
            found = _BARE_BREAK.search(value) if isinstance(value, str) else None
            if found:
                raise BadHeaderError(
                    f"header {name!r} of an attached MIME part contains "
                    f"{describe_line_break(found.group()[-1])} ({value!r}); header values "
                    "can't contain newlines or NUL characters"
                )
    return ForeignPart(part, _wire_bytes(part, not allow_8bit))


def multipart(subtype: str, parts: list[Part]) -> Multipart:
    """A ``multipart/<subtype>`` part with a random boundary."""
    check_header_value("Content-Type", subtype)
    node = Multipart([], parts)
    node.headers.append(("Content-Type", f'multipart/{subtype}; boundary="{node.boundary}"'))
    return node


class _NewlineBody:
    """A large ``\\n``-separated body written with another line separator, chunk by
    chunk (so the converted copy never exists in full)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def encoded_size(self, newline: bytes) -> int:
        return len(self.data) + self.data.count(b"\n") * (len(newline) - 1)

    def encode(self, newline: bytes) -> bytes:
        return self.data.replace(b"\n", newline)

    def iter_encoded(self, newline: bytes, chunk_size: int) -> Iterator[bytes]:
        view = memoryview(self.data)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size]).replace(b"\n", newline)

    def isascii(self) -> bool:
        return self.data.isascii()


_Segment = bytes | Base64Body | _NewlineBody


class _Planner:
    """Lays out a part tree as segments: runs of literal bytes, joined, between the large
    bodies that are encoded only while the message is written."""

    __slots__ = ("linesep", "newline", "pieces", "segments", "threshold")

    def __init__(self, linesep: str, threshold: int) -> None:
        self.linesep = linesep
        self.newline = linesep.encode("ascii")
        self.threshold = threshold
        self.pieces: list[bytes] = []
        self.segments: list[_Segment] = []

    def lazy(self, segment: Base64Body | _NewlineBody) -> None:
        if self.pieces:
            self.segments.append(b"".join(self.pieces))
            self.pieces.clear()
        self.segments.append(segment)

    def finish(self) -> list[_Segment]:
        if self.pieces or not self.segments:
            self.segments.append(b"".join(self.pieces))
            self.pieces.clear()
        return self.segments

    def text(self, data: bytes) -> None:
        newline = self.newline
        if newline == b"\n":
            self.pieces.append(data)
        elif len(data) > self.threshold:
            self.lazy(_NewlineBody(data))
        else:
            self.pieces.append(data.replace(b"\n", newline))

    def part(self, part: Part) -> None:
        if isinstance(part, ForeignPart):
            self.text(part.data)
            return
        newline, pieces = self.newline, self.pieces
        linesep = self.linesep
        head = "".join(fold_header(name, value, linesep) for name, value in part.headers)
        pieces.append(head.encode("ascii") + newline)
        if isinstance(part, Leaf):
            body = part.body
            if isinstance(body, bytes):
                self.text(body)
            elif len(body.data) > self.threshold:
                self.lazy(body)
            else:
                pieces.append(body.encode(newline))
            return
        boundary = part.boundary.encode("ascii")
        for index, child in enumerate(part.parts):
            pieces.append((newline if index else b"") + b"--" + boundary + newline)
            self.part(child)
        pieces.append(newline + b"--" + boundary + b"--" + newline)


class SerializedMessage:
    """The wire form of a part tree, lines ending in ``linesep``, as chunks of bytes.

    Iterating yields the chunks (as often as needed; each pass encodes the large bodies
    again, chunk by chunk, about ``chunk_size`` bytes at a time); header fields are
    folded, and small bodies encoded, when this object is made. ``len()`` and
    :meth:`isascii` answer as they would for the joined bytes, without joining them.
    """

    __slots__ = ("_chunk_size", "_newline", "_segments", "message_id")

    def __init__(
        self, part: Part, linesep: str = "\n", chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size!r}")
        planner = _Planner(linesep, chunk_size)
        planner.part(part)
        self._segments = planner.finish()
        self._newline = planner.newline
        self._chunk_size = chunk_size
        #: The value of the top-level Message-ID header, ``None`` when there is none.
        self.message_id = _message_id(part)

    @classmethod
    def from_bytes(
        cls, data: bytes, linesep: str = "\n", chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> SerializedMessage:
        """A message serialized earlier (``to_bytes()`` of one), to be sent again as it is:
        only its line ends become ``linesep``. Its headers are read for ``message_id``;
        nothing is re-encoded (the foreign-part path of :func:`foreign_part`, unchecked)."""
        head = email.parser.BytesHeaderParser(policy=STDLIB_POLICY).parsebytes(data)
        return cls(ForeignPart(head, _normalize_newlines(data)), linesep, chunk_size)

    def __iter__(self) -> Iterator[bytes]:
        newline, chunk_size = self._newline, self._chunk_size
        for segment in self._segments:
            if isinstance(segment, bytes):
                yield segment
            else:
                yield from segment.iter_encoded(newline, chunk_size)

    def __len__(self) -> int:
        newline = self._newline
        return sum(
            len(segment) if isinstance(segment, bytes) else segment.encoded_size(newline)
            for segment in self._segments
        )

    def __repr__(self) -> str:
        return f"<SerializedMessage of {len(self)} bytes>"

    @property
    def newline(self) -> bytes:
        """The line separator of the chunks (``b"\\r\\n"`` or ``b"\\n"``)."""
        return self._newline

    def prepended(self, lines: bytes) -> SerializedMessage:
        """This message with ``lines`` (header fields, each ending in :attr:`newline`) put
        before its first line; the bodies are shared, not copied."""
        copy = object.__new__(SerializedMessage)
        copy._segments = [lines, *self._segments]
        copy._newline = self._newline
        copy._chunk_size = self._chunk_size
        copy.message_id = self.message_id
        return copy

    def isascii(self) -> bool:
        """True when every byte of the message is ASCII (no ``8bit`` content)."""
        return all(segment.isascii() for segment in self._segments)

    def to_bytes(self) -> bytes:
        """The whole message as one ``bytes`` object."""
        segments = self._segments
        if len(segments) == 1 and isinstance(segments[0], bytes):
            return segments[0]
        newline = self._newline
        return b"".join(
            segment if isinstance(segment, bytes) else segment.encode(newline)
            for segment in segments
        )


def _message_id(part: Part) -> str | None:
    if isinstance(part, ForeignPart):
        value = part.part.get("Message-ID")
        return None if value is None else " ".join(str(value).split())
    return next((value for name, value in part.headers if name.lower() == "message-id"), None)


def to_stdlib(part: Part) -> Message:
    """``part`` as standard-library message objects (policy :data:`STDLIB_POLICY`)."""
    if isinstance(part, ForeignPart):
        return part.part
    message = Message(policy=STDLIB_POLICY)
    for name, value in part.headers:
        message[name] = value
    if isinstance(part, Multipart):
        for child in part.parts:
            message.attach(to_stdlib(child))
    elif part.embedded is not None:
        message.attach(part.embedded())
    else:
        body = part.body
        data = body if isinstance(body, bytes) else body.encode()
        message.set_payload(data.decode("ascii", "surrogateescape"))
    return message
