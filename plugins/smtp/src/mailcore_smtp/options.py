"""The options of the SMTP backend, read from arguments, ``MAILCORE_SMTP_*`` and ``[smtp]``."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, get_args

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from mailcore import (
    BackendOptions,
    ConfigurationError,
    DKIMOptions,
    PerSecond,
    Seconds,
    URLScheme,
)
from mailcore_smtp.auth import AuthMethod, clean_token, load_token_provider, username_problem
from mailcore_smtp.errors import MESSAGE_STAGES, Stage

__all__ = [
    "DEFAULT_DATA_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "SMTP_URL_SCHEMES",
    "SMTPOptions",
    "is_loopback_host",
]

#: Seconds to wait for the connection, the greeting and each reply (``timeout``).
DEFAULT_TIMEOUT = 30.0
#: Seconds to wait for the reply to a message's content (``data_timeout``): RFC 5321
#: section 4.5.3.2.6 asks clients to wait 10 minutes for it.
DEFAULT_DATA_TIMEOUT = 600.0

#: The stages of setting a connection up (``connect_timeout``): every one before a message.
_SET_UP: frozenset[str] = frozenset(get_args(Stage)) - MESSAGE_STAGES

#: What may follow EHLO: a domain name or an address literal; never spaces or CR/LF.
_EHLO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[A-Za-z0-9:.]+\]")

#: One label of a host name: letters, digits, hyphens (underscores too, as some private
#: networks use), neither starting nor ending with a hyphen.
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_HOST_PORT = re.compile(r"(?P<host>[^:\[\]]+|\[[^\]]*\]):(?P<port>\d+)")
_EXPECTED_HOST = "expected a host name (mail.example.com) or an IP address (192.0.2.1, 2001:db8::1)"


def _ip_address(text: str) -> str | None:
    """``text`` as an IP address (``[2001:db8::1]`` without its brackets), else ``None``."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return None


def _is_host_name(text: str) -> bool:
    name = text[:-1] if text.endswith(".") else text
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def _host_problem(value: str) -> str:
    """Why ``value`` is not a host, with what to write instead."""
    if "://" in value:
        scheme, _, rest = value.partition("://")
        where = rest.split("/", 1)[0].rpartition("@")[2]
        parts = _HOST_PORT.fullmatch(where)
        host, port = (parts["host"].strip("[]"), parts["port"]) if parts else (where, None)
        hint = f"host = {host!r}" + (f" and port = {port}" if port else "")
        return (
            f"a URL ({scheme}://...) is not a host: set {hint} (and use_tls or use_ssl for "
            "encryption) as separate options; connection URLs will come with named mailers"
        )
    parts = _HOST_PORT.fullmatch(value)
    if parts:
        return (
            f"the port goes in its own option: set host = {parts['host'].strip('[]')!r} "
            f"and port = {parts['port']}"
        )
    if "@" in value:
        return f"{_EXPECTED_HOST}, not an e-mail address"
    if any(c.isspace() for c in value):
        return f"{_EXPECTED_HOST}, without spaces"
    if not value.isascii():
        return f"{_EXPECTED_HOST}; write an international name in its ASCII form (xn--...)"
    if value.startswith("-") or ".-" in value or "-." in value or value.endswith("-"):
        return f"{_EXPECTED_HOST}; a name's parts may not start or end with a hyphen"
    return _EXPECTED_HOST


