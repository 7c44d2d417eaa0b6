"""How a connection logs in (AUTH): the one decision the SMTP clients share.

:func:`login_attempts` gives the logins to try in turn for the options: one, or with
``oauth_token_provider`` a second one with a fresh token, to be made only when the
server refused the first with a reply :func:`retry_after` accepts (334 or 535; as
Nodemailer does). Each :class:`Attempt` names its SASL mechanism (``None``: ``auto``,
the first of CRAM-MD5, PLAIN and LOGIN the server offers, the next after a refusal, as
smtplib and aiosmtplib do) and answers the server's challenges (:meth:`Attempt.respond`).
:func:`dialogue` is one login as the lines to send and the replies they get: the sync
client and the async one only carry its lines to the server and back, so both send the
same bytes.

Credentials go as UTF-8, then base64 (:func:`encode`): RFC 4616 defines PLAIN's user
name and password as UTF-8, and aiosmtplib and Nodemailer send UTF-8 for LOGIN and
CRAM-MD5 too. (smtplib's own ``auth()`` encodes them as ASCII and fails on any other
character, CPython issue 73936: the sync client does not use it.)

Secrets (the password, a token) live in the attempt only, never in its ``repr``; the
provider is called once per connection (and once more after a refusal).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import importlib
import inspect
import re
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from mailcore import ConfigurationError

if TYPE_CHECKING:
    from mailcore_smtp.options import SMTPOptions

__all__ = [
    "AUTO_MECHANISMS",
    "Attempt",
    "AuthMethod",
    "CannotLogIn",
    "Dialogue",
    "Refused",
    "TokenError",
    "TokenProvider",
    "clean_token",
    "dialogue",
    "encode",
    "load_token_provider",
    "login_attempts",
    "retry_after",
    "username_problem",
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
#: What ``auto`` tries, in this order, among the mechanisms the server offers.
AUTO_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")
#: Challenges answered in one login before giving up (smtplib's limit too).
_MAX_CHALLENGES = 5
#: A control character (C0 or DEL): never in a user name, nor in a token (XOAUTH2
#: separates its fields with \x01; a line end would end the SMTP command).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_token(token: str, what: str) -> str:
    """``token`` without the whitespace around it (the final newline of a token file: an
    OAuth2 token, RFC 6750's ``b64token``, has none); raises ``ValueError`` naming
    ``what``, never the token, when it is empty or a control character or a space is
    left inside."""
    stripped = token.strip()
    if not stripped:
        raise ValueError(f"{what} is empty or only whitespace")
    bad = re.search(r"[\x00-\x20\x7f]", stripped)
    if bad is not None:
        raise ValueError(
            f"{what} has a control character or space ({bad[0]!r}) at position "
            f"{bad.start() + 1}: an OAuth2 token is one word of printable characters "
            "(the token is not shown)"
        )
    return stripped


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot log in with XOAUTH2 (a control character), or ``None``."""
    bad = _CONTROL.search(username)
    if bad is None:
        return None
    return (
        f"username {username!r} has a control character ({bad[0]!r}); XOAUTH2 separates "
        "its fields with \\x01, so none may be in the user name"
    )


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
    if _is_async(target):
        raise ConfigurationError(
            f"smtp: oauth_token_provider {path!r} is an async function; it must be a plain "
            "function returning the token (the client calls it from its thread, on the "
            "async path too, and cannot await it)"
        )
    return target


def _is_async(target: object) -> bool:
    call = type(target).__call__  # an object with an async __call__
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call)


@dataclass(frozen=True)
class Attempt:
    """One login: ``mechanism`` (``None``: the client's choice), user and secret."""

    mechanism: str | None
    username: str
    secret: str = field(repr=False)
    #: True when the token came from ``oauth_token_provider`` afresh after a refusal.
    retried: bool = False

    def respond(self, challenge: bytes | None = None) -> str | None:
        """The answer to the server's (decoded) ``challenge``; ``None``: the initial
        response sent with ``AUTH`` (none for CRAM-MD5). An XOAUTH2 error challenge is
        answered with an empty line, after which the server sends its final refusal."""
        mechanism = self.mechanism
        if mechanism == "CRAM-MD5":
            if challenge is None:
                return None
            digest = hmac.new(self.secret.encode("utf-8"), challenge, "md5").hexdigest()
            return f"{self.username} {digest}"
        if mechanism == "XOAUTH2":
            if challenge is None:
                return f"user={self.username}\x01auth=Bearer {self.secret}\x01\x01"
            return ""
        if mechanism == "LOGIN":
            if challenge is None or challenge.strip().lower().startswith(b"username"):
                return self.username
            return self.secret
        return f"\0{self.username}\0{self.secret}"  # PLAIN (RFC 4616)


