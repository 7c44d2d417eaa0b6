"""``mailcore demo``: the seed's examples sent through the development backends, then
through a real SMTP conversation with ``mailcore debug-server`` when it is installed.

The core names no plugin: every backend is asked for by short name, and what is not
installed is skipped with a note.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailcore.backend import BaseEmailBackend
from mailcore.cli.errors import EXIT_FAILED, EXIT_OK, describe
from mailcore.cli.parser import COMMANDS_GROUP, Handler
from mailcore.discovery import load_backend
from mailcore.errors import MailcoreError
from mailcore.message import EmailMessage, EmailMultiAlternatives
from mailcore.sending import get_connection, send_mail, send_mass_mail

__all__ = ["EXAMPLES", "free_port", "register", "send_examples"]

DESCRIPTION = """\
Send the examples of Django's "Sending e-mail" guide (send_mail, send_mass_mail, an HTML
alternative, an attachment) through the console backend, then the file backend, then, when
mailkern-smtp is installed, through the SMTP backend to 'mailcore debug-server' started on
a free port of 127.0.0.1.
"""

#: A 1x1 PNG image, the attachment of the last example.
WEATHER_MAP_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

SERVER_START_SECONDS = 20.0
SERVER_STOP_SECONDS = 10.0


def _send_mail(connection: BaseEmailBackend) -> int:
    return send_mail(
        "Subject here",
        "Here is the message.",
        "from@example.com",
        ["to@example.com"],
        fail_silently=False,
        connection=connection,
    )


def _send_mass_mail(connection: BaseEmailBackend) -> int:
    message1 = (
        "Subject here",
        "Here is the message",
        "from@example.com",
        ["first@example.com", "other@example.com"],
    )
    message2 = (
        "Another Subject",
        "Here is another message",
        "from@example.com",
        ["second@test.com"],
    )
    return send_mass_mail((message1, message2), fail_silently=False, connection=connection)


def _html_alternative(connection: BaseEmailBackend) -> int:
    subject, from_email, to = "hello", "from@example.com", "to@example.com"
    text_content = "This is an important message."
    html_content = "<p>This is an <strong>important</strong> message.</p>"
    msg = EmailMultiAlternatives(subject, text_content, from_email, [to], connection=connection)
    msg.attach_alternative(html_content, "text/html")
    return msg.send()


def _attachment(connection: BaseEmailBackend) -> int:
    email = EmailMessage(
        "Hello",
        "Body goes here",
        "from@example.com",
        ["to1@example.com", "to2@example.com"],
        ["bcc@example.com"],
        headers={"Reply-To": "another@example.com"},
        connection=connection,
    )
    email.attach("weather_map.png", WEATHER_MAP_PNG, "image/png")
    return email.send()


#: The examples, each a title and a function sending through the given connection.
EXAMPLES: list[tuple[str, Callable[[BaseEmailBackend], int]]] = [
    ("send_mail(): one message, every recipient in To", _send_mail),
    ("send_mass_mail(): two messages over one connection", _send_mass_mail),
    ("EmailMultiAlternatives: text with an HTML alternative", _html_alternative),
    ("EmailMessage with Bcc, Reply-To and an attachment", _attachment),
]


def send_examples(connection: BaseEmailBackend, announce: bool = True) -> int:
    """Send every example through ``connection``; return how many messages were sent."""
    sent = 0
    for title, example in EXAMPLES:
        if announce:
            print(f"\n# {title}", flush=True)
        sent += example(connection)
    return sent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def _backend_missing(name: str) -> str | None:
    """Why backend ``name`` cannot be used, or None when it can."""
    try:
        load_backend(name)
    except MailcoreError as exc:
        return str(exc)
    return None


def _console_part() -> int:
    _heading("1. Console backend: each message printed, then a separator line")
    missing = _backend_missing("console")
    if missing:
        print(f"Skipped: {missing}")
        return 0
    return send_examples(get_connection("console", stream=sys.stdout))


def _file_part(output_dir: Path) -> int:
    _heading("2. File backend: one file per connection session")
    missing = _backend_missing("file")
    if missing:
        print(f"Skipped: {missing}")
        return 0
    connection = get_connection("file", file_path=output_dir)
    print(
        f"Each example sends through one session, so each makes one file in {_shown(output_dir)}:"
    )
    sent = 0
    for title, example in EXAMPLES:
        before = set(output_dir.glob("*.log"))
        count = example(connection)
        sent += count
        for path in sorted(set(output_dir.glob("*.log")) - before):
            noun = "message" if count == 1 else "messages"
            print(f"  {_shown(path)}: {count} {noun} ({title.split(':')[0]})")
    return sent


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _wait_for_port(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the debug server exited with status {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"the debug server did not listen on port {port} within {SERVER_START_SECONDS:.0f} s"
    )


def _smtp_overrides(backend_class: type[BaseEmailBackend], host: str, port: int) -> dict[str, Any]:
    """Options for a plain loopback connection, whatever the user's settings say."""
    wanted: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": None,
        "password": None,
        "use_tls": False,
        "use_ssl": False,
    }
    model = backend_class.options_model
    fields = model.model_fields if model is not None else {}
    return {name: value for name, value in wanted.items() if name in fields}


