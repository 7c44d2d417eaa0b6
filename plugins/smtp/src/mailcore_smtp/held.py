"""Who owns an instance's own connection between ``open()`` and ``close()``.

One :class:`HeldSession` per ``open()`` (``aopen()``): a new ``open()`` after a
``close()`` starts a new one, so nothing of the old session (a send still running on its
connection) can touch the new. At every moment exactly one party owns the session's
connection and gives it back to the pool, once:

- the session, while no send uses it: ``close()`` gives it back (:meth:`HeldSession.end`);
- the one send that took it (:meth:`HeldSession.take_for_send`), until that send ends
  (:meth:`HeldSession.give_back`): it keeps the connection for the session if the session
  is still open, else gives it back itself. A connection the send replaced (dead, or
  ``max_messages_per_connection`` reached) is followed (:meth:`HeldSession.replace`).

The rule is the sync and async paths' alike; the sync one calls it under the instance's
lock, which is never held while waiting for the pool.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Generic, TypeVar

from mailcore_smtp.pool import Link, LinkState, Pool

__all__ = ["HeldSession", "ThreadSession"]

log = logging.getLogger("mailcore.smtp")

L = TypeVar("L", bound=LinkState)


class HeldSession(Generic[L]):
    """An instance's own connection between ``open()`` and ``close()``, and the
    :class:`~mailcore_smtp.pool.Holder` of it (the pool asks whether a send uses it)."""

    def __init__(self) -> None:
        self._link: L | None = None
        #: A send took the connection (it owns it until :meth:`give_back`).
        self.busy = False
        #: Between ``open()`` and ``close()``.
        self.opened = True

    @property
    def link(self) -> L | None:
        """The connection kept (``None``: the next send takes one from the pool)."""
        return self._link

    @link.setter
    def link(self, link: L | None) -> None:
        old = self._link
        if old is not None and old.holder is not None and old.holder() is self:
            old.holder = None
        self._link = link
        if link is not None:
            link.holder = weakref.ref(self)
            self.adopt(link)

    def adopt(self, link: L) -> None:
        """``link`` became the session's connection (a hook for the sync session)."""

    def sending_on_held(self) -> bool:
        """Whether a send is using the kept connection now."""
        return self.busy

    def surrender_held(self, link: LinkState) -> bool:
        """Whether the pool may take ``link`` back now: never here (a loop's async pool
        takes nothing back; :class:`ThreadSession` does when its opener ended)."""
        return False

    def take_for_send(self) -> bool:
        """A send takes the session and its connection: True unless closed, or another
        send has it."""
        if not self.opened or self.busy:
            return False
        self.busy = True
        return True

    def replace(self, link: L | None) -> None:
        """The send that took the session replaced its connection by ``link`` (the old
        one it gave back itself)."""
        self.link = link

    def give_back(self, link: L | None) -> L | None:
        """The send that took the session is done with ``link`` (the session's
        connection): kept if the session is still open and the connection alive; else
        returned, for the caller to give back to the pool."""
        self.busy = False
        if link is None:
            return None
        if self.opened and self._link is link and link.alive:
            link.idle_since = time.monotonic()
            return None
        if self._link is link:
            self.link = None
        return link

    def end(self) -> L | None:
        """``close()``: the connection to give back to the pool now; ``None`` when none
        is kept or a send has it (that send gives it back, :meth:`give_back`)."""
        self.opened = False
        if self.busy:
            return None
        link = self._link
        self.link = None
        return link

    def surrender(self, link: LinkState) -> bool:
        """Let the pool take ``link`` back (its opening thread ended): refused while a
        send has it, or when it is no longer the session's."""
        if self.busy or self._link is not link:
            return False
        self.link = None
        return True


class ThreadSession(HeldSession[Link]):
    """The sync instance's session: every step under the instance's ``lock`` (a
    condition, notified when a send gives the session back); connections go back to
    ``pool`` outside it."""

    def __init__(self, pool: Pool, lock: threading.Condition) -> None:
        super().__init__()
        self.pool = pool
        self.lock = lock
        #: The thread that called ``open()``: the connection's life is that thread's.
        self.opener = weakref.ref(threading.current_thread())

    def adopt(self, link: Link) -> None:
        link.thread = self.opener

    def take(self) -> bool:
        """:meth:`take_for_send`, under the lock."""
        with self.lock:
            return self.take_for_send()

    def wait_free(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the send that has the session to end."""
        with self.lock:
            self.lock.wait_for(lambda: not self.busy, timeout)

    def follow(self, link: Link | None) -> None:
        """:meth:`replace`, under the lock."""
        with self.lock:
            self.replace(link)

    def done(self, link: Link | None) -> None:
        """:meth:`give_back`; a connection not kept goes back to the pool (closed if dead)."""
        with self.lock:
            back = self.give_back(link)
            self.lock.notify_all()
        if back is not None:
            self.pool.release(back, keep=back.alive)

    def close(self) -> None:
        """:meth:`end`: its connection goes back to the pool, and the use of the pool ends."""
        with self.lock:
            link = self.end()
            self.lock.notify_all()
        try:
            if link is not None:
                self.pool.release(link)
        finally:
            self.pool.unhold()

    def collected(self) -> None:
        """The instance was garbage-collected while open (no ``close()``)."""
        log.debug("an instance was collected while open; its connection is given back")
        self.close()

    def surrender_held(self, link: LinkState) -> bool:
        """:meth:`surrender`, under the lock (the pool then takes ``link`` back)."""
        with self.lock:
            return self.surrender(link)
