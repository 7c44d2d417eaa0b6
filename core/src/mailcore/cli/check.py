"""``mailcore check``: show the effective settings and where each came from (every named
mailer too), then open and close a connection with the backend, or with ``--using ALIAS``
the named mailer's."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mailcore import hooks
from mailcore.backend import CORE_FALLBACKS, BaseEmailBackend
from mailcore.cli.common import add_backend_arguments, option_arguments, refuse_argument_only
from mailcore.cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    describe,
    exit_status,
    report,
)
from mailcore.cli.options import format_value, is_secret
from mailcore.cli.parser import Handler
from mailcore.cli.table import format_table
from mailcore.config_file import search_description
from mailcore.discovery import load_backend
from mailcore.errors import ConfigurationError, MailersFailedError
from mailcore.settings import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    CoreSettings,
    MailerSpec,
    SendPolicy,
    Source,
    check_no_options,
    config_file,
    env_var_name,
    get_mailers,
    load_options,
)
from mailcore.urls import mask_url

__all__ = ["register", "settings_table"]

DESCRIPTION = """\
Show the effective settings of the core and of a backend with the source of each value
(argument, configure, environment, .env, toml, default), secrets masked, and which
configuration file was used, and every named mailer with its backend, options and their
sources; then open and close a connection with the backend (the default mailer's, or with
--using ALIAS that mailer's). The exit status is 0 only when both work.
"""


def register(parser: argparse.ArgumentParser) -> Handler:
    """Add the arguments of ``mailcore check`` to ``parser``; return its handler."""
    parser.description = DESCRIPTION
    add_backend_arguments(parser)
    parser.add_argument(
        "--using",
        metavar="ALIAS",
        help="check the named mailer ALIAS (default: the default mailer)",
    )
    return run


def _source_label(
    section: str | None, model: type[BaseModel], field: str, source: Source, path: Path | None
) -> str:
    if source == "environment":
        return f"environment ({env_var_name(section, field, model)})"
    if source == ".env":
        return f".env ({env_var_name(section, field, model)})"
    if source == "toml":
        return f"toml ({path})"
    return source


def _mailer_label(spec: MailerSpec, source: Source, path: Path | None) -> str:
    variable = f"MAILCORE_MAILERS_{spec.alias.upper()}"
    if source == "environment":
        return f"environment ({variable})"
    if source == ".env":
        return f".env ({variable})"
    if source == "toml":
        return f"toml ({path} [mailers.{spec.alias}])"
    return source


def _masked(value: Any) -> Any:
    """Connection URLs (a composite mailer's ``mailers``) without their passwords."""
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def settings_table(
    section: str | None,
    values: BaseModel,
    sources: dict[str, Source],
    path: Path | None,
    spec: MailerSpec | None = None,
) -> str:
    """Setting, value (secrets masked) and source of every field of ``values``."""
    model = type(values)
    rows = []
    for field in model.model_fields:
        value: Any = _masked(getattr(values, field))
        shown = format_value(value, secret=value is not None and is_secret(model, field))
        source = sources.get(field, "default")
        if spec is not None and not spec.legacy:
            label = _mailer_label(spec, source, path)
        else:
            label = _source_label(section, model, field, source, path)
        fallback = _core_fallback(field, path) if section and value is None else None
        if fallback is not None:  # unset here: the core setting is in force
            shown, label = format_value(fallback[0], secret=True), fallback[1]
        stands_for = getattr(model, "unset_means", {}).get(field)
        if value is None and stands_for is not None:  # unset: another option's value
            shown, label = format_value(getattr(values, stands_for)), f"unset: as {stands_for}"
        rows.append([field, shown, label])
    return format_table(["setting", "value", "source"], rows, indent="  ")


def _core_fallback(field: str, path: Path | None) -> tuple[Any, str] | None:
    """The core setting a backend option left unset takes (``dkim``), with its source."""
    if field not in CORE_FALLBACKS:
        return None
    core, sources = load_options(None, CoreSettings)
    value = getattr(core, field)
    if value is None:
        return None
    source = _source_label(None, CoreSettings, field, sources.get(field, "default"), path)
    return value, f"core setting {field!r}: {source}"


def _config_line(path: Path | None) -> str:
    if path is not None:
        return f"Configuration file: {path}"
    if os.environ.get(CONFIG_ENV_VAR):
        return f"Configuration file: {os.environ[CONFIG_ENV_VAR]}"
    return (
        f"Configuration file: none (no {DEFAULT_CONFIG_FILE} {search_description()}; "
        f"{CONFIG_ENV_VAR} not set)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the settings, then the backend's own check (``BaseEmailBackend.check()``,
    which by default opens and closes a connection); 0 only when both work."""
    path = config_file()
    print(_config_line(path))
    using = getattr(args, "using", None)
    if using and args.backend:
        raise UsageError("give --backend or --using, not both")
    core_arguments = {"backend": args.backend} if args.backend else {}
    core, core_sources = load_options(None, CoreSettings, core_arguments)
    print("\nCore settings:")
    print(settings_table(None, core, core_sources, path))
    specs = get_mailers()
    _warn_staging(core, specs, using)
    if using or (not args.backend and any(not s.legacy for s in specs.values())):
        return _run_mailers(args, specs, using or core.default_mailer, path)

    name = core.backend
    backend_class = load_backend(name)
    section = backend_class.name
    arguments = option_arguments(args)
    refuse_argument_only(backend_class, arguments)
    model = backend_class.options_model
    label = section or name
    print(f"\nBackend {label} ({backend_class.__module__}:{backend_class.__qualname__}):")
    if model is not None and model.model_fields:
        values, sources = load_options(section, model, arguments)
        print(settings_table(section, values, sources, path))
    else:
        check_no_options(section, arguments)
        print("  (no options)")
    sys.stdout.flush()

    return _check_backend(args, backend_class(**arguments), label)


def _warn_staging(core: CoreSettings, specs: dict[str, MailerSpec], using: str | None) -> None:
    """Say loudly, on stderr, where a staging override keeps mail from its recipients:
    that of the mailer ``using`` names, else of every mailer (the top-level one only when
    a mailer does not replace it with its own, ``[]`` included)."""
    checked = {alias: spec for alias, spec in specs.items() if using in (None, alias)}

    def inherited(name: str) -> list[str]:
        top: list[str] = getattr(core, name)
        mailers = [spec.policy for spec in checked.values()]
        return top if any(getattr(p, name, None) is None for p in mailers or [None]) else []

    found: list[tuple[str, SendPolicy]] = [
        (
            "top-level settings",
            SendPolicy.model_construct(
                always_to=inherited("always_to"),
                allowed_recipients=inherited("allowed_recipients"),
            ),
        )
    ]
    found += [(f"mailer {a!r}", s.policy) for a, s in checked.items() if s.policy is not None]
    for where, policy in found:
        if policy.always_to:
            print(
                f"mailcore: WARNING: staging override ({where}): always_to sends every message "
                f"only to {', '.join(policy.always_to)}, never to its own recipients",
                file=sys.stderr,
            )
        if policy.allowed_recipients:
            print(
                f"mailcore: WARNING: staging override ({where}): allowed_recipients drops "
                f"every recipient not matching {', '.join(policy.allowed_recipients)}",
                file=sys.stderr,
            )


def _run_mailers(
    args: argparse.Namespace, specs: dict[str, MailerSpec], using: str, path: Path | None
) -> int:
    """Print every named mailer, then check the one ``using`` names."""
    from mailcore.registry import mailers

    arguments = option_arguments(args)
    if using not in specs:
        mailers.create(using)  # raises MailerDoesNotExist, listing the aliases
    for alias, spec in specs.items():
        try:
            backend = mailers.create(alias, **(arguments if alias == using else {}))
        except ConfigurationError as exc:
            if alias == using:
                raise
            print(f"\nMailer {alias!r}: backend {spec.backend}: invalid: {describe(exc)}")
            continue
        cls = type(backend)
        what = " (the backend setting and its table)" if spec.legacy else ""
        chosen = "  <- checked" if alias == using else ""
        print(
            f"\nMailer {alias!r}: backend {spec.backend} "
            f"({cls.__module__}:{cls.__qualname__}){what}{chosen}"
        )
        if backend.options is not None and type(backend.options).model_fields:
            section = cls.name
            print(settings_table(section, backend.options, backend.option_sources, path, spec))
        else:
            print("  (no options)")
    sys.stdout.flush()
    backend = mailers.create(using, **arguments)
    refuse_argument_only(type(backend), arguments)
    return _check_backend(args, backend, f"{using!r} mailer's")


def _check_backend(args: argparse.Namespace, backend: BaseEmailBackend, label: str) -> int:
    """Run ``backend.check()``; print what it found, or one error line: exit 1 when the
    connection failed, 2 for a mistake in the configuration (a missing SES region), as
    ``mailcore send`` does. The hooks a send through it would run are loaded first
    (installed distributions' entry points included): one that fails is exit 2."""
    hooks.chain_for(backend)
    try:
        found = backend.check()
    except Exception as exc:
        with contextlib.suppress(Exception):
            backend.close()
        if exit_status(exc) == EXIT_USAGE:
            return report(exc, getattr(args, "debug", False))
        if getattr(args, "debug", False):
            traceback.print_exception(exc, file=sys.stderr)
        if isinstance(exc, MailersFailedError):  # a composite: one line per mailer
            first, *lines = str(exc).splitlines()
            print(f"mailcore: error: the {label} backend: {first}", file=sys.stderr)
            for line in lines:
                print(f"  {line}", file=sys.stderr)
            return EXIT_FAILED
        print(
            f"mailcore: error: the {label} backend could not connect: {describe(exc)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if found is not None:
        first, *lines = found.splitlines() or [""]
        print(f"\nConnection: {first}")
        for line in lines:
            print(f"  {line}")
    else:
        print(f"\nConnection: the {label} backend has no connection to open; nothing to check.")
    return EXIT_OK
