"""The ``mailcore`` command: ``send``, ``backends``, ``check``, ``demo`` and plugin commands.

Every mistake is one line on stderr (``mailcore: error: ...``) and a non-zero exit status:
2 for a mistake in the command or the configuration, 1 when the work itself failed (a
refused connection or message). ``--debug`` also prints the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from mailcore.cli import backends, check, demo, send
from mailcore.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, report
from mailcore.cli.parser import COMMANDS_GROUP, CommandParser, Handler, add_plugin_commands

__all__ = ["COMMANDS_GROUP", "Handler", "UsageError", "build_parser", "main"]

BUILTIN_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], Handler]]] = {
    "send": ("send one message (or an .eml file) through a backend", send.register),
    "backends": ("list the installed backends and their options", backends.register),
    "check": ("show the settings and their sources, then try a connection", check.register),
    "demo": ("send the guide's examples through the development backends", demo.register),
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


def build_parser() -> CommandParser:
    """The parser of the ``mailcore`` command, with the plugins' subcommands added."""
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
    for name, (summary, register) in BUILTIN_COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, parents=[common])
        sub.set_defaults(handler=register(sub))
    plugins = add_plugin_commands(subparsers, set(BUILTIN_COMMANDS), [common])
    broken = [command for command in plugins if command.error]
    if broken:
        lines = ["plugin commands that failed to load:"]
        for command in broken:
            origin = command.distribution or command.target
            lines.append(f"  {command.name} ({origin}): {command.error}")
        parser.epilog = EPILOG + "\n" + "\n".join(lines)
    parser.subcommands = dict(subparsers.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    try:
        parser = build_parser()
        args = parser.parse_command_line(arguments)
        debug = bool(getattr(args, "debug", False))
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_USAGE
        return handler(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print("mailcore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return report(exc, debug)
