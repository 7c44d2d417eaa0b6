"""How a connection logs in (AUTH): the one decision the SMTP clients share.

:func:`login_attempts` gives the logins to try in turn for the options: one, or with
``oauth_token_provider`` a second one with a fresh token, to be made only when the
server refused the first with a reply :func:`retry_after` accepts (334 or 535; as
Nodemailer does). Each :class:`Attempt` names its SASL mechanism (``None``: ``auto``,
the client picks among what the server offers) and answers the server's challenges
(:meth:`Attempt.respond`, unencoded text; the client base64-encodes it). The sync client
drives it with :meth:`smtplib.SMTP.auth`; an async client feeds it the same way.

Secrets (the password, a token) live in the attempt only, never in its ``repr``; the
provider is called once per connection (and once more after a refusal).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mailcore import ConfigurationError

if TYPE_CHECKING:
    from mailcore_smtp.options import SMTPOptions

__all__ = [
    "Attempt",
    "AuthMethod",
    "TokenError",
    "TokenProvider",
    "load_token_provider",
    "login_attempts",
    "retry_after",
]

#: The ``auth_method`` option: ``auto`` lets the client pick among what the server offers.
AuthMethod = Literal["auto", "plain", "login", "xoauth2"]
#: Called per connection for a fresh OAuth2 access token.
TokenProvider = Callable[[], str]

_MECHANISM: dict[str, str | None] = {
    "auto": None,
    "plain": "PLAIN",
    "login": "LOGIN",
    "xoauth2": "XOAUTH2",
}
#: Replies to an XOAUTH2 login after which a fresh token is worth one more try: the
#: error challenge (334, answered with an empty line) and the final refusal (535).
_TOKEN_REJECTED = (334, 535)


def load_token_provider(path: str) -> TokenProvider:
    """The callable named ``path`` (``"package.module:function"``); raises
    :class:`ConfigurationError` when it cannot be imported or is not callable."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
            f"smtp: oauth_token_provider {path!r} must be an import path 'package.module:function'"
        )
    try:
        target: object = importlib.import_module(module_name)
        for name in attribute.split("."):
            target = getattr(target, name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"smtp: oauth_token_provider {path!r} cannot be imported: {exc}"
        ) from None
    if not callable(target):
        raise ConfigurationError(f"smtp: oauth_token_provider {path!r} is not callable")
    return target


@dataclass(frozen=True)
class Attempt:
    """One login: ``mechanism`` (``None``: the client's choice), user and secret."""

    mechanism: str | None
    username: str
    secret: str = field(repr=False)
    #: True when the token came from ``oauth_token_provider`` afresh after a refusal.
    retried: bool = False

    def respond(self, challenge: bytes | None = None) -> str:
        """The answer to the server's (decoded) ``challenge``; ``None``: the initial
        response sent with ``AUTH``. An XOAUTH2 error challenge is answered with an
        empty line, after which the server sends its final refusal."""
        mechanism = self.mechanism
        if mechanism == "XOAUTH2":
            if challenge is None:
                return f"user={self.username}\x01auth=Bearer {self.secret}\x01\x01"
            return ""
        if mechanism == "LOGIN":
            if challenge is None or challenge.strip().lower().startswith(b"username"):
                return self.username
            return self.secret
        return f"\0{self.username}\0{self.secret}"  # PLAIN (RFC 4616)


def retry_after(attempt: Attempt, code: int) -> bool:
    """Whether to ask :func:`login_attempts` for the next attempt (there is one only
    with a token provider) after ``attempt`` was refused with ``code``."""
    return attempt.mechanism == "XOAUTH2" and code in _TOKEN_REJECTED


class TokenError(Exception):
    """``oauth_token_provider`` failed, or returned no token (the text says which)."""


def _fresh_token(provider: TokenProvider, path: str) -> str:
    try:
        token = provider()
    except Exception as exc:
        raise TokenError(
            f"oauth_token_provider {path!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(token, str) or not token:
        # the value is never shown: a token of the wrong type is still a secret
        got = "an empty str" if token == "" else f"a {type(token).__name__}"
        raise TokenError(f"oauth_token_provider {path!r} returned {got}, not a token (a str)")
    return token


def login_attempts(options: SMTPOptions) -> Iterator[Attempt]:
    """The logins to try, in order (none without a username). The next one is only
    to be asked for when :func:`retry_after` says so: asking calls the token provider."""
    username = options.username
    if username is None:
        return
    mechanism = _MECHANISM[options.auth_method]
    provider_path = options.oauth_token_provider
    if provider_path is not None:
        provider = load_token_provider(provider_path)
        yield Attempt(mechanism, username, _fresh_token(provider, provider_path))
        yield Attempt(mechanism, username, _fresh_token(provider, provider_path), retried=True)
        return
    secret = options.oauth_token if options.auth_method == "xoauth2" else options.password
    assert secret is not None  # SMTPOptions checks it
    yield Attempt(mechanism, username, secret.get_secret_value())
