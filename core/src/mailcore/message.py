"""PLACEHOLDER: minimal message classes; being rewritten in full (see issue 2)."""

from __future__ import annotations

import copy
import email.policy
import email.utils
from email.message import EmailMessage as _StdMessage
from email.message import Message
from typing import TYPE_CHECKING, Any, NamedTuple

from mailcore.errors import BadHeaderError
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = ["EmailAlternative", "EmailAttachment", "EmailMessage", "EmailMultiAlternatives"]


class EmailAttachment(NamedTuple):
    filename: str | None
    content: Any
    mimetype: str | None


class EmailAlternative(NamedTuple):
    content: Any
    mimetype: str


class EmailMessage:
    content_subtype = "plain"
    mixed_subtype = "mixed"
    encoding: str | None = None

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: list[str] | None = None,
        bcc: list[str] | None = None,
        connection: BaseEmailBackend | None = None,
        attachments: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        cc: list[str] | None = None,
        reply_to: list[str] | None = None,
    ) -> None:
        from mailcore.settings import get_settings

        self.subject = subject
        self.body = body
        self.from_email = from_email or get_settings().default_from_email
        self.to = list(to or [])
        self.cc = list(cc or [])
        self.bcc = list(bcc or [])
        self.reply_to = list(reply_to or [])
        self.connection = connection
        self.attachments = list(attachments or [])
        self.extra_headers = dict(headers or {})
        self.result: SendResult | None = None

    def recipients(self) -> list[str]:
        return [a for a in [*self.to, *self.cc, *self.bcc] if a]

    def message(self) -> Message:
        msg = _StdMessage(policy=email.policy.default)
        for name, value in (("Subject", self.subject), ("From", self.from_email)):
            if "\n" in value or "\r" in value:
                raise BadHeaderError(f"header {name!r} contains a newline")
            msg[name] = value
        if self.to:
            msg["To"] = ", ".join(self.to)
        msg["Date"] = email.utils.formatdate(localtime=True)
        msg["Message-ID"] = email.utils.make_msgid()
        msg.set_content(self.body, subtype=self.content_subtype)
        return msg

    def serialize(self, linesep: str = "\n") -> bytes:
        return self.message().as_bytes(policy=email.policy.default.clone(linesep=linesep))

    def envelope_from(self) -> str:
        return email.utils.parseaddr(self.from_email)[1]

    def envelope_recipients(self) -> list[str]:
        return [email.utils.parseaddr(a)[1] for a in self.recipients()]

    def send(self, fail_silently: bool = False) -> int:
        if not self.recipients():
            return 0
        from mailcore.sending import get_connection

        connection = self.connection or get_connection(fail_silently=fail_silently)
        return connection.send_messages([self])

    def __deepcopy__(self, memo: dict[int, Any]) -> EmailMessage:
        clone = copy.copy(self)
        for key, value in vars(self).items():
            if key != "connection":
                setattr(clone, key, copy.deepcopy(value, memo))
        return clone


class EmailMultiAlternatives(EmailMessage):
    def __init__(self, *args: Any, alternatives: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alternatives = list(alternatives or [])

    def attach_alternative(self, content: Any, mimetype: str) -> None:
        self.alternatives.append(EmailAlternative(content, mimetype))
