"""Settings: arguments > configure() > environment > .env > mailcore.toml > defaults, read
lazily; typos and wrong values refused when the settings are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr

import mailcore
from mailcore import BackendOptions, BaseEmailBackend, ConfigurationError, EmailMessage
from mailcore.settings import CoreSettings, env_var_name, load_options
from mailcore_file import FileOptions


class PagerOptions(BackendOptions):
    host: str = "localhost"
    port: int = 25
    password: SecretStr | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class PagerBackend(BaseEmailBackend):
    """A backend defined by the test, selected by import path."""

    name = "pager"
    options_model = PagerOptions
    options: PagerOptions

    def send_messages(self, messages: object) -> int:
        return 0


PAGER = f"{__name__}:PagerBackend"


def test_defaults_match_the_contract() -> None:
    settings = mailcore.get_settings()
    assert settings == CoreSettings(
        backend="smtp",
        default_from_email="webmaster@localhost",
        server_email="root@localhost",
        subject_prefix="[mailcore] ",
        admins=[],
        managers=[],
        default_charset="utf-8",
    )


def test_each_source_beats_the_next(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'backend = "file"\nserver_email = "toml@example.com"\n'
        'subject_prefix = "[toml] "\ndefault_charset = "iso-8859-1"\n'
    )
    (isolated_settings / ".env").write_text(
        "MAILCORE_SERVER_EMAIL=dotenv@example.com\nMAILCORE_SUBJECT_PREFIX=[dotenv] \n"
        "MAILCORE_DEFAULT_CHARSET=utf-16\n"
    )
    monkeypatch.setenv("MAILCORE_SUBJECT_PREFIX", "[env] ")
    monkeypatch.setenv("MAILCORE_DEFAULT_CHARSET", "ascii")
    monkeypatch.setenv("MAILCORE_ADMINS", '["env@example.com"]')
    mailcore.configure(default_charset="latin-1", admins=["configure@example.com"])

    settings, sources = load_options(None, CoreSettings, {"default_charset": "utf-8"})
    assert (settings.backend, sources["backend"]) == ("file", "toml")
    assert (settings.server_email, sources["server_email"]) == ("dotenv@example.com", ".env")
    assert (settings.subject_prefix, sources["subject_prefix"]) == ("[env] ", "environment")
    assert (settings.admins, sources["admins"]) == (["configure@example.com"], "configure")
    assert (settings.default_charset, sources["default_charset"]) == ("utf-8", "argument")
    assert sources["default_from_email"] == "default"
    assert mailcore.get_settings() == settings.model_copy(update={"default_charset": "latin-1"})


def test_mailcore_config_names_another_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('default_from_email = "app@example.com"\n')
    monkeypatch.setenv("MAILCORE_CONFIG", str(config))
    mailcore.configure()
    assert mailcore.get_settings().default_from_email == "app@example.com"


def test_mailcore_config_pointing_nowhere_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MAILCORE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigurationError, match=r"MAILCORE_CONFIG names .*missing\.toml"):
        mailcore.configure()


def test_admins_from_environment_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_ADMINS", '["Ann <ann@example.com>", "bob@example.com"]')
    mailcore.configure()
    assert mailcore.get_settings().admins == ["Ann <ann@example.com>", "bob@example.com"]


def test_settings_are_read_lazily_and_kept_until_configure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_DEFAULT_FROM_EMAIL", "first@example.com")
    mailcore.configure()
    assert EmailMessage("s", "b", to=["x@example.com"]).from_email == "first@example.com"
    monkeypatch.setenv("MAILCORE_DEFAULT_FROM_EMAIL", "second@example.com")
    assert mailcore.get_settings().default_from_email == "first@example.com"
    mailcore.configure()
    assert mailcore.get_settings().default_from_email == "second@example.com"


def test_an_invalid_value_names_the_setting_and_its_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_ADMINS", "not json")
    with pytest.raises(ConfigurationError, match="MAILCORE_ADMINS"):
        mailcore.configure()


def test_an_unknown_toml_key_is_refused(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text('backnd = "smtp"\n')
    with pytest.raises(ConfigurationError, match="unknown setting 'backnd'"):
        mailcore.configure()


def test_a_broken_toml_file_is_a_clear_error(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text("backend = \n")
    with pytest.raises(ConfigurationError, match="cannot read the configuration file"):
        mailcore.configure()


def test_configure_refuses_an_unknown_core_setting() -> None:
    with pytest.raises(ConfigurationError, match="unknown setting 'bakend'"):
        mailcore.configure(bakend="smtp")


def test_configure_starts_afresh_each_call() -> None:
    mailcore.configure(subject_prefix="[one] ", server_email="one@example.com")
    mailcore.configure(subject_prefix="[two] ")
    settings = mailcore.get_settings()
    assert settings.subject_prefix == "[two] "
    assert settings.server_email == "root@localhost"


def test_backend_options_follow_the_same_order(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        '[pager]\nhost = "toml.example.com"\nport = 2525\n'
    )
    (isolated_settings / ".env").write_text("MAILCORE_PAGER_PORT=2526\n")
    monkeypatch.setenv("MAILCORE_PAGER_TAGS", '{"team": "ops"}')
    backend = mailcore.get_connection(PAGER, password="s3cret")
    assert isinstance(backend, PagerBackend)
    assert backend.options.host == "toml.example.com"
    assert backend.options.port == 2526
    assert backend.options.tags == {"team": "ops"}
    assert backend.options.password is not None
    assert backend.options.password.get_secret_value() == "s3cret"
    assert backend.option_sources == {
        "host": "toml",
        "port": ".env",
        "tags": "environment",
        "password": "argument",
    }


def test_configure_sets_backend_options_and_arguments_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCORE_FILE_PATH", str(tmp_path / "environment"))
    mailcore.configure(backend="file", file={"file_path": str(tmp_path / "configured")})
    configured = mailcore.get_connection()
    explicit = mailcore.get_connection(file_path=tmp_path / "argument")
    assert configured.options == FileOptions(file_path=tmp_path / "configured")
    assert configured.option_sources["file_path"] == "configure"
    assert explicit.options == FileOptions(file_path=tmp_path / "argument")
    assert explicit.option_sources["file_path"] == "argument"


def test_a_wrong_configure_value_says_it_came_from_configure() -> None:
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure(smtp={"port": "five hundred"})
    assert "invalid setting 'smtp.port' (given to configure()): " in str(caught.value)


def test_configure_validates_backend_options_at_once() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'path' for backend 'file'"):
        mailcore.configure(file={"path": "/tmp"})


def test_configure_refuses_options_for_a_backend_not_installed() -> None:
    with pytest.raises(mailcore.BackendNotFoundError, match="'smpt'"):
        mailcore.configure(smpt={"host": "mail.example.com"})


def test_unknown_backend_option_is_named() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'hots' for backend 'pager'"):
        mailcore.get_connection(PAGER, hots="x")


def test_invalid_backend_option_names_setting_and_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_PAGER_PORT", "twenty-five")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection(PAGER)
    message = str(caught.value)
    assert "'pager.port'" in message
    assert "MAILCORE_PAGER_PORT" in message
    assert "twenty-five" in message


def test_secrets_never_appear_in_repr_or_errors() -> None:
    backend = mailcore.get_connection(PAGER, password="hunter2-secret")
    assert "hunter2-secret" not in repr(backend)
    assert "hunter2-secret" not in repr(backend.options)
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection(PAGER, password=["hunter2-secret"])
    assert "'pager.password'" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_unknown_key_in_a_backend_table_is_refused(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text('[pager]\nhots = "x"\n')
    with pytest.raises(ConfigurationError, match=r"unknown setting 'hots' at \[pager\]"):
        mailcore.get_connection(PAGER)


def test_environment_variable_names() -> None:
    assert env_var_name(None, "default_from_email") == "MAILCORE_DEFAULT_FROM_EMAIL"
    assert env_var_name("smtp", "host") == "MAILCORE_SMTP_HOST"
    assert env_var_name("file", "file_path", FileOptions) == "MAILCORE_FILE_PATH"
