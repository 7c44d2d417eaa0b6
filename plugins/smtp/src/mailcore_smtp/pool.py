"""The connection pool of the SMTP backend, shared process-wide by configuration.

Every :class:`~mailcore_smtp.SMTPBackend` draws its connections from a :class:`Pool`
found in a process-wide registry under the backend's *effective connection options*
(:func:`pool_key`: server, TLS mode, login, EHLO name, timeouts and the pool and rate
options). Every instance configured the same way (as every instance of one mailer is)
therefore shares one pool, and ``max_connections`` bounds the connections open to that
server from this process, however many instances and threads send.

A pool keeps connections while someone uses it: an instance between ``open()`` and
``close()``, or a ``send_messages`` call in progress. When the last user leaves, its idle
connections are closed (QUIT); so a lone ``send_mail`` connects, sends and quits as it
always did. A connection idle longer than ``idle_timeout`` is closed, one that carried
``max_messages_per_connection`` messages is replaced, and one the server closed while it
sat idle is noticed and replaced before a message is given to it.

A thread waits for a free connection when ``max_connections`` are in use, except when
the wait could never end: when every busy connection is held by threads that are
themselves waiting for one (one thread that opened an instance and sends through another
configured alike; or two threads, each in a ``with get_connection()`` block, each then
calling ``send_mail()``). Then it gets one more connection instead, so
``max_connections`` is exceeded by one for that send; a connection given back while
more than ``max_connections`` are open is closed, not kept.

A wait has a deadline: ``timeout`` seconds during which the pool made no progress (no
connection given back, opened or closed, no message handed to a busy connection) while
no send used a busy connection (all kept, unused, by open instances); ``data_timeout``
(if longer) while a send uses one, since a send's own waits end within that. Then
:class:`~mailcore_smtp.SMTPPoolTimeoutError` is raised (:class:`WaitClock`, the async
pool's rule too). A long batch on another thread makes progress with every message, so
waiting behind it does not time out while it sends. A connection held by an instance
whose opening thread has ended (``open()`` without ``close()``), or by an instance that
was garbage-collected, is taken back for a waiter: from an instance still alive only
while no send uses it; the instance takes a new one on its next send.
Closing several connections (the last user leaving, the idle reaper) writes every QUIT
first and then reads the replies: one round trip for all, not one each.
"""

from __future__ import annotations

import collections
import logging
import select
import smtplib
import threading
import time
import weakref
from collections.abc import Callable, Collection, Hashable, Iterable
from typing import TYPE_CHECKING, Protocol

from mailcore import RateLimiter
from mailcore_smtp.errors import SMTPPoolTimeoutError

if TYPE_CHECKING:
    from mailcore_smtp.options import SMTPOptions
    from mailcore_smtp.transaction import Transaction

__all__ = [
    "Holder",
    "Link",
    "LinkState",
    "Pool",
    "WaitClock",
    "pool_for",
    "pool_key",
    "quit_all",
    "would_deadlock",
]

log = logging.getLogger("mailcore.smtp")

#: Seconds between two looks, while waiting, at threads that may have ended meanwhile.
_RECHECK = 0.2


class Holder(Protocol):
    """What keeps a connection between ``open()`` and ``close()``: an instance, or its
    async session (``aopen()``)."""

    def surrender_held(self, link: Link) -> bool:
        """Let the pool take ``link`` back, unless a send is using it (then False)."""
        ...

    def sending_on_held(self) -> bool:
        """Whether a send is using the kept connection now."""
        ...


class LinkState:
    """A pooled connection's bookkeeping, sync (:class:`Link`) or async.

    ``pipelining``: the server offers PIPELINING and the option allows it; ``pending``:
    with pipelining, the transaction whose DATA got 354 and whose content goes out with
    the next write; ``transactions``: messages given to it; ``reused``: it sat idle in
    the pool before this use (the server may have closed it meanwhile).
    """

    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.pending: Transaction | None = None
        self.transactions = 0
        self.since_checkout = 0
        self.reused = False
        #: The thread (or task) that took it from the pool.
        self.owner = 0
        self.idle_since = time.monotonic()
        self.alive = True
        #: What keeps it between ``open()`` and ``close()``, if anything.
        self.holder: weakref.ref[Holder] | None = None


