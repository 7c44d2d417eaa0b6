"""Typed settings: the one owner of where each value comes from, and in which order.

Order, first wins: ``get_connection()`` keyword arguments (and a backend's constructor),
``configure()``, environment variables, a ``.env`` file in the working directory, the
TOML file (``$MAILCORE_CONFIG``, or the first ``mailcore.toml`` from the working
directory up to the project's root: see :func:`mailcore.config_file.config_file`), the
defaults. Core settings are top-level TOML keys and ``MAILCORE_<SETTING>`` variables; a
backend's options sit in a ``[<shortname>]`` table and ``MAILCORE_<SHORTNAME>_<OPTION>``
variables. Unknown names are refused (an environment variable: a warning).

Named mailers (``[mailers.<alias>]``, ``MAILCORE_MAILERS_<ALIAS>=<url>``,
``configure(mailers=...)``) follow the same order, key by key: see :func:`get_mailers`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import os
import re
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
from mailcore.errors import (
    ConfigurationError,
    ConfigurationWarning,
    InvalidMailer,
    MailcoreError,
)
from mailcore.options import DKIMOptions, is_secret

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "ORDER",
    "POLICY_KEYS",
    "CoreSettings",
    "MailerPolicy",
    "MailerSpec",
    "SendPolicy",
    "Source",
    "check_no_options",
    "check_variables",
    "config_file",
    "configure",
    "current_configuration",
    "env_var_name",
    "get_mailers",
    "get_settings",
    "load_options",
    "validate_spec",
]

DOTENV_FILE = ".env"

Source = Literal["argument", "configure", "environment", ".env", "toml", "default"]
#: The sources of a value, first wins.
ORDER: tuple[Source, ...] = ("argument", "configure", "environment", ".env", "toml", "default")
ModelT = TypeVar("ModelT", bound=BaseModel)


class SendPolicy(BaseModel):
    """What runs around every send: the settings a mailer may also set for itself.

    - ``hooks``: before-send hooks, import paths (``"myapp.mail:add_footer"``) of
      callables ``fn(message, mailer)`` (see :mod:`mailcore.hooks`).
    - ``after_send_hooks``: after-send hooks, import paths of callables
      ``fn(message, result, mailer)``.
    - ``always_to``: staging: send every message to these addresses only (To rewritten,
      Cc and Bcc dropped, the originals in ``X-Original-To``/``X-Original-Cc``).
    - ``allowed_recipients``: staging: patterns (``"*@example.com"``); recipients matching
      none are dropped and reported as cancelled (see :mod:`mailcore.staging`).

    Import paths are imported and addresses and patterns checked when the settings are
    built. A mailer's hooks run after the top-level ones; its ``always_to`` and
    ``allowed_recipients``, when set (``[]`` included), replace the top-level ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hooks: list[str] = []
    after_send_hooks: list[str] = []
    always_to: list[str] = []
    allowed_recipients: list[str] = []

    @field_validator("hooks", "after_send_hooks")
    @classmethod
    def _importable(cls, value: list[str] | None) -> list[str] | None:
        from mailcore.hooks import import_hook

        for path in value or []:
            import_hook(path)
        return value

    @field_validator("always_to")
    @classmethod
    def _recipients(cls, value: list[str] | None) -> list[str] | None:
        from mailcore.staging import check_addresses

        return None if value is None else check_addresses(value)

    @field_validator("allowed_recipients")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        from mailcore.staging import check_patterns

        return None if value is None else check_patterns(value)


class MailerPolicy(SendPolicy):
    """A mailer's own :class:`SendPolicy`: a field left out (``None``) is the top-level
    setting's."""

    hooks: list[str] | None = None  # type: ignore[assignment]
    after_send_hooks: list[str] | None = None  # type: ignore[assignment]
    always_to: list[str] | None = None  # type: ignore[assignment]
    allowed_recipients: list[str] | None = None  # type: ignore[assignment]


#: Keys of a named mailer's definition that are its :class:`MailerPolicy`.
POLICY_KEYS = tuple(SendPolicy.model_fields)


