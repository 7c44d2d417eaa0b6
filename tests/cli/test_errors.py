"""Every mistake is one line on stderr and a non-zero exit, without a traceback;
``--debug`` adds the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.command import closed_port, run_mailcore

SEND = ["send", "--to=ann@example.com", "--subject=Hi", "--body=Hello"]

#: (arguments, status, the error line after "mailcore: error: ")
MISTAKES = {
    "unknown backend": (
        [*SEND, "--backend=carrier-pigeon"],
        2,
        "no mailcore backend named 'carrier-pigeon' is installed (installed backends: ",
    ),
    "backend not installed but known": (
        [*SEND, "--backend=mailcore_missing.backend:Backend"],
        2,
        "cannot import backend module 'mailcore_missing.backend'",
    ),
    "unknown option": (
        [*SEND, "--backend=file", "-o", "file_path=out", "-o", "colour=blue"],
        2,
        "unknown option 'colour' for backend 'file'",
    ),
    "invalid option value": (
        [*SEND, "--backend=smtp", "-o", "port=twenty-five"],
        2,
        "invalid setting 'smtp.port'",
    ),
    "option without a value": (
        [*SEND, "--backend=file", "-o", "file_path"],
        2,
        "-o/--option expects NAME=VALUE, not 'file_path'",
    ),
    "unreadable body file": (
        ["send", "--to=ann@example.com", "--subject=Hi", "--body-file=missing.txt"],
        2,
        "--body-file: cannot read 'missing.txt': No such file or directory",
    ),
    "unreadable attachment": (
        [*SEND, "--backend=locmem", "--attach=nowhere.pdf"],
        2,
        "--attach: cannot read 'nowhere.pdf': No such file or directory",
    ),
    "invalid address": (
        ["send", "--to=ann at example dot com", "--subject=Hi", "--body=Hello"],
        2,
        "--to: 'ann at example dot com' is not an e-mail address",
    ),
    "header injection": (
        ["send", "--backend=locmem", "--to=ann@example.com", "--subject=Hi\nBcc: all@example.com"],
        2,
        "header 'Subject' contains a newline",
    ),
    "no recipient": (
        ["send", "--backend=locmem", "--subject=Hi", "--body=Hello"],
        2,
        "give at least one recipient with --to, --cc or --bcc",
    ),
    "unknown argument": (
        [*SEND, "--form=ann@example.com"],
        2,
        "send: unrecognized arguments: --form=ann@example.com (see 'mailcore send --help')",
    ),
    "unknown command": (
        ["sned"],
        2,
        "argument COMMAND: invalid choice: 'sned'",
    ),
}


@pytest.mark.parametrize("case", MISTAKES, ids=list(MISTAKES))
def test_a_mistake_is_one_line_and_a_non_zero_exit(case: str) -> None:
    arguments, status, error = MISTAKES[case]

    done = run_mailcore(*arguments)

    assert done.status == status, done
    assert len(done.error_lines) == 1, done
    assert done.error_lines[0].startswith("mailcore: error: " + error), done
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_connection_refused_is_one_line_and_exit_status_1() -> None:
    port = closed_port()

    done = run_mailcore(*SEND, "--backend=smtp", "-o=host=127.0.0.1", f"-o=port={port}")

    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: ")
    assert f"127.0.0.1:{port}" in line or str(port) in line, line
    assert "refused" in line.lower(), line


def test_debug_shows_the_traceback_as_well() -> None:
    done = run_mailcore("--debug", *SEND, "--backend=carrier-pigeon")

    assert done.status == 2
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "BackendNotFoundError" in done.stderr
    assert done.error_lines[-1].startswith("mailcore: error: no mailcore backend named")


def test_debug_is_also_accepted_after_the_subcommand() -> None:
    done = run_mailcore(*SEND, "--backend=carrier-pigeon", "--debug")

    assert done.status == 2
    assert "Traceback (most recent call last):" in done.stderr


def test_a_missing_configuration_file_is_one_line(tmp_path: Path) -> None:
    done = run_mailcore("send", *SEND[1:], env={"MAILCORE_CONFIG": str(tmp_path / "absent.toml")})

    assert done.status == 2
    assert done.error_lines == [
        f"mailcore: error: MAILCORE_CONFIG names '{tmp_path / 'absent.toml'}', which is not a file"
    ]


def test_no_command_prints_the_help() -> None:
    done = run_mailcore()

    assert done.status == 2
    assert done.stdout.startswith("usage: mailcore")
    for command in ("send", "backends", "check", "demo"):
        assert f"    {command} " in done.stdout
