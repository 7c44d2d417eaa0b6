"""Settings: arguments > configure() > environment > .env > mailcore.toml > defaults, read
lazily; typos and wrong values refused when the settings are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr

import mailcore
from mailcore import BackendOptions, BaseEmailBackend, ConfigurationError, EmailMessage
from mailcore.config_file import config_file, search_description
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


# -- item 8: core settings are checked when the settings are built ---------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"default_from_email": "not valid"},
            "invalid setting 'default_from_email' (given to configure()): invalid address "
            "'not valid'",
        ),
        ({"server_email": "root@"}, "invalid setting 'server_email' (given to configure())"),
        ({"admins": ["nope"]}, "invalid setting 'admins' (given to configure()): "),
        ({"managers": ["ok@example.com", "x <y>"]}, "invalid setting 'managers'"),
        (
            {"default_charset": "bogus"},
            "invalid setting 'default_charset' (given to configure()): unknown charset 'bogus'",
        ),
        (
            {"backend": "nosuch"},
            "invalid setting 'backend' (given to configure()): no mailcore backend named "
            "'nosuch' is installed",
        ),
        (
            {"backend": "no_such_module.mail:Backend"},
            "invalid setting 'backend' (given to configure()): cannot import backend module "
            "'no_such_module.mail'",
        ),
    ],
)
def test_configure_checks_core_settings_at_once(values: dict[str, object], expected: str) -> None:
    mailcore.configure(subject_prefix="[kept] ")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure(**values)
    assert str(caught.value).startswith(expected), str(caught.value)
    assert mailcore.get_settings().subject_prefix == "[kept] "  # the old settings stand


def test_an_unknown_backend_setting_stays_a_backend_not_found_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_BACKEND", "smpt")
    with pytest.raises(mailcore.BackendNotFoundError) as caught:
        mailcore.configure()
    assert "'backend' (from environment variable MAILCORE_BACKEND)" in str(caught.value)


def test_valid_core_settings_are_kept_as_given() -> None:
    mailcore.configure(
        backend=PAGER,
        default_from_email="Shop <shop@example.com>",
        admins=["Ops <ops@example.com>", "dev@example.com"],
        default_charset="latin-1",
    )
    settings = mailcore.get_settings()
    assert settings.backend == PAGER
    assert settings.admins == ["Ops <ops@example.com>", "dev@example.com"]
    assert settings.default_charset == "latin-1"
    assert isinstance(mailcore.get_connection(), PagerBackend)


# -- item 9: typos are errors (a warning for the shared environment) -----------------------


def test_a_mistyped_backend_table_is_named_with_a_suggestion(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text('backend = "smtp"\n\n[smtpp]\nhost = "x"\n')
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure()
    assert str(caught.value) == (
        "mailcore.toml: unknown backend table 'smtpp', did you mean 'smtp'?"
    )


def test_a_mistyped_key_in_a_table_suggests_the_option(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text('[file]\nfile_pth = "sent"\n')
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection("file")
    assert str(caught.value) == (
        "mailcore.toml: unknown setting 'file_pth' at [file], did you mean 'file_path'?"
    )


def test_a_mistyped_top_level_key_suggests_the_setting(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text('defualt_from_email = "a@example.com"\n')
    with pytest.raises(ConfigurationError, match="did you mean 'default_from_email'"):
        mailcore.configure()


def test_a_table_for_a_backend_set_by_import_path_is_known(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        f'backend = "{PAGER}"\n\n[pager]\nport = 2525\n'
    )
    mailcore.configure()
    connection = mailcore.get_connection()
    assert isinstance(connection, PagerBackend) and connection.options.port == 2525


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "MAILCORE_SMTP_HOTS=mail.example.com",
            "unknown variable MAILCORE_SMTP_HOTS in .env, did you mean 'MAILCORE_SMTP_HOST'?",
        ),
        (
            "MAILCORE_DEFAULT_FROM=a@example.com",
            "unknown variable MAILCORE_DEFAULT_FROM in .env, did you mean "
            "'MAILCORE_DEFAULT_FROM_EMAIL'?",
        ),
        (
            "MAILCORE_SMPT_HOST=mail.example.com",
            "unknown variable MAILCORE_SMPT_HOST in .env, did you mean 'MAILCORE_SMTP_HOST'?",
        ),
        (
            "MAILCORE_QWXZ=1",
            "unknown variable MAILCORE_QWXZ in .env "
            "(no setting or installed backend has this name)",
        ),
        (
            "MAILCORE_SMTP_QWXZ=1",
            "unknown variable MAILCORE_SMTP_QWXZ in .env (backend 'smtp' has no such option)",
        ),
    ],
)
def test_a_mistyped_variable_in_dotenv_is_an_error(
    isolated_settings: Path, line: str, expected: str
) -> None:
    (isolated_settings / ".env").write_text(f"OTHER_APP_SETTING=1\n{line}\n")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure()
        mailcore.get_connection("smtp")
    assert str(caught.value) == expected


def test_a_mistyped_environment_variable_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SMTP_HOTS", "mail.example.com")
    with pytest.warns(mailcore.ConfigurationWarning) as caught:
        backend = mailcore.get_connection("smtp")
    assert [str(w.message) for w in caught] == [
        "mailcore: unknown environment variable MAILCORE_SMTP_HOTS (ignored), "
        "did you mean 'MAILCORE_SMTP_HOST'?"
    ]
    assert issubclass(mailcore.ConfigurationWarning, UserWarning)
    assert backend.options.host == "localhost"  # the value was ignored

    monkeypatch.setenv("MAILCORE_BAKEND", "file")
    with pytest.warns(mailcore.ConfigurationWarning, match="did you mean 'MAILCORE_BACKEND'"):
        mailcore.configure()


def test_variables_of_backends_not_installed_and_mailcore_config_pass_quietly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The suite turns warnings into errors: none may come from these."""
    config = tmp_path / "mailcore.toml"
    config.write_text("")
    monkeypatch.setenv("MAILCORE_CONFIG", str(config))
    monkeypatch.setattr("mailcore.discovery._entry_point_names", lambda: ["locmem", "smtp"])
    monkeypatch.setenv("MAILCORE_SES_REGION", "eu-west-1")  # the project's, not installed
    monkeypatch.setenv("MAILCORE_FILE_PATH", "sent")
    mailcore.configure()
    mailcore.get_connection("smtp")
    assert mailcore.get_settings().backend == "smtp"