def encode(text: str) -> str:
    """A SASL response as sent: the UTF-8 of ``text``, base64-encoded."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class CannotLogIn(Exception):
    """A login that cannot be made (no usable mechanism, a token provider failing)."""


class Refused(Exception):
    """The server refused the login: its reply ``code`` and text."""

    def __init__(self, code: int, reply: bytes | str) -> None:
        super().__init__(code, reply)
        self.code = code
        self.reply = reply


#: One login: yields each line to send, is sent each reply (code, text).
Dialogue = Generator[str, tuple[int, bytes | str], None]


def dialogue(attempt: Attempt, offered: Collection[str]) -> Dialogue:
    """``attempt`` as the lines to send (``AUTH`` with its initial response, then the
    answer to each 334 challenge: :func:`encode`); ``offered``: the server's mechanisms
    (used by ``auto``). Ends once logged in (235, or 503: already logged in); raises
    :class:`Refused` with the (last) refusal, or :class:`CannotLogIn`."""
    if attempt.mechanism is not None:
        attempts = [attempt]
    else:
        names = {name.upper() for name in offered}
        usable = [name for name in AUTO_MECHANISMS if name in names]
        if not usable:
            raise CannotLogIn(
                f"the server offers no login method for a password (it offers "
                f"{' '.join(sorted(names)) or 'none'}; mailcore can use "
                f"{', '.join(AUTO_MECHANISMS)})"
            )
        attempts = [dataclasses.replace(attempt, mechanism=name) for name in usable]
    refusal: Refused | None = None
    for each in attempts:
        initial = each.respond(None)
        line = f"AUTH {each.mechanism}" + ("" if initial is None else f" {encode(initial)}")
        code, reply = yield line
        challenges = 0
        while code == 334:
            if challenges == _MAX_CHALLENGES:
                raise CannotLogIn(f"the server sent more than {_MAX_CHALLENGES} challenges")
            challenges += 1
            try:
                challenge = base64.b64decode(reply, validate=True)
            except (binascii.Error, ValueError):
                raise CannotLogIn(
                    f"the server's {each.mechanism} challenge is not base64: {reply!r}"
                ) from None
            answer = each.respond(challenge)
            code, reply = yield encode(answer if answer is not None else "")
        if code in (235, 503):  # 503: already logged in
            return
        refusal = Refused(code, reply)
    assert refusal is not None
    raise refusal


def retry_after(attempt: Attempt, code: int) -> bool:
    """Whether to ask :func:`login_attempts` for the next attempt (there is one only
    with a token provider) after ``attempt`` was refused with ``code``."""
    return attempt.mechanism == "XOAUTH2" and code in _TOKEN_REJECTED


class TokenError(CannotLogIn):
    """``oauth_token_provider`` failed, or returned no token (the text says which)."""


def _fresh_token(provider: TokenProvider, path: str) -> str:
    """A token from ``provider``. Its exception's text is not shown (it may quote the
    token); the exception stays the ``__cause__``, seen in a ``--debug`` traceback."""
    try:
        token: object = provider()
    except Exception as exc:
        raise TokenError(
            f"oauth_token_provider {path!r} failed: it raised {type(exc).__name__} "
            "(its text is not shown: it may hold a token)"
        ) from exc
    if inspect.iscoroutine(token):
        token.close()  # never awaited: closed, so no "never awaited" warning
    if not isinstance(token, str):
        # the value is never shown: a token of the wrong type is still a secret
        raise TokenError(
            f"oauth_token_provider {path!r} returned a {type(token).__name__}, not a token (a str)"
        )
    try:
        return clean_token(token, f"the token oauth_token_provider {path!r} returned")
    except ValueError as exc:
        raise TokenError(str(exc)) from None


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