_SERVER: dict[str, Any] = {
    "host": "host",
    "port": "port",
    "user": "username",
    "password": "password",
}
#: The connection URLs of the SMTP backend: ``smtp://`` (plain; ``?use_tls=true`` for
#: STARTTLS), ``smtp+starttls://`` (STARTTLS, port 587), ``smtps://`` (implicit TLS, 465).
SMTP_URL_SCHEMES = {
    "smtp": URLScheme(**_SERVER, required=("host",)),
    "smtp+starttls": URLScheme(
        **_SERVER, required=("host",), defaults={"use_tls": True, "port": 587}
    ),
    "smtps": URLScheme(**_SERVER, required=("host",), defaults={"use_ssl": True, "port": 465}),
}


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
    - ``auth_method``: how to log in: ``auto`` (the default: as the server offers),
      ``plain``, ``login`` or ``xoauth2`` (OAuth2, as Microsoft 365 and Gmail want:
      ``username`` and ``oauth_token`` or ``oauth_token_provider``, no password).
    - ``oauth_token``: an OAuth2 access token for ``xoauth2``; a secret, never shown.
      Whitespace around it (a token file's newline) is dropped; a control character
      or space inside is refused.
    - ``oauth_token_provider``: the import path (``"myapp.mail:token"``) of a plain (not
      async) function returning a fresh access token, called for each connection; when
      the server refuses a token, it is called once more and the login tried again.
    - ``use_tls``: STARTTLS after connecting (port 587); the server must offer it.
    - ``use_ssl``: implicit TLS from the first byte (port 465). Not with ``use_tls``.
    - ``timeout``: seconds to wait for each reply of the server once the connection is
      set up, the whole reply however slowly it trickles in, and for a free pooled
      connection while the pool makes no progress (30 s). Every option in seconds is a
      finite number above 0 and at most one day (86400).
    - ``connect_timeout``: seconds for each wait while a connection is set up
      (connecting, the TLS handshake, the greeting, the replies to EHLO, STARTTLS and
      AUTH), each whole however slowly it trickles in; unset (the default): ``timeout``.
    - ``data_timeout``: seconds to wait for the server's whole reply to a message's content,
      while it may scan the message (600 s, as RFC 5321 advises).
    - ``ssl_certfile``, ``ssl_keyfile``: a client certificate (PEM) for TLS.
    - ``local_hostname``: the name sent with EHLO and used in generated Message-IDs.
    - ``allow_plaintext_auth``: allow sending credentials over an unencrypted
      connection to a host other than loopback (off: that is refused).
    - ``retries``: how many times to try again after a temporary failure (a 4xx reply,
      a lost connection or a timeout) before the server accepted the message; 0 (the
      default) never retries. A message whose outcome is unknown is never sent again.
    - ``retry_backoff``: seconds to wait before the first retry, doubled for each next
      one, each wait varied at random between half and one and a half times (jitter).
    - ``pipelining``: use PIPELINING (RFC 2920) when the server offers it: one round
      trip per message instead of four (on).
    - ``max_connections``: connections to the server at once, shared by every instance
      configured alike in the process (1); a batch is spread over them.
    - ``max_messages_per_connection``: a connection is replaced after this many
      messages (100).
    - ``idle_timeout``: seconds a pooled connection may sit unused before it is closed (30).
    - ``max_per_second``: at most this many messages a second (a float from 1/3600, one
      an hour, to 1000000), shared by every thread and connection of the pool; ``None``
      (the default): no limit (``inf`` is refused: leave it unset).
    - ``dkim``: sign every message with DKIM (a table: ``domain``, ``selector``,
      ``private_key_file`` or ``private_key``, ``headers``, ``algorithm``; see
      :class:`mailcore.DKIMOptions`); unset: the core ``dkim`` setting applies, if any.
    """

    unset_means: ClassVar[Mapping[str, str]] = {"connect_timeout": "timeout"}

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    username: str | None = None
    password: SecretStr | None = None
    auth_method: AuthMethod = "auto"
    oauth_token: SecretStr | None = None
    oauth_token_provider: str | None = None
    use_tls: bool = False
    use_ssl: bool = False
    timeout: Seconds = DEFAULT_TIMEOUT
    connect_timeout: Seconds | None = None
    data_timeout: Seconds = DEFAULT_DATA_TIMEOUT
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    local_hostname: str | None = None
    allow_plaintext_auth: bool = False
    retries: Annotated[int, Field(ge=0, le=100)] = 0
    retry_backoff: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] = 1.0
    pipelining: bool = True
    max_connections: Annotated[int, Field(ge=1, le=1000)] = 1
    max_messages_per_connection: Annotated[int, Field(ge=1)] = 100
    idle_timeout: Seconds = 30.0
    max_per_second: PerSecond | None = None
    dkim: DKIMOptions | None = None

    def timeout_at(self, stage: Stage) -> tuple[str, float]:
        """The option bounding each wait for the server at ``stage``, and its seconds:
        ``data_timeout`` for the reply to a message's content; ``connect_timeout`` (when
        set) while a connection is set up; else ``timeout``."""
        if stage == "message":
            return "data_timeout", self.data_timeout
        if stage in _SET_UP and self.connect_timeout is not None:
            return "connect_timeout", self.connect_timeout
        return "timeout", self.timeout

    @property
    def setup_timeout(self) -> float:
        """Seconds for each wait while a connection is set up (:meth:`timeout_at`)."""
        return self.timeout_at("connect")[1]

    @field_validator("host")
    @classmethod
    def _host_name_or_address(cls, value: str) -> str:
        """A host name or an IP address (an IPv6 one with or without brackets, kept
        without them); anything else is refused, saying what to write instead."""
        text = value.strip()
        if not text:
            raise PydanticCustomError("smtp_host", f"is empty: {_EXPECTED_HOST}")
        address = _ip_address(text)
        if address is not None:
            return address
        if _is_host_name(text):
            return text
        raise PydanticCustomError("smtp_host", _host_problem(text))

    @field_validator("timeout", "data_timeout", mode="before")
    @classmethod
    def _no_endless_wait(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError(
                "smtp_timeout",
                "must be a number of seconds greater than 0: waiting for ever (None, "
                "Django's default) is not offered",
            )
        return value

    @field_validator("username", "password", "oauth_token", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()):
            return None
        return value

    @field_validator("oauth_token")
    @classmethod
    def _one_word_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        return SecretStr(clean_token(value.get_secret_value(), "oauth_token"))

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
        self._check_login()
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ConfigurationError("smtp: ssl_keyfile is set but ssl_certfile is not")
        if self.ssl_certfile is not None and not (self.use_tls or self.use_ssl):
            raise ConfigurationError(
                "smtp: ssl_certfile is set but neither use_tls nor use_ssl is: "
                "a client certificate needs TLS"
            )
        encrypted = self.use_tls or self.use_ssl
        secret = "OAuth2 token" if self.auth_method == "xoauth2" else "password"
        if (
            self.username is not None
            and not encrypted
            and not self.allow_plaintext_auth
            and not is_loopback_host(self.host)
        ):
            raise ConfigurationError(
                f"smtp: refusing to send the {secret} for {self.username!r} unencrypted to "
                f"{self.host}:{self.port}; set use_tls=True (STARTTLS) or use_ssl=True, or "
                "allow_plaintext_auth=True if you really mean it"
            )
        return self

    def _check_login(self) -> None:
        """The login options fit ``auth_method``: a username with a password, or for
        ``xoauth2`` with exactly one of ``oauth_token`` and ``oauth_token_provider``."""
        oauth = [n for n in ("oauth_token", "oauth_token_provider") if getattr(self, n) is not None]
        if self.auth_method != "xoauth2":
            if oauth:
                raise ConfigurationError(
                    f"smtp: {oauth[0]} is set but auth_method is {self.auth_method!r}; "
                    "set auth_method = 'xoauth2' to log in with OAuth2"
                )
            if (self.username is None) != (self.password is None):
                given, missing = (
                    ("username", "password") if self.password is None else ("password", "username")
                )
                raise ConfigurationError(f"smtp: {given} is set but {missing} is not; set both")
            if self.auth_method != "auto" and self.username is None:
                raise ConfigurationError(
                    f"smtp: auth_method is {self.auth_method!r} but username and password "
                    "are not set"
                )
            return
        if self.username is None or len(oauth) != 1:
            raise ConfigurationError(
                "smtp: auth_method 'xoauth2' needs username and exactly one of oauth_token "
                "and oauth_token_provider" + (" (both are set)" if len(oauth) == 2 else "")
            )
        if self.password is not None:
            raise ConfigurationError(
                "smtp: auth_method 'xoauth2' logs in with a token: unset password"
            )
        problem = username_problem(self.username)
        if problem is not None:
            raise ConfigurationError(f"smtp: {problem}")
        if self.oauth_token_provider is not None:
            load_token_provider(self.oauth_token_provider)  # its import fails now, not later
