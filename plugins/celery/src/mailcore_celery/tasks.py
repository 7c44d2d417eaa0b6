"""The Celery application of mailcore's workers, and the delivery task.

The task sends the stored bytes of one message through the named mailer, with late
acknowledgement, and keeps the :class:`~mailcore_celery.ledger.Ledger` up to date:

1. :meth:`Ledger.begin` first: it returns the stored message; one already accepted is
   not sent again, nor one another task of which is being sent (a copy enqueued again
   by the sweep), and an earlier attempt of this task that never finished is counted as
   "outcome unknown";
2. accepted: recorded ``sent`` before the task returns (and is acknowledged);
3. a transient failure (a 4xx reply, a lost connection, a mailer misconfigured on this
   worker): retried by Celery after ``retry_backoff * 2**n`` seconds (+-50 % jitter) up to
   ``max_retries`` times, then a dead letter; a permanent one (5xx): a dead letter now.

A task carries only the Message-ID and the queue; the message itself is stored in the
ledger. The workers also run the ledger's sweep (:mod:`mailcore_celery.sweep`), which
enqueues again the messages whose tasks the broker lost.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mailcore import (
    BaseEmailBackend,
    ConfigurationError,
    InvalidMailer,
    RecipientsRefusedError,
    SendError,
    mailers,
)
from mailcore_celery.ledger import Ledger
from mailcore_celery.stored import StoredMessage

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = ["TASK_NAME", "backoff", "grace", "is_transient", "make_app", "publish"]

TASK_NAME = "mailcore.deliver"

#: The last part of a task message's body: no callbacks, chain or chord.
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}

_ledgers: dict[tuple[str, str], Ledger] = {}
_senders: dict[str, BaseEmailBackend] = {}


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
            "unacked_restore_interval": _restore_interval(visibility_timeout),
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
    from mailcore_celery.sweep import SweepStep

    app.steps["consumer"].add(SweepStep)
    return app


def _restore_interval(visibility_timeout: float) -> float:
    return max(1.0, min(10.0, visibility_timeout / 2))


def grace(visibility_timeout: float) -> float:
    """How long a message may stay unstarted after it left the broker's list before the
    sweep takes its task for lost: kombu's own redelivery of the task of a dead worker
    (the visibility timeout, then its next search) comes first."""
    return visibility_timeout + _restore_interval(visibility_timeout) + 2.0


def publish(
    app: Celery, queue: str, messages: Iterable[tuple[str, int]], producer: Any = None
) -> list[str]:
    """Publish one delivery task per ``(Message-ID, retry number)`` to ``queue``; return
    the task ids.

    The messages follow Celery's task message protocol 2, published straight through
    kombu's producer (``producer``: a batch of the caller's; else one of the app's,
    retrying a lost broker connection by ``task_publish_retry_policy``), without the
    routing, argument formatting and signals ``send_task`` spends on each task.
    """
    task_ids = []
    origin = f"mailcore@{socket.gethostname()}"
    with app.producer_or_acquire(producer) as chosen:
        for message_id, retries in messages:
            task_id = str(uuid.uuid4())
            headers = {
                "lang": "py", "task": TASK_NAME, "id": task_id, "shadow": None,
                "eta": None, "expires": None, "group": None, "group_index": None,
                "retries": retries, "timelimit": [None, None], "root_id": task_id,
                "parent_id": None, "argsrepr": repr(message_id), "kwargsrepr": "{}",
                "origin": origin, "ignore_result": True,
            }  # fmt: skip
            chosen.publish(
                ([{"message_id": message_id, "queue": queue}], {}, _EMBED),
                exchange="",
                routing_key=queue,
                serializer="json",
                headers=headers,
                correlation_id=task_id,
                delivery_mode=2,
                retry=producer is None,
                retry_policy=app.conf.task_publish_retry_policy,
            )
            task_ids.append(task_id)
    return task_ids


def _ledger(broker_url: str, queue: str) -> Ledger:
    key = (broker_url, queue)
    if key not in _ledgers:
        _ledgers[key] = Ledger.from_url(broker_url, queue)
    return _ledgers[key]


def _sender(using: str) -> BaseEmailBackend:
    """The backend of the mailer ``using`` to send with. In a worker process's main
    thread (the solo and prefork pools) one instance per mailer, kept open: its
    connection carries the next task's message too. In a thread pool's threads, a new
    instance per task (an open one would keep a pooled connection from the others)."""
    if threading.current_thread() is not threading.main_thread():
        return _delivering(using)
    backend = _senders.get(using)
    if backend is None:
        backend = _delivering(using)
        backend.open()
        _senders[using] = backend
    return backend


class EnqueuesAgainError(InvalidMailer):
    """The mailer a task names is a queueing one (``celery``): it would enqueue the
    message again instead of sending it."""


def _delivering(using: str) -> BaseEmailBackend:
    """A new backend of the mailer ``using``, refused if it would enqueue again."""
    backend = mailers[using]
    if backend.queues_messages:
        raise EnqueuesAgainError(
            f"the mailer {using!r} enqueues messages instead of sending them: workers must "
            "send with a mailer that delivers (smtp, ses, ...)"
        )
    return backend


def _forget_sender(using: str) -> None:
    backend = _senders.pop(using, None)
    if backend is not None:
        with contextlib.suppress(Exception):  # it failed already: the next task opens anew
            backend.close()


@atexit.register
def _close_senders() -> None:
    for using in list(_senders):
        _forget_sender(using)


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
    """The error with the server's answer: its reply, else each refused recipient's."""
    text = f"{type(error).__name__}: {error}"
    code, reply = getattr(error, "smtp_code", None), getattr(error, "smtp_reply", None)
    if isinstance(reply, bytes):
        reply = reply.decode(errors="replace")
    refused: dict[str, tuple[int, str]] = getattr(error, "refused", None) or {}
    if code and reply:
        return f"{text} (server: {code} {reply})"
    if refused:
        answers = "; ".join(f"{rcpt}: {c} {t}" for rcpt, (c, t) in refused.items())
        return f"{text} (server: {answers})"
    return f"{text} (server: {code})" if code else text


def _letter(task: Task[Any, Any], error: str, attempts: int) -> dict[str, Any]:
    return {"error": error, "task_id": task.request.id, "attempts": attempts,
            "failed_at": time.time()}  # fmt: skip


def deliver(task: Task[Any, Any], job: dict[str, Any]) -> str:
    """Send the stored message ``job["message_id"]`` of the queue ``job["queue"]`` through
    the mailer it was enqueued for; return its state (``"busy"``: another task has it)."""
    broker = str(task.app.conf.broker_url)
    ledger = _ledger(broker, job["queue"])
    message_id = job["message_id"]
    state, payload = ledger.begin(message_id, str(task.request.id))
    if state in ("sent", "busy"):
        return state  # accepted before, or in another task's hands: never twice
    retries = int(task.request.retries or 0)
    if payload is None:
        ledger.failed(message_id, _letter(task, "the stored message is missing", retries + 1))
        return "failed"
    message = StoredMessage(
        base64.b64decode(payload["data"]), payload["envelope_from"], payload["recipients"]
    )
    error: BaseException | None = None
    try:
        _sender(payload["using"]).send_messages([message])
    except EnqueuesAgainError as exc:  # permanent: a retry would enqueue it again, too
        ledger.failed(message_id, _letter(task, _describe(exc), retries + 1))
        return "failed"
    except Exception as exc:
        error = exc
        _forget_sender(payload["using"])
    result = message.result
    if error is None and result is not None and result.sent:
        refused = {rcpt: [code, text] for rcpt, (code, text) in result.refused.items()}
        note = {"refused": refused, "task_id": task.request.id, "sent_at": time.time()}
        ledger.sent(message_id, note if refused else None)
        return "sent"
    if error is None:
        error = (result.error if result else None) or SendError("the mailer sent nothing")
    unknown = bool(getattr(error, "outcome_unknown", False)) or (
        result is not None and result.status == "unknown"
    )
    if is_transient(error) and retries < int(payload["max_retries"]):
        delay = backoff(float(payload["retry_backoff"]), retries)
        ledger.retrying(message_id, unknown, delay, retries + 1)
        raise task.retry(countdown=delay, max_retries=None)
    ledger.failed(message_id, _letter(task, _describe(error), retries + 1), unknown)
    return "failed"
