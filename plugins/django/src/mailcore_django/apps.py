"""The ``mailcore_django`` Django app: the ``MAILCORE`` setting, and one test outbox."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from mailcore.testing import redirect_backends
from mailcore_django.config import apply_settings
from mailcore_django.outbox import DjangoOutboxBackend

__all__ = ["MailcoreConfig"]

#: The redirect entered by the first ready() (never left: it declines outside tests).
_outbox_redirect: list[object] = []


def _setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "MAILCORE":
        apply_settings()


class MailcoreConfig(AppConfig):  # type: ignore[misc]
    """Applies the ``MAILCORE`` setting at start-up (and whenever a test overrides it),
    and keeps mail sent by calling mailcore directly in Django's test outbox while
    Django's test environment is set up (:mod:`mailcore_django.outbox`)."""

    name = "mailcore_django"
    label = "mailcore_django"
    verbose_name = "mailcore"

    def ready(self) -> None:
        apply_settings()
        setting_changed.connect(_setting_changed, dispatch_uid="mailcore_django.MAILCORE")
        if not _outbox_redirect:  # ready() may run more than once
            redirect = redirect_backends(DjangoOutboxBackend)
            redirect.__enter__()
            _outbox_redirect.append(redirect)
