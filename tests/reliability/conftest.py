"""Fixtures of the reliability tests: test certificates, and the fault matrix's figures,
one line per column (the matrix, its pipelining and pool4 variants, the failover column),
printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.fault_matrix import Figures
from tests.support.certs import TestCertificates, make_test_certificates

#: The figures of each column of the matrix that ran, by name, in the order they ran.
_COLUMNS: dict[str, Figures] = {}
MATRIX = "SMTP fault matrix"


def _column(name: str) -> Figures:
    return _COLUMNS.setdefault(name, Figures())


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """A CA and a server certificate for 127.0.0.1/localhost, made once per run."""
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def matrix_figures() -> Figures:
    """The running totals of the fault matrix (each case adds its own)."""
    return _column(MATRIX)


@pytest.fixture
def matrix_column() -> Callable[[str], Figures]:
    """The running totals of another column of the matrix, by its name."""
    return lambda name: _column(f"{MATRIX}, {name}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = {name: figures for name, figures in _COLUMNS.items() if figures.cases}
    if ran:
        terminalreporter.write_sep("-", "delivery guarantees")
        for name, figures in ran.items():
            terminalreporter.write_line(figures.summary(name))