def _smtp_part() -> int:
    _heading("3. SMTP backend and 'mailcore debug-server': a real SMTP conversation")
    missing = _backend_missing("smtp")
    commands = {ep.name for ep in importlib.metadata.entry_points(group=COMMANDS_GROUP)}
    if missing or "debug-server" not in commands:
        why = missing or "no plugin provides the 'debug-server' command"
        print(f"Skipped: {why} (install mailkern-smtp for this part).")
        return 0
    port = free_port()
    command = [sys.executable, "-m", "mailcore", "debug-server", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    print("Starting: " + " ".join(["python", *command[1:]]), flush=True)
    server = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    assert server.stdout is not None
    reader = threading.Thread(target=lambda: output.extend(server.stdout or ()), daemon=True)
    reader.start()
    sent = 0
    try:
        _wait_for_port(port, server)
        backend_class = load_backend("smtp")
        connection = get_connection("smtp", **_smtp_overrides(backend_class, "127.0.0.1", port))
        sent = send_examples(connection, announce=False)
        print(f"Sent {sent} messages through the smtp backend to 127.0.0.1:{port}.")
    finally:
        status = _stop(server)
        reader.join(timeout=SERVER_STOP_SECONDS)
        server.stdout.close()
        print("The debug server printed:")
        for line in "".join(output).splitlines():
            print(f"  | {line}")
        print(f"Stopped the debug server with SIGINT (Ctrl-C); exit status {status}.")
    return sent


def _stop(server: subprocess.Popen[str]) -> int:
    if server.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return server.returncode


def register(parser: argparse.ArgumentParser) -> Handler:
    """Add the arguments of ``mailcore demo`` to ``parser``; return its handler."""
    parser.description = DESCRIPTION
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        default=Path("demo-output"),
        help="where the file backend writes (default: ./demo-output)",
    )
    parser.add_argument(
        "--no-smtp", action="store_true", help="skip the SMTP part (no debug server started)"
    )
    return run


def run(args: argparse.Namespace) -> int:
    """Run the three parts; exit 0 unless a part that could run failed."""
    print("mailcore demo: the examples of Django's 'Sending e-mail' guide, sent with mailcore.")
    counts = {"console": _console_part(), "file": _file_part(args.output_dir.absolute())}
    if args.no_smtp:
        _heading("3. SMTP backend: skipped (--no-smtp)")
    else:
        try:
            counts["smtp"] = _smtp_part()
        except Exception as exc:
            print(f"mailcore: error: the SMTP part failed: {describe(exc)}", file=sys.stderr)
            return EXIT_FAILED
    summary = ", ".join(f"{count} through {name}" for name, count in counts.items() if count)
    print(f"\nDone: {summary or 'nothing sent (no development backend is installed)'}.")
    return EXIT_OK
