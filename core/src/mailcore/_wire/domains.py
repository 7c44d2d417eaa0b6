"""Domains: the one place a domain is checked and becomes ASCII for the wire.

IDNA 2008 (RFC 5891) with the UTS #46 mapping, non-transitional, through the ``idna``
package: ``straße.de`` becomes ``xn--strae-oqa.de`` (IDNA 2003, Python's ``"idna"``
codec, would give the different domain ``strasse.de``), a final sigma is kept, and a zero
width joiner is allowed only where its context rules (CONTEXTJ) allow it. An ASCII domain
is checked too: labels of letters, digits, hyphens and underscores (found in practice,
though RFC 5321 host names have none), no label starting or ending with a hyphen, hyphens
in the third and fourth places only in an ``xn--`` label that IDNA 2008 decodes.
"""

from __future__ import annotations

import functools
import re

__all__ = ["MAX_DNS_NAME", "ascii_domain", "dns_name"]

#: The longest domain name DNS can look up, in characters (RFC 1035: 255 octets on the wire).
MAX_DNS_NAME = 253

# The common case, checked by one regular expression: LDH labels (and "_") of at most 63
# characters, no hyphen first or last, no "--" anywhere (so no A-label to decode).
_PLAIN = re.compile(
    r"(?!.*--)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*"
)
_LABEL = re.compile(r"[A-Za-z0-9_-]+")
# An address literal: RFC 5322 dtext between brackets ("[127.0.0.1]", "[IPv6:::1]").
_LITERAL = re.compile(r"\[[!-Z^-~]*\]")


@functools.lru_cache(maxsize=512)
def ascii_domain(domain: str) -> str:
    """``domain`` as it goes on the wire: a valid ASCII domain or ``[literal]`` as given,
    any other one IDNA 2008-encoded (UTS #46 mapping: ``Bücher.DE`` gives
    ``xn--bcher-kva.de``).

    Raises ``ValueError`` naming the domain and the reason when it is not a host name
    (see the module's rules) or IDNA 2008 refuses it.
    """
    if domain.isascii():
        if _PLAIN.fullmatch(domain) or _LITERAL.fullmatch(domain):
            return domain
        _check_ascii(domain)
        return domain
    import idna  # only for non-ASCII domains and A-labels: keeps it out of every start-up

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError and its subclasses
        raise ValueError(f"domain {domain!r} is refused by IDNA 2008 ({exc})") from None


def _check_ascii(domain: str) -> None:
    """Raise ``ValueError`` unless the ASCII ``domain`` follows the rules (it did not match
    the fast path: an A-label, or an error to name)."""
    for label in domain.split("."):
        if not 0 < len(label) <= 63:
            raise ValueError(f"domain {domain!r} has an empty label or one over 63 characters")
        if not _LABEL.fullmatch(label):
            raise ValueError(f"domain {domain!r} is not a host name or a [literal]")
        if label[0] == "-" or label[-1] == "-":
            raise ValueError(f"domain {domain!r} has a label starting or ending with '-'")
        if label[2:4] != "--":
            continue
        if label[:4].lower() != "xn--":
            raise ValueError(
                f"domain {domain!r} has a label with '--' in third and fourth place "
                f"({label!r}), reserved for IDNA"
            )
        import idna

        try:
            idna.ulabel(label.lower())
        except UnicodeError as exc:
            raise ValueError(
                f"domain {domain!r} has an A-label {label!r} refused by IDNA 2008 ({exc})"
            ) from None


def dns_name(domain: str) -> str:
    """``domain`` as a name to look up in DNS (a DKIM signing domain): as
    :func:`ascii_domain` gives it (``bücher.example`` becomes ``xn--bcher-kva.example``),
    and also at most :data:`MAX_DNS_NAME` characters, no ``[literal]`` and no all-numeric
    last label (``127.0.0.1`` is an IP address, not a domain).

    Raises ``ValueError`` naming the domain and the reason.
    """
    name = ascii_domain(domain)
    if name.startswith("["):
        raise ValueError(f"domain {domain!r} is an address literal, not a domain name")
    if len(name) > MAX_DNS_NAME:
        raise ValueError(
            f"domain {domain[:20]!r}... is {len(name)} characters long; DNS takes at most "
            f"{MAX_DNS_NAME}"
        )
    if name.rpartition(".")[2].isdigit():
        raise ValueError(f"domain {domain!r} is an IP address (its last label is a number)")
    return name
