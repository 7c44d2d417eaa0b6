"""The celery backend: each message is serialized once and enqueued for a worker.

Celery and redis are imported on the first send (or :meth:`CeleryBackend.open`), never
when the backend is listed or made.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from mailcore import (
    BaseEmailBackend,
    ConfigurationError,
    EmailMessage,
    MailerDoesNotExist,
    SendError,
    SendResult,
    SerializedMessage,
    mailers,
)
from mailcore_celery.options import CELERY_URL_SCHEMES, CeleryOptions

if TYPE_CHECKING:
    from celery import Celery

    from mailcore_celery.ledger import Ledger

__all__ = ["BrokerError", "CeleryBackend", "QueuedMessageTooBigError"]

#: Tasks published per Redis round trip.
CHUNK = 100

_apps: dict[str, Celery] = {}
_apps_lock = threading.Lock()


class BrokerError(SendError):
    """The Redis broker could not be reached or refused a task."""


class QueuedMessageTooBigError(SendError):
    """A message is bigger than ``max_message_size``: it is not enqueued."""


def where(broker_url: str) -> str:
    """The broker's host and port (never its password), for error texts."""
    parts = urlsplit(broker_url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def celery_app(broker_url: str, queue: str) -> Celery:
    """The Celery application that publishes to ``broker_url`` (one per process and URL)."""
    with _apps_lock:
        if broker_url not in _apps:
            from mailcore_celery.tasks import make_app

            _apps[broker_url] = make_app(broker_url, queue)
        return _apps[broker_url]


class CeleryBackend(BaseEmailBackend):
    """Enqueues each message for a worker (``mailcore worker``) to send with the mailer
    ``using``.

    Every message of a batch is validated and serialized first (7-bit, CRLF: what the
    workers send whatever their mailer's backend; the Message-ID is fixed now); one that
    is invalid or bigger than ``max_message_size`` raises and nothing is enqueued. Then
    one task per message is published to ``queue``; ``message.result`` is
    ``SendResult("queued", message_id=<task id>)`` with ``message_id_header`` set, and the
    number enqueued is returned. ``mailcore queue status`` tells what became of them.
    """

    name = "celery"
    options_model = CeleryOptions
    url_schemes = CELERY_URL_SCHEMES
    options: CeleryOptions
    #: False only for reading the settings of the workers and ``mailcore queue``.
    require_using: ClassVar[bool] = True
    queues_messages = True
    references_option = "using"

    @staticmethod
    def referenced_mailers(options: CeleryOptions) -> list[str]:
        """The mailer the workers send with: the settings check that it exists and
        reaches no queueing mailer (this one included)."""
        return [options.using] if options.using else []

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        if self.require_using and not self.options.using:
            raise ConfigurationError(
                "the celery backend needs the option 'using': the alias of the mailer the "
                "workers send with (MAILCORE_CELERY_USING, [celery] using, celery://?using=)"
            )
        if self.require_using and self.options.using not in mailers:
            raise MailerDoesNotExist(
                f"the celery backend's option 'using' names {self.options.using!r}, which is "
                f"no mailer (configured mailers: {', '.join(mailers)}); the workers send "
                "with it and read the same settings"
            )
        self._app: Celery | None = None
        self._ledger: Ledger | None = None
        self._connection: Any = None
        self._lock = threading.RLock()

    @property
    def broker_url(self) -> str:
        """The broker URL (it may hold a password: never print it)."""
        return self.options.broker_url.get_secret_value()

    def ledger(self) -> Ledger:
        """The delivery records of this backend's queue."""
        from mailcore_celery.ledger import Ledger

        if self._ledger is None:
            self._ledger = Ledger.from_url(self.broker_url, self.options.queue, patience=0)
        return self._ledger

    def open(self) -> bool:
        """Connect to the broker; True only if this call connected. An unreachable broker
        raises :class:`BrokerError` (False with ``fail_silently``)."""
        return self.open_quietly(self._open)

    def _open(self) -> bool:
        with self._lock:
            if self._connection is not None:
                return False
            app = celery_app(self.broker_url, self.options.queue)
            connection = app.connection_for_write()
            try:
                connection.ensure_connection(max_retries=1, timeout=5)
                self.ledger().client.ping()
            except Exception as exc:
                connection.release()
                raise BrokerError(
                    f"cannot reach the broker at {where(self.broker_url)}: {exc}"
                ) from exc
            self._app, self._connection = app, connection
            return True

    def close(self) -> None:
        """Release the broker connection. Safe to call twice."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.release()

    def check(self) -> str:
        """Connect to the broker and report the queue's counts (sends nothing)."""
        opened = self.open()
        try:
            counts = self.ledger().counts()
        finally:
            if opened:
                self.close()
        summary = ", ".join(f"{count} {state}" for state, count in counts.items())
        return f"broker {where(self.broker_url)} reachable; queue {self.options.queue!r}: {summary}"

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """The bytes a worker will send: 7-bit, CRLF; refused when too big or without
        recipients (the envelope is fixed now, too)."""
        data = message.iter_serialized("\r\n", allow_8bit=False)
        size, limit = len(data), self.options.max_message_size
        if size > limit:
            raise QueuedMessageTooBigError(
                f"the message is {size} bytes, more than the celery backend's "
                f"max_message_size of {limit} bytes: it was not enqueued",
                message=message,
            )
        message.envelope_from()
        if not message.envelope_recipients():
            raise SendError("the message has no recipients: it was not enqueued", message=message)
        return data

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Enqueue each message; return how many were enqueued (see the class docstring)."""
        return self.deliver_batch(messages, self._open, self._enqueue)

    def _record(self, message: EmailMessage) -> tuple[str, str]:
        """The message's Message-ID and what the ledger stores for it (JSON)."""
        data = self.prepared(message)
        options = self.options
        payload = {
            "envelope_from": message.envelope_from(),
            "recipients": message.envelope_recipients(),
            "data": base64.b64encode(data.to_bytes()).decode("ascii"),
            "using": options.using,
            "max_retries": options.max_retries,
            "retry_backoff": options.retry_backoff,
        }
        return data.message_id or "", json.dumps(payload)

    def _enqueue(self, messages: Sequence[EmailMessage]) -> int:
        """Per chunk of :data:`CHUNK` messages: record them ``queued`` with their stored
        bytes in the ledger (one round trip), then publish their tasks (one more).

        A chunk whose tasks were not published is withdrawn from the ledger: its messages
        fail. One whose publishing failed half-way (or whose records could not be
        withdrawn) may be partly queued: its messages are ``"unknown"``; the sweep of the
        workers sends those whose tasks are missing, so none is lost.
        """
        from mailcore_celery.tasks import publish

        assert self._app is not None and self._connection is not None
        ledger, queue = self.ledger(), self.options.queue
        done = 0
        with self._app.producer_or_acquire(None) as producer:
            for start in range(0, len(messages), CHUNK):
                chunk = messages[start : start + CHUNK]
                records = [self._record(message) for message in chunk]
                flushing = False
                try:
                    ledger.queued(records)
                    with producer.batch(max_size=4 * CHUNK):
                        task_ids = publish(
                            self._app, queue, [(mid, 0) for mid, _ in records], producer
                        )
                        flushing = True
                except Exception as exc:
                    failed = not flushing and self._withdrawn([mid for mid, _ in records])
                    error = BrokerError(
                        f"the broker at {where(self.broker_url)} failed while "
                        f"{len(chunk)} task(s) were enqueued: {exc}",
                        sent=done,
                    )
                    status: Literal["failed", "unknown"] = "failed" if failed else "unknown"
                    for message in chunk:
                        message.result = SendResult(status, error=error)
                    self.stop_batch(messages[start + len(chunk) :], error)
                    if self.fail_silently:
                        return done
                    raise error from exc
                for message, task_id in zip(chunk, task_ids, strict=True):
                    message.result = SendResult("queued", message_id=task_id)
                done += len(chunk)
        return done

    def _withdrawn(self, message_ids: list[str]) -> bool:
        """Whether the records of unpublished tasks could be withdrawn."""
        try:
            self.ledger().withdraw(message_ids)
        except Exception:
            return False
        return True
