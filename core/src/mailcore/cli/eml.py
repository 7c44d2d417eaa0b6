"""Sending an existing RFC 5322 message (an ``.eml`` file) through any backend."""

from __future__ import annotations

import copy
import email.policy
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage as StdlibMessage
from email.message import Message
from typing import TYPE_CHECKING, Any

from mailcore._wire.addresses import parse_address_list
from mailcore._wire.mime import DEFAULT_CHUNK_SIZE, SerializedMessage, foreign_part
from mailcore.cli.errors import UsageError
from mailcore.message import EmailMessage

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = ["FileMessage", "read_eml"]


def _header_text(value: str) -> str:
    """A header value read from bytes, its 8-bit octets (which the parser keeps as
    surrogate escapes) decoded as UTF-8 when they are valid UTF-8."""
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "backslashreplace")


def _addresses(message: StdlibMessage, name: str) -> list[str]:
    """The addresses of the file's ``name`` headers, read by mailcore's address parser
    (the one every message goes through): an invalid one is an InvalidAddressError
    naming it with its real characters, whatever the backend."""
    found: list[str] = []
    for key, raw in message.raw_items():
        if key.lower() == name.lower():
            text = _header_text("".join(str(raw).splitlines()))
            found.extend(
                str(Address(mailbox.display_name, mailbox.local_part, mailbox.domain))
                for mailbox in parse_address_list(name, text)
            )
    return found


class FileMessage(EmailMessage):
    """A message read from a file and sent as it is, except that its ``Bcc`` header is
    removed and ``From``, ``Date`` and ``Message-ID`` are added when missing (a new
    Message-ID each time it is serialized, like a composed message).

    The envelope comes from the file's ``From``/``To``/``Cc``/``Bcc`` headers unless
    given: ``to``/``cc``/``bcc`` then replace the file's recipients for delivery only,
    and ``from_email`` is the envelope sender.
    """

    def __init__(
        self,
        parsed: StdlibMessage,
        *,
        from_email: str | None = None,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        bcc: list[str] | None = None,
        connection: BaseEmailBackend | None = None,
    ) -> None:
        file_from = _addresses(parsed, "From")
        if to or cc or bcc:
            recipients = (list(to or []), list(cc or []), list(bcc or []))
        else:
            recipients = (
                _addresses(parsed, "To"),
                _addresses(parsed, "Cc"),
                _addresses(parsed, "Bcc"),
            )
        super().__init__(
            subject=str(parsed.get("Subject", "")),
            from_email=from_email or (file_from[0] if file_from else None),
            to=recipients[0],
            cc=recipients[1],
            bcc=recipients[2],
            connection=connection,
        )
        parsed = copy.deepcopy(parsed)
        del parsed["Bcc"]
        self.parsed = parsed

    def _prepared(self, msgid_domain: str | None) -> StdlibMessage:
        prepared = copy.deepcopy(self.parsed)
        if "From" not in prepared:
            prepared["From"] = self.from_email
        if "Date" not in prepared:
            prepared["Date"] = email.utils.formatdate(localtime=True)
        if "Message-ID" not in prepared:
            prepared["Message-ID"] = email.utils.make_msgid(domain=msgid_domain)
        return prepared

    def message(self, *, msgid_domain: str | None = None) -> Message:
        """The message read from the file, without its Bcc header."""
        return self._prepared(msgid_domain)

    def serialize(
        self, linesep: str = "\n", *, msgid_domain: str | None = None, allow_8bit: bool = True
    ) -> bytes:
        """The file's message as bytes, lines ending with ``linesep``."""
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
        """The file's message in chunks, as every backend reads a message."""
        part = foreign_part(self._prepared(msgid_domain), allow_8bit)
        return SerializedMessage(part, linesep, chunk_size)

    def __deepcopy__(self, memo: dict[int, Any]) -> FileMessage:
        clone = copy.copy(self)
        clone.parsed = copy.deepcopy(self.parsed, memo)
        for name in ("to", "cc", "bcc", "reply_to", "attachments", "extra_headers"):
            if hasattr(self, name):
                setattr(clone, name, copy.deepcopy(getattr(self, name), memo))
        return clone


def read_eml(path: str) -> StdlibMessage:
    """Parse an RFC 5322 file; a missing, unreadable or header-less file is a UsageError."""
    try:
        with open(path, "rb") as fp:
            data = fp.read()
    except OSError as exc:
        raise UsageError(f"--eml: cannot read {path!r}: {exc.strerror or exc}") from None
    parsed = email.message_from_bytes(data, _class=StdlibMessage, policy=email.policy.default)
    if not parsed.keys() or not (parsed.get("From") or parsed.get("To") or parsed.get("Subject")):
        raise UsageError(f"--eml: {path!r} is not an e-mail message (no From, To or Subject)")
    return parsed
