"""``SESBackend.check()`` and ``mailcore check --backend ses``: one authenticated
``GetAccount`` call reporting the quota and the sandbox, or the error in one line."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from moto.ses.models import ses_backends

from mailcore import EmailMessage
from mailcore.cli import main
from mailcore_ses import SESAccountError, SESBackend, SESCredentialsError, SESSendError
from tests.cli.command import run_mailcore
from tests.ses.conftest import ACCOUNT, REGION, SENDER, FakeAccount, FakeSES, ScriptedSES

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET"
KEY_ID = "AKIAEXAMPLEKEYID1234"


def test_check_reports_the_quota_what_was_sent_and_the_sandbox(
    backend: SESBackend, ses: FakeSES, account: FakeAccount
) -> None:
    messages = [EmailMessage(f"m{n}", "Hi", SENDER, ["to@example.com"]) for n in range(3)]
    assert backend.send_messages(messages) == 3

    line = backend.check()

    # SES counts recipients, not messages; moto counts each one more than once
    sent = ses_backends[ACCOUNT][REGION].get_send_quota().sent_last24_hours
    assert sent >= 3
    assert line == (
        "SES account in eu-west-1: sending quota 200 messages per 24 hours, "
        f"at most 1 per second, {sent} sent in the last 24 hours; "
        "in the sandbox (ProductionAccessEnabled false: verified recipients only); "
        "suggested: max_per_second = 1, max_connections = 1"
    )
    # exactly one call, GET /v2/email/account, signed (SigV4) for SES in the region
    [(method, path, headers)] = account.requests
    assert (method, path) == ("GET", "/v2/email/account")
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/ses/aws4_request, " in headers["Authorization"]
    assert len(ses.sent) == 3  # the check sent nothing


def test_check_says_when_the_account_has_production_access(
    backend: SESBackend, account: FakeAccount
) -> None:
    account.production_access = True
    account.enforcement_status = "PROBATION"

    line = backend.check()

    assert line == (
        "SES account in eu-west-1: sending quota 200 messages per 24 hours, "
        "at most 1 per second, 0 sent in the last 24 hours; "
        "production access (out of the sandbox); enforcement status PROBATION; "
        "suggested: max_per_second = 1, max_connections = 1"
    )


@pytest.mark.parametrize(
    ("rate", "suggestion"),
    [
        (14.0, "suggested: max_per_second = 14, max_connections = 2"),
        (0.5, "suggested: max_per_second = 0.5, max_connections = 1"),
        (1e-09, "no setting suggested (MaxSendRate 1e-09 is not a rate max_per_second takes)"),
        (0.0, "no setting suggested (MaxSendRate 0 is not a rate max_per_second takes)"),
        (float("nan"), "no setting suggested (MaxSendRate nan is not a rate max_per_second takes)"),
    ],
)
def test_the_check_suggests_only_a_rate_max_per_second_takes(
    backend: SESBackend, account: FakeAccount, rate: float, suggestion: str
) -> None:
    account.max_send_rate = rate

    assert backend.check().endswith(f"; {suggestion}")


@pytest.mark.parametrize(
    ("send_quota", "problem"),
    [
        ("omitted", "answered without a readable sending quota (no SendQuota)"),
        (
            {"Max24HourSend": 200.0, "MaxSendRate": 1.0},
            "answered without a readable sending quota "
            "(SendQuota.SentLast24Hours is None, not a number)",
        ),
        (
            {"Max24HourSend": 200.0, "MaxSendRate": "abc", "SentLast24Hours": 0.0},
            "the answer could not be read (ValueError: could not convert string to float: 'abc')",
        ),
        ("a string", "the answer could not be read (AttributeError: "),
    ],
)
def test_an_answer_without_a_readable_quota_fails_the_check_in_one_line(
    account: FakeAccount,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    send_quota: object,
    problem: str,
) -> None:
    # neither a report made up from no data ("quota 0 ... in the sandbox") nor exit 2
    account.send_quota = send_quota
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)

    status = main(["check", "--backend", "ses", "-o", f"region={REGION}"])

    out, err = capsys.readouterr()
    assert status == 1
    [line] = err.splitlines()
    assert line.startswith(
        "mailcore: error: the ses backend could not connect: SES GetAccount in eu-west-1"
    )
    assert problem in line
    assert line.endswith("; is endpoint_url an SES endpoint?")
    assert "Connection:" not in out


def test_a_paused_account_fails_the_check(backend: SESBackend, account: FakeAccount) -> None:
    account.sending_enabled = False

    with pytest.raises(SESAccountError) as caught:
        backend.check()

    assert str(caught.value).startswith(
        "the SES account may not send: sending is paused (SES account in eu-west-1: "
    )


def test_check_leaves_an_open_backend_open(backend: SESBackend, account: FakeAccount) -> None:
    with backend:
        backend.check()
        assert backend.open() is False  # still open: check() closed nothing it did not open
    assert backend.open() is True  # closed by the with block
    backend.close()


def test_refused_credentials_fail_the_check(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    backend, _ = scripted
    ses = ScriptedSES(backend, "GetAccount")
    ses.refuse(403, "UnrecognizedClientException", "The security token is invalid.")

    with pytest.raises(SESCredentialsError) as caught:
        backend.check()

    assert str(caught.value) == (
        "SES GetAccount failed: AWS refused the credentials "
        "(UnrecognizedClientException: The security token is invalid.)"
    )


def test_credentials_without_get_account_permission_are_named(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    backend, _ = scripted
    ses = ScriptedSES(backend, "GetAccount")
    ses.refuse(403, "AccessDeniedException", "not authorized to perform: ses:GetAccount")

    with pytest.raises(SESSendError) as caught:
        backend.check()

    assert "these AWS credentials are not allowed to call ses:GetAccount" in str(caught.value)


def test_mailcore_check_prints_the_account_line(
    account: FakeAccount, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)

    status = main(["check", "--backend", "ses", "-o", f"region={REGION}"])

    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.endswith(
        "\nConnection: SES account in eu-west-1: sending quota 200 messages per 24 hours, "
        "at most 1 per second, 0 sent in the last 24 hours; "
        "in the sandbox (ProductionAccessEnabled false: verified recipients only); "
        "suggested: max_per_second = 1, max_connections = 1\n"
    )
    assert len(account.requests) == 1
    assert SECRET not in out and "SECRET" not in out


def test_mailcore_check_with_an_unreachable_endpoint_is_one_line(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run_mailcore(
        "check",
        "--backend=ses",
        "-o",
        f"region={REGION}",
        "-o",
        f"endpoint_url=http://127.0.0.1:{closed_port}",
        env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET},
    )

    assert done.status == 1, done
    [line] = done.error_lines
    assert line == (
        "mailcore: error: the ses backend could not connect: SES GetAccount failed: the SES "
        "endpoint could not be reached (EndpointConnectionError: Could not connect to the "
        f'endpoint URL: "http://127.0.0.1:{closed_port}/v2/email/account")'
    )
    assert "Connection:" not in done.stdout
    assert "SECRET" not in done.stdout + done.stderr
    assert KEY_ID not in done.stdout + done.stderr


def test_mailcore_check_without_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    done = run_mailcore("check", "--backend=ses", "-o", f"region={REGION}")

    assert done.status == 1, done
    [line] = done.error_lines
    assert line.startswith(
        "mailcore: error: the ses backend could not connect: no AWS credentials found: "
    ), line


def test_mailcore_check_against_an_endpoint_that_never_answers_is_one_line() -> None:
    """The endpoint accepts connections and never answers: ``read_timeout`` ends the one
    attempt ``check`` makes (boto3 alone would wait 60 s, then retry)."""
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            with contextlib.suppress(OSError):
                while True:
                    accepted.append(listener.accept()[0])

        threading.Thread(target=accept, daemon=True).start()
        started = time.monotonic()
        done = run_mailcore(
            "check",
            "--backend=ses",
            "-o",
            f"region={REGION}",
            "-o",
            f"endpoint_url=http://127.0.0.1:{port}",
            "-o",
            "read_timeout=1",
            env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET},
            timeout=60,
        )
        elapsed = time.monotonic() - started
    for connection in accepted:
        connection.close()

    assert done.status == 1, done
    assert elapsed < 30, "one attempt of read_timeout, not retries of 60 s"
    assert len(accepted) == 1, "check made one attempt"
    [line] = done.error_lines
    assert line == (
        "mailcore: error: the ses backend could not connect: SES GetAccount failed: the SES "
        "endpoint could not be reached (ReadTimeoutError: Read timeout on endpoint URL: "
        f'"http://127.0.0.1:{port}/v2/email/account")'
    ), done
    assert "Traceback" not in done.stderr


def test_the_client_has_finite_timeouts_by_default_and_as_set() -> None:
    default = SESBackend(region=REGION)
    tuned = SESBackend(region=REGION, connect_timeout=3, read_timeout=4.5)

    assert (default.options.connect_timeout, default.options.read_timeout) == (10.0, 30.0)
    assert (
        default.client.meta.config.connect_timeout,
        default.client.meta.config.read_timeout,
    ) == (
        10.0,
        30.0,
    )
    assert (tuned.client.meta.config.connect_timeout, tuned.client.meta.config.read_timeout) == (
        3.0,
        4.5,
    )
