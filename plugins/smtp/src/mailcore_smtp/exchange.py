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

The answer to a :class:`Reply` is always a well-formed SMTP reply that can answer the
command: for one that is not (code ``-1``, see
:func:`~mailcore_smtp.replies.malformed_line`; or ``250`` to DATA), both drivers throw
:class:`OutOfStep` into the steps instead (:func:`well_formed`). The steps judge it as
the connection lost at that point, and close it: the server never gets the final dot
of a message not yet sent (it discards that transaction), and a message whose final
reply was garbled has an unknown outcome.
"""

from __future__ import annotations

import smtplib
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from mailcore import RateLimiter, drive_steps
from mailcore_smtp.deadline import read_reply_within
from mailcore_smtp.replies import reply_text
from mailcore_smtp.transmit import send_content

__all__ = [
    "Cancelled",
    "Content",
    "OutOfStep",
    "Pace",
    "Reply",
    "Request",
    "Send",
    "Steps",
    "drive",
    "well_formed",
]

T = TypeVar("T")


class Cancelled(smtplib.SMTPServerDisconnected):
    """Thrown into the steps when the async task sending them was cancelled and the
    connection closed: judged as a connection lost at that point."""

    def __init__(self) -> None:
        super().__init__("the sending task was cancelled")


class OutOfStep(smtplib.SMTPServerDisconnected):
    """Thrown into the steps for a reply (``line``) that is no SMTP reply, or one the
    command cannot get (``what`` says which): client and server no longer agree on
    which reply answers which command, so the conversation ends there, as if the
    connection was lost."""

    def __init__(self, line: bytes, what: str = "no SMTP reply") -> None:
        self.line = line.decode("utf-8", "replace")
        self.what = what
        super().__init__(f"{what}: {self.line!r}")


def well_formed(answer: tuple[int, bytes], request: Reply) -> tuple[int, bytes]:
    """``answer``, the reply read for ``request``; raises :class:`OutOfStep` when it is
    no SMTP reply (code ``-1``), or a positive reply of the other class than the
    request's (``250`` to DATA, ``354`` to RCPT TO or to a message's content): that
    reply answers another command."""
    code, reply = answer
    if code == -1:
        raise OutOfStep(reply)
    if code < 400 and code // 100 != request.positive:
        line = f"{code} {reply_text(reply)}".rstrip()
        raise OutOfStep(line.encode(), "an unexpected positive reply")
    return answer


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
    """Read one reply; ``seconds`` bounds the whole reply (``None``: ``timeout``);
    ``positive``: the class of the reply that says yes (3 for DATA, else 2)."""

    seconds: float | None = None
    positive: int = 2


@dataclass(frozen=True)
class Pace:
    """Wait for the rate limit's next start (``max_per_second`` counts messages handed over)."""

    limiter: RateLimiter


Request = Send | Content | Reply | Pace
#: A generator of requests whose answers are sent back in; it returns a ``T``.
Steps = Generator[Request, Any, T]


def drive(steps: Steps[T], smtp: smtplib.SMTP) -> T:
    """Run ``steps`` on ``smtp`` (:func:`mailcore.drive_steps`): each request done with
    :mod:`smtplib`, its failure thrown back into the steps (which judge it); what the
    steps return, or raise."""

    def act(request: Request) -> Any:
        if isinstance(request, Reply):
            return well_formed(
                smtp.getreply()
                if request.seconds is None
                else read_reply_within(smtp, request.seconds),
                request,
            )
        if isinstance(request, Send):
            return smtp.send(request.data)
        if isinstance(request, Content):
            return send_content(smtp, request.chunks, trailer=request.trailer)
        return request.limiter.wait()

    return drive_steps(steps, act)
