"""``mailcore check``: the effective settings with their sources, then a real connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.command import closed_port, run_mailcore
from tests.support.smtp_servers import RecordingSMTPServer


def setting_rows(stdout: str, section_title: str) -> dict[str, tuple[str, str]]:
    """The rows of one settings table: setting -> (value, source)."""
    block = stdout.split(section_title, 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in block.splitlines()[3:]:
        cells = [cell.strip() for cell in line.strip().split("  ") if cell.strip()]
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_every_source_is_named_and_the_password_is_masked(workdir: Path) -> None:
    port = closed_port()
    (workdir / "mailcore.toml").write_text(
        'backend = "smtp"\ndefault_from_email = "app@example.com"\n\n'
        '[smtp]\nhost = "127.0.0.1"\ntimeout = 5\n'
    )
    (workdir / ".env").write_text("MAILCORE_SMTP_USERNAME=alice\n")

    done = run_mailcore(
        "check",
        "-o",
        f"port={port}",
        env={"MAILCORE_SMTP_PASSWORD": "s3cret-Pa55", "MAILCORE_SUBJECT_PREFIX": "[shop] "},
    )

    assert done.stdout.startswith("Configuration file: mailcore.toml\n"), done
    core = setting_rows(done.stdout, "Core settings:")
    assert core["backend"] == ("smtp", "toml (mailcore.toml)")
    assert core["default_from_email"] == ("app@example.com", "toml (mailcore.toml)")
    assert core["subject_prefix"] == ("'[shop] '", "environment (MAILCORE_SUBJECT_PREFIX)")
    assert core["server_email"] == ("root@localhost", "default")
    smtp = setting_rows(done.stdout, "Backend smtp")
    assert smtp["host"] == ("127.0.0.1", "toml (mailcore.toml)")
    assert smtp["port"] == (str(port), "argument")
    assert smtp["timeout"] == ("5.0", "toml (mailcore.toml)")
    # unset, connect_timeout is timeout: the value in force is shown, and why
    assert smtp["connect_timeout"] == ("5.0", "unset: as timeout")
    assert smtp["username"] == ("alice", ".env (MAILCORE_SMTP_USERNAME)")
    assert smtp["password"] == ("********", "environment (MAILCORE_SMTP_PASSWORD)")
    assert smtp["use_tls"] == ("False", "default")
    assert "s3cret" not in done.stdout + done.stderr

    # nothing listens on the port: one clear line, exit status 1
    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: the smtp backend could not connect: "), line
    assert str(port) in line and "refused" in line.lower(), line
    assert "Traceback" not in done.stderr


def test_a_working_smtp_server_with_login_passes() -> None:
    with RecordingSMTPServer(credentials={"alice": "s3cret-Pa55"}) as server:
        done = run_mailcore(
            "check",
            "--backend=smtp",
            env={
                "MAILCORE_SMTP_HOST": "127.0.0.1",
                "MAILCORE_SMTP_PORT": str(server.port),
                "MAILCORE_SMTP_USERNAME": "alice",
                "MAILCORE_SMTP_PASSWORD": "s3cret-Pa55",
            },
        )

    assert done.status == 0, done
    assert done.stdout.endswith("\nConnection: opened and closed with the smtp backend.\n")
    assert setting_rows(done.stdout, "Core settings:")["backend"] == ("smtp", "argument")
    assert setting_rows(done.stdout, "Backend smtp")["password"][0] == "********"
    assert "s3cret" not in done.stdout + done.stderr
    assert [session.login for session in server.sessions] == ["alice"]
    assert server.messages == []  # a check sends nothing


def test_a_wrong_password_fails_with_one_line() -> None:
    with RecordingSMTPServer(credentials={"alice": "s3cret-Pa55"}) as server:
        done = run_mailcore(
            "check",
            "--backend=smtp",
            env={
                "MAILCORE_SMTP_HOST": "127.0.0.1",
                "MAILCORE_SMTP_PORT": str(server.port),
                "MAILCORE_SMTP_USERNAME": "alice",
                "MAILCORE_SMTP_PASSWORD": "wrong-guess",
            },
        )

    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: the smtp backend could not connect: "), line
    assert "wrong-guess" not in done.stdout + done.stderr


def test_a_backend_without_a_connection_passes_and_says_so() -> None:
    done = run_mailcore("check", "--backend=locmem")

    assert done.status == 0, done
    assert (
        "Backend locmem (mailcore_locmem.backend:LocmemBackend):\n  (no options)\n" in done.stdout
    )
    assert done.stdout.endswith(
        "Connection: the locmem backend has no connection to open; nothing to check.\n"
    )


def test_an_invalid_setting_fails_before_connecting(workdir: Path) -> None:
    (workdir / "mailcore.toml").write_text('[smtp]\nport = "lots"\n')

    done = run_mailcore("check", "--backend=smtp")

    assert done.status == 2
    [line] = done.error_lines
    assert line.startswith("mailcore: error: invalid setting 'smtp.port' (from mailcore.toml)"), (
        line
    )
    assert "Connection:" not in done.stdout


def test_a_wrong_core_setting_fails_at_once_with_one_line(workdir: Path) -> None:
    cases = [
        ({"MAILCORE_DEFAULT_FROM_EMAIL": "not valid"}, "", "'default_from_email'"),
        ({"MAILCORE_DEFAULT_CHARSET": "bogus"}, "", "unknown charset 'bogus'"),
        ({"MAILCORE_ADMINS": '["nope"]'}, "", "'admins' (from environment variable"),
        ({"MAILCORE_BACKEND": "nosuch"}, "", "no mailcore backend named 'nosuch'"),
        ({}, '[smtpp]\nhost = "x"\n', "unknown backend table 'smtpp', did you mean 'smtp'?"),
    ]
    for env, toml, expected in cases:
        (workdir / "mailcore.toml").write_text(toml)
        done = run_mailcore("check", env={"MAILCORE_BACKEND": "locmem", **env})
        assert done.status == 2, done
        [line] = done.error_lines
        assert line.startswith("mailcore: error: ") and expected in line, line


def test_the_file_found_above_the_working_directory_is_named(workdir: Path) -> None:
    project = workdir / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (project / "mailcore.toml").write_text('subject_prefix = "[app] "\n')

    done = run_mailcore("check", "--backend=locmem", cwd=project / "src")

    assert done.status == 0, done
    assert done.stdout.startswith(f"Configuration file: {project / 'mailcore.toml'}\n"), done
    prefix = setting_rows(done.stdout, "Core settings:")["subject_prefix"]
    assert prefix == ("'[app] '", f"toml ({project / 'mailcore.toml'})")


def test_no_file_found_says_where_it_was_looked_for(workdir: Path) -> None:
    (workdir / "mailcore.toml").write_text('subject_prefix = "[outside] "\n')
    project = workdir / "project"
    (project / ".git").mkdir(parents=True)

    done = run_mailcore("check", "--backend=locmem", cwd=project)

    assert done.status == 0, done
    first = done.stdout.splitlines()[0]
    assert first == (
        f"Configuration file: none (no mailcore.toml in {project}, a project's root, "
        "holding .git or pyproject.toml; MAILCORE_CONFIG not set)"
    )
    assert setting_rows(done.stdout, "Core settings:")["subject_prefix"][1] == "default"


def test_configure_is_shown_as_its_own_source(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mailcore
    from mailcore.cli import main

    (workdir / "mailcore.toml").write_text('[file]\nfile_path = "from-toml"\n')
    mailcore.configure(subject_prefix="[configured] ", file={"file_path": "configured"})

    assert main(["check", "--backend=file"]) == 0
    out = capsys.readouterr().out
    core = setting_rows(out, "Core settings:")
    assert core["subject_prefix"] == ("'[configured] '", "configure")
    assert core["backend"] == ("file", "argument")
    assert setting_rows(out, "Backend file")["file_path"] == ("configured", "configure")


def test_an_unknown_environment_variable_is_one_warning_line_once() -> None:
    """The settings are read several times (core, mailers, backend): one line, once."""
    with RecordingSMTPServer() as server:
        done = run_mailcore(
            "check",
            env={
                "MAILCORE_SMTP_HOTS": "mail.example.com",
                "MAILCORE_SMTP_HOST": "127.0.0.1",
                "MAILCORE_SMTP_PORT": str(server.port),
            },
        )

    assert done.status == 0, done
    assert done.error_lines == [
        "mailcore: warning: unknown environment variable MAILCORE_SMTP_HOTS (ignored), "
        "did you mean 'MAILCORE_SMTP_HOST'?"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "MAILCORE_CONSOLE_STREAM=x",
            "unknown variable MAILCORE_CONSOLE_STREAM in .env: 'stream' can only be given "
            "as an argument, get_connection('console', stream=...)",
        ),
        (
            "MAILCORE_CONSOLE_FOO=x",
            "unknown variable MAILCORE_CONSOLE_FOO in .env (backend 'console' has no such option)",
        ),
    ],
)
def test_a_variable_of_a_backend_without_options_is_refused(
    workdir: Path, line: str, expected: str
) -> None:
    (workdir / ".env").write_text(f"{line}\n")

    done = run_mailcore("check", "--backend", "console")

    assert done.status == 2, done
    assert done.error_lines == [f"mailcore: error: {expected}"]


def test_an_argument_only_parameter_given_with_o_is_refused() -> None:
    done = run_mailcore("check", "--backend", "console", "-o", "stream=x")

    assert done.status == 2, done
    assert done.error_lines == [
        "mailcore: error: -o stream: 'stream' of the console backend is an argument for "
        "Python code only (get_connection(..., stream=...)); it cannot be set from the "
        "command line"
    ]


def test_a_missing_ses_region_is_the_same_mistake_in_check_and_send(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration mistake: exit status 2 from either subcommand, the same line."""
    (workdir / "aws-config").write_text("")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_CONFIG_FILE": str(workdir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "aws-config"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    expected = [
        "mailcore: error: the ses backend needs an AWS region: set the ses option 'region' "
        "(MAILCORE_SES_REGION, [ses] region) or AWS_DEFAULT_REGION"
    ]

    check = run_mailcore("check", "--backend", "ses", env=env)
    send = run_mailcore(
        "send", "--backend", "ses", "--to=bob@example.com", "--subject=Hi", "--body=Hello",
        env=env,
    )  # fmt: skip

    assert (check.status, check.error_lines) == (2, expected), check
    assert (send.status, send.error_lines) == (2, expected), send
