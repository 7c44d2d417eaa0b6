"""The command imports only what the chosen subcommand uses (issue 10, item 17).

Not timed (``make bench`` times it): each test runs the command's entry point in a fresh
Python process, as the ``mailcore`` script does, and reads ``sys.modules`` when it is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: The ``mailcore`` script's work, then the names in ``sys.modules`` written to a file.
CHILD = """\
import json, sys
from mailcore.cli import main
status = main(sys.argv[2:])
sys.stdout.flush()
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(status)
"""


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """The modules a ``mailcore ARGS`` process has imported at its end (status 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    report = cwd.parent / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(report), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(report.read_text()))
    assert {"mailcore", "mailcore.cli"} <= modules
    return modules


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


#: Plugin modules, their heavy dependencies, and what settings need.
NOT_FOR_HELP = {
    "pydantic",
    "pydantic_settings",
    "stevedore",
    "boto3",
    "botocore",
    "aiosmtpd",
    "mailcore_smtp",
    "mailcore_ses",
    "mailcore_console",
    "mailcore_file",
}
OTHER_SUBCOMMANDS = {"mailcore.cli.backends", "mailcore.cli.check", "mailcore.cli.demo"}


def test_help_imports_no_settings_no_stevedore_and_no_plugin(workdir: Path) -> None:
    modules = imported_modules("--help", cwd=workdir)

    assert top_level(modules) & NOT_FOR_HELP == set()
    assert modules & {*OTHER_SUBCOMMANDS, "mailcore.cli.send", "mailcore.cli.options"} == set()


def test_send_help_imports_the_send_module_only(workdir: Path) -> None:
    modules = imported_modules("send", "--help", cwd=workdir)

    assert "mailcore.cli.send" in modules
    assert modules & OTHER_SUBCOMMANDS == set()
    assert top_level(modules) & NOT_FOR_HELP == set()


def test_send_imports_its_backend_and_not_the_others(workdir: Path) -> None:
    modules = imported_modules(
        "send", "--backend=console", "--to=bob@example.com", "--subject=Hi", "--body=.", cwd=workdir
    )

    assert "mailcore_console" in top_level(modules)
    unused = {"mailcore_smtp", "mailcore_ses", "mailcore_file", "boto3", "botocore", "aiosmtpd"}
    assert top_level(modules) & unused == set()
    assert modules & {*OTHER_SUBCOMMANDS, "mailcore.cli.options"} == set()


def test_backends_loads_every_backend_but_not_boto3(workdir: Path) -> None:
    modules = imported_modules("backends", cwd=workdir)

    assert {"mailcore_ses", "mailcore_smtp", "mailcore_console"} <= top_level(modules)
    assert "boto3" not in top_level(modules)
    assert modules & {"mailcore.cli.send", "mailcore.cli.check", "mailcore.cli.demo"} == set()


@pytest.mark.parametrize(
    ("arguments", "chosen"),
    [
        (["--help"], None),
        ([], None),
        (["send", "--to", "x"], "send"),
        (["--debug", "check", "--backend", "smtp"], "check"),
        (["--", "backends"], "backends"),
        (["-", "backends"], "-"),
        (["--version"], None),
    ],
)
def test_the_chosen_subcommand_is_the_first_argument_that_is_not_an_option(
    arguments: list[str], chosen: str | None
) -> None:
    from mailcore.cli import chosen_command

    assert chosen_command(arguments) == chosen
