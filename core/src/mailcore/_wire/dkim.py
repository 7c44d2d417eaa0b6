"""DKIM signatures (RFC 6376) on the exact bytes a backend sends, with dkimpy.

:func:`load_signer` reads and checks the key when a mailer is built, so a key that
cannot be read, or is not of the configured algorithm, is a configuration error then; a
key file must be a regular file of at most :data:`MAX_KEY_BYTES`.
:meth:`Signer.sign` puts a ``DKIM-Signature`` field on top of a serialized message,
signing From once more than the message has it (so none can be added) and warning once
when the From domain is not aligned with the signing domain (DMARC).
The body is hashed here, chunk by chunk as the message is encoded (canonicalization
``relaxed/simple``: its body rule is simple to apply on a stream), so a large
attachment is never held encoded; dkimpy canonicalizes and signs the header fields.
dkimpy is imported only when a key is loaded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import stat
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mailcore.errors import ConfigurationError

if TYPE_CHECKING:
    from mailcore._wire.mime import SerializedMessage
    from mailcore.options import DKIMOptions

__all__ = ["MAX_KEY_BYTES", "Signer", "load_signer"]

#: The largest key file read: a PEM key is a few KB (an 8192-bit RSA key about 6.5 KB).
MAX_KEY_BYTES = 64 * 1024

_CRLF = b"\r\n"
#: The PKCS#8 (RFC 8410) DER of an ed25519 private key: this prefix, then the 32-byte seed.
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")
#: The algorithm identifier of an ed25519 key (OID 1.3.101.112) inside any DER.
_ED25519_OID = bytes.fromhex("06032b6570")
#: The algorithm identifier of an elliptic-curve (ECDSA) key (OID 1.2.840.10045.2.1).
_EC_OID = bytes.fromhex("06072a8648ce3d0201")
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
#: The From fields of a header block (with their folded lines).
_FROM = re.compile(rb"^from[ \t]*:(.*(?:\r\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_DOMAIN = re.compile(rb"@([A-Za-z0-9._-]+)")
_log = logging.getLogger("mailcore.dkim")
#: (signing domain, From domain) pairs already warned about as not aligned (at most
#: :data:`_MAX_UNALIGNED`: then forgotten, and warned about again).
_unaligned: set[tuple[bytes, bytes]] = set()
_MAX_UNALIGNED = 1024
#: Shorter RSA keys are refused by verifiers (dkimpy's ``minkey``; RFC 8301).
_MIN_RSA_BITS = 1024


def _fail(options: DKIMOptions, problem: str) -> ConfigurationError:
    where = (
        f"private_key_file {str(options.private_key_file)!r}"
        if options.private_key_file is not None
        else "private_key"
    )
    return ConfigurationError(f"dkim: {where}: {problem}")


def _key_text(options: DKIMOptions) -> bytes:
    """The key's text: ``private_key``, or the regular file ``private_key_file`` of at most
    :data:`MAX_KEY_BYTES` (a device or a pipe could be read for ever)."""
    if options.private_key is not None:
        return options.private_key.get_secret_value().encode("ascii", "replace")
    assert options.private_key_file is not None
    path = options.private_key_file.expanduser()
    try:
        found = path.stat()
        if not stat.S_ISREG(found.st_mode):
            raise _fail(options, "is not a regular file (a device, a pipe or a directory?)")
        if found.st_size > MAX_KEY_BYTES:
            raise _too_big(options, found.st_size)
        with path.open("rb") as file:
            text = file.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise _fail(options, f"cannot be read: {exc.strerror or exc}") from None
    if len(text) > MAX_KEY_BYTES:  # it grew since stat()
        raise _too_big(options, len(text))
    return text


def _too_big(options: DKIMOptions, size: int) -> ConfigurationError:
    return _fail(
        options,
        f"is {size} bytes, more than the {MAX_KEY_BYTES // 1024} KiB a key file may have "
        "(a PEM key is a few KB: is it the right file?)",
    )


def _pem_der(text: bytes) -> tuple[str, bytes] | None:
    """The label and DER of the first PEM block of ``text``, if it has one."""
    found = _PEM.search(text)
    if found is None:
        return None
    try:
        return found[1].decode("ascii"), base64.b64decode(b"".join(found[2].split()))
    except binascii.Error:
        return None


def _base64(text: bytes) -> bytes:
    """``text`` decoded as base64 (whitespace ignored), or ``b""`` when it is not base64."""
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except binascii.Error:
        return b""


def _refuse_ec(options: DKIMOptions, label: str, der: bytes) -> None:
    if label == "EC PRIVATE KEY" or _EC_OID in der[:32]:
        raise _fail(options, "is an EC (ECDSA) key; DKIM signs with RSA or ed25519 keys only")


def _rsa_key(options: DKIMOptions, text: bytes) -> dict[str, int]:
    from dkim.crypto import UnparsableKeyError, parse_private_key

    pem = _pem_der(text)
    if pem is None:
        if len(_base64(text)) == 32:
            raise _fail(options, "is an ed25519 key (a bare seed), but algorithm is rsa-sha256")
        raise _fail(options, "is not a private key in PEM form (-----BEGIN PRIVATE KEY-----)")
    label, der = pem
    if _ED25519_OID in der[:32]:
        raise _fail(options, "is an ed25519 key, but algorithm is rsa-sha256")
    _refuse_ec(options, label, der)
    try:
        key: dict[str, int] = parse_private_key(der)
    except (UnparsableKeyError, IndexError, ValueError):
        raise _fail(
            options, f"is not an RSA private key (PKCS#1 or PKCS#8; found {label})"
        ) from None
    bits = key["modulus"].bit_length()
    if bits < _MIN_RSA_BITS:
        raise _fail(options, f"is a {bits}-bit RSA key; verifiers need at least 1024 (use 2048)")
    return key


def _ed25519_key(options: DKIMOptions, text: bytes) -> Any:
    import nacl.signing

    pem = _pem_der(text)
    if pem is not None:
        label, der = pem
        _refuse_ec(options, label, der)
        if not der.startswith(_ED25519_PKCS8) or len(der) != len(_ED25519_PKCS8) + 32:
            raise _fail(
                options, "is not an ed25519 key (an RSA key?), but algorithm is ed25519-sha256"
            )
        seed = der[len(_ED25519_PKCS8) :]
    else:
        seed = _base64(text)
        if len(seed) != 32:
            raise _fail(
                options,
                "is not an ed25519 private key (PEM, or the base64 seed dknewkey writes)",
            )
    return nacl.signing.SigningKey(seed)


def load_signer(options: DKIMOptions) -> Signer:
    """A :class:`Signer` for ``options``; raises :class:`ConfigurationError` when the key
    cannot be read or does not fit the algorithm (the key is never in the message)."""
    text = _key_text(options)
    if options.algorithm == "rsa-sha256":
        key = _rsa_key(options, text)
    else:
        key = _ed25519_key(options, text)
    del text
    return Signer(options, key)


class _SimpleBodyHash:
    """SHA-256 of a body under the ``simple`` body canonicalization, fed chunk by chunk:
    the body with its trailing empty lines removed, ending in one CRLF. Line ends held
    back (maybe trailing) are hashed once something else follows them."""

    __slots__ = ("_hash", "_held")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._held: list[bytes] = []

    def update(self, data: bytes) -> None:
        content = data.rstrip(b"\r\n")
        if content:
            for held in self._held:
                self._hash.update(held)
            self._held.clear()
            self._hash.update(content)
        if len(content) < len(data):
            self._held.append(data[len(content) :])

    def digest(self) -> bytes:
        self._hash.update(_CRLF)
        return self._hash.digest()


def _crlf_chunks(chunks: Iterator[bytes], newline: bytes) -> Iterator[bytes]:
    if newline == _CRLF:
        return chunks
    return (chunk.replace(newline, _CRLF) for chunk in chunks)


def _split_head(chunks: Iterator[bytes]) -> tuple[bytes, bytes]:
    """The header block (its last CRLF included) and the body bytes read with it."""
    head = b""
    for chunk in chunks:
        head += chunk
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            return head[: end + 2], head[end + 4 :]
    return head, b""


def _oversigned(include: tuple[bytes, ...], head: bytes, domain: bytes) -> tuple[bytes, ...]:
    """``include`` with ``from`` once more than the message has From fields, so that no
    From can be added without breaking the signature (RFC 6376 section 5.4.2, as dkimpy's
    defaults do); warns once per signing and From domain when they are not aligned."""
    values = _FROM.findall(head)
    for value in values:
        found = _DOMAIN.findall(value)
        author = found[-1].lower() if found else b""
        aligned = author == domain.lower() or author.endswith(b"." + domain.lower())
        if author and not aligned and (domain, author) not in _unaligned:
            if len(_unaligned) >= _MAX_UNALIGNED:
                _unaligned.clear()
            _unaligned.add((domain, author))
            _log.warning(
                "DKIM signs as d=%s a message From %s: not the same domain nor a subdomain, "
                "so DMARC receivers do not count the signature as the author's",
                domain.decode(),
                author.decode(),
            )
    missing = len(values) + 1 - include.count(b"from")
    return include + (b"from",) * max(missing, 0)


class Signer:
    """Signs serialized messages with one key (made by :func:`load_signer`)."""

    __slots__ = ("_algorithm", "_domain", "_headers", "_key", "_selector")

    def __init__(self, options: DKIMOptions, key: Any) -> None:
        self._key = key
        self._algorithm = options.algorithm.encode("ascii")
        self._domain = options.domain.encode("ascii")
        self._selector = options.selector.encode("ascii")
        self._headers = None if options.headers is None else [h.encode() for h in options.headers]

    def __repr__(self) -> str:
        return f"<DKIM signer {self._selector.decode()}._domainkey.{self._domain.decode()}>"

    def sign(self, data: SerializedMessage) -> SerializedMessage:
        """``data`` with a ``DKIM-Signature`` field on top, computed over its bytes as they
        are; its body is read once, a chunk at a time."""
        import dkim
        from dkim.canonicalization import CanonicalizationPolicy
        from dkim.crypto import HASH_ALGORITHMS

        newline = data.newline
        chunks = _crlf_chunks(iter(data), newline)
        head, body_start = _split_head(chunks)
        body = _SimpleBodyHash()
        body.update(body_start)
        del body_start
        for chunk in chunks:
            body.update(chunk)
        signer = dkim.DKIM(head + _CRLF, signature_algorithm=self._algorithm, linesep=newline)
        include = tuple(self._headers or signer.default_sign_headers())
        include = _oversigned(tuple(name.lower() for name in include), head, self._domain)
        policy = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
        fields = [
            (b"v", b"1"),
            (b"a", self._algorithm),
            (b"c", policy.to_c_value()),
            (b"d", self._domain),
            (b"i", b"@" + self._domain),
            (b"q", b"dns/txt"),
            (b"s", self._selector),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(include)),
            (b"bh", base64.b64encode(body.digest())),
            (b"b", b"0" * 60),  # as dkimpy: b= folds onto its own line
        ]
        signer.hasher = HASH_ALGORITHMS[self._algorithm]
        value = signer.gen_header(fields, include, policy, b"DKIM-Signature", self._key)
        return data.prepended(b"DKIM-Signature: " + value)
