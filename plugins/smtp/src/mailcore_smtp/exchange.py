"""The I/O a transaction's steps ask for, and the sync driver that does it.

The steps of a transaction (:func:`mailcore_smtp.transaction.plain_steps`, the pipelined
:func:`mailcore_smtp.pipelining.steps`, :func:`mailcore_smtp.transaction.reset_steps`)
are generators that decide everything and do no I/O: they yield a request (:class:`Send`,
:class:`Content`, :class:`Reply`, :class:`Pace`), get its answer back (the reply
``(code, text)`` for :class:`Reply`), and have a failure of the request thrown into them
(an :class:`OSError` or :class:`smtplib.SMTPException`, as :mod:`smtplib` raises them),
where they judge it. :func:`drive` feeds them from an :class:`smtplib.SMTP`; the async
client (:mod:`mailcore_smtp.aclient`) feeds the very same generators from an asyncio
transport. So what a reply or a lost connection means is decided once for both.
"""

from __future__ import annotations

import smtplib
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from mailcore import RateLimiter
from mailcore_smtp.deadline import read_reply_within
from mailcore_smtp.transmit import send_content

__all__ = ["Cancelled", "Content", "Pace", "Reply", "Request", "Send", "Steps", "drive"]

T = TypeVar("T")


class Cancelled(smtplib.SMTPServerDisconnected):
    """Thrown into the steps when the async task sending them was cancelled and the
    connection closed: judged as a connection lost at that point."""

    def __init__(self) -> None:
        super().__init__("the sending task was cancelled")


@dataclass(frozen=True)
class Send:
    """Write ``data`` (commands, each ending in CRLF)."""

    data: bytes


@dataclass(frozen=True)
class Content:
    """Write a message's content after its ``354``, dot-stuffed, with the final dot, then
    ``trailer`` (the next commands) in the same last write; ``bytes`` are already on-wire."""

    chunks: Iterable[bytes] | bytes
    trailer: bytes = b""


@dataclass(frozen=True)
class Reply:
    """Read one reply; ``seconds`` bounds the whole reply (``None``: ``timeout``)."""

    seconds: float | None = None


@dataclass(frozen=True)
class Pace:
    """Wait for the rate limit's next start (``max_per_second`` counts messages handed over)."""

    limiter: RateLimiter


Request = Send | Content | Reply | Pace
#: A generator of requests whose answers are sent back in; it returns a ``T``.
Steps = Generator[Request, Any, T]


def drive(steps: Steps[T], smtp: smtplib.SMTP) -> T:
    """Run ``steps`` on ``smtp``: each request done with :mod:`smtplib`, its failure thrown
    back into the steps (which judge it); what the steps return, or raise."""
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
            if isinstance(request, Reply):
                answer = (
                    smtp.getreply()
                    if request.seconds is None
                    else read_reply_within(smtp, request.seconds)
                )
            elif isinstance(request, Send):
                smtp.send(request.data)
            elif isinstance(request, Content):
                send_content(smtp, request.chunks, trailer=request.trailer)
            else:
                request.limiter.wait()
        except BaseException as exc:  # judged by the steps: they re-raise what is not theirs
            failure = exc
