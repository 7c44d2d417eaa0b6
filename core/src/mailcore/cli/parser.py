"""The argument parser: built-in subcommands plus those plugins add through entry points.

A plugin adds a subcommand with an entry point in the group ``mailcore.commands``, named
after the subcommand, that loads a function ``register(parser) -> handler``: it adds its
arguments to ``parser`` (an :class:`argparse.ArgumentParser`) and returns the function
that runs the subcommand with the parsed :class:`argparse.Namespace` and returns the exit
status.

Start-up stays fast because nothing is imported for a subcommand that is not run: the
list in ``mailcore --help`` comes from the entry points' metadata (name and distribution),
and only the chosen subcommand's module is imported and its ``register`` called. A plugin
command that fails to load says why when it is run, and does not affect the others.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, NoReturn

from mailcore.cli.errors import UsageError

__all__ = [
    "COMMANDS_GROUP",
    "CommandParser",
    "Handler",
    "PluginCommand",
    "add_plugin_commands",
    "command_error",
    "plugin_commands",
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
        #: The plugin commands that are listed but cannot run, by name, with the reason.
        self.broken: dict[str, PluginCommand] = {}

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
    """A subcommand from the ``mailcore.commands`` group; ``error`` says why it is broken,
    ``listed`` is false when its name is taken and it is left out of the command."""

    name: str
    target: str
    distribution: str | None
    error: str | None = None
    listed: bool = True

    @property
    def origin(self) -> str:
        """Where the command comes from, for messages: its distribution, or its target."""
        return f"from {self.distribution or self.target}"


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str | None:
    dist = entry_point.dist
    if dist is None:
        return None
    return f"{dist.metadata['Name']} {dist.version}"


def _broken_handler(command: PluginCommand) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        raise command_error(command)

    return handler


def command_error(command: PluginCommand) -> UsageError:
    """The error of running a plugin command that is broken."""
    source = f" (from {command.distribution})" if command.distribution else ""
    return UsageError(f"command {command.name!r}{source} failed to load: {command.error}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def plugin_commands(
    builtin: Collection[str],
) -> list[tuple[PluginCommand, importlib.metadata.EntryPoint]]:
    """Every entry point of :data:`COMMANDS_GROUP` by name, read without importing any; one
    whose name a built-in or an earlier plugin command has taken is not ``listed``."""
    found = []
    seen: set[str] = set()
    for entry_point in sorted(
        importlib.metadata.entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name
    ):
        name, dist = entry_point.name, _distribution(entry_point)
        command = PluginCommand(name, entry_point.value, dist)
        if name in builtin or name in seen:
            why = "built-in" if name in builtin else "another plugin's"
            error = f"its name is taken by a {why} command"
            command = PluginCommand(name, entry_point.value, dist, error, listed=False)
        seen.add(name)
        found.append((command, entry_point))
    return found


def _register(
    command: PluginCommand, entry_point: importlib.metadata.EntryPoint, sub: Any
) -> PluginCommand:
    """Import the command's module and let it add its arguments to ``sub``."""
    try:
        register: Register = entry_point.load()
        handler = register(sub)
        if not callable(handler):
            raise TypeError(f"register() returned {handler!r}, not a handler function")
    except Exception as exc:  # a broken plugin must not break the command
        broken = PluginCommand(command.name, command.target, command.distribution, _describe(exc))
        sub.set_defaults(handler=_broken_handler(broken), ignore_unknown_arguments=True)
        return broken
    sub.set_defaults(handler=handler)
    return command


def add_plugin_commands(
    subparsers: Any,
    builtin: Collection[str],
    common: list[argparse.ArgumentParser],
    load: Collection[str] | None = None,
) -> list[PluginCommand]:
    """Add one subparser per entry point of :data:`COMMANDS_GROUP`, listed with its
    distribution; import and register only those named in ``load`` (``None``: all).
    Return the commands, with the reason for each one that is broken."""
    commands: list[PluginCommand] = []
    for command, entry_point in plugin_commands(builtin):
        if not command.listed:
            commands.append(command)
            continue
        sub = subparsers.add_parser(
            command.name, help=f"({command.origin})", parents=common, conflict_handler="resolve"
        )
        if load is None or command.name in load:
            command = _register(command, entry_point, sub)
        commands.append(command)
    return commands