# -- item 13: one order, configure() as its own source --------------------------------------


def test_arguments_beat_configure_which_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    (isolated_settings / "mailcore.toml").write_text('[pager]\nhost = "toml.example.com"\n')
    monkeypatch.setenv("MAILCORE_PAGER_HOST", "env.example.com")
    monkeypatch.setenv("MAILCORE_PAGER_PORT", "2501")
    mailcore.configure(backend=PAGER, pager={"host": "configured.example.com", "port": 2502})

    configured = mailcore.get_connection()
    assert (configured.options.host, configured.options.port) == ("configured.example.com", 2502)
    assert configured.option_sources["host"] == "configure"
    argued = mailcore.get_connection(PAGER, port=2503)
    assert (argued.options.host, argued.options.port) == ("configured.example.com", 2503)
    assert argued.option_sources == {
        "host": "configure",
        "port": "argument",
        "password": "default",
        "tags": "default",
    }


# -- item 14: mailcore.toml from the working directory up to the project's root -------------


def test_the_file_is_found_in_a_parent_folder_up_to_the_project_root(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = isolated_settings / "project"
    (project / "src" / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (project / "mailcore.toml").write_text('default_from_email = "project@example.com"\n')
    monkeypatch.chdir(project / "src" / "app")
    assert config_file() == project / "mailcore.toml"
    mailcore.configure()
    assert mailcore.get_settings().default_from_email == "project@example.com"


def test_the_search_stops_at_the_project_root(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_settings / "mailcore.toml").write_text('default_from_email = "out@example.com"\n')
    project = isolated_settings / "project"
    (project / ".git").mkdir(parents=True)
    (project / "docs").mkdir()
    monkeypatch.chdir(project / "docs")
    assert config_file() is None
    assert "up to" in search_description() and str(project) in search_description()
    mailcore.configure()
    assert mailcore.get_settings().default_from_email == "webmaster@localhost"


def test_mailcore_config_wins_over_the_search(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (isolated_settings / "mailcore.toml").write_text('default_from_email = "here@example.com"\n')
    named = tmp_path / "named.toml"
    named.write_text('default_from_email = "named@example.com"\n')
    monkeypatch.setenv("MAILCORE_CONFIG", str(named))
    assert config_file() == named
    mailcore.configure()
    assert mailcore.get_settings().default_from_email == "named@example.com"


# -- item 20: backends without credentials ignore them ---------------------------------------


def test_backends_without_credentials_accept_and_ignore_them(tmp_path: Path) -> None:
    mailcore.configure(backend="locmem")
    sent = mailcore.send_mail(
        "Hi", "Body", "a@example.com", ["b@example.com"], auth_user="u", auth_password="p"
    )
    assert sent == 1 and [m.subject for m in mailcore.outbox] == ["Hi"]
    for name, extra in [
        ("console", {}),
        ("dummy", {}),
        ("locmem", {}),
        ("file", {"file_path": tmp_path}),
    ]:
        backend = mailcore.get_connection(name, username="u", password="p", **extra)
        assert "username" not in backend.option_sources, name
    with pytest.raises(ConfigurationError, match="unknown option 'user' for backend 'locmem'"):
        mailcore.get_connection("locmem", user="u")
    with pytest.raises(ConfigurationError, match="unknown option 'usr' for backend 'file'"):
        mailcore.get_connection("file", file_path=tmp_path, usr="u")
    with pytest.raises(ConfigurationError, match="unknown option 'username' for backend 'loc"):
        mailcore.configure(locmem={"username": "u"})
    with pytest.raises(ConfigurationError, match=r"unknown option 'password' .*\(given to conf"):
        mailcore.configure(file={"password": "p"})


def test_a_backend_with_credentials_still_checks_them() -> None:
    with pytest.raises(ConfigurationError, match="password is set but username is not"):
        mailcore.get_connection("smtp", password="p")


# -- item 22 (part) and item 10 (part): ValueError, and no boolean for a number ---------------


def test_a_configuration_error_is_a_value_error() -> None:
    assert issubclass(ConfigurationError, ValueError)
    with pytest.raises(ValueError, match=r"invalid setting 'smtp\.port'"):
        mailcore.get_connection("smtp", port="lots")
    with pytest.raises(ValueError, match=r"use_tls .* and use_ssl .* are mutually exclusive"):
        mailcore.get_connection("smtp", use_tls=True, use_ssl=True)


@pytest.mark.parametrize(
    ("backend", "options", "field"),
    [
        ("smtp", {"port": True}, "smtp.port"),
        ("smtp", {"timeout": False}, "smtp.timeout"),
        ("smtp", {"retries": True}, "smtp.retries"),
        (PAGER, {"port": True}, "pager.port"),
    ],
)
def test_a_boolean_is_not_a_number(backend: str, options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection(backend, **options)
    assert str(caught.value).startswith(
        f"invalid setting {field!r} (given as an argument): must be a number, not a boolean"
    )


def test_a_number_in_text_and_a_real_boolean_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SMTP_PORT", "2525")
    backend = mailcore.get_connection("smtp", use_tls=True, timeout=3)
    assert (backend.options.port, backend.options.use_tls, backend.options.timeout) == (
        2525,
        True,
        3.0,
    )


@pytest.mark.parametrize(
    ("line", "backend", "expected"),
    [
        (
            "MAILCORE_LOCMEM_FOO=x",
            "locmem",
            "unknown variable MAILCORE_LOCMEM_FOO in .env (backend 'locmem' has no such option)",
        ),
        (
            "MAILCORE_CONSOLE_STREAM=x",
            "console",
            "unknown variable MAILCORE_CONSOLE_STREAM in .env: 'stream' can only be given as "
            "an argument, get_connection('console', stream=...)",
        ),
        (
            "MAILCORE_FILE_FOO=x",
            "file",
            "unknown variable MAILCORE_FILE_FOO in .env (backend 'file' has no such option)",
        ),
    ],
)
def test_every_backend_refuses_an_unknown_variable_in_dotenv(
    isolated_settings: Path, line: str, backend: str, expected: str
) -> None:
    """The same rule with options (file) or without (locmem, console)."""
    (isolated_settings / ".env").write_text(f"{line}\n")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection(backend)
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    ("variable", "backend", "expected"),
    [
        (
            "MAILCORE_LOCMEM_FOO",
            "locmem",
            "mailcore: unknown environment variable MAILCORE_LOCMEM_FOO (ignored) "
            "(backend 'locmem' has no such option)",
        ),
        (
            "MAILCORE_CONSOLE_STREAM",
            "console",
            "mailcore: unknown environment variable MAILCORE_CONSOLE_STREAM (ignored): "
            "'stream' can only be given as an argument, get_connection('console', stream=...)",
        ),
    ],
)
def test_a_backend_without_options_warns_of_an_unknown_environment_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, backend: str, expected: str
) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.warns(mailcore.ConfigurationWarning) as caught:
        mailcore.get_connection(backend)
    assert [str(w.message) for w in caught] == [expected]


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("MAILCORE_ACME_APIKEY", " (no setting or installed backend has this name)"),
        ("MAILCORE_ACME_HOST", " (no setting or installed backend has this name)"),
        ("MAILCORE_FOO_TIMEOUT", " (no setting or installed backend has this name)"),
        ("MAILCORE_CONSOL_X", " (no setting or installed backend has this name)"),
        ("MAILCORE_SMTP_HOTS", ", did you mean 'MAILCORE_SMTP_HOST'?"),
        ("MAILCORE_SMPT_PORT", ", did you mean 'MAILCORE_SMTP_PORT'?"),
        ("MAILCORE_FILE_PAHT", ", did you mean 'MAILCORE_FILE_PATH'?"),
        ("MAILCORE_DEFAULT_MAILR", ", did you mean 'MAILCORE_DEFAULT_MAILER'?"),
        ("MAILCORE_CONFIGG", ", did you mean 'MAILCORE_CONFIG'?"),
        ("MAILCORE_MAILER_BULK", ", did you mean 'MAILCORE_MAILERS_BULK'?"),
    ],
)
def test_the_hint_names_only_a_real_variable_close_to_the_typo(
    isolated_settings: Path, variable: str, hint: str
) -> None:
    (isolated_settings / ".env").write_text(f"{variable}=x\n")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure()
        mailcore.get_connection("smtp")
        mailcore.get_connection("file")
    assert str(caught.value) == f"unknown variable {variable} in .env{hint}"


