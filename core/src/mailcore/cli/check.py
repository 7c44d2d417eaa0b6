"""``mailcore check``: show the effective settings and where each came from, then open and
close a connection with the backend."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mailcore.cli.common import add_backend_arguments, option_arguments
from mailcore.cli.errors import EXIT_FAILED, EXIT_OK, describe
from mailcore.cli.options import format_value, is_secret
from mailcore.cli.parser import Handler
from mailcore.cli.table import format_table
from mailcore.config_file import search_description
from mailcore.discovery import load_backend
from mailcore.settings import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    CoreSettings,
    Source,
    check_no_options,
    config_file,
    env_var_name,
    load_options,
)

__all__ = ["register", "settings_table"]

DESCRIPTION = """\
Show the effective settings of the core and of a backend with the source of each value
(argument, configure, environment, .env, toml, default), secrets masked, and which
configuration file was used; then open and close a
connection with the backend. The exit status is 0 only when both work.
"""


def register(parser: argparse.ArgumentParser) -> Handler:
    """Add the arguments of ``mailcore check`` to ``parser``; return its handler."""
    parser.description = DESCRIPTION
    add_backend_arguments(parser)
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


def settings_table(
    section: str | None, values: BaseModel, sources: dict[str, Source], path: Path | None
) -> str:
    """Setting, value (secrets masked) and source of every field of ``values``."""
    model = type(values)
    rows = []
    for field in model.model_fields:
        value: Any = getattr(values, field)
        shown = format_value(value, secret=value is not None and is_secret(model, field))
        source = _source_label(section, model, field, sources.get(field, "default"), path)
        rows.append([field, shown, source])
    return format_table(["setting", "value", "source"], rows, indent="  ")


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
    core_arguments = {"backend": args.backend} if args.backend else {}
    core, core_sources = load_options(None, CoreSettings, core_arguments)
    print("\nCore settings:")
    print(settings_table(None, core, core_sources, path))

    name = core.backend
    backend_class = load_backend(name)
    section = backend_class.name
    arguments = option_arguments(args)
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

    backend = backend_class(**arguments)
    try:
        found = backend.check()
    except Exception as exc:
        with contextlib.suppress(Exception):
            backend.close()
        if getattr(args, "debug", False):
            traceback.print_exception(exc, file=sys.stderr)
        print(
            f"mailcore: error: the {label} backend could not connect: {describe(exc)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if found is not None:
        print(f"\nConnection: {found}")
    else:
        print(f"\nConnection: the {label} backend has no connection to open; nothing to check.")
    return EXIT_OK
