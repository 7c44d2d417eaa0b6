"""Arguments shared by the subcommands that talk to a backend: ``--backend`` and ``-o``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mailcore.cli.errors import UsageError

__all__ = ["add_backend_arguments", "option_arguments", "read_text_file"]


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


def read_text_file(path: str, what: str) -> str:
    """Read a UTF-8 text file (``-`` is standard input); a problem is a :class:`UsageError`."""
    import sys

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
