"""SMTP PIPELINING (RFC 2920): one write and one wait per message.

For each message one write carries the previous message's content and final dot (its
DATA got ``354`` in the step before), then this message's MAIL FROM, every RCPT TO and
DATA; the replies are then read in order: the previous message's final reply, then this
one's. A steady batch costs about one round trip per message; :func:`step` with no
transaction sends what is pending and reads its final reply (the end of a batch).

Every reply goes through the same :class:`~mailcore_smtp.transaction.Transaction`
judgement as without pipelining. What a lost connection means is exact: lost before the
previous message's final reply, that message's outcome is unknown (its dot may have
arrived) while this one was not accepted (stage ``mail``); lost while reading this
message's replies, it was not accepted, at the stage whose reply was missing. A reply
that is no SMTP reply (:class:`~mailcore_smtp.exchange.OutOfStep`) counts as the
connection lost there, and the connection is closed without a dot.
"""

from __future__ import annotations

import contextlib
import smtplib
from typing import Protocol

from mailcore import SendError, SendResult
from mailcore_smtp.errors import SMTPConnectionError, SMTPError, Stage
from mailcore_smtp.exchange import Content, OutOfStep, Pace, Reply, Send, Steps, drive
from mailcore_smtp.pool import Link
from mailcore_smtp.transaction import Done, Transaction, needs_reset, reset_steps

__all__ = ["Pipeline", "step", "steps"]


class Pipeline(Protocol):
    """A pipelining connection, sync (:class:`~mailcore_smtp.pool.Link`) or async: the
    transaction whose DATA got 354 (``pending``), and closing it without a word."""

    pending: Transaction | None

    def discard(self) -> None: ...


def step(link: Link, tx: Transaction | None, then_quit: bool = False) -> list[Done]:
    """:func:`steps` on a sync connection."""
    return drive(steps(link, tx, then_quit), link.smtp)


def steps(link: Pipeline, tx: Transaction | None, then_quit: bool = False) -> Steps[list[Done]]:
    """Send the pending content (if any) with ``tx``'s commands (if any) in one write and
    read their replies. Returns the transactions that ended, in order; ``tx`` becomes
    ``link.pending`` when its DATA got ``354``. A dead connection is discarded.

    ``then_quit`` (with no ``tx``): QUIT goes out right after the pending content's
    final dot, and the connection is closed once both replies are read: retiring a
    connection costs no round trip of its own."""
    previous, link.pending = link.pending, None
    done: list[Done] = []
    if tx is not None and not tx.recipients:
        done.append(
            Done(tx, SendResult("failed", error=SendError("the message has no recipients")))
        )
        tx = None
    group = b"".join(f"{c}\r\n".encode("ascii") for c in tx.commands()) if tx else b""
    then_quit = then_quit and tx is None and previous is not None
    if then_quit:
        group = b"QUIT\r\n"
    owner = previous if previous is not None else tx
    if owner is None:
        return done
    backend = owner.backend
    if previous is not None:
        yield Pace(backend.pool.limiter)
    try:
        if previous is not None:
            content = previous.wire if previous.wire is not None else previous.data
            yield Content(content, trailer=group)
        elif group:
            yield Send(group)
    except (OSError, smtplib.SMTPException) as exc:
        link.discard()
        if previous is not None:  # its dot was in the failed write: not accepted
            done.append(Done(previous, error=backend.translate(exc, "data")))
        if tx is not None:
            done.append(Done(tx, error=backend.translate(exc, "mail")))
        return done
    except BaseException:
        link.discard()  # a chunk iterator failed: the server still waits inside DATA
        raise
    options = backend.options
    if tx is not None:
        tx.render()  # while the server works on what was just sent
    if previous is not None:
        try:
            code, reply = yield Reply(options.data_timeout)
        except (OSError, smtplib.SMTPException) as exc:
            link.discard()
            done.append(Done(previous, error=backend.translate(exc, "message")))
            if tx is not None:
                done.append(Done(tx, error=backend.translate(exc, "mail")))
            return done
        done.append(previous.finish(code, reply))
    if then_quit:
        # the message's outcome is known; a lost goodbye changes nothing
        with contextlib.suppress(OSError, smtplib.SMTPException):
            yield Reply()
        link.discard()
    if tx is not None:
        ended = yield from _read_group(link, tx)
        if ended is not None:
            done.append(ended)
    return done


def _read_group(link: Pipeline, tx: Transaction) -> Steps[Done | None]:
    """Read the replies to MAIL FROM, each RCPT TO and DATA; ``None`` when DATA got
    354 (``tx`` is then pending), else how ``tx`` ended."""
    error: SMTPError | None = None
    stage: Stage = "mail"
    data_accepted = False
    try:
        code, reply = yield Reply()
        try:
            tx.judge_mail(code, reply)
        except SMTPError as exc:
            error = exc
        stage = "rcpt"
        for recipient in tx.recipients:
            if isinstance(error, SMTPConnectionError):
                break
            code, reply = yield Reply()
            if error is None:
                try:
                    tx.judge_rcpt(recipient, code, reply)
                except SMTPError as exc:
                    error = exc
        if error is None:
            try:
                tx.judge_recipients()
            except SMTPError as exc:
                error = exc
        stage = "data"
        if not isinstance(error, SMTPConnectionError):
            code, reply = yield Reply(positive=3)
            if error is None:
                try:
                    tx.judge_data(code, reply)
                except SMTPError as exc:
                    error = exc
            data_accepted = code == 354
    except (OSError, smtplib.SMTPException) as exc:
        link.discard()
        if error is None or isinstance(exc, OutOfStep):  # then the replies before lie too
            error = tx.backend.translate(exc, stage)
        return Done(tx, error=error)
    if error is None:
        link.pending = tx
        return None
    if isinstance(error, SMTPConnectionError) or data_accepted:
        # data_accepted: 354 although the transaction failed (every recipient refused,
        # which RFC 5321 answers with 503 or 554). RFC 2920 says to send a lone dot, but
        # a server that broke the rules once may store that empty message; closing the
        # connection before any dot makes every server discard the transaction.
        link.discard()
        return Done(tx, error=error)
    if needs_reset(error) and not (yield from reset_steps()):
        link.discard()
    return Done(tx, error=error)
