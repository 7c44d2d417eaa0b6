"""The argument parser: built-in subcommands plus those plugins add through entry points.

A plugin adds a subcommand with an entry point in the group ``mailcore.commands``, named
after the subcommand, that loads a function ``register(parser) -> handler``: it adds its
arguments to ``parser`` (an :class:`argparse.ArgumentParser`) and returns the function
that runs the subcommand with the parsed :class:`argparse.Namespace` and returns the exit
status. A plugin command that fails to load is listed as broken and does not affect the
others.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from mailcore.cli.errors import UsageError

__all__ = [
    "COMMANDS_GROUP",
    "CommandParser",
    "Handler",
    "PluginCommand",
    "add_plugin_commands",
]

COMMANDS_GROUP = "mailcore.commands"

Handler = Callable[[argparse.Namespace], int]
Register = Callable[[argparse.ArgumentParser], Handler]


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose mistakes raise :class:`UsageError` (one line, exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The subcommands' parsers by name, set by whoever adds them.
        self.subcommands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("mailcore").strip()
        where = f"{command}: " if command else ""
        raise UsageError(f"{where}{message} (see '{self.prog} --help')")

    def parse_command_line(self, arguments: list[str]) -> argparse.Namespace:
        """Parse ``arguments``; an unknown argument is reported by its subcommand's parser."""
        args, unknown = self.parse_known_args(arguments)
        if unknown and not getattr(args, "ignore_unknown_arguments", False):
            command = getattr(args, "command", None)
            sub = self.subcommands.get(command) if command else None
            (sub or self).error(f"unrecognized arguments: {' '.join(unknown)}")
        return args


@dataclass(frozen=True, slots=True)
class PluginCommand:
    """A subcommand from the ``mailcore.commands`` group; ``error`` says why it is broken."""

    name: str
    target: str
    distribution: str | None
    error: str | None = None


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str | None:
    dist = entry_point.dist
    if dist is None:
        return None
    return f"{dist.metadata['Name']} {dist.version}"


def _broken_handler(command: PluginCommand) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        source = f" (from {command.distribution})" if command.distribution else ""
        raise UsageError(f"command {command.name!r}{source} failed to load: {command.error}")

    return handler


def _set_listed_help(subparsers: Any, name: str, text: str) -> None:
    """Change the one-line help shown for ``name`` in ``mailcore --help``."""
    for action in getattr(subparsers, "_choices_actions", []):
        if getattr(action, "dest", None) == name:
            action.help = text


def _first_sentence(text: str) -> str:
    """The first sentence of a description, for the one-line list in ``--help``."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0].rstrip(".")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def add_plugin_commands(
    subparsers: Any, builtin: set[str], common: list[argparse.ArgumentParser]
) -> list[PluginCommand]:
    """Add one subparser per entry point of :data:`COMMANDS_GROUP`; return them all."""
    commands: list[PluginCommand] = []
    entry_points = sorted(
        importlib.metadata.entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name
    )
    seen: set[str] = set()
    for entry_point in entry_points:
        name, dist = entry_point.name, _distribution(entry_point)
        if name in builtin or name in seen:
            why = "built-in" if name in builtin else "another plugin's"
            commands.append(
                PluginCommand(
                    name, entry_point.value, dist, f"its name is taken by a {why} command"
                )
            )
            continue
        seen.add(name)
        origin = f"from {dist}" if dist else f"from {entry_point.value}"
        try:
            register: Register = entry_point.load()
        except Exception as exc:  # a broken plugin must not break the command
            command = PluginCommand(name, entry_point.value, dist, _describe(exc))
            sub = subparsers.add_parser(
                name, help=f"[broken: {command.error}]", parents=common, conflict_handler="resolve"
            )
            sub.set_defaults(handler=_broken_handler(command), ignore_unknown_arguments=True)
            commands.append(command)
            continue
        sub = subparsers.add_parser(
            name, help=f"({origin})", parents=common, conflict_handler="resolve"
        )
        try:
            handler = register(sub)
            if not callable(handler):
                raise TypeError(f"register() returned {handler!r}, not a handler function")
        except Exception as exc:
            command = PluginCommand(name, entry_point.value, dist, _describe(exc))
            _set_listed_help(subparsers, name, f"[broken: {command.error}]")
            sub.set_defaults(handler=_broken_handler(command), ignore_unknown_arguments=True)
            commands.append(command)
            continue
        if sub.description:
            _set_listed_help(subparsers, name, f"{_first_sentence(sub.description)} ({origin})")
        sub.set_defaults(handler=handler)
        commands.append(PluginCommand(name, entry_point.value, dist))
    return commands
