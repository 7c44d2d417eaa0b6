"""Arguments shared by the subcommands that talk to a backend: ``--backend`` and ``-o``."""

from __future__ import annotations

import argparse
import json
import os
import stat
from collections.abc import Mapping
from typing import Any

from mailcore.cli.errors import UsageError

__all__ = [
    "add_backend_arguments",
    "check_file",
    "option_arguments",
    "read_text_file",
    "refuse_argument_only",
]


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend NAME`` and repeatable ``-o/--option NAME=VALUE`` to ``parser``."""
    parser.add_argument(
        "--backend",
        metavar="NAME",
        help="backend short name or import path (default: the 'backend' setting)",
    )
    parser.add_argument(
        "-o",
        "--option",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a backend option, as given to get_connection() (repeatable); "
        "prefer environment variables for secrets",
    )


def _parse_value(text: str) -> Any:
    """JSON lists and objects are decoded; anything else stays a string for pydantic."""
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return text


def option_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The ``-o NAME=VALUE`` arguments as keyword arguments for ``get_connection()``."""
    options: dict[str, Any] = {}
    for item in args.option:
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"-o/--option expects NAME=VALUE, not {item!r}")
        if name in options:
            raise UsageError(f"option {name!r} is given twice")
        options[name] = _parse_value(value)
    return options


def refuse_argument_only(backend_class: type[Any], options: Mapping[str, Any]) -> None:
    """Refuse a ``-o NAME=VALUE`` that names an argument-only parameter of the backend
    (console's ``stream``, a Python object): it cannot be given on the command line."""
    from mailcore.options import argument_only_names

    for name in argument_only_names(backend_class):
        if name in options:
            label = getattr(backend_class, "name", None) or backend_class.__name__
            raise UsageError(
                f"-o {name}: {name!r} of the {label} backend is an argument for Python code "
                "only (get_connection(..., " + name + "=...)); it cannot be set from the "
                "command line"
            )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def check_file(path: str, what: str, *, pipes: bool = True) -> None:
    """Refuse what is no regular file (nor a pipe, when ``pipes``: ``<(command)`` ends):
    a device such as ``/dev/zero`` would be read forever, a directory not at all.
    ``/dev/null`` (empty at once) is allowed."""
    try:
        found = os.stat(path)
        empty = os.stat(os.devnull)
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    mode = found.st_mode
    if stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode)):
        return
    if (found.st_dev, found.st_ino, found.st_rdev) == (empty.st_dev, empty.st_ino, empty.st_rdev):
        return
    wanted = "a regular file or a pipe" if pipes else "a regular file"
    raise UsageError(f"{what}: {path!r} is {_kind(mode)}: give {wanted}")


def read_text_file(path: str, what: str) -> str:
    """Read a UTF-8 text file (``-`` is standard input); a problem is a :class:`UsageError`."""
    import sys

    if path != "-":
        check_file(path, what)
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fp:
                data = fp.read()
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what}: {path!r} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
