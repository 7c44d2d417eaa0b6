"""Subcommands that plugins add through the ``mailcore.commands`` entry-point group."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli.command import run_mailcore
from tests.cli.test_backends import install_metadata_only

GREETER = '''
    """A third-party subcommand: ``mailcore greet NAME``."""

    import argparse
    import sys
    from collections.abc import Callable

    from mailcore.cli import UsageError

    print("greeter imported", file=sys.stderr)


    def register(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
        parser.description = "Greet someone by name."
        parser.add_argument("name")
        parser.add_argument("--shout", action="store_true")
        return greet


    def greet(args: argparse.Namespace) -> int:
        if args.name == "nobody":
            raise UsageError("greet: nobody cannot be greeted")
        text = f"Hello, {args.name}!"
        print(text.upper() if args.shout else text)
        return 0


    def register_badly(parser: argparse.ArgumentParser) -> None:
        raise RuntimeError("this plugin is half-written")
'''


WAVER = """
    import sys

    print("waver imported", file=sys.stderr)


    def register(parser):
        return lambda args: 0
"""


@pytest.fixture
def plugins(tmp_path: Path) -> dict[str, str]:
    """A site directory with a working command, one whose module is missing, one whose
    ``register`` raises, one named like a built-in, and one more that says when its
    module is imported; returns the environment that puts it on the path."""
    (tmp_path / "greeter.py").write_text(textwrap.dedent(GREETER))
    (tmp_path / "waver.py").write_text(textwrap.dedent(WAVER))
    install_metadata_only(
        tmp_path,
        "greeter-mail",
        """\
        [mailcore.commands]
        greet = greeter:register
        explode = greeter_gone.commands:register
        halfway = greeter:register_badly
        send = greeter:register
        wave = waver:register
        """,
    )
    return {"PYTHONPATH": str(tmp_path)}


def test_a_plugin_command_runs_with_its_own_arguments(plugins: dict[str, str]) -> None:
    done = run_mailcore("greet", "Ann", "--shout", env=plugins)

    # Only the chosen command's module was imported: waver.py would have said so.
    assert (done.status, done.stdout, done.stderr) == (0, "HELLO, ANN!\n", "greeter imported\n")


def test_a_plugin_command_mistake_is_one_line(plugins: dict[str, str]) -> None:
    done = run_mailcore("greet", "nobody", env=plugins)

    assert done.status == 2
    assert done.error_lines == [
        "greeter imported",
        "mailcore: error: greet: nobody cannot be greeted",
    ]


def test_help_lists_plugin_commands_without_importing_any(plugins: dict[str, str]) -> None:
    done = run_mailcore("--help", env=plugins)

    assert (done.status, done.stderr) == (0, "")  # neither greeter.py nor waver.py imported
    listing = " ".join(done.stdout.split())
    assert "greet (from greeter-mail 1.0)" in listing
    assert "wave (from greeter-mail 1.0)" in listing
    # Known broken only once run: listing them needs no import.
    assert "explode (from greeter-mail 1.0)" in listing
    assert "halfway (from greeter-mail 1.0)" in listing
    assert done.stdout.rstrip().endswith(
        "plugin commands left out:\n"
        "  send (from greeter-mail 1.0): its name is taken by a built-in command"
    )


def test_a_plugin_command_shows_its_own_help(plugins: dict[str, str]) -> None:
    done = run_mailcore("greet", "--help", env=plugins)

    assert (done.status, done.stderr) == (0, "greeter imported\n")
    assert done.stdout.startswith("usage: mailcore greet [-h] [--debug] [--shout] name\n")
    assert "Greet someone by name." in done.stdout


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["explode", "--anything"], "ModuleNotFoundError: No module named 'greeter_gone'"),
        (["explode", "--help"], "ModuleNotFoundError: No module named 'greeter_gone'"),
        (["--debug", "halfway"], "RuntimeError: this plugin is half-written"),
    ],
)
def test_a_broken_plugin_command_says_why_and_leaves_the_others_working(
    plugins: dict[str, str], arguments: list[str], error: str
) -> None:
    done = run_mailcore(*arguments, env=plugins)

    assert done.status == 2
    command = arguments[-1] if arguments[0] == "--debug" else arguments[0]
    assert done.error_lines[-1] == (
        f"mailcore: error: command {command!r} (from greeter-mail 1.0) failed to load: {error}"
    )
    assert "Traceback" not in done.stderr or "--debug" in arguments
    assert run_mailcore("greet", "Bob", env=plugins).stdout == "Hello, Bob!\n"
    assert run_mailcore("backends", env=plugins).status == 0


def test_the_built_in_command_keeps_a_name_a_plugin_also_claims(plugins: dict[str, str]) -> None:
    done = run_mailcore(
        "send", "--backend=locmem", "--to=a@example.com", "--subject=s", "--body=b", env=plugins
    )

    assert (done.status, done.stderr) == (0, ""), done
    assert done.stdout == "Sent 1 message through the locmem backend.\n"
