"""The ``mailcore`` command: ``send``, ``backends``, ``check``, ``demo`` and plugin commands.

Every mistake is one line on stderr (``mailcore: error: ...``) and a non-zero exit status:
2 for a mistake in the command or the configuration, 1 when the work itself failed (a
refused connection or message). ``--debug`` also prints the traceback. A warning (an
unknown ``MAILCORE_*`` environment variable) is one line, ``mailcore: warning: ...``,
given once; so is what mailcore logs at WARNING and up (a failed after-send hook). When
standard output is a pipe that the reader closed (``mailcore check | head -3``), the
command stops quietly with status 141, as a Unix tool stopped by SIGPIPE does.

Only the chosen subcommand's module is imported: ``mailcore --help`` lists the others from
:data:`BUILTIN_COMMANDS` and the plugins' entry-point metadata.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Collection, Sequence
from typing import TextIO

from mailcore.cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_USAGE,
    UsageError,
    log_to_stderr,
    report,
)
from mailcore.cli.parser import (
    COMMANDS_GROUP,
    CommandParser,
    Handler,
    add_plugin_commands,
    command_error,
)

__all__ = [
    "BUILTIN_COMMANDS",
    "COMMANDS_GROUP",
    "Handler",
    "UsageError",
    "build_parser",
    "chosen_command",
    "main",
]

#: The built-in subcommands: one-line summary, and the module whose ``register`` adds the
#: arguments (imported only when the subcommand is run or its help shown).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "send": ("send one message (or an .eml file) through a backend", "mailcore.cli.send"),
    "backends": ("list the installed backends and their options", "mailcore.cli.backends"),
    "check": (
        "show the settings and their sources, then try a connection",
        "mailcore.cli.check",
    ),
    "demo": ("send the guide's examples through the development backends", "mailcore.cli.demo"),
}

EPILOG = """\
Settings come from arguments, MAILCORE_* environment variables, a .env file and
mailcore.toml (or the file named by MAILCORE_CONFIG), first found wins.
Exit status: 0 success, 1 the work failed (connection, delivery), 2 a mistake in the
command or the configuration.
"""


def _version() -> str:
    import mailcore

    return f"mailcore {mailcore.__version__}"


def build_parser(load: Collection[str] | None = None) -> CommandParser:
    """The parser of the ``mailcore`` command, with the plugins' subcommands added.

    Every subcommand is listed; only those named in ``load`` (``None``: all of them, as
    the documentation needs) are imported and get their arguments.
    """
    common = CommandParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    parser = CommandParser(
        prog="mailcore",
        description="Send e-mail with mailcore and inspect its configuration.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name, (summary, module) in BUILTIN_COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, parents=[common])
        if load is None or name in load:
            sub.set_defaults(handler=importlib.import_module(module).register(sub))
    plugins = add_plugin_commands(subparsers, BUILTIN_COMMANDS, [common], load)
    parser.broken = {c.name: c for c in plugins if c.error and c.listed}
    hidden = [command for command in plugins if not command.listed]
    if hidden:
        lines = ["plugin commands left out:"]
        lines += [f"  {c.name} ({c.origin}): {c.error}" for c in hidden]
        parser.epilog = EPILOG + "\n" + "\n".join(lines)
    parser.subcommands = dict(subparsers.choices)
    return parser


def chosen_command(arguments: Sequence[str]) -> str | None:
    """The subcommand named in ``arguments``: the first one that is not an option (the
    command's own options, ``--debug`` and ``--version``, take no value)."""
    for index, argument in enumerate(arguments):
        if argument == "--":
            return arguments[index + 1] if index + 1 < len(arguments) else None
        if not argument.startswith("-") or argument == "-":
            return argument
    return None


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):
        return False
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _quiet_stdout() -> None:
    """Send what is left to write on standard output nowhere, so that Python's own flush
    at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _run(arguments: list[str]) -> int:
    chosen = chosen_command(arguments)
    parser = build_parser(load=[chosen] if chosen else [])
    if chosen in parser.broken:
        raise command_error(parser.broken[chosen])
    args = parser.parse_command_line(arguments)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    return handler(args)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line, ``mailcore: warning: ...``, on stderr."""
    text = " ".join(str(message).split()).removeprefix("mailcore: ")
    print(f"mailcore: warning: {text}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # each warning once (the settings warn once too)
        warnings.showwarning = _show_warning
        arguments = list(sys.argv[1:] if argv is None else argv)
        handler = log_to_stderr("--debug" in arguments)
        try:
            return _main(arguments)
        finally:
            logging.getLogger("mailcore").removeHandler(handler)


def _main(arguments: list[str]) -> int:
    debug = "--debug" in arguments
    try:
        try:
            status = _run(arguments)
        finally:
            sys.stdout.flush()  # here, where a closed pipe is seen, not at exit
        return status
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print("mailcore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError as exc:
        if _stdout_closed():
            _quiet_stdout()
            return EXIT_PIPE_CLOSED
        return report(exc, debug)
    except Exception as exc:
        return report(exc, debug)
