"""``mailcore.drive_steps`` / ``adrive_steps``: the one loop that runs sans-IO steps (the
batch frame, SMTP's transaction) sync or awaited: answers go back in, failures are
thrown in and judged there, and what the steps return is returned."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from mailcore import adrive_steps, drive_steps


def greet_twice() -> Generator[str, Any, list[str]]:
    """Asks for two replies; a failed request is judged (noted) and the steps go on."""
    heard = []
    for request in ("hello", "again"):
        try:
            heard.append((yield request))
        except ConnectionError as exc:
            heard.append(f"failed: {exc}")
    return heard


def act(request: str) -> str:
    if request == "again":
        raise ConnectionError("the line dropped")
    return request.upper()


async def aact(request: str) -> str:
    await asyncio.sleep(0)
    return act(request)


def test_answers_go_back_in_and_failures_are_thrown_in_to_be_judged() -> None:
    assert drive_steps(greet_twice(), act) == ["HELLO", "failed: the line dropped"]


def test_the_async_driver_awaits_each_request_with_the_same_result() -> None:
    assert asyncio.run(adrive_steps(greet_twice(), aact)) == [
        "HELLO",
        "failed: the line dropped",
    ]


def test_a_failure_the_steps_do_not_judge_comes_out_of_the_driver() -> None:
    def fails(request: str) -> str:
        raise KeyError(request)

    with pytest.raises(KeyError, match="hello"):
        drive_steps(greet_twice(), fails)


def test_what_cannot_be_driven_is_refused_before_anything_is_done() -> None:
    with pytest.raises(TypeError, match=r"steps must be a generator .*, not list"):
        drive_steps(["hello"], act)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use adrive_steps for an async one"):
        drive_steps(greet_twice(), aact)
    with pytest.raises(TypeError, match=r"steps must be a generator .*, not coroutine"):
        coroutine = aact("hello")
        try:
            asyncio.run(adrive_steps(coroutine, aact))  # type: ignore[arg-type]
        finally:
            coroutine.close()
