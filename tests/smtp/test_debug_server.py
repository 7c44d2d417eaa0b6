"""``mailcore debug-server``: in code, and as a user runs it (a subprocess stopped by Ctrl-C)."""

from __future__ import annotations

import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore import EmailMultiAlternatives
from mailcore.testing import parse_message
from mailcore_smtp import SMTPBackend
from mailcore_smtp.debug_server import DebugServer
from mailcore_smtp.render import RULE, render_message

MAILCORE = Path(sys.executable).with_name("mailcore")


def _report_message() -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        "Grüße: the quarterly report ✓",
        "Plain text body, with ümlauts.\n",
        "Reporter <reports@example.com>",
        ["Ann <ann@example.com>"],
        bcc=["hidden@example.com"],
    )
    message.attach_alternative("<p>HTML body</p>", "text/html")
    message.attach("report.pdf", b"%PDF-1.4 fake" * 10, "application/pdf")
    return message


def test_render_shows_envelope_decoded_headers_text_and_attachment_summary() -> None:
    data = _report_message().serialize(linesep="\r\n")
    assert b"Gr\xc3\xbc\xc3\x9fe" not in data.split(b"\r\n\r\n")[0], "subject is RFC 2047 encoded"

    text = render_message(
        data, "reports@example.com", ["ann@example.com", "hidden@example.com"], title="Message 1"
    )

    lines = text.splitlines()
    assert lines[:4] == [
        "Message 1",
        "MAIL FROM: <reports@example.com>",
        "RCPT TO:   <ann@example.com>",
        "           <hidden@example.com>",
    ]
    assert "Subject: Grüße: the quarterly report ✓" in lines
    assert "From: Reporter <reports@example.com>" in lines
    assert "[text/plain; charset=utf-8]" in lines
    assert "Plain text body, with ümlauts." in lines
    assert "<p>HTML body</p>" in lines
    assert "[attachment] report.pdf (application/pdf, 130 bytes)" in lines
    assert lines[-1] == RULE
    assert not any(line.startswith("Bcc") for line in lines)


def test_render_never_fails_on_garbage() -> None:
    text = render_message(b"\xff\xfe not a message \x00\r\n", None, [])

    assert text.startswith("Message\n") and text.endswith(RULE + "\n")
    assert "MAIL FROM: <>" in text


def test_debug_server_in_code_on_a_free_port(tmp_path: Path) -> None:
    out = io.StringIO()
    with DebugServer(port=0, out=out, save_dir=tmp_path / "saved") as server:
        assert server.port != 0
        message = _report_message()
        backend = SMTPBackend(host=server.host, port=server.port, timeout=5)
        assert backend.send_messages([message]) == 1

    (received,) = server.received
    assert received.mail_from == "reports@example.com"
    assert received.rcpt_tos == ["ann@example.com", "hidden@example.com"]
    assert received.saved_as is not None and received.saved_as.suffix == ".eml"
    assert received.saved_as.read_bytes() == received.data
    assert parse_message(received.data)["Subject"] == "Grüße: the quarterly report ✓"
    printed = out.getvalue()
    assert "RCPT TO:   <ann@example.com>" in printed
    assert f"Saved as {received.saved_as}" in printed


def test_debug_server_accepts_any_login_and_shows_the_user_not_the_password() -> None:
    out = io.StringIO()
    with DebugServer(port=0, out=out) as server:
        backend = SMTPBackend(
            host=server.host, port=server.port, username="dev", password="pw-never-shown"
        )
        backend.send_messages([_report_message()])

    assert server.received[0].login == "dev"
    assert "AUTH:      dev" in out.getvalue()
    assert "pw-never-shown" not in out.getvalue()


class _Output:
    """Lines of a subprocess's stdout, read in a thread so that reads can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 10) -> str:
        return self.lines.get(timeout=timeout)

    def until(self, last: str, timeout: float = 10) -> list[str]:
        collected = []
        while True:
            line = self.next_line(timeout)
            collected.append(line)
            if line == last:
                return collected

    def rest(self) -> list[str]:
        self._thread.join(timeout=10)
        collected = []
        while not self.lines.empty():
            collected.append(self.lines.get_nowait())
        return collected


@pytest.fixture(params=["mailcore", "module"])
def command(request: pytest.FixtureRequest) -> list[str]:
    """`mailcore debug-server` (needs the mailcore command), and the module form."""
    if request.param == "mailcore":
        return [str(MAILCORE), "debug-server"]
    return [sys.executable, "-m", "mailcore_smtp.debug_server"]


@pytest.fixture
def running(command: list[str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    saved = tmp_path / "saved"
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", "0", "--save", str(saved)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    with process:
        try:
            yield process, saved
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_debug_server_as_a_user_runs_it(running: tuple[subprocess.Popen[str], Path]) -> None:
    process, saved = running
    output = _Output(process)
    first = output.next_line()
    assert first.startswith("mailcore debug-server: listening on 127.0.0.1:")
    port = int(first.split("127.0.0.1:")[1].split(";")[0].split()[0])

    backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
    assert backend.send_messages([_report_message()]) == 1
    printed = output.until(RULE)

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    assert process.stderr.read() == "", "no traceback, no warning"
    assert output.rest() == ["mailcore debug-server: stopped after 1 message(s)"]

    assert printed[0].startswith("Message 1 from 127.0.0.1:")
    assert printed[1:4] == [
        "MAIL FROM: <reports@example.com>",
        "RCPT TO:   <ann@example.com>",
        "           <hidden@example.com>",
    ]
    assert "Subject: Grüße: the quarterly report ✓" in printed
    assert "[attachment] report.pdf (application/pdf, 130 bytes)" in printed
    (eml,) = saved.glob("*.eml")
    assert parse_message(eml.read_bytes())["Subject"] == "Grüße: the quarterly report ✓"
    assert f"Saved as {eml}" in printed


def test_a_port_in_use_is_one_clear_line(command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*command, "--port", str(port)], capture_output=True, text=True, timeout=30
        )

    assert result.returncode == 1  # the command was right; the port was taken
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"mailcore: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_logged_in_messages_log_no_deprecation_warning(caplog: pytest.LogCaptureFixture) -> None:
    """aiosmtpd logs "Session.login_data is deprecated" at each login unless told not to."""
    caplog.set_level("DEBUG", logger="mail.log")
    with DebugServer(port=0, out=io.StringIO()) as server:
        for user in ("dev", "ops"):
            backend = SMTPBackend(
                host=server.host, port=server.port, username=user, password="pw", timeout=5
            )
            assert backend.send_messages([_report_message()]) == 1

    assert [mail.login for mail in server.received] == ["dev", "ops"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    assert not any("deprecated" in r.getMessage() for r in caplog.records)


def test_debug_server_prints_nothing_on_stderr_for_logins(
    running: tuple[subprocess.Popen[str], Path],
) -> None:
    process, _ = running
    output = _Output(process)
    port = int(output.next_line().split("127.0.0.1:")[1].split(";")[0].split()[0])

    for user in ("dev", "ops"):
        backend = SMTPBackend(host="127.0.0.1", port=port, username=user, password="pw", timeout=5)
        assert backend.send_messages([_report_message()]) == 1
        assert f"AUTH:      {user}" in output.until(RULE)

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    assert process.stderr.read() == "", "no 'login_data is deprecated' warning"
