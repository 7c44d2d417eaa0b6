"""Sending a batch over pooled connections: one call's lease on the pool, and the
workers that feed messages to connections, with retries, the rate limit, stale
connection replacement and the batch-stopping rule.

A batch goes over the connection the call starts with; with ``max_connections`` above 1
up to that many connections (taken from the pool without waiting) work on it at once,
each taking the next message in order. Results are set on each message, so they are in
the batch's order whichever connection carried them.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailcore import SendError, SendResult
from mailcore_smtp import pipelining
from mailcore_smtp.errors import SMTPConnectionError, SMTPError
from mailcore_smtp.pool import Link, Pool
from mailcore_smtp.replies import means_throttled
from mailcore_smtp.retrying import is_retryable, retry_delay
from mailcore_smtp.transaction import Done, Transaction, needs_reset, reset, send_plain

if TYPE_CHECKING:
    from mailcore import EmailMessage
    from mailcore_smtp.aclient import AsyncLink
    from mailcore_smtp.backend import SMTPBackend
    from mailcore_smtp.held import ThreadSession

__all__ = ["Judge", "Lease", "Verdict", "Work"]

log = logging.getLogger("mailcore.smtp")


def _is_timeout(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class Work:
    """The batch shared by the workers: the next message to take, the count accepted,
    and the failure that stopped it."""

    def __init__(
        self, messages: list[EmailMessage], cancelled: Callable[[], bool] = lambda: False
    ) -> None:
        self.messages = messages
        self.cancelled = cancelled
        self.sent = 0
        self.stopped: tuple[int, BaseException] | None = None
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self.stopped is None and self._next < len(self.messages) and self.cancelled():
                # the async caller was cancelled: the batch stops before this message
                self.stopped = (self._next, SendError("the sending task was cancelled"))
            if self.stopped is not None or self._next >= len(self.messages):
                return None
            self._next += 1
            return self._next - 1

    def count_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def stop(self, index: int, error: BaseException) -> None:
        with self._lock:
            if self.stopped is None or index < self.stopped[0]:
                self.stopped = (index, error)

    def succeed(self, index: int, result: SendResult) -> None:
        """The server answered message ``index``'s transaction with ``result``."""
        self.messages[index].result = result
        if result.sent:
            self.count_sent()

    def fail(self, index: int, error: SMTPError, goes_on: bool) -> None:
        """Message ``index`` failed for good; the batch stops there unless ``goes_on``."""
        message = self.messages[index]
        message.result = SendResult("failed", error=error)
        refused = getattr(error, "refused", None)
        if isinstance(refused, dict):
            message.result.refused = dict(refused)
        if goes_on:
            error.add_batch_progress(self.sent, len(self.messages), message)
            return
        self.stop(index, error)

    def settle(self, backend: SMTPBackend, failures: list[BaseException]) -> int:
        """After the workers ended: mark the messages left not attempted, and return
        how many were accepted, or raise what stopped the batch (with its progress);
        ``failures``: what the workers raised (raised again)."""
        unsent = [m for m in self.messages if m.result is None]
        if failures:
            cause = self.stopped[1] if self.stopped else failures[0]
            backend.stop_batch(unsent, cause)
            raise failures[0]
        if self.stopped is None:
            return self.sent
        index, error = self.stopped
        if isinstance(error, SMTPError):
            error.add_batch_progress(self.sent, len(self.messages), self.messages[index])
        backend.stop_batch(unsent, error)
        if backend.fail_silently and isinstance(error, SMTPError):
            return self.sent
        raise error


@dataclass(frozen=True)
class Verdict:
    """What to do after a failed transaction: ``skip`` it (the batch stopped meanwhile and
    nothing was accepted), send it ``again`` at once (a connection found closed after
    sitting idle), ``retry`` it (retry number ``retry``, holding every start back
    ``throttle`` seconds first when the server asked to slow down), or ``fail`` it
    (the batch ``goes_on`` or stops)."""

    action: Literal["skip", "again", "retry", "fail"]
    retry: int = 0
    throttle: float | None = None
    goes_on: bool = False


