"""Named mailers: settings from every source, ``mailcore.mailers``, ``using=`` and URLs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import mailcore
from mailcore import (
    ConfigurationError,
    EmailMessage,
    InvalidMailer,
    MailerDoesNotExist,
)
from mailcore.settings import get_mailers
from mailcore_locmem import LocmemBackend
from mailcore_ses import SESBackend
from mailcore_smtp import SMTPBackend
from tests.support.smtp_servers import RecordingSMTPServer

PASSWORD = "p@ss:w/rd"  # every character a URL would take for its own
ENCODED = "p%40ss%3Aw%2Frd"


@pytest.fixture
def two_servers() -> Iterator[tuple[RecordingSMTPServer, RecordingSMTPServer]]:
    with RecordingSMTPServer() as first, RecordingSMTPServer() as second:
        yield first, second


def subjects(server: RecordingSMTPServer) -> list[str]:
    return [str(m.parsed()["Subject"]) for m in server.messages]


# -- using= selects the mailer ----------------------------------------------------------


def test_two_smtp_mailers_on_two_servers_selected_with_using(
    two_servers: tuple[RecordingSMTPServer, RecordingSMTPServer],
) -> None:
    tx, bulk = two_servers
    mailcore.configure(
        mailers={
            "default": {"url": f"smtp://{tx.host}:{tx.port}"},
            "bulk": {"backend": "smtp", "host": bulk.host, "port": bulk.port},
        },
        admins=["admin@example.com"],
        managers=["manager@example.com"],
    )

    assert mailcore.send_mail("tx 1", "b", "a@example.com", ["x@example.com"]) == 1
    assert mailcore.send_mail("bulk 1", "b", "a@example.com", ["x@example.com"], using="bulk") == 1
    assert (
        mailcore.send_mass_mail([("bulk 2", "b", "a@example.com", ["y@example.com"])], using="bulk")
        == 1
    )
    assert mailcore.mail_admins("admins", "b", using="bulk") == 1
    assert mailcore.mail_managers("managers", "b") == 1
    message = EmailMessage("bulk 3", "b", "a@example.com", ["z@example.com"])
    assert message.send(using="bulk") == 1
    assert (
        mailcore.get_connection(using="bulk").send_messages(
            [EmailMessage("bulk 4", "b", "a@example.com", ["z@example.com"])]
        )
        == 1
    )

    assert subjects(tx) == ["tx 1", "[mailcore] managers"]
    assert subjects(bulk) == ["bulk 1", "bulk 2", "[mailcore] admins", "bulk 3", "bulk 4"]
    assert message.result is not None and message.result.mailer == "bulk"


def test_using_with_a_connection_is_a_type_error() -> None:
    mailcore.configure(mailers={"bulk": {"url": "locmem://"}})
    connection = mailcore.get_connection("locmem")
    with pytest.raises(TypeError, match="connection or using="):
        mailcore.send_mail(
            "s", "b", "a@example.com", ["b@example.com"], connection=connection, using="bulk"
        )
    with pytest.raises(TypeError, match="connection or using="):
        mailcore.send_mass_mail([], connection=connection, using="bulk")
    with pytest.raises(TypeError, match="connection or using="):
        mailcore.mail_admins("s", "b", connection=connection, using="bulk")
    with pytest.raises(TypeError, match="connection or using="):
        mailcore.mail_managers("s", "b", connection=connection, using="bulk")
    message = EmailMessage("s", "b", "a@example.com", ["b@example.com"], connection=connection)
    with pytest.raises(TypeError, match="using="):
        message.send(using="bulk")
    with pytest.raises(TypeError, match="backend or using="):
        mailcore.get_connection("locmem", using="bulk")
    with pytest.raises(TypeError):
        mailcore.send_mail(
            "s", "b", "a@example.com", ["b@example.com"], False, None, None, None, None, "bulk"
        )  # type: ignore[misc]


# -- mailcore.mailers ---------------------------------------------------------------------


def test_mailers_makes_a_new_instance_each_time_and_lists_the_aliases() -> None:
    mailcore.configure(
        mailers={"default": {"url": "locmem://"}, "bulk": {"url": "ses://eu-west-1"}}
    )

    first, second = mailcore.mailers["bulk"], mailcore.mailers["bulk"]

    assert isinstance(first, SESBackend) and first is not second
    assert first.alias == "bulk" and first.options.region == "eu-west-1"
    assert isinstance(mailcore.mailers.default, LocmemBackend)
    assert "bulk" in mailcore.mailers and "nope" not in mailcore.mailers
    assert list(mailcore.mailers) == ["bulk", "default"]
    assert len(mailcore.mailers) == 2


def test_an_unknown_alias_lists_the_configured_ones() -> None:
    mailcore.configure(mailers={"bulk": {"url": "dummy://"}})

    with pytest.raises(MailerDoesNotExist) as caught:
        mailcore.mailers["transactional"]

    assert (
        str(caught.value) == "no mailer named 'transactional' (configured mailers: bulk, default)"
    )
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, InvalidMailer)
    assert isinstance(caught.value, ConfigurationError)
    with pytest.raises(MailerDoesNotExist):
        mailcore.send_mail("s", "b", "a@example.com", ["b@example.com"], using="transactional")


def test_default_mailer_chooses_the_mailer_used_without_using() -> None:
    mailcore.configure(default_mailer="tx", mailers={"tx": {"url": "locmem://"}})

    assert mailcore.send_mail("s", "b", "a@example.com", ["b@example.com"]) == 1

    assert [m.sent_using for m in mailcore.outbox] == ["tx"]  # type: ignore[attr-defined]
    assert mailcore.outbox[0].result is not None and mailcore.outbox[0].result.mailer == "tx"


def test_outbox_messages_carry_sent_using() -> None:
    mailcore.configure(mailers={"a": {"url": "locmem://"}, "b": {"backend": "locmem"}})
    mailcore.send_mail("one", "b", "a@example.com", ["b@example.com"], using="a")
    mailcore.send_mail("two", "b", "a@example.com", ["b@example.com"], using="b")
    mailcore.get_connection("locmem").send_messages(
        [EmailMessage("three", "b", "a@example.com", ["b@example.com"])]
    )

    sent = [(m.subject, m.sent_using) for m in mailcore.outbox]  # type: ignore[attr-defined]
    assert sent == [("one", "a"), ("two", "b"), ("three", None)]


def test_mailoutbox_keeps_the_alias_the_code_asked_for(
    mailoutbox: list[EmailMessage],
) -> None:
    mailcore.configure(mailers={"bulk": {"url": "smtp://127.0.0.1:9"}})
    mailcore.send_mail("s", "b", "a@example.com", ["b@example.com"], using="bulk")

    assert [m.sent_using for m in mailoutbox] == ["bulk"]  # type: ignore[attr-defined]


# -- with no mailers, today's settings are the default mailer ----------------------------


def test_without_mailers_the_default_mailer_is_the_backend_setting(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'backend = "smtp"\n[smtp]\nhost = "mail.example.com"\nport = 2525\n'
    )
    mailcore.configure()

    backend = mailcore.mailers.default

    assert list(mailcore.mailers) == ["default"]
    assert isinstance(backend, SMTPBackend) and backend.alias == "default"
    assert (backend.options.host, backend.options.port) == ("mail.example.com", 2525)
    assert get_mailers()["default"].legacy


def test_a_default_mailer_and_the_backend_table_together_are_an_error(
    isolated_settings: Path,
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[smtp]\nhost = "mail.example.com"\n\n[mailers.default]\nurl = "smtp://other.example.com"\n'
    )
    with pytest.raises(InvalidMailer, match=r"both a 'default' mailer .* and the \[smtp\] table"):
        mailcore.configure()


def test_a_default_mailer_and_the_backend_setting_together_are_an_error() -> None:
    with pytest.raises(InvalidMailer, match=r"both a 'default' mailer.*'backend' setting"):
        mailcore.configure(backend="console", mailers={"default": {"url": "locmem://"}})


def test_other_mailers_keep_the_backend_setting_as_default() -> None:
    mailcore.configure(backend="locmem", mailers={"bulk": {"url": "dummy://"}})

    assert isinstance(mailcore.mailers.default, LocmemBackend)
    assert list(mailcore.mailers) == ["bulk", "default"]


# -- the same configuration from every source --------------------------------------------

EXPECTED = {
    "host": "mail.example.com",
    "port": 587,
    "use_tls": True,
    "username": "bulk@example.com",
    "timeout": 7.0,
}
URL = f"smtp+starttls://bulk%40example.com:{ENCODED}@mail.example.com?timeout=7"


def options_of(alias: str) -> dict[str, Any]:
    backend = mailcore.mailers[alias]
    assert isinstance(backend, SMTPBackend)
    options = backend.options
    assert options.password is not None and options.password.get_secret_value() == PASSWORD
    return {name: getattr(options, name) for name in EXPECTED}


def test_toml_backend_and_options(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        "[mailers.bulk]\n"
        'backend = "smtp"\nhost = "mail.example.com"\nport = 587\nuse_tls = true\n'
        f'username = "bulk@example.com"\npassword = "{PASSWORD}"\ntimeout = 7\n'
    )
    mailcore.configure()
    assert options_of("bulk") == EXPECTED


def test_toml_url(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(f'[mailers.bulk]\nurl = "{URL}"\n')
    mailcore.configure()
    assert options_of("bulk") == EXPECTED


def test_environment_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_MAILERS_BULK", URL)
    mailcore.configure()
    assert options_of("bulk") == EXPECTED
    assert mailcore.mailers["bulk"].option_sources["password"] == "environment"


def test_dotenv_url(isolated_settings: Path) -> None:
    (isolated_settings / ".env").write_text(f"MAILCORE_MAILERS_BULK={URL}\n")
    mailcore.configure()
    assert options_of("bulk") == EXPECTED
    assert mailcore.mailers["bulk"].option_sources["host"] == ".env"


def test_configure_url_and_configure_options() -> None:
    mailcore.configure(mailers={"bulk": {"url": URL}})
    assert options_of("bulk") == EXPECTED
    mailcore.configure(
        mailers={
            "bulk": {
                "backend": "smtp",
                "host": "mail.example.com",
                "port": 587,
                "use_tls": True,
                "username": "bulk@example.com",
                "password": PASSWORD,
                "timeout": 7,
            }
        }
    )
    assert options_of("bulk") == EXPECTED


def test_options_beside_the_url_override_it(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[mailers.bulk]\nurl = "smtp://mail.example.com:25?timeout=3"\nport = 2525\n'
    )
    mailcore.configure()
    backend = mailcore.mailers["bulk"]
    assert (backend.options.port, backend.options.timeout) == (2525, 3.0)


def test_the_environment_url_ranks_above_the_toml_and_keeps_its_other_options(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[mailers.bulk]\nurl = "smtp://toml.example.com"\ntimeout = 9\n'
    )
    monkeypatch.setenv("MAILCORE_MAILERS_BULK", "smtp://env.example.com:2525")
    mailcore.configure()
    backend = mailcore.mailers["bulk"]
    assert (backend.options.host, backend.options.port, backend.options.timeout) == (
        "env.example.com",
        2525,
        9.0,
    )
    assert backend.option_sources["host"] == "environment"
    assert backend.option_sources["timeout"] == "toml"


def test_arguments_override_the_mailer() -> None:
    mailcore.configure(mailers={"bulk": {"url": "smtp://mail.example.com:25"}})
    backend = mailcore.get_connection(using="bulk", port=2525)
    assert (backend.options.host, backend.options.port) == ("mail.example.com", 2525)


def test_a_mailer_ignores_the_backend_table(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'backend = "locmem"\n[smtp]\nhost = "table.example.com"\n'
        '[mailers.bulk]\nurl = "smtp://mailer.example.com"\n'
    )
    mailcore.configure()
    assert mailcore.mailers["bulk"].options.host == "mailer.example.com"
    assert mailcore.get_connection("smtp").options.host == "table.example.com"


# -- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "backend", "expected"),
    [
        (
            "smtp://mail.example.com",
            SMTPBackend,
            {"host": "mail.example.com", "port": 25, "use_tls": False},
        ),
        ("smtp://mail.example.com?use_tls=true", SMTPBackend, {"use_tls": True, "port": 25}),
        ("smtp+starttls://mail.example.com", SMTPBackend, {"use_tls": True, "port": 587}),
        ("smtps://mail.example.com", SMTPBackend, {"use_ssl": True, "port": 465, "use_tls": False}),
        ("smtps://mail.example.com:2465", SMTPBackend, {"use_ssl": True, "port": 2465}),
        ("smtp://[2001:db8::1]:2525", SMTPBackend, {"host": "2001:db8::1", "port": 2525}),
        (
            "ses://eu-west-1?configuration_set=tx",
            SESBackend,
            {"region": "eu-west-1", "configuration_set": "tx"},
        ),
        ("ses://", SESBackend, {"region": None}),
        ("locmem://", LocmemBackend, {}),
    ],
)
def test_built_in_schemes(url: str, backend: type, expected: dict[str, Any]) -> None:
    mailcore.configure(mailers={"m": {"url": url}})
    made = mailcore.mailers["m"]
    assert type(made) is backend
    for name, value in expected.items():
        assert getattr(made.options, name) == value


def test_file_and_console_and_dummy_schemes(tmp_path: Path) -> None:
    from mailcore_console import ConsoleBackend
    from mailcore_dummy import DummyBackend
    from mailcore_file import FileBackend

    mailcore.configure(
        mailers={
            "f": {"url": f"file://{tmp_path}/mail"},
            "c": {"url": "console://"},
            "d": {"url": "dummy://"},
        }
    )
    made = mailcore.mailers["f"]
    assert isinstance(made, FileBackend) and made.options.file_path == tmp_path / "mail"
    assert isinstance(mailcore.mailers["c"], ConsoleBackend)
    assert isinstance(mailcore.mailers["d"], DummyBackend)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "smtp://h.example.com?tiemout=3",
            "unknown option 'tiemout' in the URL's query, did you mean 'timeout'?",
        ),
        ("smtp://h.example.com?port=many", "invalid option 'port' of mailer 'm'"),
        ("smtp://h.example.com:99999", "bad host or port"),
        ("file://relative/dir", "file:// takes no host (write file:///absolute/path)"),
        ("pigeon://coop", "no installed backend accepts the URL scheme 'pigeon'"),
        ("locmem://somewhere", "locmem:// takes no host"),
        ("ses://eu-west-1/path", "ses:// takes no path"),
        ("smtp://h.example.com#x", "no #fragment"),
    ],
)
def test_a_bad_url_is_an_error_naming_the_mailer_and_the_problem(url: str, problem: str) -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"m": {"url": url}})
    assert problem in str(caught.value)
    assert "mailer 'm'" in str(caught.value)


def test_a_bad_url_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_MAILERS_BULK", "smtp://user:hunter2secret@h.example.com:0x")
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure()
    text = str(caught.value)
    assert "mailer 'bulk'" in text and "MAILCORE_MAILERS_BULK" in text
    assert "hunter2secret" not in text and "user:********@h.example.com" in text


def test_every_mailer_is_validated_when_the_settings_are_built() -> None:
    with pytest.raises(
        InvalidMailer,
        match=r"invalid option 'port' of mailer 'bulk' \(given to configure\(mailers=...\)\)",
    ):
        mailcore.configure(mailers={"bulk": {"backend": "smtp", "port": 0}})
    with pytest.raises(InvalidMailer, match=r"invalid 'backend' of mailer 'x'.*carrier-pigeon"):
        mailcore.configure(mailers={"x": {"backend": "carrier-pigeon"}})
    with pytest.raises(
        InvalidMailer, match=r"unknown option 'hots' for mailer 'x'.*did you mean 'host'"
    ):
        mailcore.configure(mailers={"x": {"backend": "smtp", "hots": "a"}})
    with pytest.raises(InvalidMailer, match=r"mailer 'x'.*names no backend"):
        mailcore.configure(mailers={"x": {"timeout": 3}})
    with pytest.raises(InvalidMailer, match="invalid mailer alias 'Bulk'"):
        mailcore.configure(mailers={"Bulk": {"url": "dummy://"}})
    with pytest.raises(InvalidMailer, match="default_mailer setting names 'tx'"):
        mailcore.configure(default_mailer="tx")
    with pytest.raises(InvalidMailer, match="'ghost' is no mailer"):
        mailcore.configure(mailers={"f": {"backend": "failover", "mailers": ["ghost"]}})
    with pytest.raises(InvalidMailer, match="loop: a -> b -> a"):
        mailcore.configure(
            mailers={
                "a": {"backend": "failover", "mailers": ["b"]},
                "b": {"backend": "roundrobin", "mailers": ["a"]},
            }
        )


def test_a_bad_mailer_in_toml_is_an_error_when_settings_are_first_read(
    isolated_settings: Path,
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[mailers.bulk]\nurl = "smtp://h.example.com:70000"\n'
    )
    with pytest.raises(
        InvalidMailer, match=r"mailer 'bulk' \(from \[mailers.bulk\] in mailcore.toml\)"
    ):
        mailcore.configure()


def test_mailers_variables_are_no_unknown_variables(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    monkeypatch.setenv("MAILCORE_MAILERS_BULK", "dummy://")
    (isolated_settings / ".env").write_text("MAILCORE_MAILERS_TX=locmem://\n")
    mailcore.configure()
    mailcore.get_connection("smtp")
    assert list(mailcore.mailers) == ["bulk", "default", "tx"]
    assert [str(w.message) for w in recwarn] == []


# -- the password from a URL ------------------------------------------------------------


def test_a_percent_encoded_password_reaches_auth_intact(caplog: pytest.LogCaptureFixture) -> None:
    with RecordingSMTPServer(credentials={"user@example.com": PASSWORD}) as server:
        mailcore.configure(
            mailers={
                "default": {
                    "url": f"smtp://user%40example.com:{ENCODED}@{server.host}:{server.port}"
                }
            }
        )
        with caplog.at_level(logging.DEBUG):
            assert mailcore.send_mail("authed", "b", "a@example.com", ["b@example.com"]) == 1

        assert [s.login for s in server.sessions] == ["user@example.com"]
        assert subjects(server) == ["authed"]
    backend = mailcore.mailers.default
    shown = repr(backend) + repr(backend.options) + caplog.text + repr(get_mailers())
    assert PASSWORD not in shown and ENCODED not in shown


def test_a_wrong_option_next_to_a_url_password_never_shows_it() -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"m": {"url": f"smtp://u:{ENCODED}@mail.example.com"}})
    text = str(caught.value)
    assert "refusing to send the password" in text and "mailer 'm'" in text
    assert PASSWORD not in text and ENCODED not in text


# -- findings of the review: URLs never leak a secret, and are strict --------------------


@pytest.mark.parametrize(
    ("url", "secret", "shown"),
    [
        (
            "smtp://user:hunter2word/x@mail.example.com?use_tls=true",
            "hunter2word",
            "smtp://********@mail.example.com?use_tls=true",
        ),
        ("smtp://u:p#ss@h", "p#ss", "smtp://********@h"),
        ("smtp://u:pa?ss@h", "pa?ss", "smtp://********@h"),
        ("smtp://u:123/x@h", "123/x", "smtp://********@h"),
    ],
)
def test_a_password_with_an_unencoded_slash_hash_or_question_mark_is_never_shown(
    url: str, secret: str, shown: str
) -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"x": {"url": url}})

    text = str(caught.value)
    assert f"invalid connection URL {shown} of mailer 'x'" in text
    assert "percent-encode" in text
    assert secret not in text and secret.split("/")[0] not in text
    assert caught.value.__context__ is None and caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("mailers", "shown"),
    [
        ({"x": {"url": "u:cliSecret@h"}}, "invalid connection URL ********@h of mailer 'x'"),
        (
            {"f": {"backend": "failover", "mailers": ["u:schemelesspw@h"]}},
            "'********@h' is no mailer",
        ),
    ],
)
def test_a_scheme_less_url_with_a_password_is_masked(mailers: dict[str, Any], shown: str) -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers=mailers)

    assert shown in str(caught.value)
    assert "cliSecret" not in str(caught.value) and "schemelesspw" not in str(caught.value)


def test_a_password_in_the_query_of_a_bad_url_is_masked() -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"x": {"url": "smtp://h?password=secretpw&timeot=1"}})

    assert "smtp://h?password=********&timeot=1" in str(caught.value)
    assert "did you mean 'timeout'" in str(caught.value)
    assert "secretpw" not in str(caught.value)


def test_mask_url_masks_user_info_and_every_secret_query_option() -> None:
    from mailcore.urls import mask_url

    assert mask_url("smtp://u:pw@h:25?password=a&username=u&timeout=3") == (
        "smtp://u:********@h:25?password=********&username=u&timeout=3"
    )
    assert (
        mask_url("ses://eu-west-1?configuration_set=tx") == "ses://eu-west-1?configuration_set=tx"
    )
    assert mask_url("bulk") == "bulk"
    assert mask_url("Not An Alias:x") == "********"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("smtp://u:p@h:99999", "bad host or port"),
        ("smtp://h?bogus=1", "unknown option 'bogus' in the URL's query"),
        ("smtp://h#frag", "no #fragment"),
        ("smtp://h?timeout=abc", "invalid option 'timeout'"),
    ],
)
def test_urls_in_a_composite_are_checked_when_settings_are_built(entry: str, problem: str) -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"f": {"backend": "failover", "mailers": [entry]}})

    text = str(caught.value)
    assert text.startswith("invalid option 'mailers' of mailer 'f'")
    assert problem in text
    assert ":p@" not in text


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("smtp://", "smtp:// needs a host"),
        ("smtp://u:pw@", "smtp:// needs a host"),
        ("smtp+starttls://h?use_tls=false", "contradicts the scheme smtp+starttls://"),
        ("smtps://h?use_ssl=false", "contradicts the scheme smtps://"),
        ("smtps://h?port=2465", "option 'port' belongs in the URL itself"),
        ("smtp://h1?host=h2", "option 'host' is given twice"),
        ("smtp://u:a@h?password=b", "option 'password' is given twice"),
        ("file://", "file:// needs a path"),
        ("smtp://u:pa%0D%0Ass@h", "the URL's password holds a line break"),
        ("smtp://u:pa\r\nss@h", "holds a line break"),
        ("smtp://[fe80::1%25eth0]:25", "an IPv6 zone id"),
    ],
)
def test_a_url_is_strict(url: str, problem: str) -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(mailers={"m": {"url": url}})

    assert problem in str(caught.value)
    assert "pa\r\nss" not in str(caught.value) and "pw@" not in str(caught.value)


def test_a_query_may_repeat_what_the_scheme_says() -> None:
    mailcore.configure(mailers={"m": {"url": "smtp+starttls://h.example.com?use_tls=true"}})

    options = mailcore.mailers["m"].options
    assert (options.use_tls, options.port) == (True, 587)  # type: ignore[union-attr]


def test_a_mailer_listed_twice_in_a_failover_is_an_error() -> None:
    with pytest.raises(InvalidMailer) as caught:
        mailcore.configure(
            mailers={
                "a": {"url": "dummy://"},
                "f": {"backend": "failover", "mailers": ["a", "a"]},
            }
        )

    assert "invalid option 'mailers' of mailer 'f'" in str(caught.value)
    assert "a is listed twice" in str(caught.value)


def test_a_url_user_that_sets_a_secret_option_is_masked() -> None:
    from mailcore.options import BackendOptions
    from mailcore.urls import URLScheme, mask_url

    class KeyOptions(BackendOptions):
        api_key: str | None = None

    class KeyBackend(LocmemBackend):
        options_model = KeyOptions
        url_schemes: ClassVar[dict[str, URLScheme]] = {"acme": URLScheme(user="api_key")}

    assert mask_url("acme://k123@?x=1", KeyBackend) == "acme://********@?x=1"
    assert mask_url("smtp://bob@h", SMTPBackend) == "smtp://bob@h"
