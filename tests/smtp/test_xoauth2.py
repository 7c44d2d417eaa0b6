"""OAuth2 login (``auth_method = "xoauth2"``) against a real aiosmtpd server whose XOAUTH2
mechanism the tests wrote (:mod:`tests.support.oauth_server`), as Gmail and Microsoft 365
speak it: a refused token gets a ``334`` error challenge, answered with an empty line,
then ``535``. Tokens never show in logs (DEBUG) or errors."""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest

from mailcore import ConfigurationError
from mailcore_smtp import SMTPAuthError, SMTPBackend
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message
from tests.support.oauth_server import USER, OAuthServer

GOOD = "ya29.good-access-token-0001"
STALE = "ya29.stale-access-token-9999"


api = sync_and_async(__name__)  # each test: through the sync API, then the async one


class Provider:
    """A token provider handing out ``tokens`` in turn (the last one again when used up)."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.tokens[min(self.calls, len(self.tokens)) - 1]


#: The provider the options name by import path (set by each test).
provider = Provider()


@pytest.fixture
def use_provider(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Provider]:
    """Make :data:`provider` hand out the given tokens; returns it."""

    def install(*tokens: str) -> Provider:
        made = Provider(*tokens)
        monkeypatch.setattr(sys.modules[__name__], "provider", made)
        return made

    return install


PROVIDER_PATH = f"{__name__}:provider"


def xoauth2(**extra: Any) -> dict[str, Any]:
    return {"username": USER, "auth_method": "xoauth2", **extra}


def test_a_good_token_logs_in_and_the_message_goes() -> None:
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token=GOOD)))
        assert backend.send_messages([make_message()]) == 1
    assert server.tokens == [GOOD] and server.logins == [USER]
    assert len(server.messages) == 1


def test_the_provider_is_called_for_each_connection(use_provider: Callable[..., Provider]) -> None:
    tokens = use_provider(GOOD)
    with OAuthServer({GOOD}) as server:
        options = server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH))
        for _ in range(2):
            backend = SMTPBackend(**options)
            backend.open()
            backend.close()  # the only user of its pool: the connection is closed
    assert tokens.calls == 2 and server.tokens == [GOOD, GOOD]


def test_a_refused_token_makes_the_provider_give_a_fresh_one_once(
    use_provider: Callable[..., Provider],
) -> None:
    tokens = use_provider(STALE, GOOD)
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH)))
        assert backend.send_messages([make_message()]) == 1
    assert tokens.calls == 2
    assert server.tokens == [STALE, GOOD] and server.logins == [USER]


def test_a_token_refused_again_is_a_clear_error_without_the_token(
    use_provider: Callable[..., Provider],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = use_provider(STALE, STALE + "-still")
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH)))
        message = make_message()
        with pytest.raises(SMTPAuthError) as caught:
            backend.send_messages([message])
    assert tokens.calls == 2 and server.tokens == [STALE, STALE + "-still"]
    assert str(caught.value) == (
        f"SMTP server {backend.address} refused the XOAUTH2 login of user {USER!r} "
        "(and a fresh token from oauth_token_provider too) during login: "
        "535 5.7.8 Username and Password not accepted"
    )
    assert (caught.value.stage, caught.value.smtp_code) == ("auth", 535)
    assert message.result is not None and message.result.status == "failed"
    assert server.messages == []
    # nothing the client logged (the test server's own "mail.log" aside) holds a token
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    assert "refused the XOAUTH2 token" in logged
    shown = logged + str(caught.value) + repr(caught.value) + "".join(capsys.readouterr())
    for token in (STALE, STALE + "-still"):
        assert token not in shown
        initial = f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()
        assert base64.b64encode(initial).decode() not in shown


def test_a_fixed_token_is_not_retried() -> None:
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token=STALE)))
        with pytest.raises(SMTPAuthError, match="refused the XOAUTH2 login of user") as caught:
            backend.open()
    assert server.tokens == [STALE]
    assert "fresh token" not in str(caught.value) and STALE not in str(caught.value)
    assert STALE not in repr(backend.options)


def test_a_provider_that_fails_is_an_auth_error_without_its_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def revoked() -> str:
        raise RuntimeError("idp said: token ya29.LEAKY was revoked")

    monkeypatch.setattr(sys.modules[__name__], "provider", revoked)
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH)))
        with pytest.raises(SMTPAuthError) as caught:
            backend.open()
    assert str(caught.value) == (
        f"SMTP server {backend.address}: cannot log in as {USER!r}: oauth_token_provider "
        f"{PROVIDER_PATH!r} failed: it raised RuntimeError (its text is not shown: it may "
        "hold a token)"
    )
    assert "ya29.LEAKY" not in str(caught.value) + repr(caught.value)
    # the provider's own exception stays the cause, for a --debug traceback
    original = caught.value.__cause__.__cause__  # type: ignore[union-attr]
    assert str(original) == "idp said: token ya29.LEAKY was revoked"
    assert server.tokens == []


async def _async_token() -> str:
    return GOOD


def test_an_async_provider_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "provider", _async_token)
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(host="127.0.0.1", port=2525, **xoauth2(oauth_token_provider=PROVIDER_PATH))
    assert str(caught.value) == (
        f"smtp: oauth_token_provider {PROVIDER_PATH!r} is an async function; it must be a "
        "plain function returning the token (the client calls it from its thread, on the "
        "async path too, and cannot await it)"
    )


def test_a_provider_returning_a_coroutine_fails_without_a_never_awaited_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a lambda hides the async function from the check at start; the coroutine it
    # returns is closed (warnings are errors in the suite: "never awaited" would fail)
    monkeypatch.setattr(sys.modules[__name__], "provider", lambda: _async_token())
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH)))
        with pytest.raises(SMTPAuthError, match="returned a coroutine, not a token"):
            backend.open()
    assert server.tokens == []


def test_whitespace_around_a_token_is_dropped(use_provider: Callable[..., Provider]) -> None:
    use_provider(GOOD + "\n")  # as read from a token file
    with OAuthServer({GOOD}) as server:
        for options in (
            xoauth2(oauth_token=f" {GOOD}\r\n"),
            xoauth2(oauth_token_provider=PROVIDER_PATH),
        ):
            backend = SMTPBackend(**server.options(**options))
            assert backend.send_messages([make_message()]) == 1
    assert server.tokens == [GOOD, GOOD]


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("ya29.SECRET\r\nRSET", "has a control character or space ('\\r') at position 12"),
        ("ya29.SECRET\x01user=eve", "has a control character or space ('\\x01') at position 12"),
        ("ya29.SECRET tail", "has a control character or space (' ') at position 12"),
        ("\n", "is empty or only whitespace"),
    ],
)
def test_a_token_with_a_control_character_is_refused_without_showing_it(
    use_provider: Callable[..., Provider], token: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(host="127.0.0.1", port=2525, **xoauth2(oauth_token=token))
    assert str(caught.value).startswith(
        "invalid setting 'smtp.oauth_token' (given as an argument): oauth_token " + problem
    )
    use_provider(token)
    with OAuthServer({GOOD}) as server:
        backend = SMTPBackend(**server.options(**xoauth2(oauth_token_provider=PROVIDER_PATH)))
        with pytest.raises(SMTPAuthError) as refused:
            backend.open()
    assert f"the token oauth_token_provider {PROVIDER_PATH!r} returned {problem}" in str(
        refused.value
    )
    assert server.tokens == []  # never sent
    for error in (caught.value, refused.value):
        assert "SECRET" not in str(error) + repr(error)


def test_a_username_with_a_control_character_is_refused_for_xoauth2() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(
            host="127.0.0.1",
            port=2525,
            auth_method="xoauth2",
            username="ana\x01auth=x",
            oauth_token=GOOD,
        )
    assert str(caught.value) == (
        "smtp: username 'ana\\x01auth=x' has a control character ('\\x01'); XOAUTH2 "
        "separates its fields with \\x01, so none may be in the user name"
    )


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (xoauth2(), "needs username and exactly one of oauth_token and oauth_token_provider"),
        (xoauth2(oauth_token=GOOD, password="pw"), "logs in with a token: unset password"),
        ({"username": USER, "oauth_token": GOOD}, "oauth_token is set but auth_method is 'auto'"),
        (xoauth2(oauth_token_provider="no_such_module:token"), "cannot be imported"),
        ({"auth_method": "login"}, "auth_method is 'login' but username and password"),
    ],
)
def test_login_options_that_do_not_fit_are_refused_at_start(
    options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(host="127.0.0.1", port=2525, **options)
    assert problem in str(caught.value)
    assert GOOD not in str(caught.value)
