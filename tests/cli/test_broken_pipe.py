"""A ``mailcore`` whose standard output is a pipe the reader closed (``mailcore check |
head -3``) stops quietly with status 141, as Unix tools do; other broken pipes are errors."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.cli.command import MAILCORE, run_mailcore

#: What a shell reports for a tool that SIGPIPE stopped: 128 + 13.
PIPE_CLOSED = 141


def run_into_closed_pipe(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ``mailcore ARGS`` with standard output a pipe whose only reader has gone
    before the command writes anything; its exit status and standard error."""
    process = subprocess.Popen(
        [str(MAILCORE), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader goes away: the first write fails with EPIPE
    stderr = process.stderr.read().decode()
    process.stderr.close()
    return process.wait(timeout=60), stderr


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--backend=file", "-o", "file_path=out"],
        ["backends"],
        ["send", "--backend=console", "--to=bob@example.com", "--subject=Hi", "--body=Hello"],
    ],
    ids=["check", "backends", "send"],
)
def test_a_closed_output_pipe_ends_the_command_quietly(workdir: Path, args: list[str]) -> None:
    status, stderr = run_into_closed_pipe(*args, cwd=workdir)

    assert (status, stderr) == (PIPE_CLOSED, "")


def test_head_reads_three_lines_and_mailcore_stops_quietly(workdir: Path) -> None:
    body = workdir / "body.txt"
    body.write_text("a line of the body\n" * 50_000)  # ~1 MB: more than a pipe holds
    command = [
        str(MAILCORE),
        "send",
        "--backend=console",
        "--to=bob@example.com",
        "--subject=Long",
        f"--body-file={body}",
    ]
    mailcore = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert mailcore.stdout is not None and mailcore.stderr is not None
    head = subprocess.Popen(["head", "-3"], stdin=mailcore.stdout, stdout=subprocess.PIPE)
    mailcore.stdout.close()  # head holds the only reading end now
    shown, _ = head.communicate(timeout=60)
    stderr = mailcore.stderr.read().decode()
    mailcore.stderr.close()

    assert shown.decode().splitlines() == [
        "Subject: Long",
        "From: webmaster@localhost",
        "To: bob@example.com",
    ]
    assert (mailcore.wait(timeout=60), stderr) == (PIPE_CLOSED, "")


BACKEND = '''
    import os

    from mailcore import BaseEmailBackend


    class PipeBackend(BaseEmailBackend):
        """Writes each message to a pipe whose reader has already gone."""

        def send_messages(self, messages):
            reader, writer = os.pipe()
            os.close(reader)
            try:
                os.write(writer, b"message")
            finally:
                os.close(writer)
            return 0
'''


def test_a_broken_pipe_that_is_not_standard_output_is_an_error(
    workdir: Path, tmp_path: Path
) -> None:
    (tmp_path / "pipe_backend.py").write_text(textwrap.dedent(BACKEND))

    done = run_mailcore(
        "send",
        "--backend=pipe_backend:PipeBackend",
        "--to=bob@example.com",
        "--subject=Hi",
        "--body=Hello",
        env={"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])},
    )

    assert done.status == 1
    assert done.error_lines == ["mailcore: error: Broken pipe"]
