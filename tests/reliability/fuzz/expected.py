"""What a reader must find for a given input: the addresses of an address header written
as given, and the address an entry of ``to``/``from_email``... stands for."""

from __future__ import annotations

import email.policy

from mailcore._wire.addresses import parse_mailbox
from tests.reliability.fuzz.roundtrip import idna, rfc2047_reading
from tests.reliability.fuzz.strategies import MailboxInput

__all__ = ["expected_mailbox", "reader_addresses"]


def reader_addresses(name: str, value: str) -> list[tuple[str, str, str]] | None:
    """``(display_name, username, domain)`` of each address an RFC 2047 reader finds in
    ``name: value`` written as it is (domains as they go on the wire), or ``None`` when the
    standard parser finds the value defective (then it means nothing definite)."""
    try:
        header = email.policy.default.header_factory(name, value)
        if header.defects:
            return None
        # Read as an RFC 2047 reader reads it (see rfc2047_reading).
        header = email.policy.default.header_factory(name, rfc2047_reading(value))
    except (AttributeError, RecursionError, ValueError):  # Python 3.11: "a:;=?", "(((..."
        return None
    return [(a.display_name, a.username, idna(a.domain)) for a in header.addresses]


def expected_mailbox(entry: MailboxInput, header: str) -> tuple[str, str, str]:
    """``(display_name, username, domain)`` a reader must see for ``entry``: the intended
    one when the input says it unambiguously, else what mailcore parsed (checked against
    the intended address when there is one)."""
    intended = entry.intended
    if intended is not None and intended.display_name is not None:
        return (intended.display_name, intended.username, idna(intended.domain))
    mailbox = parse_mailbox(entry.value, header)
    domain = mailbox.addr_spec.rpartition("@")[2]
    if intended is not None:
        assert (mailbox.local_part, domain) == (intended.username, idna(intended.domain))
    return (mailbox.display_name, mailbox.local_part, domain)
