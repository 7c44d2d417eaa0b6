"""``BaseEmailBackend.check()``: by default open and close the connection; a backend may
override it with its own cheap call, and ``mailcore check`` prints what it returns."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mailcore import BaseEmailBackend, EmailMessage, SendError
from mailcore.cli import main


class CountingBackend(BaseEmailBackend):
    """Opens a pretend connection; counts opens and closes."""

    name = "counting"

    def __init__(self, fail_silently: bool = False) -> None:
        super().__init__(fail_silently=fail_silently)
        self.calls: list[str] = []
        self.is_open = False

    def open(self) -> bool:
        self.calls.append("open")
        if self.is_open:
            return False
        self.is_open = True
        return True

    def close(self) -> None:
        self.calls.append("close")
        self.is_open = False

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        return 0


class QuotaBackend(CountingBackend):
    """Checks with one call to its provider, which answers with a quota."""

    name = "quota"

    def check(self) -> str:
        self.calls.append("GetQuota")
        return "provider account: 500 messages a day left"


class RefusingBackend(CountingBackend):
    """Its provider refuses the credentials."""

    name = "refusing"

    def check(self) -> str:
        raise SendError("the provider refused the API key (401)")


class ConnectionlessBackend(BaseEmailBackend):
    """Has no connection (like locmem)."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        return 0


def test_the_default_check_opens_and_closes_the_connection() -> None:
    backend = CountingBackend()

    assert backend.check() == "opened and closed with the counting backend."
    assert backend.calls == ["open", "close"]


def test_the_default_check_of_an_open_backend_leaves_it_open() -> None:
    backend = CountingBackend()
    backend.open()

    assert backend.check() is None
    assert backend.is_open


def test_the_default_check_of_a_backend_without_a_connection_is_none() -> None:
    assert ConnectionlessBackend().check() is None


def test_mailcore_check_prints_what_the_backend_check_returns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["check", "--backend", f"{__name__}:QuotaBackend"])

    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.endswith("\nConnection: provider account: 500 messages a day left\n")


def test_mailcore_check_reports_a_failed_check_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["check", "--backend", f"{__name__}:RefusingBackend"])

    out, err = capsys.readouterr()
    assert status == 1
    assert err == (
        "mailcore: error: the refusing backend could not connect: "
        "the provider refused the API key (401)\n"
    )
    assert "Connection:" not in out
