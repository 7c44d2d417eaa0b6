"""DKIM at the command line: a key file that is no key is one line and exit 2; ``mailcore
check`` shows the ``dkim`` a backend signs with, also when it comes from the core setting."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.command import run_mailcore
from tests.cli.test_check import setting_rows
from tests.support.dkim_keys import DOMAIN, SELECTOR, make_key

SEND = ("send", "--backend", "file", "--to", "ana@example.org", "--from", "shop@example.com")


def test_a_key_file_that_never_ends_is_one_line_and_exit_2(workdir: Path) -> None:
    dkim = {"domain": DOMAIN, "selector": SELECTOR, "private_key_file": "/dev/zero"}
    done = run_mailcore(
        *SEND, "--body", "hi", "-o", "file_path=out", "-o", f"dkim={json.dumps(dkim)}"
    )
    assert done.status == 2, done
    assert done.error_lines == [
        "mailcore: error: dkim: private_key_file '/dev/zero': is not a regular file (a device, "
        "a pipe or a directory?)"
    ]
    assert not (workdir / "out").exists()


def test_check_shows_the_core_dkim_a_backend_signs_with(workdir: Path) -> None:
    key = make_key("rsa-sha256", workdir)
    done = run_mailcore(
        "check",
        "--backend",
        "file",
        "-o",
        "file_path=out",
        env={"MAILCORE_DKIM": json.dumps(key.options)},
    )
    assert done.status == 0, done
    rows = setting_rows(done.stdout, "Backend file")
    assert rows["dkim"] == ("********", "core setting 'dkim': environment (MAILCORE_DKIM)")
    assert str(key.path) not in done.stdout
