"""Hooks and the staging override seen from ``mailcore send``: a hook module that fails
to import is one line naming the setting (exit 2); a failing after-send hook is one
warning line (the traceback only with ``--debug``); a cancelled message says it was
cancelled and why (exit 1); recipients the override dropped are listed. A real SMTP
server on 127.0.0.1."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli.command import Run, run_mailcore
from tests.support.smtp_servers import RecordingSMTPServer

HOOKS = """\
    import mailcore

    def after_boom(message, result, mailer):
        raise RuntimeError("metrics server down")

    def no_sundays(message, mailer):
        raise mailcore.CancelSend("no mail on sundays")
"""


@pytest.fixture
def code(isolated_settings: Path) -> Path:
    """A folder on the command's PYTHONPATH, with ``h.py`` (hooks), ``broken.py``
    (raises when imported) and ``typo.py`` (a syntax error)."""
    folder = isolated_settings / "code"
    folder.mkdir()
    (folder / "h.py").write_text(textwrap.dedent(HOOKS))
    (folder / "broken.py").write_text('raise RuntimeError("no config for broken")\n')
    (folder / "typo.py").write_text("def x(:\n    pass\n")
    return folder


def send(server: RecordingSMTPServer, code: Path, *to: str, **env: str) -> Run:
    recipients = [arg for address in to for arg in ("--to", address)]
    return run_mailcore(
        *("send", "--backend", "smtp", "-o", f"host={server.host}", "-o", f"port={server.port}"),
        *(*recipients, "--from", "shop@example.com", "--subject", "Hi", "--body", "Body."),
        env={"PYTHONPATH": str(code), **env},
    )


@pytest.mark.parametrize(
    ("module", "problem"),
    [
        ("broken", "cannot import 'broken' (RuntimeError: no config for broken)"),
        ("typo", "cannot import 'typo' (SyntaxError: "),
    ],
)
def test_a_hook_module_that_fails_to_import_is_one_line_naming_the_setting(
    server: RecordingSMTPServer, code: Path, module: str, problem: str
) -> None:
    done = send(server, code, "ann@example.com", MAILCORE_HOOKS=f'["{module}:x"]')

    assert done.status == 2, done
    [line] = done.error_lines
    assert line.startswith(
        "mailcore: error: invalid setting 'hooks' (from environment variable MAILCORE_HOOKS): "
        f"'{module}:x': {problem}"
    )
    assert "bug" not in line
    assert server.messages == []


def test_a_failing_after_hook_is_one_warning_line_and_the_traceback_only_with_debug(
    server: RecordingSMTPServer, code: Path
) -> None:
    env = {"MAILCORE_AFTER_SEND_HOOKS": '["h:after_boom"]'}
    done = send(server, code, "ann@example.com", **env)

    assert done.status == 0, done  # the message went: sending it again would duplicate it
    assert done.stdout.splitlines()[0] == "Sent 1 message through the smtp backend."
    [line] = done.error_lines
    assert line.startswith("mailcore: warning: after-send hook h:after_boom failed (message <")
    assert line.endswith("status sent); the result stands: RuntimeError: metrics server down")

    debug = run_mailcore(
        "--debug",
        *("send", "--backend", "smtp", "-o", f"host={server.host}", "-o", f"port={server.port}"),
        *("--to", "ann@example.com", "--subject", "Hi", "--body", "Body."),
        env={"PYTHONPATH": str(code), **env},
    )
    assert debug.status == 0, debug
    assert "Traceback (most recent call last):" in debug.stderr
    assert 'raise RuntimeError("metrics server down")' in debug.stderr
    assert len(server.messages) == 2


def test_a_message_a_hook_cancelled_says_so_and_why(
    server: RecordingSMTPServer, code: Path
) -> None:
    done = send(server, code, "ann@example.com", MAILCORE_HOOKS='["h:no_sundays"]')

    assert done.status == 1, done
    assert done.error_lines == [
        "mailcore: error: the message was cancelled, not sent: no mail on sundays"
    ]
    assert server.messages == []


def test_a_message_allowed_recipients_left_without_recipient_is_cancelled_naming_them(
    server: RecordingSMTPServer, code: Path
) -> None:
    env = {"MAILCORE_ALLOWED_RECIPIENTS": '["*@example.com"]'}
    done = send(server, code, "ann@customer.org", "bob@customer.org", **env)

    assert done.status == 1, done
    assert done.error_lines == [
        "mailcore: error: the message was cancelled, not sent: no recipient is in "
        "allowed_recipients (dropped: ann@customer.org (not in allowed_recipients), "
        "bob@customer.org (not in allowed_recipients))"
    ]
    assert server.messages == []


def test_recipients_allowed_recipients_dropped_are_listed_after_a_send(
    server: RecordingSMTPServer, code: Path
) -> None:
    env = {"MAILCORE_ALLOWED_RECIPIENTS": '["*@example.com"]'}
    done = send(server, code, "ann@customer.org", "ops@example.com", **env)

    assert done.status == 0, done
    assert done.stdout.splitlines() == [
        "Sent 1 message through the smtp backend.",
        "Message id: MC00001",  # the test server's queue id
        "Dropped by the staging override: ann@customer.org (not in allowed_recipients)",
    ]
    assert [m.rcpt_tos for m in server.messages] == [["ops@example.com"]]
