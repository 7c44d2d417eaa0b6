"""Run a sync SMTP test through the async API: the same test, the same real servers,
with every ``open``/``send_messages``/``close``/``with`` of the backend going through
``aopen``/``asend_messages``/``aclose``/``async with`` (and ``send_mail`` through
``asend_mail``) on one event loop: the test's own thread's, or (``threads=True``, for a
test whose threads send at once) one running in a thread of its own, which every thread
of the test hands its calls to, so that they meet in the loop's one pool."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

import pytest

import mailcore
from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend

#: Runs a coroutine on the test's event loop and returns its result.
Run = Callable[[Coroutine[Any, Any, Any]], Any]


class AsyncDriven:
    """A stand-in for an :class:`SMTPBackend` whose sync calls run its async methods."""

    def __init__(self, run: Run, backend: SMTPBackend) -> None:
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_backend", backend)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._backend, name, value)

    def open(self) -> bool:
        opened: bool = self._run(self._backend.aopen())
        return opened

    def close(self) -> None:
        self._run(self._backend.aclose())

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        sent: int = self._run(self._backend.asend_messages(messages))
        return sent

    def __enter__(self) -> AsyncDriven:
        self._run(self._backend.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._run(self._backend.__aexit__(*exc_info))


class _LoopThread:
    """An event loop running in a thread of its own; :meth:`run` may be called from any
    thread, and blocks that thread only."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop")
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        """Stop the loop, then cancel what is left on it (as :class:`asyncio.Runner`)."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        left = asyncio.all_tasks(self.loop)
        for task in left:
            task.cancel()
        if left:
            self.loop.run_until_complete(asyncio.wait(left))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


def drive_async(
    monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, threads: bool = False
) -> Iterator[None]:
    """Make ``module``'s ``SMTPBackend`` and ``send_mail`` async-driven while the
    generator is suspended (a fixture's body); ``threads``: on a loop in a thread of its
    own (see the module doc)."""
    if threads:
        looping = _LoopThread()
        try:
            yield from _driven(monkeypatch, module, looping.run)
        finally:
            looping.close()
        return
    with asyncio.Runner() as runner:
        yield from _driven(monkeypatch, module, runner.run)


def _driven(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType, run: Run) -> Iterator[None]:
    def make(*args: Any, **kwargs: Any) -> AsyncDriven:
        return AsyncDriven(run, SMTPBackend(*args, **kwargs))

    def send_mail(*args: Any, **kwargs: Any) -> int:
        sent: int = run(mailcore.asend_mail(*args, **kwargs))
        return sent

    monkeypatch.setattr(module, "SMTPBackend", make)
    if hasattr(module, "send_mail"):
        monkeypatch.setattr(module, "send_mail", send_mail)
    yield
    monkeypatch.undo()


def sync_and_async(module_name: str, autouse: bool = True, threads: bool = False) -> Any:
    """A fixture for ``module_name`` (assign it to a name there): each test using it (every
    test of the module with ``autouse``) runs twice, through the sync API, and through the
    async one (:func:`drive_async`, with ``threads``)."""

    @pytest.fixture(autouse=autouse, params=["sync", "async"])
    def api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        if request.param == "async":
            yield from drive_async(monkeypatch, sys.modules[module_name], threads)
        else:
            yield

    return api
