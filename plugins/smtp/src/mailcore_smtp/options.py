"""The options of the SMTP backend, read from arguments, ``MAILCORE_SMTP_*`` and ``[smtp]``."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from mailcore import BackendOptions, ConfigurationError

__all__ = ["SMTPOptions", "is_loopback_host"]

#: What may follow EHLO: a domain name or an address literal; never spaces or CR/LF.
_EHLO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[A-Za-z0-9:.]+\]")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``) and loopback IP addresses; no DNS lookup."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class SMTPOptions(BackendOptions):
    """What the SMTP backend can be told.

    - ``host``, ``port``: the server (``localhost``, 25).
    - ``username``, ``password``: log in with these (AUTH PLAIN, LOGIN or CRAM-MD5, as
      the server offers); the password is a secret, never shown.
    - ``use_tls``: STARTTLS after connecting (port 587); the server must offer it.
    - ``use_ssl``: implicit TLS from the first byte (port 465). Not with ``use_tls``.
    - ``timeout``: seconds to wait for the server at each step (``None``: the socket default).
    - ``ssl_certfile``, ``ssl_keyfile``: a client certificate (PEM) for TLS.
    - ``local_hostname``: the name sent with EHLO and used in generated Message-IDs.
    - ``allow_plaintext_auth``: allow sending credentials over an unencrypted
      connection to a host other than loopback (off: that is refused).
    - ``retries``: how many times to try again after a temporary failure (a 4xx reply,
      a lost connection or a timeout) before the server accepted the message; 0 (the
      default) never retries. A message whose outcome is unknown is never sent again.
    - ``retry_backoff``: seconds to wait before the first retry, doubled for each next
      one, each wait varied at random between half and one and a half times (jitter).
    """

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = False
    use_ssl: bool = False
    timeout: Annotated[float, Field(gt=0)] | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    local_hostname: str | None = None
    allow_plaintext_auth: bool = False
    retries: Annotated[int, Field(ge=0, le=100)] = 0
    retry_backoff: Annotated[float, Field(ge=0, le=3600)] = 1.0

    @field_validator("host")
    @classmethod
    def _host_is_not_empty(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be a host name or IP address, without spaces")
        return value

    @field_validator("username", "password", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            return None
        return value

    @field_validator("local_hostname")
    @classmethod
    def _ehlo_name(cls, value: str | None) -> str | None:
        if value is not None and not _EHLO_NAME.fullmatch(value):
            raise ValueError(
                "must be a domain name (mail.example.com) or an address literal "
                "([192.0.2.1]), without spaces"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # A ConfigurationError raised here reaches the user as this sentence: the core
        # takes it out of pydantic's validation report.
        if self.use_tls and self.use_ssl:
            raise ConfigurationError(
                "smtp: use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually "
                "exclusive; set only one (use_ssl for port 465, use_tls for port 587)"
            )
        if (self.username is None) != (self.password is None):
            given, missing = (
                ("username", "password")
                if self.password is None
                else (
                    "password",
                    "username",
                )
            )
            raise ConfigurationError(f"smtp: {given} is set but {missing} is not; set both")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ConfigurationError("smtp: ssl_keyfile is set but ssl_certfile is not")
        if self.ssl_certfile is not None and not (self.use_tls or self.use_ssl):
            raise ConfigurationError(
                "smtp: ssl_certfile is set but neither use_tls nor use_ssl is: "
                "a client certificate needs TLS"
            )
        encrypted = self.use_tls or self.use_ssl
        if (
            self.username is not None
            and not encrypted
            and not self.allow_plaintext_auth
            and not is_loopback_host(self.host)
        ):
            raise ConfigurationError(
                f"smtp: refusing to send the password for {self.username!r} unencrypted to "
                f"{self.host}:{self.port}; set use_tls=True (STARTTLS) or use_ssl=True, or "
                "allow_plaintext_auth=True if you really mean it"
            )
        return self