class Link(LinkState):
    """One pooled connection: the :class:`smtplib.SMTP` object and its bookkeeping."""

    def __init__(self, smtp: smtplib.SMTP, pipelining: bool) -> None:
        super().__init__(pipelining)
        self.smtp = smtp
        #: The thread that took it from the pool (the owner's thread itself).
        self.thread: weakref.ref[threading.Thread] | None = None

    def owner_ended(self) -> bool:
        """True when the thread that took it has ended."""
        thread = self.thread() if self.thread is not None else None
        return thread is None or not thread.is_alive()

    def looks_closed(self) -> bool:
        """True when the server has closed it or spoke unasked (a ``421`` before closing):
        either way it cannot carry a message. Does not wait."""
        sock = self.smtp.sock
        if sock is None or not self.alive:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def discard(self) -> None:
        """Close the socket without a word (after a failure, or to abandon a DATA
        whose final dot was not sent: the server then discards that message)."""
        self.alive = False
        self.pending = None
        self.smtp.close()

    def quit(self) -> None:
        """Say QUIT and close; errors while quitting are ignored. Inside DATA (a
        pending message) it only closes: a QUIT there would be taken as content."""
        quit_all([self])


def quit_all(links: Iterable[Link]) -> None:
    """QUIT on every link, then close them: every QUIT is written before any reply is
    read, so closing many costs one round trip. Errors are ignored; a link inside DATA
    (a pending message) is only closed (a QUIT there would be taken as content)."""
    asked: list[Link] = []
    for link in links:
        if link.alive and link.pending is None and link.smtp.sock is not None:
            try:
                link.smtp.putcmd("quit")
                asked.append(link)
                continue
            except (smtplib.SMTPException, OSError) as exc:
                log.debug("QUIT failed (ignored): %s", exc)
        link.discard()
    for link in asked:
        try:
            link.smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            log.debug("QUIT failed (ignored): %s", exc)
        link.discard()


def _in_a_send(link: LinkState) -> bool:
    """Whether a send is using ``link`` (one kept by no instance is only ever taken for
    a send; an instance's own one, while a send holds it)."""
    ref = link.holder
    if ref is None:
        return True
    holder = ref()
    return holder is not None and holder.sending_on_held()


class WaitClock:
    """The deadline of one wait for a free connection: the rule of the sync pool and of
    the async one (see the module doc). The wait ends ``wait_timeout`` seconds after the
    pool last made progress while every busy connection is kept, unused, by an open
    instance; ``send_timeout`` seconds (if longer) while a send uses one."""

    def __init__(self, wait_timeout: float, send_timeout: float) -> None:
        self.wait_timeout = wait_timeout
        self.send_timeout = max(send_timeout, wait_timeout)
        self._seen: tuple[int, int] | None = None
        self._since = 0.0
        #: The last look saw progress (the clock started again).
        self.progressed = False
        #: The last look saw a send using a busy connection.
        self.sending = False

    def deadline(self, changes: int, busy: Collection[LinkState], now: float) -> float:
        """When the wait ends unless the pool makes progress; ``changes``: a count the
        pool bumps when a connection is given back, opened or closed; ``busy``: the
        connections in use (a message handed to one is progress too)."""
        seen = (changes, sum(link.transactions for link in busy))
        self.progressed = seen != self._seen
        if self.progressed:
            self._seen, self._since = seen, now
        self.sending = any(_in_a_send(link) for link in busy)
        return self._since + (self.send_timeout if self.sending else self.wait_timeout)

    def error(
        self, host: str, port: int, busy: Collection[LinkState], open_count: int, most: int
    ) -> SMTPPoolTimeoutError:
        """The error of the wait that reached its :meth:`deadline` (``most``:
        ``max_connections``)."""
        held = sum(1 for link in busy if link.holder is not None)
        seconds, option = (
            (self.send_timeout, "data_timeout") if self.sending else (self.wait_timeout, "timeout")
        )
        where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        return SMTPPoolTimeoutError(
            f"SMTP server {where}: no pooled connection became free within "
            f"{seconds:g} s ({option}): all {open_count} (max_connections={most}) stayed "
            f"busy and sent nothing meanwhile, {held} of them kept by open instances; "
            "close() each instance you open(), or raise max_connections",
            host=host,
            port=port,
            stage="connect",
        )


