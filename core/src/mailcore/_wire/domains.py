"""Internationalized domain names: the one place a domain becomes ASCII for the wire.

IDNA 2008 (RFC 5891) with the UTS #46 mapping, non-transitional, through the ``idna``
package: ``straße.de`` becomes ``xn--strae-oqa.de`` (IDNA 2003, Python's ``"idna"``
codec, would give the different domain ``strasse.de``), a final sigma is kept, and a zero
width joiner is allowed only where its context rules (CONTEXTJ) allow it.
"""

from __future__ import annotations

import functools

__all__ = ["ascii_domain"]


@functools.lru_cache(maxsize=512)
def ascii_domain(domain: str) -> str:
    """``domain`` as it goes on the wire: an ASCII domain as given, any other one
    IDNA 2008-encoded (UTS #46 mapping: ``Bücher.DE`` gives ``xn--bcher-kva.de``).

    Raises ``ValueError`` naming the domain and the reason when IDNA 2008 refuses it.
    """
    if domain.isascii():
        return domain
    import idna  # only for non-ASCII domains: keeps it out of every start-up

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError and its subclasses
        raise ValueError(f"domain {domain!r} is refused by IDNA 2008 ({exc})") from None