class _CoreBasics(BaseModel):
    """The core settings other than the :class:`SendPolicy` (which come after them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "smtp"
    default_from_email: str = "webmaster@localhost"
    server_email: str = "root@localhost"
    subject_prefix: str = "[mailcore] "
    admins: list[str] = []
    managers: list[str] = []
    default_charset: str = "utf-8"
    default_mailer: str = "default"
    dkim: DKIMOptions | None = None

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

    @field_validator("subject_prefix")
    @classmethod
    def _header_text(cls, value: str) -> str:
        from mailcore._wire.headers import check_header_value

        check_header_value("Subject", value)  # the prefix is put in the Subject header
        return value

    @field_validator("default_charset")
    @classmethod
    def _charset_is_known(cls, value: str) -> str:
        from mailcore._wire.headers import resolve_charset

        resolve_charset(value)
        return value


class CoreSettings(SendPolicy, _CoreBasics):
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
    - ``default_mailer``: the alias of the mailer used when none is named (``"default"``).
    - ``dkim``: DKIM signing for every mailer without a ``dkim`` option of its own (a
      ``[dkim]`` table; see :class:`mailcore.options.DKIMOptions`).
    - ``hooks``: before-send hooks: import paths (``"myapp.mail:add_footer"``) of
      ``fn(message, mailer)``, run before every message is sent (see Send hooks).
    - ``after_send_hooks``: after-send hooks: import paths of
      ``fn(message, result, mailer)``, run after every message.
    - ``always_to``: staging: send every message to these addresses only (the original
      To and Cc kept in ``X-Original-To``/``X-Original-Cc``).
    - ``allowed_recipients``: staging: drop (and report as cancelled) every recipient
      matching none of these patterns (``"*@example.com"``).

    Addresses, the charset, the subject prefix (no line break, as in any header), the
    hooks' import paths and the patterns are checked when the settings are built. A
    mailer may set the last four for itself (:class:`SendPolicy`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


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


#: What a setting that takes a list or a table wants as text (an environment variable,
#: a ``-o`` argument) when its text is not JSON.
EXPECTED_JSON = "expected a JSON value"
#: Pydantic's error types for a value that is not a list or a table.
_NOT_STRUCTURED = {"dict_type", "list_type", "model_type", "model_attributes_type"}


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
        + EXPECTED_JSON
    )


def _sections(backend: Any) -> set[str]:
    """The settings sections in use: installed backends, the project's own backends
    (installed or not) and the ``name`` of the backend the ``backend`` setting names by
    import path."""
    from mailcore.discovery import KNOWN_DISTRIBUTIONS, _entry_point_names, load_backend

    names = {*_entry_point_names(), *KNOWN_DISTRIBUTIONS, MAILERS}
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


#: The warnings already given (once per process, until ``configure()`` is called).
_warned: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        warnings.warn(text, ConfigurationWarning, stacklevel=2)


def _real_variables() -> set[str]:
    """Every variable the settings read (lower case): the core's, ``MAILCORE_CONFIG`` and
    each installed backend's options (a backend that fails to load adds none)."""
    from mailcore.discovery import _entry_point_names, load_backend

    names = _core_variables() | {CONFIG_ENV_VAR.lower()}
    for name in _entry_point_names():
        try:
            model = load_backend(name).options_model
        except MailcoreError:
            continue
        if model is not None:
            names |= {env_var_name(name, field, model).lower() for field in model.model_fields}
    return names


def _variable_hint(variable: str, candidates: set[str], otherwise: str) -> str:
    """``", did you mean 'MAILCORE_SMTP_HOST'?"`` for a real variable close to
    ``variable``; else ``otherwise``. A named mailer's variable is suggested for a
    mistyped ``MAILERS`` part (``MAILCORE_MAILER_BULK``)."""
    import difflib  # deferred: only a mistake needs it

    first, _, rest = variable.removeprefix("mailcore_").partition("_")
    if rest and difflib.SequenceMatcher(None, first, MAILERS).ratio() >= _CLOSE:
        return f", did you mean {f'MAILCORE_MAILERS_{rest}'.upper()!r}?"
    upper = {c.upper() for c in candidates}
    return suggest(variable.upper(), upper, "known", otherwise, "MAILCORE_", cutoff=_CLOSE)


