"""The staging override: ``always_to`` and ``allowed_recipients``.

``always_to`` sends every message to those addresses only: the envelope and the To
header name them, Cc and Bcc are dropped, and the original To and Cc are kept in
``X-Original-To`` and ``X-Original-Cc`` headers (Bcc is never written anywhere).
``allowed_recipients`` is a list of patterns (``*@example.com``, ``qa+*@example.org``):
a recipient matching none is dropped and reported in ``result.cancelled_recipients``; a
message left without a recipient is not sent (status ``"cancelled"``). The filter comes
last, so it holds for ``always_to`` addresses too.

Patterns: ``*`` any run of characters, ``?`` one character, every other character
itself (``[a-z]`` is no class); the domain is compared case-insensitively and
IDNA-encoded (``*@bücher.de`` matches ``a@xn--bcher-kva.de``), the local part as
written. A pattern with white space or more than one ``@`` could match no address: it
is refused when the settings are built.

A message given ``X-Original-To`` or ``X-Original-Cc`` headers of its own has them
replaced by ``always_to`` (they would hide where it was going); both are address headers,
written as ``To`` is (IDNA domains, RFC 2047 names).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailcore._wire.addresses import parse_mailbox
from mailcore._wire.domains import ascii_domain
from mailcore.errors import ConfigurationError

if TYPE_CHECKING:
    from mailcore.message import EmailMessage

__all__ = ["Staging", "check_addresses", "check_patterns"]

#: The reason given for a recipient ``allowed_recipients`` dropped.
NOT_ALLOWED = "not in allowed_recipients"


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain.lower()


def _pattern(text: str) -> tuple[str, str]:
    """``(local pattern, domain pattern)`` of one ``allowed_recipients`` entry; raises
    :class:`ConfigurationError` naming it."""
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ConfigurationError(
            f"{text!r} is no pattern of the form 'local@domain' ('*@example.com')"
        )
    if any(c.isspace() for c in text):
        raise ConfigurationError(f"{text!r}: a pattern holds no white space")
    labels = []
    for label in domain.split("."):
        if any(c in label for c in "*?"):
            labels.append(label.lower())
            continue
        try:
            labels.append(ascii_domain(label).lower())
        except ValueError as exc:
            raise ConfigurationError(f"{text!r}: {exc}") from None
    return local, ".".join(labels)


def _compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression: ``*`` any run, ``?`` one character, the
    rest literal."""
    wild = {"*": ".*", "?": "."}
    return re.compile("".join(wild.get(c) or re.escape(c) for c in pattern), re.DOTALL)


def check_patterns(patterns: Sequence[str]) -> list[str]:
    """Validate ``allowed_recipients``; return it."""
    for text in patterns:
        _pattern(text)
    return list(patterns)


def check_addresses(addresses: Sequence[str]) -> list[str]:
    """Validate ``always_to`` (addresses, as a message's To takes them); return it."""
    for address in addresses:
        parse_mailbox(address, "always_to")
    return list(addresses)


@dataclass(frozen=True)
class Staging:
    """A mailer's staging override (see the module doc); empty when neither is set."""

    always_to: tuple[str, ...] = ()
    allowed_recipients: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.always_to or self.allowed_recipients)

    @functools.cached_property
    def _patterns(self) -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
        return [
            (_compiled(local), _compiled(domain))
            for local, domain in map(_pattern, self.allowed_recipients)
        ]

    def allows(self, address: str) -> bool:
        """Whether the envelope address ``address`` (IDNA-encoded) matches a pattern."""
        local, domain = _split(address)
        return any(
            local_pattern.fullmatch(local) and domain_pattern.fullmatch(domain)
            for local_pattern, domain_pattern in self._patterns
        )

    def apply(self, message: EmailMessage) -> tuple[EmailMessage | None, dict[str, str]]:
        """The message to send instead of ``message`` (a shallow copy; ``message`` is
        left as it was), or ``None`` when no recipient is left; and the recipients
        dropped, each mapped to why."""
        staged = copy.copy(message)
        staged.result = None
        staged.extra_headers = dict(message.extra_headers)
        if self.always_to:
            self._redirect(staged)
        dropped: dict[str, str] = {}
        if self.allowed_recipients:
            for field in ("to", "cc", "bcc"):
                kept = []
                for entry in getattr(staged, field):
                    address = parse_mailbox(entry, field.capitalize()).addr_spec
                    if self.allows(address):
                        kept.append(entry)
                    else:
                        dropped[address] = NOT_ALLOWED
                setattr(staged, field, kept)
        return (staged if staged.recipients() else None), dropped

    def _redirect(self, staged: EmailMessage) -> None:
        headers = staged.extra_headers
        shown = {name.lower(): name for name in headers}
        originals = {
            "X-Original-To": headers.pop(shown["to"]) if "to" in shown else staged.to,
            "X-Original-Cc": headers.pop(shown["cc"]) if "cc" in shown else staged.cc,
        }
        for name, value in originals.items():
            given = shown.get(name.lower())
            if given is not None:  # the message's own would hide where it was going
                del headers[given]
            text = value if isinstance(value, str) else ", ".join(str(v) for v in value)
            if text:
                headers[name] = text
        staged.to, staged.cc, staged.bcc = list(self.always_to), [], []
