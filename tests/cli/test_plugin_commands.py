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
    from collections.abc import Callable

    from mailcore.cli import UsageError


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


@pytest.fixture
def plugins(tmp_path: Path) -> dict[str, str]:
    """A site directory with a working command, one whose module is missing, and one
    whose ``register`` raises; returns the environment that puts it on the path."""
    (tmp_path / "greeter.py").write_text(textwrap.dedent(GREETER))
    install_metadata_only(
        tmp_path,
        "greeter-mail",
        """\
        [mailcore.commands]
        greet = greeter:register
        explode = greeter_gone.commands:register
        halfway = greeter:register_badly
        """,
    )
    return {"PYTHONPATH": str(tmp_path)}


def test_a_plugin_command_runs_with_its_own_arguments(plugins: dict[str, str]) -> None:
    done = run_mailcore("greet", "Ann", "--shout", env=plugins)

    assert (done.status, done.stdout, done.stderr) == (0, "HELLO, ANN!\n", "")


def test_a_plugin_command_mistake_is_one_line(plugins: dict[str, str]) -> None:
    done = run_mailcore("greet", "nobody", env=plugins)

    assert done.status == 2
    assert done.error_lines == ["mailcore: error: greet: nobody cannot be greeted"]


def test_help_lists_plugin_commands_and_says_which_are_broken(plugins: dict[str, str]) -> None:
    done = run_mailcore("--help", env=plugins)

    assert done.status == 0, done
    listing = " ".join(done.stdout.split())
    assert "greet Greet someone by name (from greeter-mail 1.0)" in listing
    assert "explode [broken: ModuleNotFoundError: No module named 'greeter_gone']" in listing
    assert "halfway [broken: RuntimeError: this plugin is half-written]" in listing
    assert "plugin commands that failed to load:" in done.stdout


def test_a_broken_plugin_command_says_why_and_leaves_the_others_working(
    plugins: dict[str, str],
) -> None:
    done = run_mailcore("explode", "--anything", env=plugins)

    assert done.status == 2
    assert done.error_lines == [
        "mailcore: error: command 'explode' (from greeter-mail 1.0) failed to load: "
        "ModuleNotFoundError: No module named 'greeter_gone'"
    ]
    assert run_mailcore("greet", "Bob", env=plugins).stdout == "Hello, Bob!\n"
    assert run_mailcore("backends", env=plugins).status == 0