#: How close (difflib's ratio) a real variable's name must be to be suggested.
_CLOSE = 0.75


def _argument_only(section: str) -> list[str]:
    from mailcore.discovery import load_backend
    from mailcore.options import argument_only_names

    try:
        return argument_only_names(load_backend(section))
    except MailcoreError:
        return []


def _check_variables(
    section: str | None,
    model: type[BaseModel],
    layers: Mapping[str, Mapping[str, Any]],
    sections: set[str],
) -> None:
    """Refuse an unknown ``MAILCORE_*`` name in ``.env``; warn of one in the environment
    (once per process).

    For the core (``section=None``), a name is unknown when it is no core setting and no
    section's prefix; for a backend (with options or without), when it has the backend's
    prefix but names no option. A hint names only real variables.
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
                otherwise = " (no setting or installed backend has this name)"
                hint = _variable_hint(variable, known | _real_variables(), otherwise)
            elif section is not None and owner == section:
                option = variable.removeprefix(f"mailcore_{section.lower()}_")
                if option in _argument_only(section):
                    hint = (
                        f": {option!r} can only be given as an argument, "
                        f"get_connection({section!r}, {option}=...)"
                    )
                else:
                    otherwise = f" (backend {section!r} has no such option)"
                    hint = _variable_hint(variable, known, otherwise)
            else:
                continue
            if where == DOTENV_FILE:
                raise ConfigurationError(f"unknown variable {variable.upper()} in .env{hint}")
            _warn_once(f"mailcore: unknown environment variable {variable.upper()} (ignored){hint}")


class _NoOptions(BaseModel):
    """The options model of a backend without options: reads no variable."""


def check_variables(section: str) -> None:
    """Refuse (``.env``) or warn of (environment) every ``MAILCORE_<SECTION>_*`` variable:
    the rule of :func:`load_options` for a backend without options."""
    settings_cls = _settings_class(section, _NoOptions)
    layers = {
        "environment": EnvSettingsSource(settings_cls).env_vars,
        DOTENV_FILE: DotEnvSettingsSource(settings_cls, env_file=DOTENV_FILE).env_vars,
    }
    _check_variables(section, _NoOptions, layers, _sections(None))


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
    section: str | None,
    model: type[BaseModel],
    field: str,
    source: Source,
    path: Path | None,
    spec: MailerSpec | None = None,
) -> str:
    if spec is not None:
        return f"option {field!r} of mailer {spec.alias!r} ({spec.describe(source)})"
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
    if section is None:  # the core's keys; its tables ([dkim]) are named by its fields
        table = {
            k: v for k, v in document.items() if not isinstance(v, dict) or k in model.model_fields
        }
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
        if isinstance(value, dict) and name not in sections | CoreSettings.model_fields.keys():
            hint = suggest(name, sections, "backends")
            raise ConfigurationError(f"{path}: unknown backend table {name!r}{hint}")


def _problems(
    exc: ValidationError,
    section: str | None,
    model: type[BaseModel],
    sources: Mapping[str, Source],
    path: Path | None,
    spec: MailerSpec | None = None,
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
            problems.append(reason if spec is None else f"mailer {spec.alias!r}: {reason}")
            continue
        source = sources.get(field, "default")
        inner = ".".join(part for part in error["loc"][1:] if isinstance(part, str))
        if inner and not isinstance(cause, MailcoreError):  # a key of a table: dkim.selector
            reason = f"{inner}: {reason}"
        elif (
            error["type"] in _NOT_STRUCTURED
            and isinstance(error.get("input"), str)
            and source in ("argument", "environment", ".env")  # text that was not JSON
        ):
            wanted = "a list" if error["type"] == "list_type" else "an object"
            reason = f"{EXPECTED_JSON} ({wanted}, not this text)"
        what = _describe(section, model, field, source, path, spec)
        value = error.get("input")
        given = repr(value)
        # a secret is never shown; nor a value the reason already quotes ("'fast' is...",
        # "..., not 1e-09"), which a number merely appearing in it ("greater than 0") is not
        number = isinstance(value, int | float) and not isinstance(value, bool)
        quoted = f"not {given}" in reason if number else given in reason
        hidden = is_secret(model, field) or isinstance(cause, MailcoreError)
        shown = "" if hidden or quoted else f" (got {given})"
        problems.append(f"invalid {what}: {reason}{shown}")
    kind = kinds.pop() if len(kinds) == 1 else ConfigurationError
    if spec is not None and not issubclass(kind, InvalidMailer):
        kind = InvalidMailer
    return "; ".join(problems), kind


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
    and where its value came from; a secret value is never shown nor kept in the error,
    nor in the local variables of this function's frame when it raises (an error tracker
    that records frame locals would see them).
    """
    built = _load(section, model, arguments or {}, configured)
    del arguments, configured  # raw values: not kept in this frame's locals
    if isinstance(built, tuple) and isinstance(built[1], type):
        text, kind = built
        raise kind(text)
    return built


