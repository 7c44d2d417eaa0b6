"""``mailcore demo`` (what ``make demo`` runs), as a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mailcore.stream import SEPARATOR
from tests.cli.command import run_mailcore
from tests.cli.test_send import messages_in_file_output
from tests.support.venvs import make_venv

SUBJECTS = ["Subject here", "Subject here", "Another Subject", "hello", "Hello"]


def section(stdout: str, number: int) -> str:
    """The text of the demo's part ``number`` (1 console, 2 file, 3 SMTP)."""
    return stdout.split(f"\n== {number}. ", 1)[1].split("\n== ", 1)[0]


def test_demo_sends_every_example_through_console_file_and_smtp(workdir: Path) -> None:
    done = run_mailcore("demo", timeout=60)

    assert done.status == 0, done
    console = section(done.stdout, 1)
    assert console.count(SEPARATOR) == 5
    assert [line[9:] for line in console.splitlines() if line.startswith("Subject: ")] == SUBJECTS

    written = messages_in_file_output(workdir / "demo-output")
    assert sorted(message["Subject"] for message in written) == sorted(SUBJECTS)
    assert "demo-output/" in section(done.stdout, 2)

    smtp = section(done.stdout, 3)
    assert "Sent 5 messages through the smtp backend to 127.0.0.1:" in smtp
    printed = smtp.split("The debug server printed:\n", 1)[1]
    assert printed.count("  | Subject: ") == 5
    assert "<bcc@example.com>" in printed  # the envelope holds the Bcc recipient
    assert "Bcc:" not in printed  # the message does not
    assert "exit status 0." in smtp
    assert done.stdout.rstrip().endswith("Done: 5 through console, 5 through file, 5 through smtp.")


def test_demo_writes_where_it_is_told(tmp_path: Path) -> None:
    done = run_mailcore("demo", "--no-smtp", f"--output-dir={tmp_path / 'mail'}")

    assert done.status == 0, done
    assert len(messages_in_file_output(tmp_path / "mail")) == 5
    assert "3. SMTP backend: skipped (--no-smtp)" in done.stdout


def test_demo_skips_with_a_note_what_is_not_installed(tmp_path: Path) -> None:
    # The core names no plugin: with only the console backend installed, the rest is skipped.
    python = make_venv(tmp_path / "venv", "core", "plugins/console")

    done = subprocess.run(
        [str(python.with_name("mailcore")), "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert section(done.stdout, 1).count(SEPARATOR) == 5
    file_part = section(done.stdout, 2)
    assert file_part.startswith("File backend")
    assert "Skipped: no mailcore backend named 'file' is installed" in file_part
    assert "'mailkern-file'" in file_part
    assert "Skipped: no mailcore backend named 'smtp' is installed" in section(done.stdout, 3)
    assert done.stdout.rstrip().endswith("Done: 5 through console.")
