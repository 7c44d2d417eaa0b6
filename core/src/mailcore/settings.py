"""Typed settings: the one owner of where each value comes from, and in which order.

Order, first wins: ``get_connection()`` keyword arguments (and a backend's constructor),
``configure()``, environment variables, a ``.env`` file in the working directory, the
TOML file (``$MAILCORE_CONFIG``, or the first ``mailcore.toml`` from the working
directory up to the project's root: see :func:`mailcore.config_file.config_file`), the
defaults. Core settings are top-level TOML keys and ``MAILCORE_<SETTING>`` variables; a
backend's options sit in a ``[<shortname>]`` table and ``MAILCORE_<SHORTNAME>_<OPTION>``
variables. Unknown names are refused (an environment variable: a warning).
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    SettingsConfigDict,
)

from mailcore.config_file import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    check_no_options,
    config_file,
    read_config,
    suggest,
    without_credentials,
)
from mailcore.errors import ConfigurationError, ConfigurationWarning, MailcoreError
from mailcore.options import is_secret

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "ORDER",
    "CoreSettings",
    "Source",
    "check_no_options",
    "config_file",
    "configure",
    "current_configuration",
    "env_var_name",
    "get_settings",
    "load_options",
]

DOTENV_FILE = ".env"

Source = Literal["argument", "configure", "environment", ".env", "toml", "default"]
#: The sources of a value, first wins.
ORDER: tuple[Source, ...] = ("argument", "configure", "environment", ".env", "toml", "default")
ModelT = TypeVar("ModelT", bound=BaseModel)


class CoreSettings(BaseModel):
    """The settings of the core, independent of any backend.

    - ``backend``: the backend ``get_connection()`` uses when none is named: a short
      name (``"smtp"``, ``"console"``) or an import path (``"myapp.mail:Backend"``);
      when set, it must be installed (or importable).
    - ``default_from_email``: the sender of messages that name none.
    - ``server_email``: the sender of ``mail_admins()`` and ``mail_managers()``.
    - ``subject_prefix``: put before the subject by ``mail_admins()`` and
      ``mail_managers()``.
    - ``admins``: the recipients of ``mail_admins()``: addresses or ``"Name <address>"``.
    - ``managers``: the recipients of ``mail_managers()``, in the same form.
    - ``default_charset``: the character set of messages whose ``encoding`` is not set.

    Addresses and the charset are checked when the settings are built.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "smtp"
    default_from_email: str = "webmaster@localhost"
    server_email: str = "root@localhost"
    subject_prefix: str = "[mailcore] "
    admins: list[str] = []
    managers: list[str] = []
    default_charset: str = "utf-8"

    @field_validator("backend")
    @classmethod
    def _backend_is_installed(cls, value: str) -> str:
        from mailcore.discovery import load_backend  # deferred: discovery imports stevedore

        load_backend(value)
        return value

    @field_validator("default_from_email", "server_email", "admins", "managers")
    @classmethod
    def _addresses(cls, value: str | list[str], info: ValidationInfo) -> str | list[str]:
        from mailcore._wire.addresses import parse_mailbox

        for address in [value] if isinstance(value, str) else value:
            parse_mailbox(address, str(info.field_name))
        return value

    @field_validator("default_charset")
    @classmethod
    def _charset_is_known(cls, value: str) -> str:
        from mailcore._wire.headers import resolve_charset

        resolve_charset(value)
        return value


def env_var_name(section: str | None, field: str, model: type[BaseModel] | None = None) -> str:
    """The environment variable of a core setting (``section=None``) or a backend option."""
    renamed = getattr(model, "env_names", {}) if model is not None else {}
    if field in renamed:
        return str(renamed[field])
    prefix = "MAILCORE_" if section is None else f"MAILCORE_{section.upper()}_"
    return prefix + field.upper()


