"""The async side of the SMTP backend: the threads its async calls run in.

``asend_messages`` runs the sync sender (:mod:`mailcore_smtp.sending`) in a thread, so
every option, result and error is the sync path's, decided by the same code. Outside a
session, the calls of every instance sharing a pool (one mailer) run in one executor
with ``max_connections`` threads: as many calls send at once as the pool has
connections, however many tasks wait, and none of them waits on the event loop.
"""

from __future__ import annotations

import concurrent.futures
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailcore_smtp.pool import Pool

__all__ = ["executor_for"]

_executors: weakref.WeakKeyDictionary[Pool, concurrent.futures.ThreadPoolExecutor] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def executor_for(pool: Pool) -> concurrent.futures.ThreadPoolExecutor:
    """The executor of the async calls sending through ``pool``: ``max_connections``
    threads, made on first use and kept as long as the pool."""
    with _lock:
        executor = _executors.get(pool)
        if executor is None:
            executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=pool.max_connections, thread_name_prefix="mailcore-smtp"
            )
            _executors[pool] = executor
            weakref.finalize(pool, executor.shutdown, wait=False)
        return executor