def test_an_unknown_environment_variable_warns_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_SMTP_HOTS", "mail.example.com")
    with pytest.warns(mailcore.ConfigurationWarning) as caught:
        mailcore.get_connection("smtp")
        mailcore.get_connection("smtp")
        mailcore.get_settings()
    assert len(caught) == 1
    with pytest.warns(mailcore.ConfigurationWarning) as again:
        mailcore.configure()  # the settings are read afresh: so are their warnings
        mailcore.get_connection("smtp")
    assert [str(w.message) for w in again] == [str(caught[0].message)]


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("a\nb", "contains a newline ('\\n' in 'a\\nb')"),
        ("a\rb", "contains a newline ('\\r' in 'a\\rb')"),
        ("a\x0bb", "contains a line break ('\\x0b' in 'a\\x0bb')"),
        ("a\x00b", "contains a NUL character ('\\x00' in 'a\\x00b')"),
    ],
)
def test_a_subject_prefix_with_a_line_break_is_refused_when_settings_are_built(
    prefix: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure(subject_prefix=prefix)
    assert str(caught.value) == (
        f"invalid setting 'subject_prefix' (given to configure()): header 'Subject' {problem}; "
        "header values can't contain newlines or NUL characters"
    )
    assert mailcore.get_settings().subject_prefix == "[mailcore] "  # nothing was changed


def test_a_subject_prefix_from_the_environment_is_checked_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILCORE_SUBJECT_PREFIX", "[ops]\nBcc: x@example.com")
    with pytest.raises(ConfigurationError, match="from environment variable MAILCORE_SUBJECT_P"):
        mailcore.configure()


def test_repr_of_a_backend_whose_init_failed_is_safe() -> None:
    from mailcore_smtp import SMTPBackend

    backend = SMTPBackend.__new__(SMTPBackend)
    with pytest.raises(ConfigurationError):
        backend.__init__(port="not a port")  # type: ignore[misc]
    assert repr(backend) == "<SMTPBackend (options not built)>"
    assert repr(SMTPBackend(host="127.0.0.1")).startswith("<SMTPBackend SMTPOptions(host=")
