"""Locating and reading the TOML configuration file (standard library only, cheap to import)."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailcore.errors import ConfigurationError

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "check_no_options",
    "config_file",
    "read_config",
]

CONFIG_ENV_VAR = "MAILCORE_CONFIG"
DEFAULT_CONFIG_FILE = "mailcore.toml"


def config_file() -> Path | None:
    """The TOML file to read: ``$MAILCORE_CONFIG``, else ``./mailcore.toml`` if present."""
    named = os.environ.get(CONFIG_ENV_VAR)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_ENV_VAR} names {named!r}, which is not a file")
        return path
    path = Path(DEFAULT_CONFIG_FILE)
    return path if path.is_file() else None


#: The last file parsed, keyed by its path, modification time and size.
_parsed: tuple[tuple[Path, int, int], dict[str, Any]] | None = None


def read_config() -> tuple[Path | None, dict[str, Any]]:
    """The configuration file's path and parsed content (``None, {}`` when there is none).

    The file is parsed again only when its path, modification time or size changed, so
    every ``get_connection()`` sees edits without re-reading an unchanged file.
    """
    global _parsed
    path = config_file()
    if path is None:
        return None, {}
    try:
        stat = path.stat()
        key = (path.absolute(), stat.st_mtime_ns, stat.st_size)
        if _parsed is not None and _parsed[0] == key:
            return path, copy.deepcopy(_parsed[1])
        with path.open("rb") as fp:
            document = tomllib.load(fp)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read the configuration file {path}: {exc}") from None
    _parsed = (key, document)
    return path, copy.deepcopy(document)


def check_no_options(section: str | None, arguments: Mapping[str, Any]) -> None:
    """For a backend without options: refuse any argument or ``[section]`` TOML key."""
    label = "backend" if section is None else f"backend {section!r}"
    for name in arguments:
        raise ConfigurationError(f"unknown option {name!r} for {label} (it takes no options)")
    if section is None:
        return
    path, document = read_config()
    table = document.get(section, {})
    if table:
        name = next(iter(table)) if isinstance(table, dict) else section
        raise ConfigurationError(
            f"{path}: unknown setting {name!r} at [{section}] "
            f"(backend {section!r} takes no options)"
        )
