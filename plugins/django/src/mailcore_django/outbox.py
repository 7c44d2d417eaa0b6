"""One outbox under Django's test runner: mail that code sends by calling mailcore
directly lands in ``django.core.mail.outbox`` beside the mail sent through Django.

:class:`DjangoOutboxBackend` is the target of a :func:`mailcore.testing.redirect_backends`
entered by the ``mailcore_django`` app; it takes a backend's delivery over only while
Django's test environment is set up (``django.core.mail.outbox`` exists and Django's
default backend is its ``locmem`` one, as ``setup_test_environment()`` leaves them).
Otherwise every mailcore backend delivers as usual, and so does the mailer of a
``mailcore_django.EmailBackend`` always: Django's test runner swaps Django's configured
backend for its ``locmem`` one, and a bridge made explicitly sends as it was told, as
Django's own SMTP backend made explicitly does.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core import mail as django_mail

from mailcore import BaseEmailBackend, EmailMessage, SendResult
from mailcore_django.config import email_setting

__all__ = ["DjangoOutboxBackend", "bridge_delivery", "django_outbox_active"]

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"

_bridge: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mailcore_django_bridge", default=False
)


@contextlib.contextmanager
def bridge_delivery() -> Iterator[None]:
    """While the block runs, the bridge's mailer delivers: no redirect to the outbox."""
    token = _bridge.set(True)
    try:
        yield
    finally:
        _bridge.reset(token)


def django_outbox_active() -> bool:
    """True while Django's test environment keeps mail in ``django.core.mail.outbox``."""
    if not hasattr(django_mail, "outbox"):
        return False
    mailers = getattr(settings, "MAILERS", None)
    if mailers is not None:  # Django 6.1 with MAILERS: its default mailer
        return bool(mailers.get("default", {}).get("BACKEND") == LOCMEM)
    return bool(email_setting("EMAIL_BACKEND") == LOCMEM)


class DjangoOutboxBackend(BaseEmailBackend):
    """Appends a copy of each message to ``django.core.mail.outbox``, after the checks
    of a real send (a bad header raises and the outbox gets nothing of the batch)."""

    @classmethod
    def takes_over(cls, backend: BaseEmailBackend) -> bool:
        """Only while Django's test environment is set up, never for the bridge's mailer."""
        return not _bridge.get() and django_outbox_active()

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, lambda: False, self._store)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages`: memory work only."""
        return self.send_messages(messages)

    def _store(self, messages: list[EmailMessage]) -> int:
        outbox = django_mail.outbox
        for message in messages:
            header = self.prepared(message).message_id
            message.result = SendResult("sent", message_id_header=header, mailer=self.alias)
            stored = copy.deepcopy(message)
            stored.sent_using = self.alias  # type: ignore[attr-defined]
            outbox.append(stored)
        return len(messages)
