"""The sweep: enqueue again the messages whose tasks the broker lost.

Kombu's Redis transport pops a task (``BRPOP``) a moment before it records it as
unacknowledged: a worker killed, or Redis stopped, in that moment loses the task. Its
message stays ``queued`` in the ledger with its payload, and :meth:`Ledger.sweep` finds it
once a later message has begun (or the list was empty) for longer than the grace period
(:func:`~mailcore_celery.tasks.grace`). Every worker runs the sweep every few seconds (one
at a time, under a lock in Redis); ``mailcore queue recover`` runs it once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery import bootsteps
from celery.worker.consumer.tasks import Tasks

from mailcore_celery.tasks import _ledger, grace, publish

if TYPE_CHECKING:
    from celery import Celery

    from mailcore_celery.ledger import Ledger

__all__ = ["SweepStep", "recover"]

log = logging.getLogger(__name__)


def recover(app: Celery, ledger: Ledger, grace_seconds: float, lock: float = 0.0) -> int:
    """Sweep once: publish a task again for each message found lost; return how many."""
    found = ledger.sweep(grace_seconds, lock)
    publish(app, ledger.queue, found)
    return len(found)


class SweepStep(bootsteps.StartStopStep):  # type: ignore[misc]  # celery is untyped
    """A worker's consumer step that sweeps its queues every ``grace / 4`` seconds (at
    most 30 s). Errors (Redis away) are logged and the next round tries again."""

    requires = (Tasks,)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timers: list[Any] = []

    def start(self, parent: Any) -> None:
        app = parent.app
        options = app.conf.broker_transport_options or {}
        seconds = grace(float(options.get("visibility_timeout", 3600)))
        interval = max(0.5, min(30.0, seconds / 4))
        queues = [queue.name for queue in parent.task_consumer.queues]
        for queue in queues:
            timer = parent.timer.call_repeatedly(
                interval, self._sweep, (app, queue, seconds, interval * 0.9)
            )
            self.timers.append(timer)

    def _sweep(self, app: Celery, queue: str, seconds: float, lock: float) -> None:
        try:
            count = recover(app, _ledger(str(app.conf.broker_url), queue), seconds, lock)
        except Exception as exc:  # the broker away: the next round tries again
            log.warning("mailcore sweep of queue %r failed: %s", queue, exc)
            return
        if count:
            log.warning("mailcore sweep: %d lost task(s) of queue %r enqueued again", count, queue)

    def stop(self, parent: Any) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers = []

    shutdown = stop
