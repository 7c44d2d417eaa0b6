"""``mailcore send`` run as a subprocess, through console, file, locmem and a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import os
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

import mailcore
from mailcore.cli import main
from mailcore.stream import SEPARATOR
from tests.cli.command import closed_port, run_mailcore
from tests.support.smtp_servers import RecordingSMTPServer


def parse(text: str | bytes) -> EmailMessage:
    data = text.encode() if isinstance(text, str) else text
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def messages_in_file_output(directory: Path) -> list[EmailMessage]:
    """Every message the file backend wrote to ``directory`` (files, then separators)."""
    found = []
    for path in sorted(directory.glob("*.log")):
        chunks = path.read_text(encoding="utf-8").split(SEPARATOR + "\n")
        found += [parse(chunk) for chunk in chunks if chunk.strip()]
    return found


def test_console_prints_the_message_then_the_count() -> None:
    done = run_mailcore(
        "send",
        "--backend=console",
        "--from=Ann <ann@example.com>",
        "--to=bob@example.com",
        "--subject=Lunch?",
        "--body=At noon.",
    )

    assert done.status == 0, done
    message_text, rest = done.stdout.split(SEPARATOR + "\n")
    message = parse(message_text)
    assert message["Subject"] == "Lunch?"
    assert message["From"] == "Ann <ann@example.com>"
    assert message["To"] == "bob@example.com"
    assert message.get_content() == "At noon.\n"
    assert rest == "Sent 1 message through the console backend.\n"
    assert done.stderr == ""


def test_file_backend_gets_cc_reply_to_html_and_attachments_but_no_bcc(tmp_path: Path) -> None:
    (tmp_path / "body.txt").write_text("Les chiffres du mois.\n", encoding="utf-8")
    (tmp_path / "body.html").write_text("<p>Les <b>chiffres</b> du mois.</p>\n")
    (tmp_path / "report.csv").write_text("month,total\nmay,3\n")
    outbox = tmp_path / "outbox"

    done = run_mailcore(
        "send",
        "--backend=file",
        f"-o=file_path={outbox}",
        "--from=reports@example.com",
        "--to=ann@example.com",
        "--to=bob@example.com",
        "--cc=carol@example.com",
        "--bcc=audit@example.com",
        "--reply-to=team@example.com",
        "--subject=Rapport de mai",
        f"--body-file={tmp_path / 'body.txt'}",
        f"--html-file={tmp_path / 'body.html'}",
        f"--attach={tmp_path / 'report.csv'}",
    )

    assert done.status == 0, done
    assert done.stdout == "Sent 1 message through the file backend.\n"
    [message] = messages_in_file_output(outbox)
    assert message["To"] == "ann@example.com, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Reply-To"] == "team@example.com"
    assert message["Subject"] == "Rapport de mai"
    assert "Bcc" not in message
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert [part.get_content_type() for part in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    plain, html = alternative.iter_parts()
    assert plain.get_content() == "Les chiffres du mois.\n"
    assert html.get_content() == "<p>Les <b>chiffres</b> du mois.</p>\n"
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "month,total\nmay,3\n"


def test_body_comes_from_standard_input(tmp_path: Path) -> None:
    done = run_mailcore(
        "send",
        "--backend=file",
        f"-o=file_path={tmp_path}",
        "--to=ann@example.com",
        "--subject=Piped",
        stdin="line one\nline two é\n",
    )

    assert done.status == 0, done
    [message] = messages_in_file_output(tmp_path)
    assert message.get_content() == "line one\nline two é\n"
    assert message["From"] == "webmaster@localhost"  # the default_from_email setting


def test_locmem_reports_the_count_when_run_as_a_command() -> None:
    done = run_mailcore("send", "--backend=locmem", "--to=ann@example.com", "--subject=Hi")

    assert (done.status, done.stdout) == (0, "Sent 1 message through the locmem backend.\n")


def test_locmem_outbox_holds_the_message_the_command_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # locmem keeps messages in the sending process, so this one runs the command in-process.
    status = main(
        [
            "send",
            "--backend=locmem",
            "--to=ann@example.com",
            "--cc=bob@example.com",
            "--bcc=audit@example.com",
            "--from=app@example.com",
            "--subject=Welcome",
            "--body=Hello Ann",
        ]
    )

    assert status == 0
    assert capsys.readouterr().out == "Sent 1 message through the locmem backend.\n"
    [sent] = mailcore.outbox
    assert (sent.subject, sent.body, sent.from_email) == ("Welcome", "Hello Ann", "app@example.com")
    assert sent.recipients() == ["ann@example.com", "bob@example.com", "audit@example.com"]
    assert "Bcc" not in sent.message()


def test_smtp_delivers_to_every_recipient_and_prints_the_queue_id() -> None:
    with RecordingSMTPServer() as server:
        port = server.port
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o",
            "host=127.0.0.1",
            "-o",
            f"port={port}",
            "--from=Ann <ann@example.com>",
            "--to=bob@example.com",
            "--bcc=audit@example.com",
            "--subject=Over SMTP",
            "--body=Delivered.",
        )

    assert done.status == 0, done
    assert done.stdout == "Sent 1 message through the smtp backend.\nMessage id: MC00001\n"
    [received] = server.messages
    assert received.mail_from == "ann@example.com"
    assert received.rcpt_tos == ["bob@example.com", "audit@example.com"]
    assert received.parsed()["Subject"] == "Over SMTP"
    assert "Bcc" not in received.parsed()
    assert received.parsed().get_content() == "Delivered.\r\n"  # CRLF on the wire
    assert b"\n" not in received.data.replace(b"\r\n", b"")


EML = b"""\
From: Ann <ann@example.com>
To: bob@example.com
Bcc: audit@example.com
Subject: Saved draft
Message-ID: <draft-1@example.com>
Date: Mon, 01 Jan 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Written earlier, sent now.
"""


def test_eml_is_sent_as_it_is_with_its_bcc_header_removed(tmp_path: Path) -> None:
    (tmp_path / "draft.eml").write_bytes(EML)

    with RecordingSMTPServer() as server:
        port = server.port
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={port}",
            f"--eml={tmp_path / 'draft.eml'}",
        )

    assert done.status == 0, done
    [received] = server.messages
    assert received.mail_from == "ann@example.com"
    assert received.rcpt_tos == ["bob@example.com", "audit@example.com"]
    message = received.parsed()
    assert "Bcc" not in message
    assert message["Message-ID"] == "<draft-1@example.com>"
    assert message["Date"] == "Mon, 01 Jan 2024 10:00:00 +0000"
    assert message.get_content() == "Written earlier, sent now.\r\n"  # CRLF on the wire
    assert b"\n" not in received.data.replace(b"\r\n", b"")


def test_eml_recipients_given_on_the_command_line_replace_the_envelope(tmp_path: Path) -> None:
    (tmp_path / "draft.eml").write_bytes(EML)

    with RecordingSMTPServer() as server:
        port = server.port
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={port}",
            f"--eml={tmp_path / 'draft.eml'}",
            "--to=review@example.com",
            "--from=bounces@example.com",
        )

    assert done.status == 0, done
    [received] = server.messages
    assert received.mail_from == "bounces@example.com"
    assert received.rcpt_tos == ["review@example.com"]
    assert received.parsed()["To"] == "bob@example.com"  # the headers are not rewritten


def test_recipients_the_server_refuses_are_listed_and_the_exit_status_is_1() -> None:
    refuse = {"gone@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refuse) as server:
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={server.port}",
            "--to=ann@example.com",
            "--to=gone@example.com",
            "--subject=Partly delivered",
            "--body=Hello",
        )

    assert done.status == 1, done
    assert done.stdout == (
        "Sent 1 message through the smtp backend.\n"
        "Message id: MC00001\n"
        "Refused: gone@example.com (550 5.1.1 No such user)\n"
    )
    assert done.error_lines == [
        "mailcore: error: 1 recipient(s) refused, the others accepted: "
        "gone@example.com (550 5.1.1 No such user)"
    ]
    assert [message.rcpt_tos for message in server.messages] == [["ann@example.com"]]


def test_a_message_every_recipient_refuses_is_one_error_line() -> None:
    refuse = {"gone@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refuse) as server:
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={server.port}",
            "--to=gone@example.com",
            "--subject=Undeliverable",
            "--body=Hello",
        )

    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: "), line
    assert "gone@example.com" in line and "550" in line, line
    assert server.messages == []


def test_a_bad_subject_is_one_error_line_and_the_server_is_not_contacted() -> None:
    with RecordingSMTPServer() as server:
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={server.port}",
            "--to=ann@example.com",
            "--subject=Hi\nBcc: victim@example.com",
            "--body=Hello",
        )

    assert done.status != 0, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: ") and "Subject" in line, line
    assert done.stdout == ""
    assert server.sessions == []  # checked before connecting


def test_an_eml_with_an_unusable_recipient_is_refused_before_connecting(tmp_path: Path) -> None:
    (tmp_path / "bad.eml").write_bytes(
        b"From: ann@example.com\nTo: j\xc3\xb6rg@example.com\nSubject: Hi\n\nBody\n"
    )
    with RecordingSMTPServer() as server:
        done = run_mailcore(
            "send",
            "--backend=smtp",
            "-o=host=127.0.0.1",
            f"-o=port={server.port}",
            f"--eml={tmp_path / 'bad.eml'}",
        )

    assert done.status != 0, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: ") and "rg@example.com" in line, line
    assert server.sessions == []


def test_an_argument_only_parameter_given_with_o_is_one_line_and_exit_2() -> None:
    done = run_mailcore(
        "send", "--backend", "console", "-o", "stream=x", "--to=bob@example.com",
        "--subject=Hi", "--body=Hello",
    )  # fmt: skip

    assert done.status == 2, done
    assert done.stdout == ""
    assert done.error_lines == [
        "mailcore: error: -o stream: 'stream' of the console backend is an argument for "
        "Python code only (get_connection(..., stream=...)); it cannot be set from the "
        "command line"
    ]


@pytest.mark.parametrize(
    ("option", "path", "expected"),
    [
        ("--attach", "/dev/zero", "--attach: '/dev/zero' is a device: give a regular file"),
        (
            "--body-file",
            "/dev/zero",
            "--body-file: '/dev/zero' is a device: give a regular file or a pipe",
        ),
        (
            "--html-file",
            "/dev/urandom",
            "--html-file: '/dev/urandom' is a device: give a regular file or a pipe",
        ),
        ("--eml", "/dev/zero", "--eml: '/dev/zero' is a device: give a regular file or a pipe"),
        ("--attach", ".", "--attach: '.' is a directory: give a regular file"),
    ],
)
def test_files_that_are_not_regular_are_refused_before_reading(
    option: str, path: str, expected: str
) -> None:
    """/dev/zero never ends: reading it would hang the command (and fill the memory)."""
    recipients = ["--to=bob@example.com"]
    content = [] if option == "--eml" else ["--subject=Hi"]
    if option in ("--attach", "--html-file"):
        content.append("--body=Hello")
    done = run_mailcore(
        "send", "--backend=console", *recipients, *content, option, path, timeout=20
    )

    assert done.status == 2, done
    assert done.stdout == ""
    assert done.error_lines == [f"mailcore: error: {expected}"]


def test_a_named_pipe_is_refused_as_an_attachment(workdir: Path) -> None:
    """An attachment is read twice (checked, then attached): a pipe would be emptied (or
    block, with no writer) before it is attached."""
    os.mkfifo(workdir / "pipe")
    done = run_mailcore(
        "send", "--backend=console", "--to=bob@example.com", "--subject=Hi",
        "--body=Hello", "--attach", "pipe", timeout=20,
    )  # fmt: skip

    assert done.status == 2, done
    assert done.error_lines == [
        "mailcore: error: --attach: 'pipe' is a named pipe: give a regular file"
    ]


def test_a_body_from_a_pipe_is_read(workdir: Path) -> None:
    """A pipe ends (``--body-file <(command)``): it is allowed for the body."""
    os.mkfifo(workdir / "body")
    writer = threading.Thread(target=(workdir / "body").write_text, args=("From a pipe\n",))
    writer.start()
    done = run_mailcore(
        "send", "--backend=console", "--to=bob@example.com", "--subject=Hi",
        "--body-file", "body", timeout=20,
    )  # fmt: skip
    writer.join(timeout=20)

    assert done.status == 0, done
    assert "From a pipe" in done.stdout


def test_dev_null_is_an_empty_body() -> None:
    """The one device that ends at once: ``--body-file /dev/null`` is an empty body."""
    done = run_mailcore(
        "send", "--backend=console", "--to=bob@example.com", "--subject=Empty",
        "--body-file", "/dev/null", timeout=20,
    )  # fmt: skip

    assert done.status == 0, done
    assert done.stdout.endswith(f"\n\n{SEPARATOR}\nSent 1 message through the console backend.\n")


def test_using_sends_through_the_named_mailer(tmp_path: Path) -> None:
    with RecordingSMTPServer() as bulk, RecordingSMTPServer() as other:
        done = run_mailcore(
            "send",
            "--using",
            "bulk",
            "--from=ann@example.com",
            "--to=bob@example.com",
            "--subject=Through bulk",
            "--body=Hi.",
            env={
                "MAILCORE_MAILERS_BULK": f"smtp://127.0.0.1:{bulk.port}",
                "MAILCORE_MAILERS_DEFAULT": f"smtp://127.0.0.1:{other.port}",
            },
        )

    assert done.status == 0, done
    assert done.stdout.startswith("Sent 1 message through the smtp backend (mailer 'bulk').\n")
    assert [m.parsed()["Subject"] for m in bulk.messages] == ["Through bulk"]
    assert other.messages == []


def test_using_a_failover_names_the_mailer_that_sent(tmp_path: Path) -> None:
    with RecordingSMTPServer() as backup:
        (tmp_path / "mailcore.toml").write_text(
            f'[mailers.primary]\nurl = "smtp://127.0.0.1:{closed_port()}?timeout=5"\n\n'
            f'[mailers.backup]\nurl = "smtp://127.0.0.1:{backup.port}"\n\n'
            '[mailers.main]\nbackend = "failover"\nmailers = ["primary", "backup"]\n'
        )
        done = run_mailcore(
            "send",
            "--using=main",
            "--from=ann@example.com",
            "--to=bob@example.com",
            "--subject=Failed over",
            "--body=Hi.",
            env={"MAILCORE_CONFIG": str(tmp_path / "mailcore.toml")},
        )

    assert done.status == 0, done
    assert done.stdout.startswith("Sent 1 message through the failover backend (mailer 'backup').")
    assert len(backup.messages) == 1


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--using=nope"], "mailcore: error: no mailer named 'nope' (configured mailers: default)"),
        (
            ["--using=x", "--backend=console"],
            "mailcore: error: give --backend or --using, not both",
        ),
    ],
)
def test_using_mistakes_are_one_error_line(arguments: list[str], error: str) -> None:
    done = run_mailcore(
        "send", *arguments, "--from=a@example.com", "--to=b@example.com", "--subject=s", "--body=b"
    )

    assert done.status == 2, done
    assert done.error_lines == [error]
