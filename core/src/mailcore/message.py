"""E-mail messages: :class:`EmailMessage`, :class:`EmailMultiAlternatives` and the named
tuples their ``attachments`` and ``alternatives`` lists hold.

A message is built in two separable steps, both of which validate everything before any
output exists: the header fields (:meth:`EmailMessage.header_fields`) and the MIME body tree
(:mod:`mailcore._wire.mime`). :meth:`EmailMessage.serialize` writes that tree as bytes;
:meth:`EmailMessage.message` gives it as standard-library message objects.
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from mailcore._wire.addresses import (
    Mailbox,
    address_entries,
    format_address_list,
    format_address_value,
    parse_mailbox,
)
from mailcore._wire.headers import (
    check_header_name,
    check_header_value,
    encode_unstructured,
    format_date,
    format_param,
    make_message_id,
    resolve_charset,
)
from mailcore._wire.mime import (
    DEFAULT_ATTACHMENT_MIME_TYPE,
    DEFAULT_CHUNK_SIZE,
    Leaf,
    Multipart,
    Part,
    SerializedMessage,
    binary_part,
    decode_text,
    foreign_part,
    message_part,
    multipart,
    serialized_message_part,
    split_mimetype,
    text_charset,
    text_part,
    to_stdlib,
)
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = [
    "ADDRESS_HEADERS",
    "DEFAULT_ATTACHMENT_MIME_TYPE",
    "EmailAlternative",
    "EmailAttachment",
    "EmailMessage",
    "EmailMultiAlternatives",
]

#: Header names whose values are address lists (RFC 5322), matched in lower case.
ADDRESS_HEADERS = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "resent-from",
        "resent-sender",
        "resent-to",
        "resent-cc",
        "resent-reply-to",
        "x-original-to",  # written by the staging override (mailcore.staging)
        "x-original-cc",
    }
)
# Generated headers that ``headers=`` may replace (matched case-insensitively).
_OVERRIDABLE = frozenset(
    {"subject", "from", "to", "cc", "reply-to", "date", "message-id", "mime-version"}
)
# Headers ``headers=`` may not hold, and why.
_REFUSED = {
    "bcc": "a Bcc header would show the blind copies to every recipient; pass bcc=[...]",
    "content-type": "mailcore writes it from content_subtype, the charset and the parts",
    "content-transfer-encoding": "mailcore chooses the transfer encoding of each part",
}
_LINESEPS = ("\n", "\r\n")
# The header each address list is shown in, named in its errors.
_FIELD_HEADERS = {"to": "To", "cc": "Cc", "bcc": "Bcc", "reply_to": "Reply-To"}


class EmailAttachment(NamedTuple):
    """An attachment: file name (or ``None``), content (str, bytes or a message) and MIME type."""

    filename: str | None
    content: Any
    mimetype: str | None


class EmailAlternative(NamedTuple):
    """An alternative rendering of the body, such as ``(html, "text/html")``."""

    content: Any
    mimetype: str


def _address_list(field: str, value: Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        raise TypeError(f'"{field}" argument must be a list or tuple, not a string: {value!r}')
    return list(value)


def _guess_mimetype(filename: str | None, content: object) -> str:
    if isinstance(content, EmailMessage | Message):
        return "message/rfc822"
    if filename:
        # "./": a file name, never a URL (guess_type reads the type of "data:a/b,x" from it).
        return mimetypes.guess_type("./" + filename)[0] or DEFAULT_ATTACHMENT_MIME_TYPE
    return DEFAULT_ATTACHMENT_MIME_TYPE


def _text_value(value: object, field: str) -> str | bytes:
    """``value`` of ``field`` (the subject or the body) as ``str`` or ``bytes`` (``None``
    is empty, a bytearray or memoryview is copied to bytes); ``TypeError`` naming the field
    for any other type, which would otherwise be sent as its ``str()`` (``b'...'``, ``42``)."""
    if value is None:
        return ""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{field} must be str or bytes, not {type(value).__name__} ({value!r:.60})")


_CONTENT_TYPES = (str, bytes, bytearray, memoryview, Message)


def _content_bytes(content: object, what: str) -> bytes:
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8")
    raise TypeError(f"{what}: content must be str or bytes, not {type(content).__name__}")


class EmailMessage:
    """A single e-mail message, sent to ``to`` + ``cc`` + ``bcc``.

    ``from_email`` defaults to the ``default_from_email`` setting and ``encoding`` to
    ``default_charset``, both read when needed. ``headers`` (kept as ``extra_headers``) may
    replace Subject, From, To, Cc, Reply-To, Date, Message-ID and MIME-Version as shown, and
    adds any other header; the envelope stays ``from_email`` and :meth:`recipients`.
    """

    content_subtype = "plain"
    mixed_subtype = "mixed"
    alternative_subtype = "alternative"
    encoding: str | None = None
    #: Domain of generated Message-IDs; ``None`` means this host's FQDN.
    msgid_domain: str | None = None

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: Sequence[str] | None = None,
        bcc: Sequence[str] | None = None,
        connection: BaseEmailBackend | None = None,
        attachments: Sequence[EmailAttachment | tuple[Any, ...] | Message] | None = None,
        headers: dict[str, Any] | None = None,
        cc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
    ) -> None:
        self.to = _address_list("to", to)
        self.cc = _address_list("cc", cc)
        self.bcc = _address_list("bcc", bcc)
        self.reply_to = _address_list("reply_to", reply_to)
        self.from_email = from_email
        # bytes (typed str, as in Django) are kept and decoded as the charset when built
        self.subject: str = _text_value(subject, "subject")  # type: ignore[assignment]
        self.body: str = _text_value(body, "body")  # type: ignore[assignment]
        self.attachments: list[EmailAttachment | Message] = []
        for attachment in attachments or []:
            if isinstance(attachment, Message):
                self.attach(attachment)
            else:
                self.attach(*attachment)
        self.extra_headers: dict[str, Any] = dict(headers or {})
        self.connection = connection
        self.result: SendResult | None = None

    @property
    def from_email(self) -> str:
        """The sender; the ``default_from_email`` setting when not given."""
        if self._from_email:
            return self._from_email
        from mailcore.settings import get_settings

        return get_settings().default_from_email

    @from_email.setter
    def from_email(self, value: str | None) -> None:
        self._from_email = value

    def _charset(self) -> str:
        """``encoding``, or the ``default_charset`` setting."""
        if self.encoding:
            return self.encoding
        from mailcore.settings import get_settings

        return get_settings().default_charset

    # -- recipients and envelope -------------------------------------------------------

    def _entries(self, field: str) -> list[str | Address]:
        """The addresses of ``to``, ``cc``, ``bcc`` or ``reply_to``, empty strings dropped;
        ``TypeError`` naming the header for an entry that is no address (``None``, 42)."""
        return address_entries(_address_list(field, getattr(self, field)), _FIELD_HEADERS[field])

    def recipients(self) -> list[str]:
        """Every recipient: ``to`` + ``cc`` + ``bcc``, empty strings dropped.

        Raises ``TypeError`` naming the field for an entry that is not an address
        (``None`` included).
        """
        entries = [*self._entries("to"), *self._entries("cc"), *self._entries("bcc")]
        return cast("list[str]", entries)  # email.headerregistry.Address objects are kept

    def envelope_from(self) -> str:
        """The SMTP envelope sender: ``from_email``'s address, IDNA-encoded."""
        return parse_mailbox(self.from_email, "From").addr_spec

    def envelope_recipients(self) -> list[str]:
        """The SMTP envelope recipients: :meth:`recipients` as bare IDNA-encoded addresses,
        duplicates removed (first occurrence kept)."""
        # Errors name the field an address came from ("recipients" for one that a
        # subclass's recipients() added).
        fields: dict[str, str] = {}
        for field in ("to", "cc", "bcc"):
            for entry in self._entries(field):
                fields.setdefault(str(entry), _FIELD_HEADERS[field])
        specs = (
            parse_mailbox(address, fields.get(str(address), "recipients")).addr_spec
            for address in self.recipients()
        )
        return list(dict.fromkeys(specs))

    # -- building ----------------------------------------------------------------------

    def _mailboxes(self, field: str) -> list[Mailbox]:
        header = _FIELD_HEADERS[field]
        return [parse_mailbox(address, header) for address in self._entries(field)]

    def _extra_header_items(self) -> list[tuple[str, str]]:
        items = []
        for raw_name, raw_value in self.extra_headers.items():
            name = str(raw_name)
            check_header_name(name)
            reason = _REFUSED.get(name.lower())
            if reason:
                raise ValueError(f"headers may not set {name!r}: {reason}")
            value = format_date(raw_value) if isinstance(raw_value, datetime) else str(raw_value)
            check_header_value(name, value)
            items.append((name, value))
        return items

    def header_fields(self, msgid_domain: str | None = None) -> list[tuple[str, str]]:
        """The top-level header fields, encoded for the wire but not folded.

        Validates every address (From, To, Cc, Bcc, Reply-To) and header first: raises
        :class:`~mailcore.errors.BadHeaderError` for a line break and
        :class:`~mailcore.errors.InvalidAddressError` for a bad address. ``msgid_domain``
        (else :attr:`msgid_domain`, else this host's name) is the Message-ID's domain.
        """
        charset = self._charset()
        resolve_charset(charset)
        subject = _text_value(self.subject, "subject")
        if isinstance(subject, bytes):
            subject = decode_text(subject, charset, "subject")
        check_header_value("Subject", subject)
        sender = parse_mailbox(self.from_email, "From")
        to = self._mailboxes("to")
        cc = self._mailboxes("cc")
        self._mailboxes("bcc")
        reply_to = self._mailboxes("reply_to")
        overrides: dict[str, tuple[str, str]] = {}
        others: list[tuple[str, str]] = []
        for name, value in self._extra_header_items():
            if name.lower() in _OVERRIDABLE:
                overrides[name.lower()] = (name, value)
            else:
                others.append((name, value))

        generated: list[tuple[str, str | None]] = [
            ("Subject", encode_unstructured("Subject", subject, charset)),
            ("From", sender.format(charset)),
            ("To", format_address_list(to, charset) if to else None),
            ("Cc", format_address_list(cc, charset) if cc else None),
            ("Reply-To", format_address_list(reply_to, charset) if reply_to else None),
            ("Date", None if "date" in overrides else format_date()),
            (
                "Message-ID",
                None
                if "message-id" in overrides
                else make_message_id(msgid_domain or self.msgid_domain),
            ),
        ]
        fields: list[tuple[str, str]] = []
        for standard_name, generated_value in generated:
            override = overrides.get(standard_name.lower())
            if override is not None:
                fields.append((override[0], self._encode_header(*override, charset)))
            elif generated_value is not None:
                fields.append((standard_name, generated_value))
        fields.extend((name, self._encode_header(name, value, charset)) for name, value in others)
        override = overrides.get("mime-version")
        if override:
            fields.append((override[0], self._encode_header(*override, charset)))
        else:
            fields.append(("MIME-Version", "1.0"))
        return fields

    @staticmethod
    def _encode_header(name: str, value: str, charset: str) -> str:
        if name.lower() in ADDRESS_HEADERS:
            return format_address_value(name, value, charset)
        return encode_unstructured(name, value, charset)

    def _alternatives(self) -> list[EmailAlternative]:
        return []

    def _body_text(self, charset: str) -> str:
        """``body`` as text: bytes decoded as ``charset`` (``TypeError`` naming the body
        when they are not valid in it, or when it is neither ``str`` nor bytes)."""
        body = _text_value(self.body, "body")
        return body if isinstance(body, str) else decode_text(body, charset, "body")

    def body_part(self, allow_8bit: bool = True) -> Leaf | Multipart:
        """The MIME tree of the body, alternatives and attachments, without the top-level
        header fields: ``multipart/mixed[multipart/alternative[body, ...], attachments...]``,
        with each level present only when needed. Without ``allow_8bit`` every part is
        7-bit (quoted-printable or base64 instead of ``8bit``)."""
        charset = self._charset()
        split_mimetype(f"text/{self.content_subtype}")
        body = self._body_text(charset)
        alternatives: list[Part] = [
            self._content_part(
                content, mimetype, charset, f"alternative {mimetype!r}", allow_8bit, True
            )
            for content, mimetype in self._alternatives()
        ]
        attachments = [
            self._attachment_part(attachment, charset, allow_8bit)
            for attachment in self.attachments
        ]
        part: Leaf | Multipart | None = None
        if body or not (alternatives or attachments):
            part = text_part(body, self.content_subtype, charset, allow_8bit=allow_8bit)
        if alternatives:
            part = multipart(
                self.alternative_subtype, [part, *alternatives] if part else alternatives
            )
        if attachments:
            part = multipart(self.mixed_subtype, [part, *attachments] if part else attachments)
        assert part is not None
        return part

    def _content_part(
        self,
        content: Any,
        mimetype: str,
        charset: str,
        what: str,
        allow_8bit: bool,
        alternative: bool = False,
    ) -> Leaf:
        maintype, subtype, params = split_mimetype(mimetype)
        if maintype == "text":
            if isinstance(content, bytes | bytearray | memoryview):
                content = bytes(content)
                if alternative:  # decoded as its charset, or an error
                    return text_part(content, subtype, charset, params, allow_8bit, what)
                try:  # an attachment, as attach() does it
                    content = content.decode("utf-8")
                except UnicodeDecodeError:
                    return binary_part(content, DEFAULT_ATTACHMENT_MIME_TYPE)
            if not isinstance(content, str):
                raise TypeError(
                    f"{what}: text content must be str or bytes, not {type(content).__name__}"
                )
            return text_part(content, subtype, charset, params, allow_8bit)
        if (maintype, subtype) == ("message", "rfc822"):
            if isinstance(content, EmailMessage):
                tree = content._build(None, allow_8bit)
                data = SerializedMessage(tree).to_bytes()
                return serialized_message_part(data, lambda: to_stdlib(tree))
            if isinstance(content, Message | bytes | bytearray | memoryview | str):
                return message_part(
                    content if isinstance(content, Message | str) else bytes(content), allow_8bit
                )
            raise TypeError(
                f"{what}: message/rfc822 content must be an EmailMessage, an email.message."
                f"Message, str or bytes, not {type(content).__name__}"
            )
        return binary_part(_content_bytes(content, what), f"{maintype}/{subtype}{params}")

    def _attachment_part(
        self, attachment: EmailAttachment | Message, charset: str, allow_8bit: bool
    ) -> Part:
        if isinstance(attachment, Message):
            return foreign_part(attachment, allow_8bit)
        filename, content, mimetype = attachment
        mimetype = mimetype or _guess_mimetype(filename, content)
        what = f"attachment {filename!r}"
        part = self._content_part(content, mimetype, charset, what, allow_8bit)
        if filename:
            check_header_value("Content-Disposition", filename)
            part.headers.append(
                ("Content-Disposition", f"attachment; {format_param('filename', filename)}")
            )
        return part

    def _build(self, msgid_domain: str | None, allow_8bit: bool = True) -> Leaf | Multipart:
        fields = self.header_fields(msgid_domain)
        root = self.body_part(allow_8bit)
        root.headers[:0] = fields
        return root

    def message(self, *, msgid_domain: str | None = None) -> Message:
        """The message as a standard-library :class:`email.message.Message` (compat32
        policy, header values RFC 2047-encoded). Raises
        :class:`~mailcore.errors.BadHeaderError` for a header holding a line break."""
        return to_stdlib(self._build(msgid_domain))

    def serialize(
        self, linesep: str = "\n", *, msgid_domain: str | None = None, allow_8bit: bool = True
    ) -> bytes:
        """The whole message as bytes, lines ending in ``linesep`` (``"\\r\\n"`` for SMTP),
        none longer than 998 octets. Each call makes a new Date and Message-ID unless
        ``headers`` gives them.

        ``msgid_domain`` is the domain of the generated Message-ID (default:
        :attr:`msgid_domain`, else this host's FQDN). With ``allow_8bit=False`` the result
        is 7-bit: UTF-8 text goes quoted-printable or base64 instead of ``8bit`` (for a
        server without 8BITMIME, or Amazon SES); in a caller-supplied MIME part or raw
        ``message/rfc822`` attachment, 8-bit bodies become base64 and 8-bit header text
        RFC 2047 encoded words.
        :meth:`iter_serialized` gives the same bytes in chunks, for large messages.
        """
        return self.iter_serialized(
            linesep, msgid_domain=msgid_domain, allow_8bit=allow_8bit
        ).to_bytes()

    def iter_serialized(
        self,
        linesep: str = "\n",
        *,
        msgid_domain: str | None = None,
        allow_8bit: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> SerializedMessage:
        """The message as :meth:`serialize` writes it, as an iterable of ``bytes`` chunks.
        Every line ends in ``linesep``: there is no other CR or LF in them.

        Everything is validated, and the Date and Message-ID fixed, when this is called,
        so an error is raised before any chunk exists. Bodies larger than ``chunk_size``
        (a big attachment) are encoded only while the chunks are read, about
        ``chunk_size`` bytes at a time: writing the chunks to a file or socket one by one
        takes little memory beyond the message's own content. The result may be iterated
        again (the same bytes); ``len()`` and ``isascii()`` answer as for the joined
        bytes (for SMTP's ``SIZE`` and ``BODY=8BITMIME``), ``to_bytes()`` joins them.
        """
        if linesep not in _LINESEPS:
            raise ValueError(f"linesep must be '\\n' or '\\r\\n', not {linesep!r}")
        return SerializedMessage(self._build(msgid_domain, allow_8bit), linesep, chunk_size)

    # -- attachments and sending -------------------------------------------------------

    def attach(
        self,
        filename: str | Message | None = None,
        content: Any = None,
        mimetype: str | None = None,
    ) -> None:
        """Attach ``(filename, content, mimetype)`` or a ready MIME part (``attach(part)``).

        ``mimetype`` is guessed from ``filename`` when omitted (default
        ``application/octet-stream``). ``text/*`` bytes are decoded as UTF-8, or sent as
        ``application/octet-stream`` when they are not valid UTF-8.
        """
        if isinstance(filename, Message):
            if content is not None or mimetype is not None:
                raise ValueError(
                    "content and mimetype must not be given when a MIME part is provided."
                )
            self.attachments.append(filename)
            return
        if content is None:
            raise ValueError("content must be provided.")
        if not isinstance(content, (*_CONTENT_TYPES, EmailMessage)):
            raise TypeError(
                f"attachment {filename!r}: content must be str, bytes, an EmailMessage or an "
                f"email.message.Message, not {type(content).__name__} ({content!r:.60})"
            )
        if isinstance(content, bytearray | memoryview):
            content = bytes(content)  # a copy: a memoryview cannot be pickled (locmem)
        mimetype = mimetype or _guess_mimetype(filename, content)
        if mimetype.split("/", 1)[0].strip().lower() == "text" and isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError:
                mimetype = DEFAULT_ATTACHMENT_MIME_TYPE
        self.attachments.append(EmailAttachment(filename, content, mimetype))

    def attach_file(self, path: str | Path, mimetype: str | None = None) -> None:
        """Attach the file at ``path`` under its base name; see :meth:`attach`."""
        path = Path(path)
        self.attach(path.name, path.read_bytes(), mimetype)

    def send(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """Send through ``connection`` (or a new one for the mailer ``using``, or the
        default mailer); return 1 if sent, else 0. ``using`` with a ``connection`` set is
        a :class:`TypeError`.

        Nothing is sent, and 0 returned, when there are no recipients.
        """
        if self.connection is not None and using is not None:
            raise TypeError("send() takes using= only for a message without a connection")
        if not self.recipients():
            return 0
        from mailcore.sending import get_connection

        connection = self.connection or get_connection(fail_silently=fail_silently, using=using)
        return connection.send_messages([self])

    async def asend(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """:meth:`send` for async code (through the backend's ``asend_messages``): the
        same arguments and result."""
        if self.connection is not None and using is not None:
            raise TypeError("asend() takes using= only for a message without a connection")
        if not self.recipients():
            return 0
        from mailcore.asending import built
        from mailcore.sending import get_connection

        connection = self.connection
        if connection is None:
            connection = await built(
                using, lambda: get_connection(fail_silently=fail_silently, using=using)
            )
        return await connection.asend_messages([self])

    def __deepcopy__(self, memo: dict[int, Any]) -> EmailMessage:
        clone = copy.copy(self)
        memo[id(self)] = clone
        for key, value in vars(self).items():
            if key != "connection":
                setattr(clone, key, copy.deepcopy(value, memo))
        return clone


class EmailMultiAlternatives(EmailMessage):
    """An :class:`EmailMessage` with alternative renderings of its body (such as HTML),
    sent as ``multipart/alternative``."""

    alternative_subtype = "alternative"

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: Sequence[str] | None = None,
        bcc: Sequence[str] | None = None,
        connection: BaseEmailBackend | None = None,
        attachments: Sequence[EmailAttachment | tuple[Any, ...] | Message] | None = None,
        headers: dict[str, Any] | None = None,
        alternatives: Sequence[EmailAlternative | tuple[Any, str]] | None = None,
        cc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            subject, body, from_email, to, bcc, connection, attachments, headers, cc, reply_to
        )
        self.alternatives = [EmailAlternative(*alternative) for alternative in alternatives or []]

    def attach_alternative(self, content: Any, mimetype: str) -> None:
        """Add an alternative rendering, e.g. ``attach_alternative(html, "text/html")``."""
        if content is None or mimetype is None:
            raise ValueError("Both content and mimetype must be provided.")
        self.alternatives.append(EmailAlternative(content, mimetype))

    def body_contains(self, text: str) -> bool:
        """True when ``text`` is in the body and in every ``text/*`` alternative (bytes
        decoded as their charset)."""
        charset = self._charset()
        if text not in self._body_text(charset):
            return False
        for content, mimetype in self.alternatives:
            if not mimetype.startswith("text/"):
                continue
            if isinstance(content, bytes | bytearray | memoryview):
                params = split_mimetype(mimetype)[2]
                what = f"alternative {mimetype!r}"
                content = decode_text(bytes(content), text_charset(params, charset), what)
            if text not in str(content):
                return False
        return True

    def _alternatives(self) -> list[EmailAlternative]:
        return [EmailAlternative(*alternative) for alternative in self.alternatives]
