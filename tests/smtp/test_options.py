"""The SMTP backend's options: defaults, sources, and the mistakes they refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mailcore
from mailcore import ConfigurationError, get_connection
from mailcore_smtp import SMTPBackend, SMTPOptions
from mailcore_smtp.options import is_loopback_host


def test_defaults_match_the_seed_except_for_finite_timeouts() -> None:
    options = SMTPBackend().options

    assert (options.host, options.port, options.username, options.password) == (
        "localhost",
        25,
        None,
        None,
    )
    assert (options.use_tls, options.use_ssl) == (False, False)
    assert (options.timeout, options.data_timeout) == (30.0, 600.0), "never wait forever"
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
        ({"timeout": None}, "smtp.timeout"),
        ({"data_timeout": -1}, "smtp.data_timeout"),
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


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "smtp://mail.example.com:587",
            "a URL (smtp://...) is not a host: set host = 'mail.example.com' and port = 587 "
            "(and use_tls or use_ssl for encryption) as separate options; connection URLs "
            "will come with named mailers (got 'smtp://mail.example.com:587')",
        ),
        (
            "mail.example.com:587",
            "the port goes in its own option: set host = 'mail.example.com' and port = 587 "
            "(got 'mail.example.com:587')",
        ),
        (
            "x@y",
            "expected a host name (mail.example.com) or an IP address (192.0.2.1, "
            "2001:db8::1), not an e-mail address (got 'x@y')",
        ),
        (
            "-bad",
            "expected a host name (mail.example.com) or an IP address (192.0.2.1, "
            "2001:db8::1); a name's parts may not start or end with a hyphen (got '-bad')",
        ),
        (
            "",
            "is empty: expected a host name (mail.example.com) or an IP address "
            "(192.0.2.1, 2001:db8::1) (got '')",
        ),
        (
            "mail example.com",
            "expected a host name (mail.example.com) or an IP address (192.0.2.1, "
            "2001:db8::1), without spaces (got 'mail example.com')",
        ),
        (
            "a..b",
            "expected a host name (mail.example.com) or an IP address (192.0.2.1, "
            "2001:db8::1) (got 'a..b')",
        ),
    ],
)
def test_host_must_be_a_host_name_or_an_ip_address(host: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(host=host)

    assert str(caught.value) == f"invalid setting 'smtp.host' (given as an argument): {expected}"


def test_a_bad_host_from_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_SMTP_HOST", "   ")

    with pytest.raises(ConfigurationError) as caught:
        get_connection("smtp")

    assert "MAILCORE_SMTP_HOST" in str(caught.value)
    assert "is empty: expected a host name" in str(caught.value)


@pytest.mark.parametrize(
    ("host", "kept"),
    [
        ("mail.example.com", "mail.example.com"),
        ("mail.example.com.", "mail.example.com."),
        ("localhost", "localhost"),
        ("smtp-relay_1", "smtp-relay_1"),
        ("xn--strae-oqa.de", "xn--strae-oqa.de"),
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("::1", "::1"),
        ("  mail.example.com ", "mail.example.com"),
    ],
)
def test_host_names_and_ip_addresses_are_accepted(host: str, kept: str) -> None:
    assert SMTPBackend(host=host).options.host == kept


def test_an_ipv6_host_is_shown_in_brackets() -> None:
    assert SMTPBackend(host="[2001:db8::1]", port=587).address == "[2001:db8::1]:587"


def test_timeout_none_is_refused_saying_why() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(timeout=None)

    assert str(caught.value) == (
        "invalid setting 'smtp.timeout' (given as an argument): must be a number of seconds "
        "greater than 0: waiting for ever (None, Django's default) is not offered"
    )
