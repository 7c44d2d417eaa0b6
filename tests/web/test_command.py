"""``mailcore debug-server --web`` as a user runs it: flags, errors, the warning, the extra."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mailcore_smtp import SMTPBackend
from mailcore_smtp.debug_server import DebugServer
from mailcore_smtp.web import is_loopback
from tests.cli.command import MAILCORE, run_mailcore
from tests.web.conftest import newsletter, send


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(MAILCORE), "debug-server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_web_serves_the_preview_and_quiet_prints_no_message(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    process = _start("--web", "--web-port", "0", "--quiet", "--save", str(saved))
    with process:
        assert process.stdout is not None and process.stderr is not None
        listening = process.stdout.readline()
        web_line = process.stdout.readline()
        assert listening.startswith("mailcore debug-server: listening on 127.0.0.1:")
        assert web_line.startswith("mailcore debug-server: web preview on http://127.0.0.1:")
        assert web_line.rstrip().endswith(f"(loading the saved messages of {saved})")
        port = int(listening.split("127.0.0.1:")[1].split(";")[0])
        url = web_line.split(" on ")[1].split()[0]

        _send_to(port)
        with urllib.request.urlopen(url + "api/messages", timeout=10) as response:
            page = json.load(response)
        with urllib.request.urlopen(url, timeout=10) as response:
            html = response.read().decode()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        rest = process.stdout.read()
        errors = process.stderr.read()
    assert [m["subject"] for m in page["messages"]] == ["November newsletter"]
    assert '<script src="/static/app.js" defer></script>' in html
    assert rest == "mailcore debug-server: stopped after 1 message(s)\n", "--quiet: no message"
    assert errors == ""
    assert len(list(saved.glob("*.eml"))) == 1


def _send_to(port: int) -> None:
    backend = SMTPBackend(host="127.0.0.1", port=port, timeout=10)
    assert backend.send_messages([newsletter()]) == 1


def test_another_web_host_prints_a_warning(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, nothing is sent.
    result = run_mailcore("debug-server", "--port", "0", "--web", "--web-host", "192.0.2.1")

    assert result.status == 1
    first, second = result.error_lines
    assert first.startswith("mailcore: warning: the web preview listens on 192.0.2.1")
    assert "anyone who can reach it can read and delete the mail" in first
    assert second.startswith("mailcore: error: cannot listen on 192.0.2.1:8025 (web preview)")
    assert "Traceback" not in result.stderr


def test_a_web_port_in_use_is_one_clear_line() -> None:
    with DebugServer(port=0, quiet=True, web_port=0) as busy:
        assert busy.web_url is not None
        port = busy.web_url.rstrip("/").rsplit(":", 1)[1]
        result = run_mailcore("debug-server", "--port", "0", "--web", "--web-port", port)

    assert result.status == 1
    assert result.error_lines == [
        f"mailcore: error: cannot listen on 127.0.0.1:{port} (web preview): Address already in use"
    ]


def test_web_flags_without_web_are_refused() -> None:
    for flags in (["--web-port", "9000"], ["--web-host", "127.0.0.1"], ["--max-messages", "5"]):
        result = run_mailcore("debug-server", "--port", "0", *flags)
        assert result.status == 2, flags
        assert result.error_lines == [f"mailcore: error: {flags[0]} needs --web"]


def test_a_bad_max_messages_is_one_line() -> None:
    result = run_mailcore("debug-server", "--web", "--max-messages", "0")

    assert result.status == 2
    assert "--max-messages: must be at least 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_web_extra_the_error_names_it() -> None:
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from mailcore_smtp.debug_server import main\n"
        "sys.exit(main(['--port', '0', '--web']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mailcore: error: --web needs aiohttp, which is not installed: "
        "pip install ./core './plugins/smtp[web]' (from the mailcore checkout)"
    ]


def test_in_code_without_the_web_extra_the_error_names_it() -> None:
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from mailcore_smtp.debug_server import DebugServer\n"
        "try:\n"
        "    DebugServer(port=0, web_port=0)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )

    assert result.stdout == (
        "--web needs aiohttp, which is not installed: "
        "pip install ./core './plugins/smtp[web]' (from the mailcore checkout)\n"
    )


def test_aiohttp_is_imported_only_for_web() -> None:
    code = (
        "import sys, io\n"
        "from mailcore_smtp.debug_server import DebugServer\n"
        "with DebugServer(port=0, out=io.StringIO()):\n"
        "    pass\n"
        "print('aiohttp' in sys.modules)\n"
        "with DebugServer(port=0, out=io.StringIO(), web_port=0):\n"
        "    pass\n"
        "print('aiohttp' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )

    assert result.stdout.split() == ["False", "True"]


def test_debug_server_in_code_with_web(tmp_path: Path) -> None:
    with DebugServer(port=0, quiet=True, web_port=0) as server:
        send(server, newsletter())
        assert server.store is not None and len(server.store) == 1
        assert server.web_url is not None and server.web_url.startswith("http://127.0.0.1:")
    assert not server._runner.running


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("::", False),
        ("mail.example.com", False),
    ],
)
def test_which_web_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
