"""The Celery application of mailcore's workers, and the delivery task.

The task sends the stored bytes of one message through the named mailer, with late
acknowledgement, and keeps the :class:`~mailcore_celery.ledger.Ledger` up to date:

1. :meth:`Ledger.begin` first: a message already accepted is not sent again, and an
   earlier attempt that never finished is counted as "outcome unknown";
2. accepted: recorded ``sent`` before the task returns (and is acknowledged);
3. a transient failure (a 4xx reply, a lost connection, a mailer misconfigured on this
   worker): retried by Celery after ``retry_backoff * 2**n`` seconds (+-50 % jitter) up to
   ``max_retries`` times, then a dead letter; a permanent one (5xx): a dead letter now.
"""

from __future__ import annotations

import base64
import random
import time
from typing import TYPE_CHECKING, Any

from mailcore import ConfigurationError, RecipientsRefusedError, SendError, mailers
from mailcore_celery.ledger import Ledger
from mailcore_celery.stored import StoredMessage

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = ["TASK_NAME", "backoff", "is_transient", "make_app"]

TASK_NAME = "mailcore.deliver"

_ledgers: dict[tuple[str, str], Ledger] = {}


def make_app(broker_url: str, queue: str = "mailcore", visibility_timeout: float = 300) -> Celery:
    """A Celery application on ``broker_url`` with the delivery task, consuming ``queue``.

    ``visibility_timeout``: seconds after which a task taken by a worker that died
    without acknowledging it is delivered again (Redis transport).
    """
    from celery import Celery

    app = Celery("mailcore", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # look for the tasks of dead workers often enough for that timeout
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 2)),
            "unacked_restore_throttle": 1,
            # the lock of that search: held by a worker killed (or a Redis stopped)
            # mid-search, it would stop every search for kombu's default 300 s
            "unacked_mutex_expire": 10,
        },
        # a broker restarting while a task is retried: keep trying for about 60 s
        task_publish_retry_policy={
            "max_retries": 120,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    )
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(deliver)
    return app


def _ledger(broker_url: str, queue: str) -> Ledger:
    key = (broker_url, queue)
    if key not in _ledgers:
        _ledgers[key] = Ledger.from_url(broker_url, queue)
    return _ledgers[key]


def backoff(retry_backoff: float, retries: int) -> float:
    """The delay before retry number ``retries + 1``: exponential with +-50 % jitter."""
    return float(retry_backoff * 2**retries * random.uniform(0.5, 1.5))


def is_transient(error: BaseException) -> bool:
    """Whether a failed attempt may work later: a transport error that is not a permanent
    refusal (``temporary`` false, or every recipient refused), or a configuration error
    of the worker (fixed there, the message goes out)."""
    if isinstance(error, ConfigurationError):
        return True
    if not isinstance(error, SendError):
        return False
    return bool(getattr(error, "temporary", not isinstance(error, RecipientsRefusedError)))


def _describe(error: BaseException) -> str:
    code = getattr(error, "smtp_code", None)
    reply = getattr(error, "smtp_reply", None)
    answer = (
        f" (server: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply})"
    )
    return f"{type(error).__name__}: {error}" + (answer if code else "")


def deliver(task: Task[Any, Any], payload: dict[str, Any]) -> str:
    """Send one stored message through the mailer ``payload["using"]``; return its state."""
    broker = str(task.app.conf.broker_url)
    ledger = _ledger(broker, payload["queue"])
    message_id = payload["message_id"]
    if ledger.begin(message_id) == "sent":
        return "sent"  # accepted by an earlier delivery of this task: never twice
    message = StoredMessage(
        base64.b64decode(payload["data"]), payload["envelope_from"], payload["recipients"]
    )
    error: BaseException | None = None
    try:
        mailers[payload["using"]].send_messages([message])
    except Exception as exc:
        error = exc
    result = message.result
    if error is None and result is not None and result.sent:
        ledger.sent(message_id)
        return "sent"
    if error is None:
        error = (result.error if result else None) or SendError("the mailer sent nothing")
    unknown = bool(getattr(error, "outcome_unknown", False)) or (
        result is not None and result.status == "unknown"
    )
    retries = int(task.request.retries or 0)
    if is_transient(error) and retries < int(payload["max_retries"]):
        ledger.retrying(message_id, unknown)
        raise task.retry(
            countdown=backoff(float(payload["retry_backoff"]), retries), max_retries=None
        )
    letter = {
        "error": _describe(error),
        "task_id": task.request.id,
        "attempts": retries + 1,
        "failed_at": time.time(),
        "payload": payload,
    }
    ledger.failed(message_id, letter, unknown)
    return "failed"
