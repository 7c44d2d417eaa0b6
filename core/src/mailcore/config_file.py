"""Locating and reading the TOML configuration file (standard library only, cheap to import)."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from mailcore.errors import ConfigurationError

__all__ = [
    "CONFIG_ENV_VAR",
    "CREDENTIALS",
    "DEFAULT_CONFIG_FILE",
    "ROOT_MARKERS",
    "check_no_options",
    "config_file",
    "read_config",
    "search_description",
    "suggest",
    "without_credentials",
]

CONFIG_ENV_VAR = "MAILCORE_CONFIG"
DEFAULT_CONFIG_FILE = "mailcore.toml"
#: A folder holding one of these is a project's root: the search for the file stops there.
ROOT_MARKERS = (".git", "pyproject.toml")
#: Options a backend without credentials accepts as arguments and ignores (as Django's do).
CREDENTIALS = ("username", "password")


def _project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return None


def config_file() -> Path | None:
    """The TOML file to read: the file named by ``$MAILCORE_CONFIG``; else the first
    ``mailcore.toml`` found from the working directory upwards, up to and including the
    first folder holding ``.git`` or ``pyproject.toml`` (a project's root); else ``None``.

    A file in the working directory is returned as the relative ``mailcore.toml``.
    """
    named = os.environ.get(CONFIG_ENV_VAR)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_ENV_VAR} names {named!r}, which is not a file")
        return path
    start = Path.cwd()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG_FILE
        if candidate.is_file():
            return Path(DEFAULT_CONFIG_FILE) if folder == start else candidate
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return None
    return None


def search_description() -> str:
    """Where :func:`config_file` looked, for a person: ``"in /app/src or its parents up to
    /app, which holds .git or pyproject.toml"``."""
    start = Path.cwd()
    root = _project_root(start)
    if root == start:
        return f"in {start}, a project's root, holding .git or pyproject.toml"
    if root is None:
        return f"in {start} or any folder above it, none holding .git or pyproject.toml"
    return f"in {start} or its parents up to {root}, which holds .git or pyproject.toml"


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
    problem = None
    try:
        stat = path.stat()
        key = (path.absolute(), stat.st_mtime_ns, stat.st_size)
        if _parsed is not None and _parsed[0] == key:
            return path, copy.deepcopy(_parsed[1])
        with path.open("rb") as fp:
            document = tomllib.load(fp)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problem = str(exc)
    if problem is not None:  # raised outside the handler: no context holding the text
        raise ConfigurationError(f"cannot read the configuration file {path}: {problem}")
    _parsed = (key, document)
    return path, copy.deepcopy(document)


def suggest(
    name: str,
    candidates: Iterable[str],
    what: str,
    otherwise: str = "",
    prefix: str = "",
    cutoff: float = 0.6,
) -> str:
    """``", did you mean 'host'?"`` for the candidate closest to ``name``; else
    ``otherwise`` or the list of candidates: ``" (options: host, port)"``. A ``prefix``
    that all share (``MAILCORE_``) is left out of the comparison; ``cutoff`` is how close
    (difflib's ratio) a candidate must be."""
    import difflib  # deferred: only a mistake needs it

    known = sorted(set(candidates))
    stripped = {c.removeprefix(prefix): c for c in known}
    close = difflib.get_close_matches(name.removeprefix(prefix), stripped, n=1, cutoff=cutoff)
    if close:
        return f", did you mean {stripped[close[0]]!r}?"
    return otherwise or f" ({what}: {', '.join(known) or 'none'})"


def without_credentials(arguments: Mapping[str, Any], fields: Collection[str]) -> dict[str, Any]:
    """``arguments`` without the :data:`CREDENTIALS` that ``fields`` (a backend's options)
    lack: code written for SMTP passes them to every backend."""
    return {k: v for k, v in arguments.items() if k in fields or k not in CREDENTIALS}


def check_no_options(
    section: str | None,
    arguments: Mapping[str, Any],
    configured: Mapping[str, Any] | None = None,
) -> None:
    """For a backend without options: refuse any argument (but credentials, ignored), any
    ``configure()`` option, any key of its ``[section]`` TOML table and any
    ``MAILCORE_<SECTION>_*`` variable in ``.env`` (one in the environment: a warning), as
    for a backend with options (:func:`mailcore.settings.check_variables`)."""
    label = "backend" if section is None else f"backend {section!r}"
    for name in [*without_credentials(arguments, ()), *(configured or {})]:
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
    prefix = f"MAILCORE_{section.upper()}_"
    if Path(".env").is_file() or any(name.upper().startswith(prefix) for name in os.environ):
        from mailcore.settings import check_variables  # deferred: it imports pydantic

        check_variables(section)