def _load(
    section: str | None,
    model: type[ModelT],
    arguments: Mapping[str, Any],
    configured: Mapping[str, Any] | None,
) -> tuple[ModelT, dict[str, Source]] | tuple[str, type[ConfigurationError]]:
    """The body of :func:`load_options`: the model and its sources, or the text and class
    of the error to raise (raised by the caller, once this frame and its values are gone)."""
    arguments = without_credentials(arguments, model.model_fields)
    spec = _building.get()
    if spec is not None and (spec.section != section or model is CoreSettings):
        spec = None  # a backend made while another mailer's backend is being made
    layers: tuple[tuple[Source, Mapping[str, Any]], ...]
    sections: set[str] = set()
    document: dict[str, Any] = {}
    if spec is not None:  # a named mailer: its own layers, then the arguments
        path = spec.path
        label = f"mailer {spec.alias!r}"
        _check_names(arguments, model, label, "argument")
        for source, given in spec.layers:
            _check_mailer_names(spec, source, given, model)
        layers = (*spec.layers, ("argument", arguments))
    else:
        configured = _configured(section, model) if configured is None else dict(configured)
        label = "mailcore" if section is None else f"backend {section!r}"
        _check_names(arguments, model, label, "argument")
        _check_names(configured, model, label, "configure")

        path, document = read_config()
        table = _toml_table(section, model, path, document)
        backend = {**table, **configured, **arguments}.get("backend") if section is None else None
        sections = _sections(backend)
        env, dotenv = _env_layers(section, model, sections)
        layers = (
            ("toml", table),
            (".env", dotenv),
            ("environment", env),
            ("configure", configured),
            ("argument", arguments),
        )

    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for source, layer in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = source
    failure: tuple[str, type[ConfigurationError]] | None = None
    try:
        instance = model.model_validate(values)
    except ValidationError as exc:
        failure = _problems(exc, section, model, sources, path, spec)
    if failure is not None:  # raised by the caller: no exception context keeps the input
        return failure
    if section is None and spec is None:
        _check_tables(path, document, sections)
    for name in model.model_fields:
        sources.setdefault(name, "default")
    return instance, sources


#: The TOML table, ``configure()`` keyword and variable infix of named mailers.
MAILERS = "mailers"
_ALIAS = re.compile(r"[a-z][a-z0-9_]*")
#: Keys of a mailer's definition that are not its backend's options.
_DEFINITION_KEYS = ("backend", "url")


@dataclass(frozen=True)
class MailerSpec:
    """A named mailer as configured: its backend and its options, source by source.

    ``backend``: a short name or import path; ``section``: the backend's ``name``;
    ``layers``: the options from each source, lowest first (a URL's options sit in its
    source's layer, below the keys written beside it); ``legacy``: the ``default``
    mailer made of the ``backend`` setting and its ``[<backend>]`` table.
    """

    alias: str
    backend: str
    section: str | None = None
    #: never in the repr: a value may be a secret
    layers: tuple[tuple[Source, dict[str, Any]], ...] = dataclasses.field(default=(), repr=False)
    where: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    path: Path | None = None
    legacy: bool = False
    #: The aliases a composite mailer (``failover``, ``roundrobin``) sends through.
    references: tuple[str, ...] = ()
    #: The mailer's own hooks and staging override (:class:`MailerPolicy`), if any.
    policy: MailerPolicy | None = None

    def describe(self, source: Source) -> str:
        """Where a value from ``source`` was given, for a person."""
        return self.where.get(source) or {
            "argument": "given as an argument",
            "default": "the default",
        }.get(source, source)


