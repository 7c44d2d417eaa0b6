"""MkDocs hook: replace ``<!-- mailcore:... -->`` markers with text generated from the code.

- ``<!-- mailcore:options NAME -->``: the options table of backend NAME, from its pydantic
  options model (name, type, default, environment variable, TOML key, description), plus
  its constructor-only arguments (the console backend's ``stream``).
- ``<!-- mailcore:settings -->``: the core settings table, from ``CoreSettings``.
- ``<!-- mailcore:backends -->``: the installed backends and their distributions.
- ``<!-- mailcore:help COMMAND -->``: ``mailcore COMMAND --help``, as the command prints it
  (``<!-- mailcore:help -->`` for ``mailcore --help``).

A marker naming a backend or command that is not installed fails the build, so the pages
cannot describe something that does not exist. Used by ``mkdocs.yml`` (``hooks:``);
the functions are also imported by the tests.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from mailcore.cli import build_parser
from mailcore.cli.options import (
    OptionInfo,
    argument_only_parameters,
    core_settings,
    describe_options,
)
from mailcore.discovery import installed_backends, load_backend

__all__ = [
    "MARKER",
    "backends_table",
    "command_help",
    "expand",
    "on_page_markdown",
    "options_table",
    "settings_table",
]

MARKER = re.compile(r"<!--\s*mailcore:([a-z-]+)(?:\s+([^\s>]+))?\s*-->")
DOCS = Path(__file__).resolve().parents[1]
HELP_WIDTH = 88


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if "`" not in text else text


def _markdown(text: str) -> str:
    """A docstring phrase as markdown: ``x`` becomes `x`, the first letter a capital."""
    text = re.sub(r":\w+:`~([\w.]+\.)?(\w+)`", r"`\2`", text)  # :class:`~a.B` -> `B`
    text = re.sub(r":\w+:`([^`]+)`", r"`\1`", text)
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    return text[:1].upper() + text[1:]


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _rows(options: list[OptionInfo], with_toml: bool) -> list[list[str]]:
    rows = []
    for option in options:
        row = [_code(option.name), _code(option.type), _code(option.default)]
        row.append(_code(option.env_var))
        if with_toml:
            row.append(_code(option.toml_key))
        description = _markdown(option.description)
        if option.secret and "secret" not in description.lower():
            description = (description + " " if description else "") + "Secret: never shown."
        row.append(_cell(description))
        rows.append(row)
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def options_table(name: str) -> str:
    """The options table of backend ``name`` (markdown)."""
    try:
        backend_class = load_backend(name)
    except Exception as exc:
        raise PluginError(f"mailcore:options {name}: {exc}") from exc
    model = backend_class.options_model
    parts = []
    if model is not None and model.model_fields:
        header = ["option", "type", "default", "environment variable", "description"]
        rows = _rows(describe_options(name, model), False)
        parts.append(_table(header, rows))
        parts.append(
            f"In `mailcore.toml`, these options go in the `[{name}]` table; in code, "
            f'`mailcore.configure({name}={{...}})` or `get_connection("{name}", ...)`.'
        )
    else:
        parts.append(f"The `{name}` backend has no settings.")
    for argument in argument_only_parameters(backend_class):
        parts.append(
            f"`{argument.name}` (`{argument.type}`, default `{argument.default}`) is a "
            f'constructor argument only: `get_connection("{name}", {argument.name}=...)`. '
            "It is not a setting: no environment variable or TOML key reads it."
        )
    return "\n\n".join(parts)


def settings_table() -> str:
    """The core settings table (markdown)."""
    header = ["setting", "type", "default", "environment variable", "TOML key", "description"]
    return _table(header, _rows(core_settings(), True))


def backends_table() -> str:
    """The installed backends (markdown), each linked to its page when it has one."""
    rows = []
    for info in installed_backends():
        if info.backend_class is None:
            raise PluginError(f"mailcore:backends: {info.name} failed to load: {info.error}")
        page = DOCS / "backends" / f"{info.name}.md"
        name = f"[`{info.name}`]({page.name})" if page.is_file() else f"`{info.name}`"
        summary = (inspect.getdoc(info.backend_class) or "").split("\n\n")[0]
        what = _markdown(" ".join(summary.split()))
        rows.append([name, _code(info.distribution or ""), _code(info.target), what])
    return _table(["backend", "distribution", "class", "what it does"], rows)


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def command_help(command: str | None) -> str:
    """``mailcore [COMMAND] --help`` as a fenced text block."""
    with _columns(HELP_WIDTH):
        parser = build_parser()
        target = parser if command is None else parser.subcommands.get(command)
        if target is None:
            raise PluginError(f"mailcore:help {command}: no such command is installed")
        buffer = io.StringIO()
        target.print_help(buffer)
    return "```text\n" + buffer.getvalue().rstrip() + "\n```"


def _expand_one(match: re.Match[str]) -> str:
    kind, argument = match.group(1), match.group(2)
    if kind == "options" and argument:
        return options_table(argument)
    if kind == "settings" and not argument:
        return settings_table()
    if kind == "backends" and not argument:
        return backends_table()
    if kind == "help":
        return command_help(argument)
    raise PluginError(f"unknown marker {match.group(0)!r}")


def expand(markdown: str) -> str:
    """``markdown`` with every marker replaced by its generated text."""
    return MARKER.sub(_expand_one, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: expand the markers of each page."""
    try:
        return expand(markdown)
    except PluginError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from exc
