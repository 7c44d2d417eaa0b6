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
"""

from __future__ import annotations

import collections
import logging
import select
import smtplib
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from mailcore import RateLimiter

if TYPE_CHECKING:
    from mailcore_smtp.options import SMTPOptions
    from mailcore_smtp.transaction import Transaction

__all__ = ["Link", "LinkState", "Pool", "pool_for", "pool_key", "would_deadlock"]

log = logging.getLogger("mailcore.smtp")


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


class Link(LinkState):
    """One pooled connection: the :class:`smtplib.SMTP` object and its bookkeeping."""

    def __init__(self, smtp: smtplib.SMTP, pipelining: bool) -> None:
        super().__init__(pipelining)
        self.smtp = smtp

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
        if self.alive and self.pending is None and self.smtp.sock is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError) as exc:
                log.debug("QUIT failed (ignored): %s", exc)
        self.discard()


class Pool:
    """Connections to one server with one configuration (see the module doc)."""

    def __init__(
        self,
        max_connections: int,
        max_messages: int,
        idle_timeout: float,
        max_per_second: float | None,
    ) -> None:
        self.max_connections = max_connections
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self.limiter = RateLimiter(max_per_second)
        self._cond = threading.Condition()
        self._idle: list[Link] = []
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
        for link in idle:
            link.quit()
        if idle:
            with self._cond:
                self._open -= len(idle)
                self._cond.notify_all()

    def acquire(self, connect: Callable[[], Link], wait: bool = True) -> Link | None:
        """A connection for one user: an idle one that still looks open, else a new one
        (``connect()``) if fewer than ``max_connections`` are open; else wait for one
        (``wait``) or return ``None``. A failed ``connect()`` raises."""
        while True:
            stale: list[Link] = []
            link = None
            opening = False
            me = threading.get_ident()
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
                    self._waiting.add(me)
                    try:
                        self._cond.wait()
                    finally:
                        self._waiting.discard(me)
            if stale:
                for old in stale:
                    log.debug("replacing a pooled connection that was idle too long or closed")
                    if old.looks_closed():
                        old.discard()
                    else:
                        old.quit()
                with self._cond:
                    self._open -= len(stale)
                    self._cond.notify_all()
            if link is not None:
                link.owner = me
                return link
            if opening:
                try:
                    link = connect()
                except BaseException:
                    with self._cond:
                        self._open -= 1
                        self._owned[me] -= 1
                        self._cond.notify_all()
                    raise
                link.owner = me
                return link

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
            self._owned[link.owner] -= 1
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
        for link in expired:
            link.quit()
        if expired:
            with self._cond:
                self._open -= len(expired)
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
        options.local_hostname,
        str(options.ssl_certfile),
        str(options.ssl_keyfile),
        options.timeout,
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
            )
        return pool
