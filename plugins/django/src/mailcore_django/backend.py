"""``mailcore_django.EmailBackend``: Django's messages sent through any mailcore mailer.

Django renders each message (its own ``message()``); mailcore transports the bytes with
Django's envelope (:mod:`mailcore_django.rendering`) through the mailer chosen by
:mod:`mailcore_django.config`. Each message gets ``mailcore_result``, its
:class:`mailcore.SendResult` (``None`` for a message without recipients, which is
skipped as Django's SMTP backend skips it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from django.core import mail as django_mail
from django.core.mail.backends.base import BaseEmailBackend as DjangoBaseEmailBackend

import mailcore
from mailcore import BaseEmailBackend, StoredMessage
from mailcore_django.config import connect
from mailcore_django.outbox import bridge_delivery
from mailcore_django.rendering import stored_message

__all__ = ["EmailBackend"]

#: Django 6.1 and later: backends are made by ``mail.mailers`` with an ``alias``.
_HAS_MAILERS = hasattr(django_mail, "mailers")


class EmailBackend(DjangoBaseEmailBackend):  # type: ignore[misc]
    """A Django email backend sending through a mailcore mailer.

    ``EMAIL_BACKEND = "mailcore_django.EmailBackend"`` (Django 5.2), or a Django 6.1
    ``MAILERS`` entry ``{"BACKEND": "mailcore_django.EmailBackend", "OPTIONS": {"using":
    "tx"}}`` (or ``"url": "ses://eu-west-1"``). ``fail_silently`` turns transport errors
    into messages counted as not sent, as in Django; other keyword arguments are the
    mailer's options. The mailer is made, and its options checked, when the backend is.
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        alias: str | None = None,
        using: str | None = None,
        url: str | None = None,
        **options: Any,
    ) -> None:
        ignored = options.pop("_ignore_unknown_kwargs", None) or ()
        options = {k: v for k, v in options.items() if k not in ignored or k in _KNOWN_SHARED}
        if _HAS_MAILERS:
            super().__init__(alias=alias)
        else:
            super().__init__()
            self.alias = alias
        self.fail_silently = fail_silently
        try:
            # as Django's SMTP backend: EMAIL_* settings only when not made by MAILERS
            self.mailer: BaseEmailBackend = connect(
                fail_silently, using, url, options, email_settings=alias is None
            )
        except mailcore.ConfigurationError as exc:
            if alias is not None and _HAS_MAILERS:
                unknown = _unknown_options(fail_silently, using, url, options)
                text = f"Unknown options {unknown}." if unknown else str(exc)
                raise django_mail.InvalidMailer(text, alias=alias) from exc
            raise

    def open(self) -> bool:
        """Open the mailer's connection; True only when this call opened it."""
        with bridge_delivery():
            return bool(self.mailer.open())

    def close(self) -> None:
        """Close the mailer's connection, if open. Safe to call twice."""
        self.mailer.close()

    def _render(self, messages: Iterable[Any]) -> tuple[list[Any], list[StoredMessage]]:
        """Every message rendered before any is sent (a bad header raises first)."""
        pairs = [(message, stored_message(message)) for message in messages]
        for message, _ in pairs:
            message.mailcore_result = None
        kept = [(m, s) for m, s in pairs if s is not None]
        return [m for m, _ in kept], [s for _, s in kept]

    @contextlib.contextmanager
    def _delivering(self, email_messages: Iterable[Any]) -> Iterator[list[StoredMessage]]:
        """The rendered messages to hand to the mailer (none for an empty batch); each
        Django message gets its ``mailcore_result`` afterwards, whatever happened."""
        messages, stored = self._render(email_messages) if email_messages else ([], [])
        try:
            with bridge_delivery():
                yield stored
        finally:
            for message, sent in zip(messages, stored, strict=True):
                message.mailcore_result = sent.result

    def send_messages(self, email_messages: Iterable[Any]) -> int:
        """Send Django's messages; return how many the mailer's transport accepted."""
        with self._delivering(email_messages) as stored:
            return int(self.mailer.send_messages(stored)) if stored else 0

    async def asend_messages(self, email_messages: Iterable[Any]) -> int:
        """:meth:`send_messages` for async code, through the mailer's async API."""
        with self._delivering(email_messages) as stored:
            return int(await self.mailer.asend_messages(stored)) if stored else 0


#: Options a Django 6.1 ``get_connection(**kwargs)`` passes that the mailer may use.
_KNOWN_SHARED = frozenset({"username", "password"})


def _unknown_options(
    fail_silently: bool, using: str | None, url: str | None, options: dict[str, Any]
) -> str:
    """The options the mailer does not take, as Django's ``InvalidMailer`` names them
    (``'a', 'b'``); empty when the mailer's settings themselves are wrong."""
    try:
        mailer = connect(fail_silently, using, url, {}, email_settings=False)
    except mailcore.ConfigurationError:
        return ""
    model = type(mailer).options_model
    known = set(model.model_fields) if model is not None else set()
    return ", ".join(repr(name) for name in options if name not in known | _KNOWN_SHARED)
