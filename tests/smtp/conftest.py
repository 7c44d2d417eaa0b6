"""Fixtures of the SMTP tests: test certificates and a recording server per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.certs import TestCertificates, make_test_certificates
from tests.support.smtp_servers import RecordingSMTPServer


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """A CA and a server certificate for 127.0.0.1/localhost, made once per run."""
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def untrusting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SSL_CERT_FILE/SSL_CERT_DIR: only the system trust store, which lacks the test CA."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def trust_test_ca(monkeypatch: pytest.MonkeyPatch, certs: TestCertificates) -> None:
    """Point SSL_CERT_FILE at the test CA, as a user with a private CA would."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def server() -> Iterator[RecordingSMTPServer]:
    """A plain SMTP server on 127.0.0.1 that accepts everything."""
    with RecordingSMTPServer() as running:
        yield running


@pytest.fixture
def save_dir(tmp_path: Path) -> Path:
    return tmp_path / "saved"
