"""AUTH LOGIN and PLAIN against a server that requires them; secrets never shown."""

from __future__ import annotations

import logging

import pytest

import mailcore
from mailcore import ConfigurationError, send_mail
from mailcore_smtp import SMTPAuthError, SMTPBackend, SMTPReplyError
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message, wait_until
from tests.support.certs import TestCertificates
from tests.support.smtp_servers import RecordingSMTPServer

# each test: through the sync API, then the async one (aopen, asend_messages, aclose,
# async with, asend_mail) against the same real servers
api = sync_and_async(__name__)


PASSWORD = "correct horse battery staple"
WRONG = "Tr0ub4dor&3"


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
@pytest.mark.usefixtures("trust_test_ca")
def test_login_over_starttls(certs: TestCertificates, mechanism: str) -> None:
    with RecordingSMTPServer(
        starttls=certs.server_context(),
        require_starttls=True,
        credentials={"alice": PASSWORD},
        auth_mechanisms=[mechanism],
    ) as server:
        backend = SMTPBackend(
            **server.backend_options(use_tls=True, username="alice", password=PASSWORD)
        )
        assert backend.send_messages([make_message()]) == 1

    (session,) = server.sessions
    assert (session.tls, session.login, session.auth_mechanisms) == (True, "alice", [mechanism])


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_login_in_plain_text_is_allowed_on_loopback(mechanism: str) -> None:
    with RecordingSMTPServer(credentials={"bob": PASSWORD}, auth_mechanisms=[mechanism]) as server:
        backend = SMTPBackend(**server.backend_options(username="bob", password=PASSWORD))
        assert backend.send_messages([make_message()]) == 1
    assert server.sessions[0].login == "bob"


@pytest.mark.parametrize(
    ("offered", "auth_method", "mechanism"),
    [
        (["LOGIN", "PLAIN"], "auto", "PLAIN"),
        (["LOGIN", "PLAIN", "CRAM-MD5"], "auto", "CRAM-MD5"),
        (["LOGIN", "PLAIN"], "plain", "PLAIN"),
        (["LOGIN", "PLAIN"], "login", "LOGIN"),
    ],
)
def test_a_non_ascii_user_name_and_password_are_sent_as_utf8(
    offered: list[str], auth_method: str, mechanism: str
) -> None:
    """RFC 4616 makes PLAIN's user name and password UTF-8; LOGIN and CRAM-MD5 (the
    first ``auto`` picks when offered) use UTF-8 too. The server decodes what it got as
    UTF-8 (for CRAM-MD5: computes the digest of the UTF-8 password) and compares it with
    what it expects: both the sync client and the async one log in (smtplib alone would
    fail to encode them)."""
    user, password = "jürgen", "pässwörd-€-密码"
    with RecordingSMTPServer(credentials={user: password}, auth_mechanisms=offered) as server:
        options = server.backend_options(username=user, password=password)
        backend = SMTPBackend(**options, auth_method=auth_method)
        assert backend.send_messages([make_message()]) == 1
    (session,) = server.sessions
    assert (session.login, session.auth_mechanisms) == (user, [mechanism])


def test_a_wrong_cram_md5_digest_is_refused_then_plain_and_login_are_tried() -> None:
    """``auto`` tries each offered mechanism in turn after a refusal (as smtplib does):
    CRAM-MD5, PLAIN, LOGIN, and reports the last refusal."""
    offered = ["LOGIN", "PLAIN", "CRAM-MD5"]
    with RecordingSMTPServer(credentials={"bob": PASSWORD}, auth_mechanisms=offered) as server:
        backend = SMTPBackend(**server.backend_options(username="bob", password=WRONG))
        with pytest.raises(SMTPAuthError) as caught:
            backend.open()
    assert (caught.value.smtp_code, caught.value.stage) == (535, "auth")
    assert server.sessions[0].auth_mechanisms == ["CRAM-MD5", "PLAIN", "LOGIN"]


def test_the_server_refuses_mail_without_login() -> None:
    with RecordingSMTPServer(credentials={"bob": PASSWORD}) as server:
        message = make_message()
        backend = SMTPBackend(**server.backend_options())
        with pytest.raises(SMTPReplyError) as caught:
            backend.send_messages([message])
    assert (caught.value.stage, caught.value.smtp_code) == ("mail", 530)
    assert "530 5.7.0 Authentication required" in str(caught.value)
    assert message.result is not None and message.result.status == "failed"
    assert server.messages == []


def test_wrong_password_is_a_clear_error_and_leaves_no_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with RecordingSMTPServer(credentials={"bob": PASSWORD}) as server:
        backend = SMTPBackend(**server.backend_options(username="bob", password=WRONG))
        with pytest.raises(SMTPAuthError) as caught:
            backend.open()
        assert backend.connection is None
        assert wait_until(lambda: server.sessions[0].closed), "the socket was left open"

        # A later send does not reuse anything: it connects afresh and fails the same way.
        message = make_message()
        with pytest.raises(SMTPAuthError):
            backend.send_messages([message])

    error = caught.value
    assert str(error) == (
        f"SMTP server 127.0.0.1:{server.port} refused the login of user 'bob' during login: "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert (error.stage, error.smtp_code, error.temporary) == ("auth", 535, False)
    assert len(server.sessions) == 2 and server.messages == []
    assert message.result is not None and message.result.status == "failed"
    shown = [str(error), repr(error), str(error.__cause__), repr(backend), caplog.text]
    for text in shown:
        assert WRONG not in text


def test_fail_silently_swallows_a_failed_login() -> None:
    with RecordingSMTPServer(credentials={"bob": PASSWORD}) as server:
        backend = SMTPBackend(
            fail_silently=True, **server.backend_options(username="bob", password=WRONG)
        )
        assert backend.open() is False
        message = make_message()
        assert backend.send_messages([message]) == 0
    assert message.result is not None
    assert isinstance(message.result.error, SMTPAuthError)


def test_send_mail_auth_arguments_become_the_login() -> None:
    with RecordingSMTPServer(credentials={"carol": PASSWORD}) as server:
        mailcore.configure(backend="smtp", smtp=server.backend_options())
        sent = send_mail(
            "Hi",
            "Body\n",
            "a@example.com",
            ["b@example.com"],
            auth_user="carol",
            auth_password=PASSWORD,
        )
    assert sent == 1
    assert server.sessions[0].login == "carol"


def test_a_server_without_auth_is_a_clear_error(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(**server.backend_options(username="bob", password=PASSWORD))

    with pytest.raises(SMTPAuthError, match="does not offer AUTH"):
        backend.open()
    assert backend.connection is None


def test_credentials_are_never_sent_in_plain_text_to_a_remote_host() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(host="mail.example.com", port=587, username="bob", password=PASSWORD)

    assert "use_tls" in str(caught.value) and "allow_plaintext_auth" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    allowed = SMTPBackend(
        host="mail.example.com", username="bob", password=PASSWORD, allow_plaintext_auth=True
    )
    assert allowed.options.allow_plaintext_auth is True
    assert SMTPBackend(host="mail.example.com", username="b", password="p", use_tls=True)


def test_password_is_never_in_repr_options_or_validation_errors() -> None:
    backend = SMTPBackend(username="bob", password=PASSWORD)

    assert PASSWORD not in repr(backend)
    assert PASSWORD not in str(backend.options)
    assert backend.options.password is not None
    assert backend.options.password.get_secret_value() == PASSWORD
    with pytest.raises(ConfigurationError) as caught:
        SMTPBackend(username="bob", password=PASSWORD, port="not a port")
    assert PASSWORD not in str(caught.value)
