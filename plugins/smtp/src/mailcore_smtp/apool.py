"""The pool of async SMTP connections, one per event loop and configuration.

The async twin of :class:`mailcore_smtp.pool.Pool`, with its rules: found under the same
:func:`~mailcore_smtp.pool.pool_key`, so every instance of one mailer shares it; at most
``max_connections`` open (a task waits for a free one, except when waiting could never
end, decided by the same :func:`~mailcore_smtp.pool.would_deadlock`, tasks in place of
threads; waiting tasks are served first come, first served: a connection given back
goes straight to the longest waiter, a place freed is kept for the task woken for it); a
wait without progress ends at the deadline of the same
:class:`~mailcore_smtp.pool.WaitClock` (``timeout``; ``data_timeout`` while a send uses a
busy connection) with the same :class:`~mailcore_smtp.SMTPPoolTimeoutError`; kept while
someone uses it, closed (QUIT) when the last user leaves, after ``idle_timeout`` idle or
``max_messages_per_connection`` messages, replaced when the server closed it while it
sat idle.

An asyncio connection belongs to the event loop that made it, so each running loop has
its own pool: ``max_connections`` bounds the async connections of one loop (several
loops, say ``asyncio.run`` in several threads, each get as many), and the sync sends of
the process have their own pool beside them. The rate limit (``max_per_second``) is the
sync pool's, shared by every loop and thread.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import TYPE_CHECKING

from mailcore_smtp.pool import WaitClock, pool_key, would_deadlock

if TYPE_CHECKING:
    from mailcore_smtp.aclient import AsyncLink
    from mailcore_smtp.options import SMTPOptions

__all__ = ["AsyncPool", "apool_for"]

log = logging.getLogger("mailcore.smtp")

#: Seconds between two looks, while waiting, at the progress of the busy connections.
_RECHECK = 0.2


#: A number for each task that took a connection, never given to another task: an
#: ``id()`` is reused once its task is freed, and a new task taken for the one that
#: opened an instance would be judged to wait for its own connection (would_deadlock).
_task_numbers: weakref.WeakKeyDictionary[asyncio.Task[object], int] = weakref.WeakKeyDictionary()
_next_number = itertools.count(1)


def _me() -> int:
    task = asyncio.current_task()
    if task is None:
        return 0
    number = _task_numbers.get(task)
    if number is None:
        number = _task_numbers[task] = next(_next_number)
    return number


class AsyncPool:
    """Async connections to one server with one configuration (see the module doc)."""

    def __init__(self, options: SMTPOptions) -> None:
        self.max_connections = options.max_connections
        self.max_messages = options.max_messages_per_connection
        self.idle_timeout = options.idle_timeout
        self.timeout = options.timeout
        self.data_timeout = options.data_timeout
        self.host = options.host
        self.port = options.port
        self._idle: list[AsyncLink] = []
        #: Connections taken by a task (not idle, not being opened).
        self._busy: set[AsyncLink] = set()
        #: Bumped when a connection is given back, opened or closed.
        self._changes = 0
        self._open = 0
        self._users = 0
        self._owned: collections.Counter[int] = collections.Counter()
        self._waiting: set[int] = set()
        #: One future per waiting task, woken one at a time (first come, first served).
        self._wakers: collections.deque[asyncio.Future[AsyncLink | None]] = collections.deque()
        #: Tasks woken for a freed place that have not taken it yet: a place promised
        #: to them, which a task that comes later may not take (first come, first served).
        self._promised = 0
        #: Wakers of tasks that will keep the connection unused (``aopen()``): they are
        #: handed no connection with a message pending (nobody would complete it).
        self._keepers: set[asyncio.Future[AsyncLink | None]] = set()
        self._reaper: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        #: The most connections open at once (for tests and benchmarks).
        self.most_open = 0

    @property
    def open_connections(self) -> int:
        """Connections open or being opened, idle or in use."""
        return self._open

    def hold(self) -> None:
        """Start using the pool: its connections stay open until :meth:`unhold`."""
        self._users += 1

    async def unhold(self) -> None:
        """Stop using it; the last user leaving closes every idle connection."""
        self._users -= 1
        if self._users == 0 and self._idle:
            idle, self._idle = self._idle, []
            await self._close(idle)

    async def acquire(
        self,
        connect: Callable[[], Awaitable[AsyncLink]],
        wait: bool = True,
        keep: bool = False,
    ) -> AsyncLink | None:
        """A connection for the current task: an idle one that still looks open, else a
        new one (``connect()``) if fewer than ``max_connections`` are open; else wait for
        one (``wait``) or return ``None``. A failed ``connect()`` raises; so does a wait
        without progress (:class:`~mailcore_smtp.pool.WaitClock`). ``keep``: the task
        keeps the connection without sending (``aopen()``), so it is handed none with a
        message pending (:meth:`hand_over`)."""
        me = _me()
        clock = WaitClock(self.timeout, self.data_timeout)
        woken = False  # whether the place of one promised (_promised) is this task's
        while True:
            if woken:
                woken = False
                self._promised -= 1
            now = time.monotonic()
            stale = []
            while self._idle:
                link = self._idle.pop()
                if now - link.idle_since >= self.idle_timeout or link.looks_closed():
                    stale.append(link)
                    continue
                if stale:
                    await self._close(stale)
                link.reused = True
                self._take(link, me)
                return link
            if stale:
                log.debug("replacing pooled connections that were idle too long or closed")
                await self._close(stale)
                continue
            free = self.max_connections - self._promised
            if self._open < free or (wait and self._would_deadlock(me)):
                self._open += 1
                self.most_open = max(self.most_open, self._open)
                self._owned[me] += 1
                try:
                    link = await connect()
                except BaseException:
                    self._open -= 1
                    self._disown(me)
                    self._notify()
                    raise
                link.owner = me
                self._busy.add(link)
                self._changes += 1
                return link
            if not wait:
                return None
            given = await self._wait(me, clock, keep)
            if given is None:
                woken = True
                continue
            self._take(given, me)
            given.reused = given.pending is None  # a kept one, or one with content
            return given

    async def _wait(self, me: int, clock: WaitClock, keep: bool) -> AsyncLink | None:
        """Wait for a connection given back (``None``: one was closed, try again) or
        handed over; raises :class:`~mailcore_smtp.SMTPPoolTimeoutError` at ``clock``'s
        deadline."""
        self._waiting.add(me)
        waker: asyncio.Future[AsyncLink | None] = asyncio.get_running_loop().create_future()
        self._wakers.append(waker)
        if keep:
            self._keepers.add(waker)
        try:
            while not waker.done():
                now = time.monotonic()
                deadline = clock.deadline(self._changes, self._busy, now)
                if now >= deadline:
                    raise clock.error(
                        self.host, self.port, self._busy, self._open, self.max_connections
                    )
                await asyncio.wait((waker,), timeout=min(deadline - now, _RECHECK))
            return waker.result()
        except BaseException:
            if waker.done() and not waker.cancelled():
                given = waker.result()
                if given is None:
                    self._promised -= 1
                    self._notify()  # woken, then cancelled: pass the place on
                elif given.pending is None:
                    self._take(given, me)
                    self._in_background(self.release(given))  # handed, then cancelled: pass it on
                elif not self.hand_over(given):
                    self._finish_orphan(given)
            else:
                waker.cancel()  # no longer waiting: not to be woken
            raise
        finally:
            self._waiting.discard(me)
            self._keepers.discard(waker)

    def _take(self, link: AsyncLink, me: int) -> None:
        self._owned[me] += 1
        link.owner = me
        self._busy.add(link)

    def _disown(self, owner: int) -> None:
        """``owner`` gave a connection back (a task that holds none is forgotten: tasks
        come and go by the thousand)."""
        self._owned[owner] -= 1
        if self._owned[owner] <= 0:
            del self._owned[owner]

    def _would_deadlock(self, me: int) -> bool:
        return would_deadlock(self._owned, self._waiting, me, self._open, len(self._idle))

    def _notify(self) -> None:
        """A place was freed (a connection closed, or one failed to open): wake the
        first waiting task and promise it the place."""
        self._changes += 1
        while self._wakers:
            waker = self._wakers.popleft()
            if not waker.done():
                self._promised += 1
                waker.set_result(None)
                return

    def _give_to_waiter(self, link: AsyncLink) -> bool:
        """Hand ``link``, given back unused and alive, straight to the first waiting
        task (so a task that asks later, say in a loop, cannot take it first); False
        when no task waits."""
        while self._wakers:
            waker = self._wakers.popleft()
            if not waker.done():
                self._changes += 1
                waker.set_result(link)
                return True
        return False

    def _in_background(self, work: Coroutine[object, object, None]) -> None:
        """Run ``work`` in a task of its own, kept referenced until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @property
    def waiting(self) -> bool:
        """Some task that sends waits for a connection."""
        return any(not w.done() and w not in self._keepers for w in self._wakers)

    def hand_over(self, link: AsyncLink) -> bool:
        """Give ``link`` (with a message pending, its DATA answered 354) straight to the
        first waiting task, whose first write then carries that content with its own
        commands; False when no task that sends waits."""
        for waker in self._wakers:
            if not waker.done() and waker not in self._keepers:
                self._wakers.remove(waker)
                self._disown(link.owner)
                waker.set_result(link)
                return True
        return False

    def _finish_orphan(self, link: AsyncLink) -> None:
        """A connection handed to a task that was cancelled before taking it: send its
        pending content, read the reply for the call that waits on it, give it back."""
        from mailcore_smtp.aclient import adrive, handoffs
        from mailcore_smtp.pipelining import steps

        async def finish() -> None:
            self._owned[_me()] += 1
            link.owner = _me()
            try:
                for done in await adrive(steps(link, None), link, self.timeout):
                    waiting = handoffs.pop(done.transaction, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(done)
            finally:
                await self.release(link, keep=link.alive)

        self._in_background(finish())

    async def release(self, link: AsyncLink, keep: bool = True) -> None:
        """Give a connection back: kept idle when ``keep``, alive, under
        ``max_messages_per_connection``, the pool is in use and no more than
        ``max_connections`` are open; else closed (before another may open)."""
        self._disown(link.owner)
        self._busy.discard(link)
        link.holder = None  # given back: no instance keeps it any more
        keep = keep and link.alive and link.pending is None and not link.transport.is_closing()
        keep = keep and link.transactions < self.max_messages
        if keep and self._users > 0 and self._open <= self.max_connections:
            link.idle_since = time.monotonic()
            if self._give_to_waiter(link):
                return
            self._idle.append(link)
            self._notify()
            self._schedule_reaper()
            return
        await self._close([link])

    async def _close(self, links: list[AsyncLink]) -> None:
        try:
            for link in links:
                if link.looks_closed():
                    link.discard()
            # every QUIT written before any reply is awaited: one round trip for all
            await asyncio.gather(*(link.quit(self.timeout) for link in links if link.alive))
        finally:
            self._open -= len(links)
            self._notify()

    def _schedule_reaper(self) -> None:
        if self._reaper is None:
            loop = asyncio.get_running_loop()
            self._reaper = loop.call_later(self.idle_timeout, self._reap)

    def _reap(self) -> None:
        """Close connections idle for ``idle_timeout`` (a timer while any is idle)."""
        self._reaper = None
        now = time.monotonic()
        expired = [link for link in self._idle if now - link.idle_since >= self.idle_timeout]
        self._idle = [link for link in self._idle if link not in expired]
        if self._idle:
            self._schedule_reaper()
        if expired:
            self._in_background(self._close(expired))


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, AsyncPool]] = (
    weakref.WeakKeyDictionary()
)


def apool_for(options: SMTPOptions) -> AsyncPool:
    """The running loop's pool for backends configured as ``options``."""
    loop = asyncio.get_running_loop()
    pools = _pools.setdefault(loop, {})
    key = pool_key(options)
    pool = pools.get(key)
    if pool is None:
        pool = pools[key] = AsyncPool(options)
    return pool
