"""Driving sans-IO steps: a generator that decides and yields requests, and a driver that
does them, sync or awaited.

The batch frame (:meth:`mailcore.BaseEmailBackend.deliver_batch` and its async twin) and
a backend's protocol steps (SMTP's transaction and pipelining) are written once as such
generators; :func:`drive_steps` and :func:`adrive_steps` are the one loop that runs them:
each request is done by ``act``, what it returns is sent back into the steps, and
whatever it raises is thrown into them, where it is judged (the steps re-raise what is
not theirs). What the steps return is returned.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

__all__ = ["adrive_steps", "drive_steps"]

R = TypeVar("R")
T = TypeVar("T")


def _check(steps: object, act: object, awaited: bool) -> None:
    """A clear error for what cannot be driven (not at the first request's failure)."""
    if not inspect.isgenerator(steps):
        raise TypeError(
            f"steps must be a generator (a call of a function that yields), not "
            f"{type(steps).__name__}"
        )
    if not awaited and inspect.iscoroutinefunction(act):
        raise TypeError("drive_steps runs a sync act; use adrive_steps for an async one")


def drive_steps(steps: Generator[R, Any, T], act: Callable[[R], Any]) -> T:
    """Run ``steps``, doing each request with ``act``."""
    _check(steps, act, awaited=False)
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            request = steps.throw(failure) if failure is not None else steps.send(answer)
        except StopIteration as stop:
            result: T = stop.value
            return result
        answer = failure = None
        try:
            answer = act(request)
        except BaseException as exc:  # judged by the steps
            failure = exc


async def adrive_steps(steps: Generator[R, Any, T], act: Callable[[R], Awaitable[Any]]) -> T:
    """:func:`drive_steps` with each request awaited."""
    _check(steps, act, awaited=True)
    answer: Any = None
    failure: BaseException | None = None
    while True:
        try:
            request = steps.throw(failure) if failure is not None else steps.send(answer)
        except StopIteration as stop:
            result: T = stop.value
            return result
        answer = failure = None
        try:
            answer = await act(request)
        except BaseException as exc:  # judged by the steps (a cancellation too)
            failure = exc