class Judge:
    """The one place deciding, for the sync and async senders, what a failed message's
    transaction leads to (:class:`Verdict`); it remembers, per connection worker, the
    retries made and the messages sent first on a connection that sat idle."""

    def __init__(self, backend: SMTPBackend) -> None:
        self.backend = backend
        self.retries: dict[int, int] = collections.defaultdict(int)
        self.stale_forgiven: set[int] = set()
        #: Messages sent first on a connection taken idle from the pool.
        self.on_idle: set[int] = set()

    def begin(self, link: Link | AsyncLink, message: EmailMessage, index: int) -> Transaction:
        """Message ``index``'s transaction on ``link``, counted on it (raises an
        :class:`SMTPError` when it cannot be sent there: too big for the server)."""
        tx = Transaction(self.backend, link.smtp, message)
        tx.index = index
        if link.reused and link.since_checkout == 0:
            self.on_idle.add(index)
        link.since_checkout += 1
        link.transactions += 1
        return tx

    def record(
        self,
        work: Work,
        again: collections.deque[int],
        link: Link | AsyncLink | None,
        index: int,
        result: SendResult | None,
        error: SMTPError | None,
    ) -> Verdict | None:
        """How message ``index``'s transaction on ``link`` ended (``result`` or
        ``error``), recorded in ``work``; a message to send again goes to the front of
        ``again``. Returns the retry :class:`Verdict` whose pause the caller waits
        (sleeping, or awaiting), else ``None``."""
        if error is None:
            assert result is not None
            work.succeed(index, result)
            return None
        alive = link is not None and link.alive
        verdict = self.failure(index, error, work.stopped is not None, alive)
        if verdict.action == "skip":
            return None
        if verdict.action == "fail":
            work.fail(index, error, verdict.goes_on)
            return None
        if verdict.action == "retry":
            if verdict.throttle is not None:
                self.backend.pool.limiter.pause(verdict.throttle)
            if link is not None and link.pending is not None:
                # The next message's DATA got 354 already. To keep the order a batch
                # without pipelining has (it stops at a final failure of this one),
                # abandon it before its dot (the server discards it) and send it after.
                again.appendleft(link.pending.index)
                link.discard()
        again.appendleft(index)
        return verdict if verdict.action == "retry" else None

    def failure(self, index: int, error: SMTPError, stopped: bool, link_alive: bool) -> Verdict:
        if stopped and not error.outcome_unknown:
            return Verdict("skip")  # not attempted: the batch stopped meanwhile
        if (
            isinstance(error, SMTPConnectionError)
            and error.stage == "mail"
            and error.smtp_code is None
            and not _is_timeout(error)
            and index not in self.stale_forgiven
            and index in self.on_idle
        ):
            # The server closed the connection while it sat idle; nothing was accepted.
            self.stale_forgiven.add(index)
            return Verdict("again")
        options = self.backend.options
        if is_retryable(error) and self.retries[index] < options.retries:
            self.retries[index] += 1
            retry = self.retries[index]
            throttle = None
            if error.smtp_code is not None and means_throttled(
                error.smtp_code, error.smtp_reply or ""
            ):
                throttle = retry_delay(retry, options.retry_backoff)
            return Verdict("retry", retry=retry, throttle=throttle)
        return Verdict("fail", goes_on=self.backend.batch_goes_on(error, link_alive))


