"""``mailcore send --eml``: the file's addresses go through mailcore's address parser
for every backend, and errors show the real characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.command import run_mailcore
from tests.support.smtp_servers import RecordingSMTPServer

BAD_BCC = "From: ann@example.com\nTo: bob@example.com\nBcc: c@☃.net\nSubject: Hi\n\nBody\n"


@pytest.mark.parametrize("backend", ["console", "locmem"])
def test_an_eml_with_a_bad_bcc_is_refused_on_every_backend(tmp_path: Path, backend: str) -> None:
    (tmp_path / "bad.eml").write_bytes(BAD_BCC.encode())

    done = run_mailcore("send", f"--backend={backend}", f"--eml={tmp_path / 'bad.eml'}")

    assert done.status != 0, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: invalid address 'c@☃.net' in Bcc: "), line
    assert "refused by IDNA 2008" in line


def test_the_smtp_backend_names_the_real_characters_and_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.eml").write_bytes(BAD_BCC.encode())
    with RecordingSMTPServer() as server:
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={server.port}",
            f"--eml={tmp_path / 'bad.eml'}",
        )

    [line] = done.error_lines
    assert "'c@☃.net' in Bcc" in line and "\\udc" not in line, line
    assert server.sessions == []


def test_an_eml_with_non_ascii_names_and_domains_is_sent(tmp_path: Path) -> None:
    (tmp_path / "ok.eml").write_bytes(
        "From: Zoë <zoe@exämple.com>\nTo: Jörg <j@bücher.de>\nSubject: Hi\n\nBody\n".encode()
    )

    done = run_mailcore("send", "--backend=console", f"--eml={tmp_path / 'ok.eml'}")

    assert done.status == 0, done