@functools.cache
def _settings_class(section: str | None, model: type[BaseModel]) -> type[BaseSettings]:
    """A pydantic-settings class with ``model``'s fields, used only to read env and .env."""
    prefix = "MAILCORE_" if section is None else f"MAILCORE_{section.upper()}_"
    config = SettingsConfigDict(
        env_prefix=prefix, env_file=DOTENV_FILE, extra="ignore", case_sensitive=False
    )
    fields = {name: (info.annotation, None) for name, info in model.model_fields.items()}
    namespace: dict[str, Any] = {
        "model_config": config,
        "__annotations__": {name: annotation for name, (annotation, _) in fields.items()},
        "__module__": __name__,
    }
    namespace.update({name: default for name, (_, default) in fields.items()})
    return type(f"{model.__name__}Sources", (BaseSettings,), namespace)


def _read_source(
    source: EnvSettingsSource, section: str | None, model: type[BaseModel], where: str
) -> dict[str, Any]:
    problem = None
    try:
        return source()
    except Exception as exc:  # pydantic-settings' SettingsError, e.g. malformed JSON
        problem = str(exc)
    # raised outside the handler, so that no exception context keeps the value
    match = re.search(r'field "(\w+)"', problem)
    if match is None:
        raise ConfigurationError(f"invalid {where}: {problem}")
    field = match.group(1)
    dotted = field if section is None else f"{section}.{field}"
    raise ConfigurationError(
        f"invalid setting {dotted!r} (from {where} {env_var_name(section, field, model)}): "
        "expected a JSON value"
    )


def _sections(backend: Any) -> set[str]:
    """The settings sections in use: installed backends, the project's own backends
    (installed or not) and the ``name`` of the backend the ``backend`` setting names by
    import path."""
    from mailcore.discovery import KNOWN_DISTRIBUTIONS, _entry_point_names, load_backend

    names = {*_entry_point_names(), *KNOWN_DISTRIBUTIONS}
    if isinstance(backend, str) and ("." in backend or ":" in backend):
        try:
            name = load_backend(backend).name
        except ConfigurationError:
            return names  # validating the setting says what is wrong with it
        if name:
            names.add(name)
    return names


def _owner(variable: str, sections: set[str]) -> str | None:
    """The section whose ``MAILCORE_<SECTION>_`` prefix ``variable`` (lower case) has."""
    owners = [s for s in sections if variable.startswith(f"mailcore_{s.lower()}_")]
    return max(owners, key=len) if owners else None


def _core_variables() -> set[str]:
    return {env_var_name(None, field).lower() for field in CoreSettings.model_fields}


def _check_variables(
    section: str | None,
    model: type[BaseModel],
    layers: Mapping[str, Mapping[str, Any]],
    sections: set[str],
) -> None:
    """Refuse an unknown ``MAILCORE_*`` name in ``.env``; warn of one in the environment.

    For the core (``section=None``), a name is unknown when it is no core setting and no
    section's prefix; for a backend, when it has the backend's prefix but names no option.
    """
    core = _core_variables() | {CONFIG_ENV_VAR.lower()}
    known = {env_var_name(section, field, model).lower() for field in model.model_fields}
    if section is not None:
        sections = sections | {section}
    for where, variables in layers.items():
        for variable in variables:
            if not variable.startswith("mailcore_") or variable in core | known:
                continue
            owner = _owner(variable, sections)
            if section is None and owner is None:
                # a core setting, or an option of a backend whose name was mistyped
                rest = variable.removeprefix("mailcore_").partition("_")[2]
                candidates = known | {f"mailcore_{s.lower()}_{rest}" for s in sections if rest}
                otherwise = " (no setting or installed backend has this name)"
            elif section is not None and owner == section:
                candidates = known
                otherwise = f" (backend {section!r} has no such option)"
            else:
                continue
            upper = (c.upper() for c in candidates)
            hint = suggest(variable.upper(), upper, "known", otherwise, prefix="MAILCORE_")
            if where == DOTENV_FILE:
                raise ConfigurationError(f"unknown variable {variable.upper()} in .env{hint}")
            warnings.warn(
                f"mailcore: unknown environment variable {variable.upper()} (ignored){hint}",
                ConfigurationWarning,
                stacklevel=5,
            )


