"""Building one :class:`~benchmarks.corpus.MessageSpec` with mailcore or with Django.

Both sides get the same constructor arguments (attachments and alternatives as plain tuples,
as both APIs accept), so the work compared is the same. Django is imported only here and
only when asked for: the harness runs without it (the smoke test does).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import mailcore
from benchmarks.corpus import MessageSpec

__all__ = [
    "DJANGO_SETTINGS",
    "django_available",
    "django_bytes",
    "django_message",
    "mailcore_bytes",
    "mailcore_message",
    "setup_django",
]

#: The minimal Django settings the benchmarks use.
DJANGO_SETTINGS: dict[str, Any] = {
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "DEFAULT_CHARSET": "utf-8",
}


def django_available() -> bool:
    """True when Django can be imported (the bench environment, not the test one)."""
    return importlib.util.find_spec("django") is not None


def setup_django() -> None:
    """Configure Django minimally and run ``django.setup()`` (once per process)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(**DJANGO_SETTINGS)
        django.setup()


def _arguments(spec: MessageSpec) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "subject": spec.subject,
        "body": spec.body,
        "from_email": spec.from_email,
        "to": list(spec.to),
        "cc": list(spec.cc),
        "reply_to": list(spec.reply_to),
        "headers": dict(spec.headers),
        "attachments": [(a.filename, a.content, a.mimetype) for a in spec.attachments],
    }
    if spec.html is not None:
        arguments["alternatives"] = [(spec.html, "text/html")]
    return arguments


def mailcore_message(spec: MessageSpec) -> mailcore.EmailMessage:
    """A mailcore message for ``spec`` (``EmailMultiAlternatives`` when it has HTML)."""
    if spec.html is not None:
        return mailcore.EmailMultiAlternatives(**_arguments(spec))
    return mailcore.EmailMessage(**_arguments(spec))


def django_message(spec: MessageSpec) -> Any:
    """A Django message for ``spec``; :func:`setup_django` must have run."""
    from django.core import mail

    if spec.html is not None:
        return mail.EmailMultiAlternatives(**_arguments(spec))
    return mail.EmailMessage(**_arguments(spec))


def mailcore_bytes(spec: MessageSpec, linesep: str = "\n") -> bytes:
    """Build and serialize with mailcore: ``msg.serialize()``."""
    return mailcore_message(spec).serialize(linesep=linesep)


def django_bytes(spec: MessageSpec, linesep: str = "\n") -> bytes:
    """Build and serialize with Django: ``msg.message().as_bytes()``."""
    data: bytes = django_message(spec).message().as_bytes(linesep=linesep)
    return data
