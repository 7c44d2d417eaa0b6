"""Secrets stay secret: the SMTP password, OAuth2 tokens, a DKIM private key and the AWS
secret key appear nowhere.

Not in any log line (every logger captured at DEBUG, mailcore's, smtplib's neighbours,
botocore's and moto's included), not in ``repr``/``str`` of a backend or its options,
not in the text or traceback of any exception (with its whole chain of causes), and not
in anything ``mailcore check``/``mailcore send`` print, run as subprocesses with
``--debug``, on success and on failure. Each secret is searched for as it is and in the
encodings that could carry it (base64 of the password alone, as AUTH LOGIN sends it, and
of the AUTH PLAIN token; URL-quoted).
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import textwrap
import threading
import traceback
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

import mailcore
from mailcore import EmailMessage, SendError
from mailcore_ses import SESBackend
from mailcore_smtp import SMTPAuthError, SMTPBackend
from tests.cli.command import Run, run_mailcore
from tests.cli.test_check import setting_rows
from tests.ses.conftest import REGION, SENDER, FakeSES
from tests.support.fault_server import Fault, FaultScript
from tests.support.smtp_servers import RecordingSMTPServer

USERNAME = "alice"
SMTP_PASSWORD = "Smtp-s3cret-7f3a9c"
WRONG_PASSWORD = "Wrong-s3cret-41b2d0"
AWS_KEY_ID = "AKIAMAILCORETEST0001"
AWS_SECRET = "Aws/s3cret+Key-5d2e8b9c0f1a2b3c4d5e6f7a8b9c"


def forms(secret: str, username: str = USERNAME) -> list[str]:
    """``secret`` as it is, base64 (alone, in an AUTH PLAIN token, and in an XOAUTH2
    initial response), URL-quoted."""
    plain_token = f"\0{username}\0{secret}".encode()
    xoauth2 = f"user={username}\x01auth=Bearer {secret}\x01\x01".encode()
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(plain_token).decode(),
        base64.b64encode(xoauth2).decode(),
        urllib.parse.quote(secret, safe=""),
    ]


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert form not in text, f"a secret ({form!r}) was found in:\n{text}"


def error_text(error: BaseException) -> str:
    """``str``, ``repr`` and the full traceback of ``error`` with its causes."""
    return f"{error}\n{error!r}\n" + "".join(traceback.format_exception(error))


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line, formatted, with any exception text."""
    lines = []
    for record in caplog.records:
        lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(error_text(record.exc_info[1]))
    return "\n".join(lines)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# -- SMTP password, in process --------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_password_in_no_log_repr_or_error(
    mechanism: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    busy = FaultScript(Fault("MAIL", "451 4.3.0 Try again later", times=1))  # a logged retry
    with RecordingSMTPServer(
        credentials={USERNAME: SMTP_PASSWORD}, auth_mechanisms=(mechanism,), fault=busy
    ) as server:
        mailcore.configure(smtp={"username": USERNAME, "password": SMTP_PASSWORD})
        backend = mailcore.get_connection(
            "smtp", username=USERNAME, retries=1, retry_backoff=0.001, **server.backend_options()
        )
        assert isinstance(backend, SMTPBackend)
        shown = [repr(backend), str(backend.options), repr(backend.options)]
        shown += [repr(backend.options.model_dump()), repr(backend.option_sources)]
        message = EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com"])
        assert backend.send_messages([message]) == 1

        wrong = SMTPBackend(username=USERNAME, password=WRONG_PASSWORD, **server.backend_options())
        with pytest.raises(SMTPAuthError) as caught:
            wrong.send_messages([EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com"])])
        with pytest.raises(SMTPAuthError) as caught_on_open:
            wrong.open()

    assert [session.login for session in server.sessions] == [USERNAME, None, None]
    assert debug_logs.records, "nothing was logged: the check would prove nothing"
    assert "trying again" in logged(debug_logs)
    shown += [error_text(caught.value), error_text(caught_on_open.value), repr(wrong)]
    shown += [repr(message.result)]
    assert_hidden("\n".join(shown) + logged(debug_logs), SMTP_PASSWORD, WRONG_PASSWORD)


def test_send_mail_auth_password_in_no_error(debug_logs: pytest.LogCaptureFixture) -> None:
    with RecordingSMTPServer(credentials={USERNAME: SMTP_PASSWORD}) as server:
        mailcore.configure(smtp=server.backend_options())
        with pytest.raises(SendError) as caught:
            mailcore.send_mail(
                "Hi", "Body", SENDER, ["to@example.com"], auth_user=USERNAME,
                auth_password=WRONG_PASSWORD,
            )  # fmt: skip
    assert "535" in str(caught.value)
    assert_hidden(error_text(caught.value) + logged(debug_logs), WRONG_PASSWORD)


# -- OAuth2 tokens and a DKIM private key, in process -----------------------------------------

OAUTH_TOKENS = ["ya29.Oauth-s3cret-first-8d1e", "ya29.Oauth-s3cret-fresh-2c7a"]


def first_then_fresh_token() -> str:
    """The token provider of the test below: a refused token, then another refused one."""
    first_then_fresh_token.calls += 1  # type: ignore[attr-defined]
    return OAUTH_TOKENS[min(first_then_fresh_token.calls, 2) - 1]  # type: ignore[attr-defined]


def test_oauth2_tokens_in_no_log_repr_or_error(debug_logs: pytest.LogCaptureFixture) -> None:
    from tests.support.oauth_server import USER, OAuthServer

    first_then_fresh_token.calls = 0  # type: ignore[attr-defined]
    with OAuthServer(set()) as server:  # no token is good
        fixed = SMTPBackend(
            **server.options(username=USER, auth_method="xoauth2", oauth_token=OAUTH_TOKENS[0])
        )
        provided = SMTPBackend(
            **server.options(
                username=USER,
                auth_method="xoauth2",
                oauth_token_provider=f"{__name__}:first_then_fresh_token",
            )
        )
        shown = [repr(fixed), repr(fixed.options), repr(fixed.options.model_dump())]
        message = EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com"])
        with pytest.raises(SMTPAuthError) as caught_fixed:
            fixed.send_messages([message])
        with pytest.raises(SMTPAuthError) as caught_provided:
            provided.open()
    assert server.tokens == [OAUTH_TOKENS[0], *OAUTH_TOKENS]  # each refused, the fresh one too
    assert "trying a fresh one" in logged(debug_logs)
    shown += [error_text(caught_fixed.value), error_text(caught_provided.value)]
    shown += [repr(message.result)]
    for token in OAUTH_TOKENS:
        for form in forms(token, USER):
            assert form not in "\n".join(shown) + logged(debug_logs), form


def test_a_dkim_private_key_in_no_repr_error_or_check_output(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    from tests.support.dkim_keys import make_key

    key = make_key("rsa-sha256", tmp_path)
    pem = key.path.read_text()
    lines = pem.splitlines()[1:-1]  # the base64 lines of the key
    dkim = {"domain": "example.com", "selector": "s1", "private_key": pem}
    backend = mailcore.get_connection("file", file_path=str(tmp_path / "out"), dkim=dkim)
    backend.send_messages([EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com"])])
    shown = [repr(backend), repr(backend.options), repr(backend.dkim_signer)]
    with pytest.raises(mailcore.ConfigurationError) as caught:  # the key, damaged
        mailcore.get_connection(
            "file", file_path=str(tmp_path), dkim={**dkim, "private_key": pem.replace("A", "!")}
        )
    assert_no_copy(caught.value, *lines)
    env = {
        "MAILCORE_BACKEND": "file",
        "MAILCORE_FILE_PATH": str(tmp_path / "out"),
        "MAILCORE_FILE_DKIM": json.dumps(dkim),
    }
    check = run_mailcore("check", "--debug", env=env)
    assert check.status == 0, check
    assert setting_rows(check.stdout, "Backend file")["dkim"] == (
        "********",
        "environment (MAILCORE_FILE_DKIM)",
    )
    text = "\n".join([*shown, error_text(caught.value), check.stdout, check.stderr])
    for line in lines:
        assert line not in text + logged(debug_logs)


def exception_chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception reachable from it: causes and suppressed contexts."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return seen


def assert_no_copy(error: BaseException, *secrets: str) -> None:
    """No exception of the chain (causes and suppressed contexts alike) holds a secret: not
    in its text, arguments or attributes; and none is pydantic's error, holding the input."""
    from pydantic import ValidationError

    for current in exception_chain(error):
        assert not isinstance(current, ValidationError), f"{current!r} keeps the input"
        kept = f"{current}\n{current!r}\n{current.args!r}\n{vars(current)!r}"
        assert_hidden(kept, *secrets)


@pytest.mark.parametrize(
    "password", [["not", SMTP_PASSWORD], [SMTP_PASSWORD], {"p": SMTP_PASSWORD}, 12345]
)
def test_a_mistyped_password_value_is_not_echoed_nor_kept(password: object) -> None:
    with pytest.raises(mailcore.ConfigurationError) as caught:
        SMTPBackend(username=USERNAME, password=password)
    assert "smtp.password" in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert_hidden(error_text(caught.value), SMTP_PASSWORD)
    assert_no_copy(caught.value, SMTP_PASSWORD, "12345")


# -- a third-party backend's token: the same rule as the SMTP password ------------------------

TOKEN = "tok-SECRET-123"

TOKEN_BACKEND = """
    from typing import Annotated

    from pydantic import Field

    from mailcore import BackendOptions, BaseEmailBackend


    class TokenOptions(BackendOptions):
        api_token: Annotated[str, Field(min_length=20)] = "x" * 20
        region: str = "eu"


    class TokenBackend(BaseEmailBackend):
        name = "tokenmail"
        options_model = TokenOptions

        def send_messages(self, messages):
            return 0
"""


@pytest.fixture
def token_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A third-party plugin registered as an installed distribution would be: a module and
    a ``.dist-info`` with its ``mailcore.backends`` entry point, on ``sys.path``."""
    site = tmp_path / "site"
    (site / "tokenmail_plugin.py").parent.mkdir()
    (site / "tokenmail_plugin.py").write_text(textwrap.dedent(TOKEN_BACKEND))
    info = site / "tokenmail-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tokenmail\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[mailcore.backends]\ntokenmail = tokenmail_plugin:TokenBackend\n"
    )
    from stevedore import ExtensionManager

    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "tokenmail_plugin", raising=False)
    # stevedore keeps the group's entry points per process: read them again, with ours
    monkeypatch.delitem(ExtensionManager.ENTRY_POINT_CACHE, "mailcore.backends", raising=False)
    return site


def test_a_third_party_token_is_never_shown_nor_kept(
    token_plugin: Path, monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    from mailcore.options import is_secret

    backend = mailcore.get_connection("tokenmail", api_token=TOKEN * 2)
    assert is_secret(type(backend.options), "api_token")
    shown = [repr(backend), str(backend.options), repr(backend.options)]
    assert "api_token='********'" in repr(backend.options)
    assert "region='eu'" in repr(backend.options)  # what is not secret stays visible

    errors = []
    for where in ("argument", "configure", "environment"):
        with pytest.raises(mailcore.ConfigurationError) as caught:
            if where == "argument":
                mailcore.get_connection("tokenmail", api_token=TOKEN)
            elif where == "configure":
                mailcore.configure(tokenmail={"api_token": TOKEN})
            else:
                monkeypatch.setenv("MAILCORE_TOKENMAIL_API_TOKEN", TOKEN)
                mailcore.get_connection("tokenmail")
        assert "invalid setting 'tokenmail.api_token'" in str(caught.value)
        assert "at least 20 characters" in str(caught.value)
        assert_no_copy(caught.value, TOKEN)
        errors.append(error_text(caught.value))
    assert_hidden("\n".join(shown + errors) + logged(debug_logs), TOKEN)


def test_mailcore_check_masks_a_third_party_token(token_plugin: Path) -> None:
    env = {"PYTHONPATH": str(token_plugin), "MAILCORE_TOKENMAIL_API_TOKEN": TOKEN * 2}
    good = run_mailcore("check", "--debug", "--backend=tokenmail", env=env)
    short = {**env, "MAILCORE_TOKENMAIL_API_TOKEN": TOKEN}
    bad = run_mailcore("check", "--debug", "--backend=tokenmail", env=short)

    assert good.status == 0, good
    rows = setting_rows(good.stdout, "Backend tokenmail")
    assert rows["api_token"] == ("********", "environment (MAILCORE_TOKENMAIL_API_TOKEN)")
    assert rows["region"] == ("eu", "default")
    assert bad.status == 2, bad
    assert "invalid setting 'tokenmail.api_token'" in bad.stderr, bad
    assert_outputs_hidden([good, bad], TOKEN)


# -- AWS secret key, in process ---------------------------------------------------------------


@pytest.fixture
def aws_secret_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS credentials with a recognisable secret key, and nothing else of AWS's."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_aws_secret_key_in_no_log_repr_or_error(
    aws_secret_env: dict[str, str], debug_logs: pytest.LogCaptureFixture
) -> None:
    with mock_aws():
        ses = FakeSES()
        backend = SESBackend(region=REGION)
        good = EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com"])
        bad = EmailMessage("Hi", "Body.\n", "nobody@unverified.example", ["to@example.com"])
        with pytest.raises(SendError) as caught:
            backend.send_messages([good, bad])
        shown = [repr(backend), str(backend.options), repr(backend.client)]
        backend.close()
        assert len(ses.sent) == 1
    assert any(r.name.startswith("botocore") for r in debug_logs.records), "no botocore logs"
    text = "\n".join([*shown, error_text(caught.value), repr(bad.result), logged(debug_logs)])
    assert "SendEmail" in logged(debug_logs)  # botocore logged each request
    assert_hidden(text, AWS_SECRET)


# -- the mailcore command ---------------------------------------------------------------------


def test_smtp_commands_print_no_password(isolated_settings: Path) -> None:
    (isolated_settings / ".env").write_text(f"MAILCORE_SMTP_PASSWORD={SMTP_PASSWORD}\n")
    with RecordingSMTPServer(credentials={USERNAME: SMTP_PASSWORD}) as server:
        env = {
            "MAILCORE_BACKEND": "smtp",
            "MAILCORE_SMTP_HOST": server.host,
            "MAILCORE_SMTP_PORT": str(server.port),
            "MAILCORE_SMTP_USERNAME": USERNAME,
            "MAILCORE_SMTP_TIMEOUT": "5",
        }
        send = (
            "send",
            "--debug",
            "--to=to@example.com",
            f"--from={SENDER}",
            "--subject=Hi",
            "--body=Hi",
        )
        runs = run_side_by_side(
            (("check", "--debug"), env),
            (send, env),
            (("check", "--debug", "-o", f"password={WRONG_PASSWORD}"), env),
            ((*send, "-o", f"password={WRONG_PASSWORD}"), env),
            (send, {**env, "MAILCORE_SMTP_PASSWORD": WRONG_PASSWORD}),
        )

    assert [run.status for run in runs] == [0, 0, 1, 1, 1], runs
    assert "********" in runs[0].stdout
    assert "Traceback" in runs[3].stderr  # --debug shows the whole error, still no secret
    assert len(server.messages) == 1
    assert_outputs_hidden(runs, SMTP_PASSWORD, WRONG_PASSWORD)


def run_side_by_side(*commands: tuple[tuple[str, ...], dict[str, str]]) -> list[Run]:
    """Run ``mailcore ARGS`` (with extra environment) for each command, in parallel."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda command: run_mailcore(*command[0], env=command[1]), commands))


def assert_outputs_hidden(runs: list[Run], *secrets: str) -> None:
    for run in runs:
        assert_hidden(run.stdout + run.stderr, *secrets)


class _FakeSESHandler(BaseHTTPRequestHandler):
    """Answers SES v2 SendEmail: accepted, or refused when the sender is not verified; and
    GetAccount (``mailcore check``): a sandboxed account."""

    server: _FakeSESServer

    def do_GET(self) -> None:
        self.server.requests.append((dict(self.headers), None))
        quota = {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}
        answer = {"SendQuota": quota, "ProductionAccessEnabled": False, "SendingEnabled": True}
        if self.path == "/v2/email/account":
            self._answer(200, answer, {})
        else:
            self._answer(404, {"message": "not found"}, {"x-amzn-ErrorType": "NotFoundException"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((dict(self.headers), body))
        if body["FromEmailAddress"] == SENDER:
            status, answer, headers = 200, {"MessageId": "fake-ses-id-1"}, {}
        else:
            status, headers = 400, {"x-amzn-ErrorType": "MessageRejected"}
            answer = {"message": "Email address is not verified."}
        self._answer(status, answer, headers)

    def _answer(self, status: int, answer: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FakeSESServer(ThreadingHTTPServer):
    requests: list[tuple[dict[str, str], Any]]


@pytest.fixture
def fake_ses_endpoint() -> Iterator[_FakeSESServer]:
    """An HTTP endpoint on 127.0.0.1 standing in for SES, for a ``mailcore`` subprocess."""
    server = _FakeSESServer(("127.0.0.1", 0), _FakeSESHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_ses_commands_print_no_aws_secret(
    aws_secret_env: dict[str, str], fake_ses_endpoint: _FakeSESServer
) -> None:
    endpoint = f"http://127.0.0.1:{fake_ses_endpoint.server_address[1]}"
    ses = ("--backend=ses", "-o", f"endpoint_url={endpoint}", "-o", f"region={REGION}")
    send = ("send", "--debug", *ses, "--to=to@example.com", "--subject=Hi", "--body=Hi")
    runs = run_side_by_side(
        (("check", "--debug", *ses), {}),
        ((*send, f"--from={SENDER}"), {}),
        ((*send, "--from=nobody@unverified.example"), {}),
    )

    assert [run.status for run in runs] == [0, 0, 1], runs
    assert "sending quota 200 messages per 24 hours" in runs[0].stdout  # GetAccount answered
    assert "Message id: fake-ses-id-1" in runs[1].stdout
    assert "not verified" in runs[2].stderr
    # the request was signed with the key, and carried only the key id
    headers = fake_ses_endpoint.requests[0][0]
    assert f"Credential={AWS_KEY_ID}/" in headers["Authorization"]
    assert_hidden(json.dumps(fake_ses_endpoint.requests), AWS_SECRET)
    assert_outputs_hidden(runs, AWS_SECRET)


def test_backends_listing_shows_no_configured_secret(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(f'[smtp]\npassword = "{SMTP_PASSWORD}"\n')
    done = run_mailcore("backends", env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET})
    assert done.status == 0, done
    assert "password" in done.stdout
    assert_outputs_hidden([done], SMTP_PASSWORD, AWS_SECRET)


@pytest.mark.parametrize("where", ["argument", "configure", "environment"])
def test_no_frame_of_the_settings_code_keeps_a_mistyped_secret(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error tracker that records frame locals sees no raw value in the frames of
    load_options (the caller's own frame holds what it passed, as every frame does)."""
    from mailcore.settings import load_options
    from mailcore_smtp.options import SMTPOptions

    secret = "S3cr3t-in-a-list"
    arguments: dict[str, Any] = {}
    configured: dict[str, Any] | None = None
    if where == "argument":
        arguments = {"password": [secret]}
    elif where == "configure":
        configured = {"password": [secret]}
    else:  # a valid password beside an invalid port: the values read are dropped too
        monkeypatch.setenv("MAILCORE_SMTP_PASSWORD", secret)
        monkeypatch.setenv("MAILCORE_SMTP_PORT", "not-a-port")
    with pytest.raises(mailcore.ConfigurationError) as caught:
        load_options("smtp", SMTPOptions, arguments, configured=configured)
    del arguments, configured

    frames = []
    tb = caught.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert [f.f_code.co_name for f in frames[1:]] == ["load_options"]
    for frame in frames[1:]:
        assert secret not in repr(frame.f_locals), frame.f_code.co_name
    assert secret not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
