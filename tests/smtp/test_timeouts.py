"""Every wait for the server is bounded: ``connect_timeout`` (by default ``timeout``)
for each step of setting a connection up, ``timeout`` for each reply after that,
``data_timeout`` for the reply to a message's content; ``mailcore check`` always ends."""

from __future__ import annotations

import time

import pytest

from mailcore import SendError
from mailcore_smtp import SMTPBackend, SMTPConnectionError
from tests.cli.command import closed_port, run_mailcore
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message
from tests.support.certs import TestCertificates
from tests.support.fault_server import STALL, Fault, FaultScript
from tests.support.smtp_servers import Pause, RecordingSMTPServer, silent_server

# a timeout test using it runs twice: through the sync API, and through the async one
# (aiosmtplib's set-up, then mailcore's own reply reading) against the same servers
api = sync_and_async(__name__, autouse=False)


def test_by_default_the_socket_waits_30_s_at_most(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(**server.backend_options())

    with backend:
        assert backend.connection is not None and backend.connection.sock is not None
        assert backend.connection.sock.gettimeout() == 30.0
    assert (backend.options.timeout, backend.options.data_timeout) == (30.0, 600.0)


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"timeout": 0.3, "data_timeout": 60}, "timeout"),
        ({"timeout": 30, "connect_timeout": 0.3}, "connect_timeout"),
    ],
    ids=["timeout", "connect_timeout"],
)
def test_a_silent_server_times_out_at_the_greeting(options: dict[str, float], option: str) -> None:
    """A server that accepts the connection and never greets: given up on after 0.3 s,
    ``timeout``, or ``connect_timeout`` when it is set (the longer ``timeout`` then
    bounds only the waits once the connection is set up)."""
    with silent_server() as (host, port):
        backend = SMTPBackend(host=host, port=port, **options)
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.open()
        elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 3, f"the greeting waits for {option}"
    assert str(caught.value) == (
        f"SMTP server {host}:{port} did not answer within 0.3 s "
        f"while waiting for its greeting ({option})"
    )
    assert (caught.value.stage, caught.value.temporary) == ("greeting", True)


@pytest.mark.usefixtures("api")
def test_a_server_stalling_after_the_content_uses_data_timeout_and_outcome_is_unknown() -> None:
    stall = Fault("DATA", STALL)
    with RecordingSMTPServer(fault=FaultScript(stall), stall_seconds=10) as server:
        message = make_message()
        backend = SMTPBackend(**server.backend_options(timeout=10, data_timeout=0.3))
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([message])
        elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 5, "gave up after data_timeout, not timeout or the stall"
    error = caught.value
    assert str(error) == (
        f"SMTP server {server.host}:{server.port} did not answer within 0.3 s "
        "after the message content was sent (data_timeout)"
    )
    assert (error.stage, error.smtp_code, error.outcome_unknown) == ("message", None, True)
    assert message.result is not None and message.result.status == "failed"
    assert backend.connection is None


@pytest.mark.usefixtures("api")
def test_the_reply_to_the_content_may_take_longer_than_timeout() -> None:
    """A server silent for 1 s after the content: longer than ``timeout`` (0.3 s) but
    within ``data_timeout``, so the client waits (then sees the server hang up)."""
    stall = Fault("DATA", STALL)
    with RecordingSMTPServer(fault=FaultScript(stall), stall_seconds=1.0) as server:
        backend = SMTPBackend(**server.backend_options(timeout=0.3, data_timeout=30))
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])
        elapsed = time.monotonic() - started

    assert elapsed >= 0.9
    assert str(caught.value) == (
        f"SMTP server {server.host}:{server.port} closed the connection "
        "after the message content was sent"
    )
    assert caught.value.outcome_unknown is True


@pytest.mark.usefixtures("api")
def test_a_server_stalling_at_a_command_uses_timeout() -> None:
    stall = Fault("RCPT", STALL)
    with RecordingSMTPServer(fault=FaultScript(stall), stall_seconds=10) as server:
        backend = SMTPBackend(**server.backend_options(timeout=0.3, data_timeout=60))
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])

    assert str(caught.value) == (
        f"SMTP server {server.host}:{server.port} did not answer within 0.3 s at RCPT TO (timeout)"
    )
    assert caught.value.outcome_unknown is False


