"""``mailcore check`` with named mailers: every mailer, its options and their sources;
``--using ALIAS`` checks that one."""

from __future__ import annotations

from pathlib import Path

from tests.cli.command import closed_port, run_mailcore
from tests.cli.test_check import setting_rows
from tests.support.smtp_servers import RecordingSMTPServer


def test_every_mailer_is_shown_and_using_checks_one(workdir: Path) -> None:
    with RecordingSMTPServer(credentials={"al@ice": "pa/ss:w@rd"}) as server:
        (workdir / "mailcore.toml").write_text(
            "[mailers.default]\n"
            'url = "locmem://"\n\n'
            "[mailers.main]\n"
            'backend = "failover"\n'
            f'mailers = ["bulk", "smtp://u:toml-Secret@127.0.0.1:{closed_port()}"]\n'
            "retry_period = 5\n"
        )
        url = f"smtp://al%40ice:pa%2Fss%3Aw%40rd@127.0.0.1:{server.port}?timeout=5"

        done = run_mailcore("check", "--using", "bulk", env={"MAILCORE_MAILERS_BULK": url})

    assert done.status == 0, done
    bulk = setting_rows(done.stdout, "Mailer 'bulk': backend smtp")
    assert bulk["host"] == ("127.0.0.1", "environment (MAILCORE_MAILERS_BULK)")
    assert bulk["username"] == ("al@ice", "environment (MAILCORE_MAILERS_BULK)")
    assert bulk["password"] == ("********", "environment (MAILCORE_MAILERS_BULK)")
    assert bulk["timeout"] == ("5.0", "environment (MAILCORE_MAILERS_BULK)")
    assert bulk["retries"] == ("0", "default")
    assert (
        "Mailer 'bulk': backend smtp (mailcore_smtp.backend:SMTPBackend)  <- checked" in done.stdout
    )
    assert "Mailer 'default': backend locmem" in done.stdout
    main = setting_rows(done.stdout, "Mailer 'main': backend failover")
    assert main["retry_period"] == ("5.0", "toml (mailcore.toml [mailers.main])")
    assert "smtp://u:********@127.0.0.1:" in main["mailers"][0]
    assert done.stdout.endswith("\nConnection: opened and closed with the smtp backend.\n")
    assert [s.login for s in server.sessions] == ["al@ice"]  # the decoded password worked
    for secret in ("pa/ss", "pa%2Fss", "toml-Secret"):
        assert secret not in done.stdout + done.stderr


def test_using_a_failing_mailer_is_one_error_line(workdir: Path) -> None:
    port = closed_port()
    done = run_mailcore(
        "check", "--using", "bulk", env={"MAILCORE_MAILERS_BULK": f"smtp://127.0.0.1:{port}"}
    )

    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith("mailcore: error: the 'bulk' mailer's backend could not connect: ")
    assert "refused" in line.lower()


def test_an_unknown_alias_lists_the_mailers(workdir: Path) -> None:
    done = run_mailcore("check", "--using", "nope", env={"MAILCORE_MAILERS_BULK": "dummy://"})

    assert done.status != 0
    assert done.error_lines == [
        "mailcore: error: no mailer named 'nope' (configured mailers: bulk, default)"
    ]


def test_using_and_backend_together_are_a_usage_error(workdir: Path) -> None:
    done = run_mailcore("check", "--using", "a", "--backend", "smtp")

    assert done.status == 2, done
    assert done.error_lines == ["mailcore: error: give --backend or --using, not both"]


def test_a_failover_mailer_checks_each_of_its_mailers(workdir: Path) -> None:
    """Two of three mailers fail: exit 1, one line per mailer, secrets masked."""
    port, other = closed_port(), closed_port()
    with RecordingSMTPServer() as server:
        (workdir / "mailcore.toml").write_text(
            "[mailers.main]\n"
            'backend = "failover"\n'
            f'mailers = ["smtp://127.0.0.1:{port}", "smtp://127.0.0.1:{server.port}", '
            f'"smtp://127.0.0.1:{other}?password=QSECRET&username=u&allow_plaintext_auth=true"]\n'
        )
        done = run_mailcore("check", "--using", "main")

    assert done.status == 1, done
    lines = done.stderr.splitlines()
    assert lines[0] == ("mailcore: error: the 'main' mailer's backend: 2 of 3 mailers failed:")
    assert lines[1].startswith(f"  smtp://127.0.0.1:{port}: failed: ")
    assert lines[2] == (
        f"  smtp://127.0.0.1:{server.port}: opened and closed with the smtp backend."
    )
    masked = f"smtp://127.0.0.1:{other}?password=********&username=u&allow_plaintext_auth=true"
    assert lines[3].startswith(f"  {masked}: failed: ")
    assert len(lines) == 4
    assert ".; " not in done.stderr
    main = setting_rows(done.stdout, "Mailer 'main': backend failover")
    assert masked in main["mailers"][0]
    assert "QSECRET" not in done.stdout + done.stderr
    assert len(server.sessions) == 1


def test_a_healthy_failover_check_is_one_line_per_mailer(workdir: Path) -> None:
    with RecordingSMTPServer() as one, RecordingSMTPServer() as two:
        (workdir / "mailcore.toml").write_text(
            "[mailers.main]\n"
            'backend = "failover"\n'
            f'mailers = ["smtp://127.0.0.1:{one.port}", "smtp://127.0.0.1:{two.port}"]\n'
        )
        done = run_mailcore("check", "--using", "main")

    assert done.status == 0, done
    assert done.stdout.endswith(
        "\nConnection: every mailer works:\n"
        f"  smtp://127.0.0.1:{one.port}: opened and closed with the smtp backend.\n"
        f"  smtp://127.0.0.1:{two.port}: opened and closed with the smtp backend.\n"
    )


def test_a_scheme_less_url_in_the_environment_is_masked(workdir: Path) -> None:
    done = run_mailcore("check", env={"MAILCORE_MAILERS_X": "u:cliSecret@h"})

    assert done.status != 0, done
    assert done.error_lines == [
        "mailcore: error: invalid connection URL ********@h of mailer 'x' (from environment "
        "variable MAILCORE_MAILERS_X): expected scheme://... (smtp://host:25, ses://eu-west-1)"
    ]
    assert "cliSecret" not in done.stdout + done.stderr


def test_without_using_every_mailer_is_listed_and_the_default_checked(workdir: Path) -> None:
    with RecordingSMTPServer() as server:
        (workdir / "mailcore.toml").write_text(
            f'[mailers.default]\nurl = "smtp://127.0.0.1:{server.port}"\n\n'
            '[mailers.dev]\nurl = "console://"\n'
        )
        done = run_mailcore("check")

    assert done.status == 0, done
    default = setting_rows(done.stdout, "Mailer 'default': backend smtp")
    assert default["port"] == (str(server.port), "toml (mailcore.toml [mailers.default])")
    assert "Mailer 'default': backend smtp (mailcore_smtp.backend:SMTPBackend)  <- checked" in (
        done.stdout
    )
    assert "Mailer 'dev': backend console (mailcore_console.backend:ConsoleBackend)" in done.stdout
    assert len(server.sessions) == 1


def test_backends_lists_the_core_composite_backends_after_the_plugins() -> None:
    done = run_mailcore("backends")

    assert done.status == 0, done
    names = [line.split()[0] for line in done.stdout.split("\n\n")[0].splitlines()[2:]]
    assert names[-2:] == ["failover", "roundrobin"]
    assert "mailcore.composite:FailoverBackend" in done.stdout
    assert "MAILCORE_ROUNDROBIN_RETRY_PERIOD" in done.stdout