class Pool:
    """Connections to one server with one configuration (see the module doc)."""

    def __init__(
        self,
        max_connections: int,
        max_messages: int,
        idle_timeout: float,
        max_per_second: float | None,
        wait_timeout: float = 30.0,
        send_timeout: float = 600.0,
        host: str = "localhost",
        port: int = 25,
    ) -> None:
        self.max_connections = max_connections
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self.limiter = RateLimiter(max_per_second)
        #: Seconds a wait for a free connection may last without progress
        #: (:class:`WaitClock`): ``timeout``, and ``data_timeout`` while a send uses one.
        self.wait_timeout = wait_timeout
        self.send_timeout = send_timeout
        self.host = host
        self.port = port
        self._cond = threading.Condition()
        self._idle: list[Link] = []
        #: Connections taken by a user (not idle, not being opened).
        self._busy: set[Link] = set()
        #: Bumped when a connection is given back, opened or closed.
        self._changes = 0
        self._open = 0
        self._users = 0
        #: Connections in use (or being opened), by the thread that took them.
        self._owned: collections.Counter[int] = collections.Counter()
        #: Threads waiting in :meth:`acquire`.
        self._waiting: set[int] = set()
        self._reaper: threading.Timer | None = None

    @property
    def open_connections(self) -> int:
        """Connections open or being opened, idle or in use."""
        with self._cond:
            return self._open

    def hold(self) -> None:
        """Start using the pool: its connections stay open until :meth:`unhold`."""
        with self._cond:
            self._users += 1

    def unhold(self) -> None:
        """Stop using it; the last user leaving closes every idle connection."""
        with self._cond:
            self._users -= 1
            idle = self._idle if self._users == 0 else []
            if idle:
                self._idle = []
        quit_all(idle)
        if idle:
            with self._cond:
                self._open -= len(idle)
                self._changes += 1
                self._cond.notify_all()

    def acquire(self, connect: Callable[[], Link], wait: bool = True) -> Link | None:
        """A connection for one user: an idle one that still looks open, else a new one
        (``connect()``) if fewer than ``max_connections`` are open; else wait for one
        (``wait``) or return ``None``. A failed ``connect()`` raises; so does a wait
        without progress for ``timeout`` seconds (:class:`SMTPPoolTimeoutError`)."""
        me = threading.get_ident()
        clock = WaitClock(self.wait_timeout, self.send_timeout)
        tried: set[Link] = set()  # orphans whose instance kept them (a send used them)
        while True:
            stale: list[Link] = []
            orphans: list[Link] = []
            link = None
            opening = False
            with self._cond:
                while True:
                    now = time.monotonic()
                    while self._idle and link is None:
                        candidate = self._idle.pop()
                        if (
                            now - candidate.idle_since >= self.idle_timeout
                            or candidate.looks_closed()
                        ):
                            stale.append(candidate)  # counted open until closed below
                        else:
                            link = candidate
                            link.reused = True
                            self._owned[me] += 1
                    if link is not None or stale:
                        break
                    if self._open < self.max_connections or (wait and self._would_deadlock(me)):
                        self._open += 1
                        self._owned[me] += 1
                        opening = True
                        break
                    if not wait:
                        return None
                    deadline = clock.deadline(self._changes, self._busy, now)
                    if clock.progressed:
                        tried.clear()
                    orphans = [b for b in self._busy if b not in tried and b.owner_ended()]
                    if orphans:
                        tried.update(orphans)
                        break
                    if now >= deadline:
                        raise clock.error(
                            self.host, self.port, self._busy, self._open, self.max_connections
                        )
                    self._waiting.add(me)
                    try:
                        self._cond.wait(min(deadline - now, _RECHECK))
                    finally:
                        self._waiting.discard(me)
                if link is not None:
                    self._take(link, me)
            if stale:
                log.debug("replacing pooled connections that were idle too long or closed")
                for old in stale:
                    if old.looks_closed():
                        old.discard()
                quit_all(stale)
                with self._cond:
                    self._open -= len(stale)
                    self._changes += 1
                    self._cond.notify_all()
            if orphans:
                self._reclaim(orphans)
            if link is not None:
                return link
            if opening:
                try:
                    link = connect()
                except BaseException:
                    with self._cond:
                        self._open -= 1
                        self._owned[me] -= 1
                        self._changes += 1
                        self._cond.notify_all()
                    raise
                with self._cond:
                    self._take(link, me)
                    self._changes += 1
                return link

    def _take(self, link: Link, me: int) -> None:
        """``link`` goes to thread ``me`` (lock held)."""
        link.owner = me
        link.thread = weakref.ref(threading.current_thread())
        self._busy.add(link)

    def _reclaim(self, orphans: list[Link]) -> None:
        """Take back connections whose thread ended: one kept by a live instance only if
        it gives it up (no send is using it); one taken by no instance is closed (its
        state is unknown). One whose instance was collected is given back by the
        instance's finalizer. Called without the lock (an instance's own lock is
        taken)."""
        for link in orphans:
            ref = link.holder
            if ref is None:
                self.release(link, keep=False)
                continue
            holder = ref()
            if holder is not None and holder.surrender_held(link):
                log.debug("took back a connection kept open by a thread that ended")
                self.release(link)

    def _would_deadlock(self, me: int) -> bool:
        """Whether thread ``me`` waiting would wait for ever (:func:`would_deadlock`).
        Called with the lock held."""
        return would_deadlock(self._owned, self._waiting, me, self._open, len(self._idle))

    def release(self, link: Link, keep: bool = True) -> None:
        """Give a connection back: kept idle when ``keep``, alive, under
        ``max_messages_per_connection``, the pool is in use and no more than
        ``max_connections`` are open; else closed."""
        keep = keep and link.alive and link.pending is None and link.smtp.sock is not None
        keep = keep and link.transactions < self.max_messages
        with self._cond:
            self._busy.discard(link)
            self._owned[link.owner] -= 1
            if self._owned[link.owner] <= 0:
                del self._owned[link.owner]
            self._changes += 1
            if keep and self._users > 0 and self._open <= self.max_connections:
                link.idle_since = time.monotonic()
                self._idle.append(link)
                self._cond.notify_all()
                self._schedule_reaper()
                return
        link.quit()  # closed before another may open: never more than max_connections
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def _schedule_reaper(self) -> None:
        if self._reaper is None:
            timer = threading.Timer(self.idle_timeout, self._reap)
            timer.daemon = True
            self._reaper = timer
            timer.start()

    def _reap(self) -> None:
        """Close connections idle for ``idle_timeout``; run by a timer while any is idle."""
        with self._cond:
            self._reaper = None
            now = time.monotonic()
            expired = [link for link in self._idle if now - link.idle_since >= self.idle_timeout]
            self._idle = [link for link in self._idle if link not in expired]
            if self._idle:
                self._schedule_reaper()
        quit_all(expired)
        if expired:
            with self._cond:
                self._open -= len(expired)
                self._changes += 1
                self._cond.notify_all()