class Lease:
    """One ``send_messages`` call's use of the pool: :meth:`start` (the frame's
    ``connect``), :meth:`run` (its ``send_batch``), :meth:`end` (always)."""

    def __init__(self, backend: SMTPBackend, size: int) -> None:
        self.backend = backend
        self.pool: Pool = backend.pool
        self.primary: Link | None = None
        #: The instance's session, taken for this send (its connection is ``primary``).
        self.session: ThreadSession | None = None
        self.holding = False
        #: the extra connections the batch of ``size`` messages may use
        self.extra = max(0, min(backend.options.max_connections, size) - 1)
        self.threads: list[threading.Thread] = []
        self.failures: list[BaseException] = []
        self.work: Work | None = None  # given to the extra workers by run(), or None
        self.go = threading.Event()  # set when ``work`` is decided

    def _start_extras(self) -> None:
        """Start the extra workers once: each connects at once, then waits for
        :meth:`run` to hand it the batch (or to give up, the first connection failing)."""
        if self.threads or not self.extra:
            return
        for _ in range(self.extra):
            context = contextvars.copy_context()
            thread = threading.Thread(target=context.run, args=(self._extra_worker,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _connect_primary(self) -> Link:
        """The first connection, its slot taken: once the server has accepted it (so the
        server sees it first), the extra ones connect while it is greeted and says EHLO."""
        return self.backend.connect_link_retrying(self._start_extras)

    def start(self) -> bool:
        """Take the instance's own connection (``open()``) if free, else one from the
        pool (waiting while ``max_connections`` are in use). Never "opens" in the
        frame's sense: :meth:`end` gives everything back."""
        self.pool.hold()
        self.holding = True
        connect = self._connect_primary
        while True:
            session = self.backend.session
            if session is None:
                self.primary = self.pool.acquire(connect)
                return False
            if session.take():
                break
            if session.opened:
                # another thread sends on the instance's own connection: take another
                # one from the pool, or wait for that one to be free
                self.primary = self.pool.acquire(connect, wait=False)
                if self.primary is not None:
                    return False
                session.wait_free(0.05)
        self.session = session
        held = session.link
        if (
            held is not None
            and time.monotonic() - held.idle_since < self.pool.idle_timeout
            and not held.looks_closed()
        ):
            held.reused = held.transactions > 0
            self.primary = held
            return False
        if held is not None:
            # idle too long, or the server closed it while it sat idle: replace it
            session.follow(None)
            self.pool.release(held, keep=False)
        self.primary = self.pool.acquire(connect)
        session.follow(self.primary)
        return False

    def end(self) -> None:
        """Give the connections back (the instance keeps its own) and leave the pool."""
        self.go.set()  # extra workers not handed a batch (the first connection failed) give up
        for thread in self.threads:
            thread.join()
        primary, self.primary = self.primary, None
        session, self.session = self.session, None
        try:
            if session is not None:
                session.done(primary)
            elif primary is not None:
                self.pool.release(primary)
        finally:
            if self.holding:
                self.holding = False
                self.pool.unhold()

    def replaced(self, new: Link | None, primary: bool) -> None:
        """A worker's connection changed; the instance's own follows its replacement."""
        if primary:
            self.primary = new
            if self.session is not None:
                self.session.follow(new)

    def run(self, messages: list[EmailMessage]) -> int:
        """Send ``messages``; return how many were accepted (see the module doc)."""
        backend = self.backend
        work = Work(messages, backend.cancel_requested)
        self._start_extras()  # unless already connecting along with the first connection
        self.work = work
        self.go.set()
        try:
            _Worker(self, work, self.primary, primary=True).run()
        except BaseException as exc:
            self.failures.append(exc)
            work.stop(len(messages), exc)  # the other connections take no more
        for thread in self.threads:
            thread.join()
        return work.settle(backend, self.failures)

    def _extra_worker(self) -> None:
        try:
            link = self.pool.acquire(self.backend.connect_link, wait=False)
        except SMTPError as exc:
            log.debug("an extra connection failed (the others carry on): %s", exc)
            return
        if link is None:
            return
        self.go.wait()
        if self.work is None:  # the first connection failed: nothing is sent
            self.pool.release(link)
            return
        worker = _Worker(self, self.work, link, primary=False)
        try:
            worker.run()
        except BaseException as exc:
            self.failures.append(exc)
        finally:
            if worker.link is not None:
                self.pool.release(worker.link)


class _Worker:
    """Feeds messages of the batch to one connection (replaced when it dies)."""

    def __init__(self, lease: Lease, work: Work, link: Link | None, primary: bool) -> None:
        self.lease = lease
        self.backend = lease.backend
        self.work = work
        self.link = link
        self.primary = primary
        self.judge = Judge(self.backend)
        self.again: collections.deque[int] = collections.deque()
        if link is not None:
            link.since_checkout = 0

    def run(self) -> None:
        while True:
            if self.work.stopped is not None:
                self._abandon_pending()
                return
            index = self.again.popleft() if self.again else self.work.take()
            if index is None:
                self._flush()
                if self.again:
                    continue
                return
            self._attempt(index)

    def _attempt(self, index: int) -> None:
        backend = self.backend
        message = self.work.messages[index]
        link = self.link
        if link is not None and (
            not link.alive or link.transactions >= self.lease.pool.max_messages
        ):
            self._flush(then_quit=True)
            self._swap(None)
            link = None
        if link is None:
            try:
                link = self.lease.pool.acquire(backend.connect_link)
            except SMTPError as exc:
                self._handle(index, None, exc)
                return
            assert link is not None
            link.since_checkout = 0
            self._swap(link)
        try:
            tx = self.judge.begin(link, message, index)
        except SMTPError as exc:
            self._handle(index, None, exc)
            return
        if link.pipelining:
            previous = link.pending
            try:
                dones = pipelining.step(link, tx)
            except BaseException as exc:
                failed = previous if previous is not None else tx
                self._fatal(failed.index, exc)
                raise
            for done in dones:
                self._handle_done(done)
            return
        try:
            result = send_plain(tx, link.smtp)
        except SMTPError as exc:
            if isinstance(exc, SMTPConnectionError) or (needs_reset(exc) and not reset(link.smtp)):
                link.discard()
            self._handle(index, None, exc)
            return
        except BaseException as exc:
            link.discard()
            self._fatal(index, exc)
            raise
        self._handle(index, result, None)

    def _flush(self, then_quit: bool = False) -> None:
        link = self.link
        if link is not None and link.pending is not None:
            for done in pipelining.step(link, None, then_quit):
                self._handle_done(done)

    def _abandon_pending(self) -> None:
        """The batch stopped: a message whose DATA got 354 is abandoned by closing the
        connection before its final dot, so the server discards it (not attempted)."""
        link = self.link
        if link is not None and link.pending is not None:
            link.discard()

    def _swap(self, new: Link | None) -> None:
        old = self.link
        if old is not None and old is not new:
            self.lease.pool.release(old, keep=old.alive)
        self.link = new
        self.lease.replaced(new, self.primary)

    def _handle_done(self, done: Done) -> None:
        self._handle(done.transaction.index, done.result, done.error)

    def _fatal(self, index: int, error: BaseException) -> None:
        self.work.messages[index].result = SendResult("failed", error=error)
        self.work.stop(index, error)

    def _handle(self, index: int, result: SendResult | None, error: SMTPError | None) -> None:
        verdict = self.judge.record(self.work, self.again, self.link, index, result, error)
        if verdict is not None:
            assert error is not None
            self.backend.wait_before_retry(verdict.retry, error)