@pytest.mark.usefixtures("api", "trust_test_ca")
def test_a_set_up_slower_than_timeout_is_waited_for_within_connect_timeout(
    certs: TestCertificates,
) -> None:
    """A server taking 1 s to greet and 1 s to answer AUTH (after STARTTLS), each longer
    than ``timeout`` (0.5 s): with ``connect_timeout`` at 10 s the connection is set up
    and the message sent."""
    slow = FaultScript(Fault("GREETING", Pause(1.0)), Fault("AUTH", Pause(1.0)))
    with RecordingSMTPServer(
        fault=slow, starttls=certs.server_context(), credentials={"app": "s3cret"}
    ) as server:
        backend = SMTPBackend(
            **server.backend_options(
                use_tls=True, username="app", password="s3cret", timeout=0.5, connect_timeout=10
            )
        )
        started = time.monotonic()
        assert backend.send_messages([make_message()]) == 1
        elapsed = time.monotonic() - started

    assert slow.fired == [1, 1]
    assert elapsed >= 2.0
    assert [m.mail_from for m in server.messages] == [make_message().from_email]
    assert [(s.tls, s.login) for s in server.sessions] == [(True, "app")]


@pytest.mark.usefixtures("api")
def test_connect_timeout_bounds_neither_a_command_nor_the_reply_to_the_content() -> None:
    """``connect_timeout`` 0.5 s: the reply to MAIL FROM, 1 s late, is waited for
    (``timeout`` 10 s); the server then stalls after the content, and the client gives
    up after ``data_timeout``, the message's outcome unknown."""
    faults = FaultScript(Fault("MAIL", Pause(1.0)), Fault("DATA", STALL))
    with RecordingSMTPServer(fault=faults, stall_seconds=10) as server:
        message = make_message()
        backend = SMTPBackend(
            **server.backend_options(connect_timeout=0.5, timeout=10, data_timeout=0.5)
        )
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([message])
        elapsed = time.monotonic() - started

    assert faults.fired == [1, 1]
    assert 1.4 <= elapsed < 8, "waited 1 s at MAIL FROM, then data_timeout"
    error = caught.value
    assert str(error) == (
        f"SMTP server {server.host}:{server.port} did not answer within 0.5 s "
        "after the message content was sent (data_timeout)"
    )
    assert (error.stage, error.outcome_unknown) == ("message", True)


def test_once_set_up_the_socket_waits_timeout_not_connect_timeout(
    server: RecordingSMTPServer,
) -> None:
    backend = SMTPBackend(**server.backend_options(timeout=4, connect_timeout=9))

    with backend:
        assert backend.connection is not None and backend.connection.sock is not None
        assert backend.connection.sock.gettimeout() == 4.0


def test_connect_timeout_is_timeout_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SMTPBackend(timeout=7).options.setup_timeout == 7.0
    monkeypatch.setenv("MAILCORE_SMTP_CONNECT_TIMEOUT", "2.5")
    options = SMTPBackend(timeout=7).options
    assert (options.connect_timeout, options.setup_timeout, options.timeout) == (2.5, 2.5, 7.0)
    assert [options.timeout_at(stage) for stage in ("greeting", "auth", "rcpt", "message")] == [
        ("connect_timeout", 2.5),
        ("connect_timeout", 2.5),
        ("timeout", 7.0),
        ("data_timeout", 600.0),
    ]


@pytest.mark.usefixtures("api")
def test_a_connection_failure_is_also_a_connection_error() -> None:
    """Code written for Django catches ConnectionError around send_mail."""
    port = closed_port()
    backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)

    try:
        backend.send_messages([make_message()])
    except ConnectionError as caught:
        error: BaseException = caught
    else:
        pytest.fail("no error")

    assert isinstance(error, SMTPConnectionError) and isinstance(error, SendError)
    assert isinstance(error.__cause__, ConnectionRefusedError)
    assert str(error) == (
        f"cannot connect to SMTP server 127.0.0.1:{port}: connection refused "
        "(is a server listening on that port?)"
    )


def test_mailcore_check_against_a_server_that_never_answers_ends_with_one_line() -> None:
    with silent_server() as (host, port):
        started = time.monotonic()
        done = run_mailcore(
            "check",
            "--backend=smtp",
            env={
                "MAILCORE_SMTP_HOST": host,
                "MAILCORE_SMTP_PORT": str(port),
                "MAILCORE_SMTP_TIMEOUT": "0.5",
            },
            timeout=30,
        )
        elapsed = time.monotonic() - started

    assert done.status == 1, done
    assert elapsed < 20
    [line] = done.error_lines
    assert line == (
        f"mailcore: error: the smtp backend could not connect: SMTP server {host}:{port} "
        "did not answer within 0.5 s while waiting for its greeting (timeout)"
    ), done
    assert "Traceback" not in done.stderr


def test_mailcore_check_shows_both_timeouts_with_their_defaults() -> None:
    with RecordingSMTPServer() as server:
        done = run_mailcore(
            "check",
            "--backend=smtp",
            env={"MAILCORE_SMTP_HOST": server.host, "MAILCORE_SMTP_PORT": str(server.port)},
        )

    assert done.status == 0, done
    rows = {line.split()[0]: line.split()[1:3] for line in done.stdout.splitlines() if line.strip()}
    assert rows["timeout"] == ["30.0", "default"]
    assert rows["data_timeout"] == ["600.0", "default"]