def would_deadlock(
    owned: collections.Counter[int], waiting: set[int], me: int, open_count: int, idle: int
) -> bool:
    """Whether ``me`` (a thread, or an async pool's task) waiting for a connection would
    wait for ever: every busy connection is held by waiters (or by ``me``), so none is
    given back. Each waiter checks this before it waits, so the last one to come breaks
    the cycle. ``owned``: connections in use by their holder; ``waiting``: the waiters."""
    holders = {holder for holder, count in owned.items() if count > 0}
    held = sum(owned[holder] for holder in holders)
    # one being closed (counted open until it is) frees a place soon: no deadlock
    busy = open_count - idle
    return 0 < held >= busy and holders <= waiting | {me}


#: Pools by :func:`pool_key`, while some backend refers to its pool.
_registry: weakref.WeakValueDictionary[Hashable, Pool] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def pool_key(options: SMTPOptions) -> Hashable:
    """What makes two backends share a pool: every option about the connection."""
    password = options.password.get_secret_value() if options.password is not None else None
    return (
        options.host,
        options.port,
        options.use_tls,
        options.use_ssl,
        options.username,
        password,
        options.auth_method,
        options.oauth_token.get_secret_value() if options.oauth_token is not None else None,
        options.oauth_token_provider,
        options.local_hostname,
        str(options.ssl_certfile),
        str(options.ssl_keyfile),
        options.timeout,
        options.connect_timeout,
        options.data_timeout,
        options.pipelining,
        options.max_connections,
        options.max_messages_per_connection,
        options.idle_timeout,
        options.max_per_second,
    )


def pool_for(options: SMTPOptions) -> Pool:
    """The process-wide pool for backends configured as ``options``."""
    key = pool_key(options)
    with _registry_lock:
        pool = _registry.get(key)
        if pool is None:
            pool = _registry[key] = Pool(
                options.max_connections,
                options.max_messages_per_connection,
                options.idle_timeout,
                options.max_per_second,
                wait_timeout=options.timeout,
                send_timeout=options.data_timeout,
                host=options.host,
                port=options.port,
            )
        return pool
