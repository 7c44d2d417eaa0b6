"""The SMTP backend's native async sending: ``aopen``, ``aclose``, ``asend_messages``.

The async twin of :mod:`mailcore_smtp.sending`, on connections made by aiosmtplib
(:mod:`mailcore_smtp.aclient`) from the event loop's pool (:mod:`mailcore_smtp.apool`).
It decides nothing of its own: each transaction runs the sync path's steps
(:func:`~mailcore_smtp.transaction.plain_steps`, the pipelined
:func:`~mailcore_smtp.pipelining.steps`), a failed message's fate is the sync path's
:class:`~mailcore_smtp.sending.Judge` verdict, the batch's bookkeeping its
:class:`~mailcore_smtp.sending.Work`. What is here is the control flow with ``await``:
taking connections, the retry pauses (``asyncio.sleep``), the extra connections of a
batch (tasks), and cancellation.

Cancellation: a task cancelled while a transaction is on the wire closes that connection
at once (no connection is left that could carry half a message); the message in flight is
reported as the sync path reports a connection lost at that point (not accepted before
its final dot, ``outcome_unknown`` after it), every message not attempted as
:class:`~mailcore_smtp.SMTPBatchStoppedError` ("the sending task was cancelled"), and the
:class:`asyncio.CancelledError` is raised once every result is set.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailcore import SendError, SendResult
from mailcore_smtp.aclient import AsyncLink, adrive, handoffs, open_link
from mailcore_smtp.apool import AsyncPool, apool_for
from mailcore_smtp.errors import SMTPConnectionError, SMTPError
from mailcore_smtp.exchange import Cancelled
from mailcore_smtp.held import HeldSession
from mailcore_smtp.pipelining import steps
from mailcore_smtp.sending import Judge, Work
from mailcore_smtp.transaction import (
    Done,
    needs_reset,
    plain_steps,
    reset_steps,
)

if TYPE_CHECKING:
    from mailcore import EmailMessage
    from mailcore_smtp.backend import SMTPBackend

__all__ = ["aclose", "aopen", "asend_messages"]


@functools.cache
def _fqdn() -> str:
    return socket.getfqdn()


async def connect(backend: SMTPBackend) -> AsyncLink:
    """A new async connection for ``backend`` (EHLO name: ``local_hostname`` or this
    machine's name, looked up once in a thread)."""
    name = backend.options.local_hostname
    return await open_link(backend, name if name else await asyncio.to_thread(_fqdn))


async def connect_retrying(backend: SMTPBackend) -> AsyncLink:
    """:func:`connect`, tried again as :meth:`SMTPBackend.connect_link_retrying` does."""
    retry = 0
    while True:
        try:
            return await connect(backend)
        except SMTPError as exc:
            if not backend.may_retry_connect(retry, exc):
                raise
            retry += 1
            await asyncio.sleep(backend.retry_pause(retry, exc))


def backend_cancelled(backend: SMTPBackend) -> SMTPError:
    """The error of a message whose final dot went out on a connection handed to another
    call, when this call was cancelled before learning its end: ``outcome_unknown``."""
    return backend.translate(Cancelled(), "message")


class _Session(HeldSession[AsyncLink]):
    """An instance's own async connection, between ``aopen()`` and ``aclose()``
    (:mod:`mailcore_smtp.held`), on the event loop that opened it."""

    def __init__(self, pool: AsyncPool) -> None:
        super().__init__()
        self.pool = pool
        self.loop = asyncio.get_running_loop()


_sessions: weakref.WeakKeyDictionary[SMTPBackend, _Session] = weakref.WeakKeyDictionary()


def _session(backend: SMTPBackend) -> _Session | None:
    return _sessions.get(backend)


async def aopen(backend: SMTPBackend) -> bool:
    """Take a connection of the loop's pool for ``backend`` unless it has one."""

    async def take() -> bool:
        if _session(backend) is not None:
            return False
        pool = apool_for(backend.options)
        session = _Session(pool)
        pool.hold()
        try:
            session.link = await pool.acquire(
                functools.partial(connect_retrying, backend), keep=True
            )
        except BaseException:
            await pool.unhold()
            raise
        if _session(backend) is not None:  # another task opened it meanwhile
            await aend(session)
            return False
        _sessions[backend] = session
        return True

    try:
        return await take()
    except backend.transport_errors:
        if backend.fail_silently:
            return False
        raise


async def aclose(backend: SMTPBackend) -> None:
    """Give the instance's connection back and stop using the pool (a send in progress
    on it gives it back when it ends)."""
    session = _sessions.pop(backend, None)
    if session is not None:
        await aend(session)


async def aend(session: _Session) -> None:
    """End ``session`` (:meth:`~mailcore_smtp.held.HeldSession.end`): its connection
    goes back to the pool, and its use of the pool ends."""
    link = session.end()
    if session.loop is not asyncio.get_running_loop():
        # opened on another event loop (closed, or not running here): its connection
        # and pool cannot be used from this one; close the connection without a word
        if link is not None:
            link.discard()
        return
    try:
        if link is not None:
            await session.pool.release(link)
    finally:
        await session.pool.unhold()


async def asend_messages(backend: SMTPBackend, messages: Iterable[EmailMessage]) -> int:
    """:meth:`SMTPBackend.send_messages`, natively async (see the module doc)."""
    lease = _Lease(backend)
    try:
        return await backend.adeliver_batch(messages, lease.start, lease.run)
    finally:
        await lease.end()


class _Lease:
    """One ``asend_messages`` call's use of the pool (:class:`mailcore_smtp.sending.Lease`)."""

    def __init__(self, backend: SMTPBackend) -> None:
        self.backend = backend
        self.pool = apool_for(backend.options)
        self.primary: AsyncLink | None = None
        self.session: _Session | None = None
        self.holding = False

    async def start(self) -> bool:
        """Take the instance's own connection (``aopen()``) if free, else one from the
        pool (waiting while ``max_connections`` are in use)."""
        self.pool.hold()
        self.holding = True
        session = _session(self.backend)
        if session is not None and session.pool is self.pool and session.take_for_send():
            self.session = session
            held = session.link
            if held is not None:
                idle = time.monotonic() - held.idle_since
                if idle < self.pool.idle_timeout and not held.looks_closed():
                    held.reused = held.transactions > 0
                    self.primary = held
                    return False
                session.replace(None)
                await self.pool.release(held, keep=False)
            self.primary = await self.pool.acquire(self._connect)
            session.replace(self.primary)
            return False
        self.primary = await self.pool.acquire(self._connect)
        return False

    async def _connect(self) -> AsyncLink:
        return await connect_retrying(self.backend)

    async def end(self) -> None:
        """Give the connections back (the instance keeps its own) and leave the pool."""
        primary, self.primary = self.primary, None
        session, self.session = self.session, None
        try:
            back = session.give_back(primary) if session is not None else primary
            if back is not None:
                await self.pool.release(back, keep=back.alive)
        finally:
            if self.holding:
                self.holding = False
                await self.pool.unhold()

    def replaced(self, new: AsyncLink | None, primary: bool) -> None:
        """A worker's connection changed; the instance's own follows its replacement."""
        if primary:
            self.primary = new
            if self.session is not None:
                self.session.replace(new)

    async def run(self, messages: list[EmailMessage]) -> int:
        """Send ``messages``; return how many were accepted."""
        backend = self.backend
        work = Work(messages)
        extra = min(backend.options.max_connections, len(messages)) - 1
        failures: list[BaseException] = []
        tasks = [asyncio.create_task(self._extra(work, failures)) for _ in range(max(0, extra))]
        try:
            await _Worker(self, work, self.primary, primary=True).run()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                work.stop(len(messages), SendError("the sending task was cancelled"))
                for task in tasks:
                    task.cancel()
            failures.append(exc)
            work.stop(len(messages), exc)  # the other connections take no more
        if tasks:
            await asyncio.wait(tasks)
        return work.settle(backend, failures)

    async def _extra(self, work: Work, failures: list[BaseException]) -> None:
        try:
            link = await self.pool.acquire(functools.partial(connect, self.backend), wait=False)
        except SMTPError:
            return  # an extra connection failed: the others carry on
        if link is None:
            return
        worker = _Worker(self, work, link, primary=False)
        try:
            await worker.run()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                work.stop(len(work.messages), SendError("the sending task was cancelled"))
            failures.append(exc)
        finally:
            if worker.link is not None:
                await self.pool.release(worker.link)


class _Worker:
    """Feeds messages of the batch to one connection (``sending._Worker``, async)."""

    def __init__(self, lease: _Lease, work: Work, link: AsyncLink | None, primary: bool) -> None:
        self.lease = lease
        self.backend = lease.backend
        self.pool = lease.pool
        self.work = work
        self.link = link
        self.primary = primary
        self.judge = Judge(self.backend)
        self.again: collections.deque[int] = collections.deque()
        self.timeout = self.backend.options.timeout
        if link is not None:
            link.since_checkout = 0

    async def run(self) -> None:
        try:
            while True:
                if self.work.stopped is not None:
                    link = self.link
                    if link is not None and link.pending in handoffs:
                        await self._flush()  # another call's message: complete it
                    self._abandon_pending()
                    return
                index = self.again.popleft() if self.again else self.work.take()
                if index is None:
                    if not await self._hand_over():
                        await self._flush()
                    if self.again:
                        continue
                    return
                await self._attempt(index)
        except BaseException:
            self._abandon_pending()  # cancelled between steps: its DATA is never completed
            raise

    async def _attempt(self, index: int) -> None:
        link = self.link
        if link is not None and (not link.alive or link.transactions >= self.pool.max_messages):
            await self._flush(then_quit=True)
            await self._swap(None)
            link = None
        if link is None:
            try:
                link = await self.pool.acquire(self.lease._connect)
            except SMTPError as exc:
                await self._handle(index, None, exc)
                return
            assert link is not None
            link.since_checkout = 0
            await self._swap(link)
        try:
            tx = self.judge.begin(link, self.work.messages[index], index)
        except SMTPError as exc:
            await self._handle(index, None, exc)
            return
        if link.pipelining:
            previous = link.pending
            try:
                dones = await adrive(steps(link, tx), link, self.timeout)
            except BaseException as exc:
                failed = previous if previous is not None else tx
                self._fatal(failed.index, exc)
                raise
            for done in dones:
                await self._handle_done(done)
            self._after(link)
            return
        try:
            result = await adrive(plain_steps(tx), link, self.timeout)
        except SMTPError as exc:
            if isinstance(exc, SMTPConnectionError) or (
                needs_reset(exc) and not await adrive(reset_steps(), link, self.timeout)
            ):
                link.discard()
            await self._handle(index, None, exc)
            self._after(link)
            return
        except BaseException as exc:
            link.discard()
            self._fatal(index, exc)
            raise
        await self._handle(index, result, None)
        self._after(link)

    @staticmethod
    def _after(link: AsyncLink) -> None:
        """Raise the cancellation that broke the transaction, its results now set."""
        if link.cancelled:
            raise asyncio.CancelledError

    async def _hand_over(self) -> bool:
        """The batch is done but for the pending message (its DATA got 354) and another
        call waits for a connection: hand it this one, so that call's first write carries
        this message's content and final dot with its own commands (a round trip saved
        per message when many calls send at once, as within a pipelined batch). Then wait
        for how this message ended, read by that call, and judge it here. False when
        nobody waits (or the connection is the instance's own)."""
        link = self.link
        if link is None or link.pending is None or not self.pool.waiting:
            return False
        if self.primary and self.lease.session is not None:
            return False
        tx = link.pending
        ended: asyncio.Future[Done] = asyncio.get_running_loop().create_future()
        handoffs[tx] = ended
        if not self.pool.hand_over(link):
            del handoffs[tx]
            return False
        self.link = None
        self.lease.replaced(None, self.primary)
        try:
            done = await ended
        except asyncio.CancelledError:
            # the other call completes the message; this one cannot know how it ended
            handoffs.pop(tx, None)
            lost = backend_cancelled(self.backend)
            self.work.fail(tx.index, lost, goes_on=False)
            raise
        await self._handle(tx.index, done.result, done.error)
        return True

    async def _flush(self, then_quit: bool = False) -> None:
        link = self.link
        if link is not None and link.pending is not None:
            for done in await adrive(steps(link, None, then_quit), link, self.timeout):
                await self._handle_done(done)
            self._after(link)

    def _abandon_pending(self) -> None:
        """A message whose DATA got 354 is abandoned by closing the connection before
        its final dot, so the server discards it (not attempted)."""
        link = self.link
        if link is not None and link.pending is not None:
            link.discard()

    async def _swap(self, new: AsyncLink | None) -> None:
        old = self.link
        if old is not None and old is not new:
            await self.pool.release(old, keep=old.alive)
        self.link = new
        self.lease.replaced(new, self.primary)

    async def _handle_done(self, done: Done) -> None:
        waiting = handoffs.pop(done.transaction, None)
        if waiting is not None:  # another call's message, handed over with the connection
            if not waiting.done():
                waiting.set_result(done)
            return
        await self._handle(done.transaction.index, done.result, done.error)

    def _fatal(self, index: int, error: BaseException) -> None:
        self.work.messages[index].result = SendResult("failed", error=error)
        self.work.stop(index, error)

    async def _handle(self, index: int, result: SendResult | None, error: SMTPError | None) -> None:
        link = self.link
        if error is not None and link is not None and link.cancelled:
            self.work.fail(index, error, goes_on=False)  # no retry of a cancelled send
            return
        verdict = self.judge.record(self.work, self.again, link, index, result, error)
        if verdict is not None:
            assert error is not None
            await asyncio.sleep(self.backend.retry_pause(verdict.retry, error))
