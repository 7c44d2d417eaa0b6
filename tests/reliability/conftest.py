"""Fixtures of the reliability tests: test certificates, and the fault matrix's figures,
printed at the end of the run."""

from __future__ import annotations

import pytest

from tests.reliability.fault_matrix import Figures
from tests.support.certs import TestCertificates, make_test_certificates

_FIGURES = Figures()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """A CA and a server certificate for 127.0.0.1/localhost, made once per run."""
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def matrix_figures() -> Figures:
    """The running totals of the fault matrix (each case adds its own)."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES.cases:
        terminalreporter.write_sep("-", "delivery guarantees")
        terminalreporter.write_line(_FIGURES.summary())