def _env_layers(
    section: str | None, model: type[BaseModel], sections: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    settings_cls = _settings_class(section, model)
    env_source = EnvSettingsSource(settings_cls)
    dotenv_source = DotEnvSettingsSource(settings_cls, env_file=DOTENV_FILE)
    env = _read_source(env_source, section, model, "environment variable")
    dotenv = _read_source(dotenv_source, section, model, f"variable in {DOTENV_FILE}")
    for field, var in getattr(model, "env_names", {}).items():
        for layer, source in ((env, env_source), (dotenv, dotenv_source)):
            layer.pop(field, None)  # only the variable it was renamed to counts
            value = source.env_vars.get(var.lower())
            if value is not None:
                layer[field] = value
    layers = {"environment": env_source.env_vars, DOTENV_FILE: dotenv_source.env_vars}
    _check_variables(section, model, layers, sections)
    known = set(model.model_fields)
    return (
        {k: v for k, v in env.items() if k in known and v is not None},
        {k: v for k, v in dotenv.items() if k in known and v is not None},
    )


def _describe(
    section: str | None, model: type[BaseModel], field: str, source: Source, path: Path | None
) -> str:
    dotted = field if section is None else f"{section}.{field}"
    where = {
        "argument": "given as an argument",
        "configure": "given to configure()",
        "environment": f"from environment variable {env_var_name(section, field, model)}",
        ".env": f"from {env_var_name(section, field, model)} in {DOTENV_FILE}",
        "toml": f"from {path}",
        "default": "the default",
    }[source]
    return f"setting {dotted!r} ({where})"


def _check_names(
    names: Mapping[str, Any], model: type[BaseModel], label: str, source: Source
) -> None:
    for name in names:
        if name not in model.model_fields:
            hint = suggest(name, model.model_fields, "options")
            given = " (given to configure())" if source == "configure" else ""
            raise ConfigurationError(f"unknown option {name!r} for {label}{given}{hint}")


def _toml_table(
    section: str | None, model: type[BaseModel], path: Path | None, document: dict[str, Any]
) -> dict[str, Any]:
    if section is None:
        table = {k: v for k, v in document.items() if not isinstance(v, dict)}
    else:
        raw = document.get(section, {})
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{path}: {section!r} must be a table of options")
        table = raw
    for name in table:
        if name not in model.model_fields:
            where = "the top level" if section is None else f"[{section}]"
            hint = suggest(name, model.model_fields, "settings")
            raise ConfigurationError(f"{path}: unknown setting {name!r} at {where}{hint}")
    return table


def _check_tables(path: Path | None, document: dict[str, Any], sections: set[str]) -> None:
    for name, value in document.items():
        if isinstance(value, dict) and name not in sections:
            hint = suggest(name, sections, "backends")
            raise ConfigurationError(f"{path}: unknown backend table {name!r}{hint}")


def _problems(
    exc: ValidationError,
    section: str | None,
    model: type[BaseModel],
    sources: Mapping[str, Source],
    path: Path | None,
) -> tuple[str, type[ConfigurationError]]:
    """The text of a failed validation, never showing a secret value, and the error class
    to raise (a backend-not-found error stays one)."""
    problems = []
    kinds: set[type[ConfigurationError]] = set()
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        cause = error.get("ctx", {}).get("error")
        reason = str(cause) if isinstance(cause, Exception) else error["msg"]
        kinds.add(type(cause) if isinstance(cause, ConfigurationError) else ConfigurationError)
        if not field:  # the model's own check, already a sentence naming the options
            problems.append(reason)
            continue
        what = _describe(section, model, field, sources.get(field, "default"), path)
        given = repr(error.get("input"))
        # a secret is never shown; nor a value the reason already quotes
        hidden = is_secret(model, field) or isinstance(cause, MailcoreError)
        shown = "" if hidden or given in reason else f" (got {given})"
        problems.append(f"invalid {what}: {reason}{shown}")
    return "; ".join(problems), kinds.pop() if len(kinds) == 1 else ConfigurationError


def _configured(section: str | None, model: type[BaseModel]) -> dict[str, Any]:
    if section is None:
        return dict(_configured_core) if model is CoreSettings else {}
    return dict(_configured_backends.get(section, {}))


def load_options(
    section: str | None,
    model: type[ModelT],
    arguments: Mapping[str, Any] | None = None,
    *,
    configured: Mapping[str, Any] | None = None,
) -> tuple[ModelT, dict[str, Source]]:
    """Build ``model`` from every source in :data:`ORDER`; return it with each field's source.

    ``section`` is a backend's short name, or ``None`` for the core settings.
    ``arguments`` are ``get_connection()`` keywords: ``username`` and ``password`` are
    ignored by a model without them. ``configured`` defaults to the last ``configure()``.
    Unknown names and invalid values raise :class:`ConfigurationError` naming the setting
    and where its value came from; a secret value is never shown nor kept in the error.
    """
    arguments = without_credentials(arguments or {}, model.model_fields)
    configured = _configured(section, model) if configured is None else dict(configured)
    label = "mailcore" if section is None else f"backend {section!r}"
    _check_names(arguments, model, label, "argument")
    _check_names(configured, model, label, "configure")

    path, document = read_config()
    table = _toml_table(section, model, path, document)
    backend = {**table, **configured, **arguments}.get("backend") if section is None else None
    sections = _sections(backend)
    env, dotenv = _env_layers(section, model, sections)

    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    layers: tuple[tuple[Source, Mapping[str, Any]], ...] = (
        ("toml", table),
        (".env", dotenv),
        ("environment", env),
        ("configure", configured),
        ("argument", arguments),
    )
    for source, layer in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = source
    failure: tuple[str, type[ConfigurationError]] | None = None
    try:
        instance = model.model_validate(values)
    except ValidationError as exc:
        failure = _problems(exc, section, model, sources, path)
    if failure is not None:  # raised here: no exception context keeps the input
        text, kind = failure
        raise kind(text)
    if section is None:
        _check_tables(path, document, sections)
    for name in model.model_fields:
        sources.setdefault(name, "default")
    return instance, sources


_lock = threading.Lock()
_configured_core: dict[str, Any] = {}
_configured_backends: dict[str, dict[str, Any]] = {}
_cached: CoreSettings | None = None


def get_settings() -> CoreSettings:
    """The process-wide core settings, read on first use and kept until ``configure()``."""
    global _cached
    settings = _cached
    if settings is None:
        with _lock:
            if _cached is None:
                _cached, _ = load_options(None, CoreSettings)
            settings = _cached
    return settings


def current_configuration() -> dict[str, Any]:
    """The arguments of the last ``configure()`` call, in its shape (a copy), so a caller
    can change one setting and restore the rest: ``configure(**{**current, "backend": ...})``."""
    return {**_configured_core, **{name: dict(o) for name, o in _configured_backends.items()}}


def configure(**values: Any) -> None:
    """Set the process-wide settings in code, in the shape of the TOML file.

    Core settings are keywords; a backend's options are one dict named after its short
    name: ``configure(backend="smtp", smtp={"host": "mail.example.com"})`` (a backend set
    by import path is configured under its ``name``). They rank
    below ``get_connection()`` arguments and above the environment. Each call starts
    afresh from its own arguments over the other sources. Values are checked now: a wrong
    one raises :class:`ConfigurationError` naming it.
    """
    global _cached, _configured_core, _configured_backends
    core = {k: v for k, v in values.items() if k in CoreSettings.model_fields}
    backends: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name in core:
            continue
        if not isinstance(value, Mapping):
            hint = suggest(name, CoreSettings.model_fields, "core settings")
            raise ConfigurationError(
                f"unknown setting {name!r}{hint} (a backend's options are given as a dict "
                "named after the backend)"
            )
        backends[name] = dict(value)
    settings, _ = load_options(None, CoreSettings, configured=core)
    from mailcore.discovery import load_backend  # deferred: discovery imports stevedore

    chosen = settings.backend  # by import path, its section is a name not installed
    by_path = load_backend(chosen) if "." in chosen or ":" in chosen else None
    for name, options in backends.items():
        backend_class = by_path if by_path and by_path.name == name else load_backend(name)
        model = backend_class.options_model
        if model is None:
            check_no_options(name, {}, options)
        else:
            load_options(name, model, configured=options)
    with _lock:
        _configured_core, _configured_backends, _cached = core, backends, settings
