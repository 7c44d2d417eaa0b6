"""Run a sync SMTP test through the async API: the same test, the same real servers,
with every ``open``/``send_messages``/``close``/``with`` of the backend going through
``aopen``/``asend_messages``/``aclose``/``async with`` (and ``send_mail`` through
``asend_mail``) on one event loop."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

import mailcore
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend


class AsyncDriven:
    """A stand-in for an :class:`SMTPBackend` whose sync calls run its async methods."""

    def __init__(self, runner: asyncio.Runner, backend: SMTPBackend) -> None:
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_backend", backend)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._backend, name, value)

    def open(self) -> bool:
        opened: bool = self._runner.run(self._backend.aopen())
        return opened

    def close(self) -> None:
        self._runner.run(self._backend.aclose())

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        sent: int = self._runner.run(self._backend.asend_messages(messages))
        return sent

    def __enter__(self) -> AsyncDriven:
        self._runner.run(self._backend.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._runner.run(self._backend.__aexit__(*exc_info))


def drive_async(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType) -> Iterator[None]:
    """Make ``module``'s ``SMTPBackend`` and ``send_mail`` async-driven while the
    generator is suspended (a fixture's body)."""
    with asyncio.Runner() as runner:

        def make(*args: Any, **kwargs: Any) -> AsyncDriven:
            return AsyncDriven(runner, SMTPBackend(*args, **kwargs))

        def send_mail(*args: Any, **kwargs: Any) -> int:
            sent: int = runner.run(mailcore.asend_mail(*args, **kwargs))
            return sent

        monkeypatch.setattr(module, "SMTPBackend", make)
        if hasattr(module, "send_mail"):
            monkeypatch.setattr(module, "send_mail", send_mail)
        yield
        monkeypatch.undo()


def sync_and_async(module_name: str, autouse: bool = True) -> Any:
    """A fixture for ``module_name`` (assign it to a name there): each test using it (every
    test of the module with ``autouse``) runs twice, through the sync API, and through the
    async one (:func:`drive_async`)."""

    @pytest.fixture(autouse=autouse, params=["sync", "async"])
    def api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        if request.param == "async":
            yield from drive_async(monkeypatch, sys.modules[module_name])
        else:
            yield

    return api
