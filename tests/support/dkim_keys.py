"""DKIM key pairs for tests, and the DNS a verifier asks for their public keys.

``make_key(algorithm, directory)`` writes a new private key (PEM, PKCS#8, with
``cryptography``) to ``directory`` and returns a :class:`DKIMKey`: its ``options`` are
the mailer's ``dkim`` option, and ``verify(raw)`` runs dkimpy's ``verify`` on a message
with a ``dnsfunc`` that answers only ``<selector>._domainkey.<domain>`` with the public key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = ["DOMAIN", "SELECTOR", "DKIMKey", "make_key"]

DOMAIN = "example.com"
SELECTOR = "mail2026"
_PEM = serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8


@dataclass(frozen=True)
class DKIMKey:
    algorithm: str
    path: Path
    #: The ``p=`` of the DNS record (base64), and the record itself.
    public: bytes
    record: bytes

    @property
    def options(self) -> dict[str, Any]:
        """The ``dkim`` option of a mailer signing with this key (read from its file)."""
        return {
            "domain": DOMAIN,
            "selector": SELECTOR,
            "private_key_file": str(self.path),
            "algorithm": self.algorithm,
        }

    def dns(self, name: bytes, timeout: int = 5) -> bytes | None:
        """The TXT record of ``name``: the public key at the key's own name only."""
        return self.record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    def verify(self, raw: bytes) -> bool:
        """dkimpy's verdict on ``raw`` (the first DKIM-Signature), DNS answered by :meth:`dns`."""
        return bool(dkim.verify(raw, dnsfunc=self.dns))


def make_key(algorithm: str, directory: Path) -> DKIMKey:
    """A new key pair of ``algorithm`` (``rsa-sha256``: 2048 bits; ``ed25519-sha256``)."""
    if algorithm == "rsa-sha256":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kind = b"rsa"
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        kind = b"ed25519"
    path = directory / f"{kind.decode()}.pem"
    path.write_bytes(key.private_bytes(_PEM, _PKCS8, serialization.NoEncryption()))
    p = base64.b64encode(public)
    return DKIMKey(algorithm, path, p, b"v=DKIM1; k=" + kind + b"; p=" + p)
