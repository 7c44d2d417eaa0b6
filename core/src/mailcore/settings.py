"""Typed settings, read lazily from arguments, environment, ``.env``, TOML and defaults.

Order, first wins: ``configure()``/``get_connection()`` arguments, environment variables,
a ``.env`` file in the working directory, the TOML file (``mailcore.toml`` in the working
directory or the path in ``MAILCORE_CONFIG``), the defaults. Core settings are top-level
TOML keys and ``MAILCORE_<SETTING>`` variables; a backend's options sit in a
``[<shortname>]`` table and ``MAILCORE_<SHORTNAME>_<OPTION>`` variables.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
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
)
from mailcore.errors import ConfigurationError

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "CoreSettings",
    "Source",
    "check_no_options",
    "config_file",
    "configure",
    "configured_options",
    "current_configuration",
    "env_var_name",
    "get_settings",
    "load_options",
]

DOTENV_FILE = ".env"

Source = Literal["argument", "environment", ".env", "toml", "default"]
ModelT = TypeVar("ModelT", bound=BaseModel)


class CoreSettings(BaseModel):
    """The settings of the core, independent of any backend.

    - ``backend``: the backend ``get_connection()`` uses when none is named: a short
      name (``"smtp"``, ``"console"``) or an import path (``"myapp.mail:Backend"``).
    - ``default_from_email``: the sender of messages that name none.
    - ``server_email``: the sender of ``mail_admins()`` and ``mail_managers()``.
    - ``subject_prefix``: put before the subject by ``mail_admins()`` and
      ``mail_managers()``.
    - ``admins``: the recipients of ``mail_admins()``: addresses or ``"Name <address>"``.
    - ``managers``: the recipients of ``mail_managers()``, in the same form.
    - ``default_charset``: the character set of messages whose ``encoding`` is not set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "smtp"
    default_from_email: str = "webmaster@localhost"
    server_email: str = "root@localhost"
    subject_prefix: str = "[mailcore] "
    admins: list[str] = []
    managers: list[str] = []
    default_charset: str = "utf-8"


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
    try:
        return source()
    except Exception as exc:  # pydantic-settings' SettingsError, e.g. malformed JSON
        match = re.search(r'field "(\w+)"', str(exc))
        if match is None:
            raise ConfigurationError(f"invalid {where}: {exc}") from None
        field = match.group(1)
        dotted = field if section is None else f"{section}.{field}"
        raise ConfigurationError(
            f"invalid setting {dotted!r} (from {where} {env_var_name(section, field, model)}): "
            "expected a JSON value"
        ) from None


def _env_layers(
    section: str | None, model: type[BaseModel]
) -> tuple[dict[str, Any], dict[str, Any]]:
    settings_cls = _settings_class(section, model)
    env_source = EnvSettingsSource(settings_cls)
    dotenv_source = DotEnvSettingsSource(settings_cls, env_file=DOTENV_FILE)
    env = _read_source(env_source, section, model, "environment variable")
    dotenv = _read_source(dotenv_source, section, model, f"variable in {DOTENV_FILE}")
    for field, var in getattr(model, "env_names", {}).items():
        for layer, source in ((env, env_source), (dotenv, dotenv_source)):
            value = source.env_vars.get(var.lower())
            if value is not None:
                layer[field] = value
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
        "environment": f"from environment variable {env_var_name(section, field, model)}",
        ".env": f"from {env_var_name(section, field, model)} in {DOTENV_FILE}",
        "toml": f"from {path}",
        "default": "the default",
    }[source]
    return f"setting {dotted!r} ({where})"


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    return info is not None and "Secret" in repr(info.annotation)


def load_options(
    section: str | None,
    model: type[ModelT],
    arguments: Mapping[str, Any] | None = None,
) -> tuple[ModelT, dict[str, Source]]:
    """Build ``model`` from every source; return it with the source of each field.

    ``section`` is a backend's short name, or ``None`` for the core settings. Unknown
    argument names and invalid values raise :class:`ConfigurationError` naming the setting
    and where its value came from (secret values are never shown).
    """
    arguments = dict(arguments or {})
    label = "mailcore" if section is None else f"backend {section!r}"
    for name in arguments:
        if name not in model.model_fields:
            known = ", ".join(sorted(model.model_fields)) or "none"
            raise ConfigurationError(f"unknown option {name!r} for {label} (options: {known})")

    path, document = read_config()
    if section is None:
        table = {k: v for k, v in document.items() if not isinstance(v, dict)}
    else:
        raw = document.get(section, {})
        if not isinstance(raw, dict):
            raise ConfigurationError(f"{path}: {section!r} must be a table of options")
        table = raw
    for name in table:
        if name not in model.model_fields:
            known = ", ".join(sorted(model.model_fields)) or "none"
            where = "top level" if section is None else f"[{section}]"
            raise ConfigurationError(
                f"{path}: unknown setting {name!r} at {where} (settings: {known})"
            )
    env, dotenv = _env_layers(section, model)

    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    layers: tuple[tuple[Source, Mapping[str, Any]], ...] = (
        ("toml", table),
        (".env", dotenv),
        ("environment", env),
        ("argument", arguments),
    )
    for source, layer in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = source
    try:
        instance = model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            what = _describe(section, model, field, sources.get(field, "default"), path)
            shown = "" if _is_secret(model, field) else f" (got {error.get('input')!r})"
            problems.append(f"invalid {what}: {error['msg']}{shown}")
        raise ConfigurationError("; ".join(problems)) from None
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
                _cached, _ = load_options(None, CoreSettings, _configured_core)
            settings = _cached
    return settings


def configured_options(section: str | None) -> dict[str, Any]:
    """The options ``configure()`` set for one backend (empty when none)."""
    return dict(_configured_backends.get(section, {})) if section else {}


def current_configuration() -> dict[str, Any]:
    """The arguments of the last ``configure()`` call, in its shape (a copy), so a caller
    can change one setting and restore the rest: ``configure(**{**current, "backend": ...})``."""
    return {**_configured_core, **{name: dict(o) for name, o in _configured_backends.items()}}


def configure(**values: Any) -> None:
    """Set the process-wide settings in code, in the shape of the TOML file.

    Core settings are keywords; a backend's options are one dict named after its short
    name: ``configure(backend="smtp", smtp={"host": "mail.example.com"})``. Each call
    starts afresh from its own arguments over the other sources. Values are checked now:
    a wrong one raises :class:`ConfigurationError` naming it.
    """
    global _cached, _configured_core, _configured_backends
    core = {k: v for k, v in values.items() if k in CoreSettings.model_fields}
    backends: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name in core:
            continue
        if not isinstance(value, Mapping):
            known = ", ".join(sorted(CoreSettings.model_fields))
            raise ConfigurationError(
                f"unknown setting {name!r}: core settings are {known}; "
                "a backend's options are given as a dict named after the backend"
            )
        backends[name] = dict(value)
    settings, _ = load_options(None, CoreSettings, core)
    from mailcore.discovery import load_backend  # deferred: discovery imports stevedore

    for name, options in backends.items():
        model = load_backend(name).options_model
        if model is None:
            check_no_options(name, options)
        else:
            load_options(name, model, options)
    with _lock:
        _configured_core, _configured_backends, _cached = core, backends, settings
