"""The envelope this transport can send: every address ASCII, and one command line.

mailcore does not use SMTPUTF8, so a non-ASCII local part has no envelope it can go in
(a server without SMTPUTF8 would refuse or mangle it) and nothing is sent. The core
refuses such an address when it builds an envelope from a message's headers; an envelope
given as it is (:class:`mailcore.StoredMessage`: a Celery worker's, Django's through the
bridge) is checked here, so that the rule holds for every envelope whatever built it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailcore import InvalidAddressError

__all__ = ["check_envelope"]

#: Characters that would end or split the MAIL or RCPT command line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _problem(address: str) -> str | None:
    found = _CONTROL.search(address)
    if found:
        return f"it holds the control character {found.group()!r}"
    if address.isascii():
        return None
    local = address.rpartition("@")[0]
    if not local.isascii():
        return "its local part is not ASCII (that would need SMTPUTF8)"
    return "its domain is not ASCII (an international domain goes in its IDNA form, xn--...)"


def check_envelope(sender: str, recipients: Sequence[str]) -> None:
    """Raise :class:`mailcore.InvalidAddressError` naming the first envelope address
    (``sender``, then ``recipients``) this transport cannot send."""
    for role, address in [("sender", sender), *(("recipient", r) for r in recipients)]:
        problem = _problem(address)
        if problem:
            raise InvalidAddressError(f"envelope {role} {address!r} cannot be sent: {problem}")
