"""The SMTP backend's options: defaults, sources, and the mistakes they refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mailcore
from mailcore import ConfigurationError, get_connection
from mailcore_smtp import SMTPBackend, SMTPOptions
from mailcore_smtp.options import is_loopback_host


def test_defaults_match_the_seed() -> None:
    options = SMTPBackend().options

    assert (options.host, options.port, options.username, options.password) == (
        "localhost",
        25,
        None,
        None,
    )
    assert (options.use_tls, options.use_ssl, options.timeout) == (False, False, None)
    assert options.allow_plaintext_auth is False


def test_options_come_from_environment_and_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("mailcore.toml").write_text('[smtp]\nhost = "mail.example.com"\nport = 2525\n')
    monkeypatch.setenv("MAILCORE_SMTP_PORT", "587")
    monkeypatch.setenv("MAILCORE_SMTP_USE_TLS", "true")
    monkeypatch.setenv("MAILCORE_SMTP_TIMEOUT", "7.5")

    backend = get_connection("smtp")

    assert isinstance(backend, SMTPBackend)
    assert (backend.options.host, backend.options.port) == ("mail.example.com", 587)
    assert (backend.options.use_tls, backend.options.timeout) == (True, 7.5)
    assert backend.option_sources["host"] == "toml"
    assert backend.option_sources["port"] == "environment"


def test_use_tls_and_use_ssl_together_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(use_tls=True, use_ssl=True)
    assert str(caught.value) == (
        "smtp: use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; "
        "set only one (use_ssl for port 465, use_tls for port 587)"
    )
    with pytest.raises(ConfigurationError, match="mutually exclusive"):
        mailcore.configure(smtp={"use_tls": True, "use_ssl": True})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 0}, "smtp.port"),
        ({"port": 70000}, "smtp.port"),
        ({"timeout": 0}, "smtp.timeout"),
        ({"host": "mail example.com"}, "smtp.host"),
        ({"local_hostname": "evil\r\nRCPT TO:<x@example.com>"}, "smtp.local_hostname"),
        ({"username": "bob"}, "username is set but password is not"),
        ({"password": "secret"}, "password is set but username is not"),
        ({"ssl_keyfile": "client.key"}, "ssl_keyfile is set but ssl_certfile is not"),
        ({"ssl_certfile": "client.pem"}, "a client certificate needs TLS"),
        ({"hostname": "mail.example.com"}, "unknown option 'hostname'"),
    ],
)
def test_mistakes_are_refused_with_the_option_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        SMTPBackend(**options)


def test_empty_username_and_password_mean_no_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SMTP_USERNAME", "")
    monkeypatch.setenv("MAILCORE_SMTP_PASSWORD", "")

    options = SMTPBackend().options

    assert (options.username, options.password) == (None, None)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("mail.localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("mail.example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_options_model_is_frozen_and_strict() -> None:
    options = SMTPOptions(host="mail.example.com")
    with pytest.raises(ValueError):
        options.host = "other"