_building: contextvars.ContextVar[MailerSpec | None] = contextvars.ContextVar(
    "mailcore_building_mailer", default=None
)


@contextlib.contextmanager
def building(spec: MailerSpec) -> Iterator[None]:
    """While the block runs, :func:`load_options` for ``spec``'s backend reads the
    mailer's own layers instead of the backend's table and variables."""
    token = _building.set(spec)
    try:
        yield
    finally:
        _building.reset(token)


def _check_mailer_names(
    spec: MailerSpec, source: Source, layer: Mapping[str, Any], model: type[BaseModel]
) -> None:
    for name in layer:
        if name not in model.model_fields:
            hint = suggest(name, model.model_fields, "options")
            raise InvalidMailer(
                f"unknown option {name!r} for mailer {spec.alias!r} "
                f"(backend {spec.backend!r}, {spec.describe(source)}){hint}"
            )


def _mailer_where(alias: str, path: Path | None) -> dict[str, str]:
    variable = f"MAILCORE_MAILERS_{alias.upper()}"
    return {
        "toml": f"from [mailers.{alias}] in {path}",
        "environment": f"from environment variable {variable}",
        ".env": f"from {variable} in {DOTENV_FILE}",
        "configure": "given to configure(mailers=...)",
    }


def _alias(name: object, where: str) -> str:
    if not isinstance(name, str) or not _ALIAS.fullmatch(name):
        raise InvalidMailer(
            f"invalid mailer alias {name!r} ({where}): use lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    return name


def _raw_mailers(
    path: Path | None, document: Mapping[str, Any], configured: Mapping[str, Any]
) -> dict[str, list[tuple[Source, dict[str, Any]]]]:
    """Each alias's definitions (``backend``/``url`` and options), lowest source first."""
    found: dict[str, list[tuple[Source, dict[str, Any]]]] = {}
    table = document.get(MAILERS, {})
    if not isinstance(table, dict):
        raise InvalidMailer(f"{path}: 'mailers' must be a table of [mailers.<alias>] tables")
    for alias, definition in table.items():
        _alias(alias, f"[mailers.{alias}] in {path}")
        if not isinstance(definition, dict):
            raise InvalidMailer(f"{path}: mailers.{alias} must be a table ([mailers.{alias}])")
        found.setdefault(alias, []).append(("toml", dict(definition)))
    settings_cls = _settings_class(None, CoreSettings)
    prefix = "mailcore_mailers_"
    dotenv = DotEnvSettingsSource(settings_cls, env_file=DOTENV_FILE).env_vars
    environment = {k.lower(): v for k, v in os.environ.items()}
    sourced: tuple[tuple[Source, Mapping[str, str | None]], ...] = (
        (".env", dotenv),
        ("environment", environment),
    )
    for source, variables in sourced:
        for name, value in sorted(variables.items()):
            if name.startswith(prefix) and value is not None:
                label = "in .env" if source == ".env" else "in the environment"
                alias = _alias(name.removeprefix(prefix), f"{name.upper()} {label}")
                found.setdefault(alias, []).append((source, {"url": value}))
    for alias, definition in configured.items():
        _alias(alias, "given to configure(mailers=...)")
        found.setdefault(alias, []).append(("configure", dict(definition)))
    return found


def _make_spec(
    alias: str, raw: list[tuple[Source, dict[str, Any]]], path: Path | None
) -> MailerSpec:
    """A mailer's spec from its definitions: the backend (named, or from the URL's
    scheme) and the options of every layer; raises :class:`InvalidMailer`."""
    from mailcore.discovery import load_backend
    from mailcore.urls import mask_url, parse_url

    where = _mailer_where(alias, path)
    merged: dict[str, Any] = {}
    origin: dict[str, Source] = {}
    for source, definition in raw:
        for key, value in definition.items():
            merged[key], origin[key] = value, source
    for key in _DEFINITION_KEYS:
        if key in merged and not isinstance(merged[key], str):
            given = f"{type(merged[key]).__name__}"
            raise InvalidMailer(
                f"invalid {key!r} of mailer {alias!r} ({where.get(origin[key])}): "
                f"expected a string, got a {given}"
            )
    backend_class = None
    named = merged.get("backend")
    if named is not None:
        problem = None
        try:
            backend_class = load_backend(named)
        except ConfigurationError as exc:
            problem = str(exc)
        if problem is not None:
            raise InvalidMailer(
                f"invalid 'backend' of mailer {alias!r} ({where.get(origin['backend'])}): {problem}"
            )
    policy = _mailer_policy(alias, merged, origin, where)
    own = (*_DEFINITION_KEYS, *POLICY_KEYS)
    layers = [(s, {k: v for k, v in d.items() if k not in own}) for s, d in raw]
    url = merged.get("url")
    if url is not None:
        problem = None
        try:
            backend_class, from_url = parse_url(url, backend_class)
        except ConfigurationError as exc:
            problem = str(exc)
        if problem is not None:
            raise InvalidMailer(
                f"invalid connection URL {mask_url(url, backend_class)} of mailer {alias!r} "
                f"({where.get(origin['url'])}): {problem}"
            )
        layers = [
            (s, {**from_url, **options}) if s == origin["url"] else (s, options)
            for s, options in layers
        ]
    if backend_class is None:
        raise InvalidMailer(
            f"mailer {alias!r} ({where.get(raw[-1][0])}) names no backend: give "
            'backend = "<name>" or url = "<scheme>://..."'
        )
    if named is None:
        named = backend_class.name or f"{backend_class.__module__}:{backend_class.__qualname__}"
    return MailerSpec(
        alias,
        named,
        backend_class.name,
        tuple((s, d) for s, d in layers if d),
        where,
        path,
        policy=policy,
    )


def _mailer_policy(
    alias: str, merged: Mapping[str, Any], origin: Mapping[str, Source], where: Mapping[str, str]
) -> MailerPolicy | None:
    """The mailer's own hooks and staging override (``None`` when it sets none)."""
    given = {key: merged[key] for key in POLICY_KEYS if key in merged}
    if not given:
        return None
    problem = None
    try:
        return MailerPolicy.model_validate(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        cause = error.get("ctx", {}).get("error")
        given_in = where.get(origin.get(key, "configure"))
        reason = str(cause) if isinstance(cause, Exception) else error["msg"]
        problem = f"invalid {key!r} of mailer {alias!r} ({given_in}): {reason}"
    raise InvalidMailer(problem)


def validate_spec(spec: MailerSpec) -> MailerSpec:
    """Build the mailer's options (as making its backend would), raising
    :class:`InvalidMailer` naming the mailer and the option."""
    from mailcore.discovery import load_backend

    backend_class = load_backend(spec.backend)
    model = backend_class.options_model
    if model is None:
        for source, layer in spec.layers:
            for name in layer:
                raise InvalidMailer(
                    f"unknown option {name!r} for mailer {spec.alias!r} ({spec.describe(source)}):"
                    f" backend {spec.backend!r} takes no options"
                )
        return spec
    with building(spec):
        options, _ = load_options(spec.section, model)
    references = getattr(backend_class, "referenced_mailers", None)
    if callable(references):
        return dataclasses.replace(spec, references=tuple(references(options)))
    return spec


def _legacy_given(
    core: CoreSettings,
    sources: Mapping[str, Source],
    document: Mapping[str, Any],
    configured_backends: Mapping[str, Any],
) -> str | None:
    """What configures the legacy default mailer, if anything: the ``backend`` setting or
    its backend's table, ``configure()`` dict or variables."""
    if sources.get("backend", "default") != "default":
        return f"the 'backend' setting ({sources['backend']})"
    from mailcore.discovery import load_backend

    section = load_backend(core.backend).name
    if section is None:
        return None
    if section in document:
        return f"the [{section}] table"
    if section in configured_backends:
        return f"configure({section}=...)"
    prefix = f"mailcore_{section.lower()}_"
    dotenv = DotEnvSettingsSource(
        _settings_class(None, CoreSettings), env_file=DOTENV_FILE
    ).env_vars
    for name in [*os.environ, *dotenv]:
        if name.lower().startswith(prefix):
            return f"the variable {name.upper()}"
    return None


def _build_mailers(
    core: CoreSettings,
    sources: Mapping[str, Source],
    configured_mailers: Mapping[str, Any],
    configured_backends: Mapping[str, Any],
) -> dict[str, MailerSpec]:
    """Every mailer, validated; the ``default`` one from today's settings unless a
    mailer of that alias is configured (configuring both is an error)."""
    path, document = read_config()
    raw = _raw_mailers(path, document, configured_mailers)
    specs = {alias: _make_spec(alias, layers, path) for alias, layers in sorted(raw.items())}
    if "default" in specs:
        given = _legacy_given(core, sources, document, configured_backends)
        if given is not None:
            raise InvalidMailer(
                f"both a 'default' mailer ({specs['default'].describe(raw['default'][-1][0])}) "
                f"and {given} are configured: the 'default' mailer is one or the other; "
                "move the backend's options into [mailers.default]"
            )
    else:
        specs["default"] = MailerSpec("default", core.backend, path=path, legacy=True)
    if core.default_mailer not in specs:
        raise InvalidMailer(
            f"the default_mailer setting names {core.default_mailer!r}, which is no mailer "
            f"(configured mailers: {', '.join(sorted(specs))})"
        )
    specs = {a: spec if spec.legacy else validate_spec(spec) for a, spec in specs.items()}
    for spec in specs.values():
        for reference in spec.references:
            if reference not in specs:
                from mailcore.discovery import load_backend
                from mailcore.urls import mask_url

                option = load_backend(spec.backend).references_option
                raise InvalidMailer(
                    f"invalid option {option!r} of mailer {spec.alias!r}: "
                    f"{mask_url(reference)!r} is no mailer (configured mailers: "
                    f"{', '.join(sorted(specs))})"
                )
    _check_cycles(specs)
    _check_children(specs)
    _check_queueing(specs)
    return specs


def _check_queueing(specs: Mapping[str, MailerSpec]) -> None:
    """Refuse a queueing mailer (``celery``) whose mailers reach a queueing one, itself
    included: its workers would enqueue each message again instead of sending it."""
    from mailcore.discovery import load_backend

    def queues(alias: str) -> bool:
        return load_backend(specs[alias].backend).queues_messages

    def reached(alias: str) -> list[str]:
        return [alias, *(found for ref in specs[alias].references for found in reached(ref))]

    for spec in specs.values():
        # only mailers that name others: a backend nobody names is not loaded here
        if not spec.references or not queues(spec.alias):
            continue
        for reference in spec.references:
            queueing = [alias for alias in reached(reference) if queues(alias)]
            if queueing:
                option = load_backend(spec.backend).references_option
                raise InvalidMailer(
                    f"invalid option {option!r} of mailer {spec.alias!r}: it sends through "
                    f"{reference!r}, which reaches the queueing mailer {queueing[0]!r}; "
                    "workers must send with a mailer that delivers (smtp, ses, ...), "
                    "not one that enqueues again"
                )


def _check_children(specs: Mapping[str, MailerSpec]) -> None:
    """Refuse hooks or a staging override on a mailer a composite sends through: they run
    once per message, at the mailer the code sends through, so there they never would."""
    for spec in specs.values():
        for reference in spec.references:
            policy = specs[reference].policy
            if policy is None:
                continue
            keys = ", ".join(sorted(policy.model_dump(exclude_none=True)))
            raise InvalidMailer(
                f"mailer {reference!r} sets {keys}, but mailer {spec.alias!r} sends through "
                "it, and hooks and the staging override run only at the mailer the code sends "
                f"through: set them on {spec.alias!r} (or at the top level)"
            )


def _check_cycles(specs: Mapping[str, MailerSpec]) -> None:
    def visit(alias: str, trail: tuple[str, ...]) -> None:
        if alias in trail:
            loop = " -> ".join((*trail[trail.index(alias) :], alias))
            raise InvalidMailer(f"mailers refer to each other in a loop: {loop}")
        spec = specs.get(alias)
        for reference in spec.references if spec is not None else ():
            visit(reference, (*trail, alias))

    for alias in specs:
        visit(alias, ())


_lock = threading.Lock()
_configured_core: dict[str, Any] = {}
_configured_backends: dict[str, dict[str, Any]] = {}
_configured_mailers: dict[str, dict[str, Any]] = {}
_cached: CoreSettings | None = None
_cached_mailers: dict[str, MailerSpec] | None = None


def get_settings() -> CoreSettings:
    """The process-wide core settings, read on first use and kept until ``configure()``.

    The named mailers are built (and validated) with them: see :func:`get_mailers`.
    """
    global _cached, _cached_mailers
    settings = _cached
    if settings is None or _cached_mailers is None:
        with _lock:
            if _cached is None or _cached_mailers is None:
                core, sources = load_options(None, CoreSettings)
                mailers = _build_mailers(core, sources, _configured_mailers, _configured_backends)
                _cached, _cached_mailers = core, mailers
            settings = _cached
    return settings


def get_mailers() -> dict[str, MailerSpec]:
    """Every named mailer by alias, validated when the settings were built.

    A mailer is configured as ``[mailers.<alias>]`` in the TOML file (``backend = "..."``
    with its options, or ``url = "..."`` with options beside it overriding the URL's),
    ``MAILCORE_MAILERS_<ALIAS>=<url>`` in the environment or ``.env``, or
    ``configure(mailers={alias: {...}})``. Sources rank as for any setting, key by key.
    Without a ``default`` mailer, ``default`` is the ``backend`` setting with its table.
    """
    get_settings()
    mailers = _cached_mailers
    assert mailers is not None
    return mailers


def current_configuration() -> dict[str, Any]:
    """The arguments of the last ``configure()`` call, in its shape (a copy), so a caller
    can change one setting and restore the rest: ``configure(**{**current, "backend": ...})``."""
    current = {**_configured_core, **{name: dict(o) for name, o in _configured_backends.items()}}
    if _configured_mailers:
        current[MAILERS] = {alias: dict(d) for alias, d in _configured_mailers.items()}
    return current


def configure(**values: Any) -> None:
    """Set the process-wide settings in code, in the shape of the TOML file.

    Core settings are keywords; a backend's options are one dict named after its short
    name: ``configure(backend="smtp", smtp={"host": "mail.example.com"})`` (a backend set
    by import path is configured under its ``name``); named mailers are one dict,
    ``mailers={"bulk": {"url": "ses://eu-west-1"}}``. They rank
    below ``get_connection()`` arguments and above the environment. Each call starts
    afresh from its own arguments over the other sources. Values are checked now: a wrong
    one raises :class:`ConfigurationError` naming it.
    """
    global _cached, _cached_mailers, _configured_core, _configured_backends, _configured_mailers
    _warned.clear()  # the settings are read afresh: so are their warnings
    core = {k: v for k, v in values.items() if k in CoreSettings.model_fields}
    backends: dict[str, dict[str, Any]] = {}
    mailers: dict[str, dict[str, Any]] = {}
    given_mailers = values.get(MAILERS, {})
    if not isinstance(given_mailers, Mapping) or not all(
        isinstance(d, Mapping) for d in given_mailers.values()
    ):
        raise InvalidMailer(
            "configure(mailers=...) takes a dict of mailers: "
            '{"bulk": {"backend": "ses", "region": "eu-west-1"}, "default": {"url": "..."}}'
        )
    mailers = {str(alias): dict(d) for alias, d in given_mailers.items()}
    for name, value in values.items():
        if name in core or name == MAILERS:
            continue
        if not isinstance(value, Mapping):
            hint = suggest(name, CoreSettings.model_fields, "core settings")
            raise ConfigurationError(
                f"unknown setting {name!r}{hint} (a backend's options are given as a dict "
                "named after the backend)"
            )
        backends[name] = dict(value)
    settings, sources = load_options(None, CoreSettings, configured=core)
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
    specs = _build_mailers(settings, sources, mailers, backends)
    with _lock:
        _configured_core, _configured_backends, _configured_mailers = core, backends, mailers
        _cached, _cached_mailers = settings, specs
