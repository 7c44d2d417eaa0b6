"""TLS: STARTTLS and implicit TLS with a test CA; verified by default, never a plain fallback."""

from __future__ import annotations

import ssl

import pytest

from mailcore import EmailMessage, SendError
from mailcore_smtp import SMTPBackend, SMTPSecurityError
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message, wait_until
from tests.support.certs import TestCertificates
from tests.support.smtp_servers import RecordingSMTPServer

# each test: through the sync API, then the async one (aopen, asend_messages, aclose,
# async with, asend_mail) against the same real servers
api = sync_and_async(__name__)


@pytest.mark.usefixtures("trust_test_ca")
def test_starttls_with_a_trusted_certificate_sends_encrypted(certs: TestCertificates) -> None:
    with RecordingSMTPServer(starttls=certs.server_context(), require_starttls=True) as server:
        backend = SMTPBackend(**server.backend_options(use_tls=True, timeout=5))
        assert backend.send_messages([make_message("over STARTTLS")]) == 1

    assert server.sessions[0].tls is True
    assert server.messages[0].parsed()["Subject"] == "over STARTTLS"


@pytest.mark.usefixtures("untrusting_env")
def test_starttls_with_an_untrusted_certificate_fails_clearly(certs: TestCertificates) -> None:
    with RecordingSMTPServer(starttls=certs.server_context()) as server:
        backend = SMTPBackend(**server.backend_options(use_tls=True, timeout=5))
        message = make_message()
        with pytest.raises(SMTPSecurityError) as caught:
            backend.send_messages([message])
        assert wait_until(lambda: all(s.closed for s in server.sessions))

    text = str(caught.value)
    assert f"127.0.0.1:{server.port}" in text
    assert "certificate verification failed" in text
    assert "SSL_CERT_FILE" in text
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert isinstance(caught.value, SendError) and caught.value.stage == "starttls"
    assert backend.connection is None
    assert server.messages == []
    assert message.result is not None and message.result.status == "failed"
    assert message.result.error is caught.value


def test_trust_set_after_a_failed_starttls_gives_a_fresh_connection(
    certs: TestCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with RecordingSMTPServer(starttls=certs.server_context(), require_starttls=True) as server:
        backend = SMTPBackend(**server.backend_options(use_tls=True, timeout=5))
        with pytest.raises(SMTPSecurityError):
            backend.open()
        assert backend.connection is None

        # The trust store is read each time a connection is opened.
        monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
        assert backend.send_messages([make_message()]) == 1

    assert len(server.sessions) == 2
    assert [s.messages for s in server.sessions] == [0, 1]
    assert server.sessions[1].tls is True


def test_use_tls_against_a_server_without_starttls_never_falls_back(
    server: RecordingSMTPServer,
) -> None:
    backend = SMTPBackend(**server.backend_options(use_tls=True, timeout=5))

    with pytest.raises(SMTPSecurityError) as caught:
        backend.send_messages([make_message()])

    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{server.port} does not offer STARTTLS, and use_tls is set: "
        "not continuing without encryption"
    )
    assert backend.connection is None
    assert server.messages == []
    assert wait_until(lambda: all(s.closed for s in server.sessions))


@pytest.mark.usefixtures("trust_test_ca")
def test_implicit_tls(certs: TestCertificates) -> None:
    with RecordingSMTPServer(implicit_tls=certs.server_context()) as server:
        backend = SMTPBackend(**server.backend_options(use_ssl=True, timeout=5))
        with backend:
            backend.send_messages([make_message("one"), make_message("two")])

    assert server.sessions[0].tls is True
    assert [m.parsed()["Subject"] for m in server.messages] == ["one", "two"]


@pytest.mark.usefixtures("untrusting_env")
def test_implicit_tls_with_an_untrusted_certificate_fails(certs: TestCertificates) -> None:
    with RecordingSMTPServer(implicit_tls=certs.server_context()) as server:
        backend = SMTPBackend(**server.backend_options(use_ssl=True, timeout=5))
        with pytest.raises(SMTPSecurityError, match="certificate verification failed"):
            backend.open()
    assert backend.connection is None


@pytest.mark.usefixtures("trust_test_ca")
def test_use_ssl_against_a_plain_server_is_a_tls_error(server: RecordingSMTPServer) -> None:
    backend = SMTPBackend(**server.backend_options(use_ssl=True, timeout=5))

    with pytest.raises(SMTPSecurityError) as caught:
        backend.open()

    assert str(caught.value).startswith(
        f"SMTP server 127.0.0.1:{server.port}: TLS failed while connecting: WRONG_VERSION_NUMBER "
        "(the server does not speak TLS from the start on this port"
    )
    assert backend.connection is None


@pytest.mark.usefixtures("trust_test_ca")
def test_client_certificate_is_presented(certs: TestCertificates) -> None:
    context = certs.server_context()
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(certs.ca_cert)
    with RecordingSMTPServer(implicit_tls=context) as server:
        backend = SMTPBackend(
            **server.backend_options(
                use_ssl=True,
                timeout=5,
                ssl_certfile=certs.client_cert,
                ssl_keyfile=certs.client_key,
            )
        )
        assert backend.send_messages([make_message()]) == 1
    assert len(server.messages) == 1


def test_an_unreadable_client_certificate_is_a_configuration_error(
    server: RecordingSMTPServer, certs: TestCertificates
) -> None:
    from mailcore import ConfigurationError

    backend = SMTPBackend(
        fail_silently=True,
        **server.backend_options(use_tls=True, ssl_certfile=certs.ca_cert.with_name("missing.pem")),
    )

    with pytest.raises(ConfigurationError, match=r"ssl_certfile.*missing\.pem"):
        backend.send_messages([EmailMessage("s", "b", "a@example.com", ["b@example.com"])])
    assert server.sessions == [], "nothing is sent before the configuration is usable"
