"""Which mailcore mailer a Django project sends through, and with which settings.

In this order:

1. ``using`` (a mailer's alias) or ``url`` (a connection URL): the options of a Django 6.1
   ``MAILERS`` entry, or keyword arguments of the backend;
2. otherwise mailcore's default mailer, when mailcore is configured at all: by the
   ``MAILCORE`` Django setting (a dict shaped like ``mailcore.toml``, given to
   :func:`mailcore.configure`), ``MAILCORE_*`` variables, ``.env`` or ``mailcore.toml``;
3. otherwise mailcore's SMTP backend with Django's ``EMAIL_*`` settings (``EMAIL_HOST``,
   ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ...), so that swapping ``EMAIL_BACKEND`` is the
   whole migration.

Other keyword arguments are the mailer's options (over its settings), as for
:func:`mailcore.get_connection`. One of Django's SMTP keyword arguments given as ``None``
(``username=None``, as Django's ``send_mail`` passes it) means "as configured", as for
Django's own SMTP backend: it is dropped, never passed on to override a setting.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from django.conf import settings

import mailcore
from mailcore import BaseEmailBackend

__all__ = ["apply_settings", "connect", "django_email_options", "email_setting"]

#: Django's ``EMAIL_*`` settings and the mailcore SMTP options they become.
EMAIL_SETTINGS = {
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_TIMEOUT": "timeout",
    "EMAIL_SSL_CERTFILE": "ssl_certfile",
    "EMAIL_SSL_KEYFILE": "ssl_keyfile",
}

#: The keyword arguments of Django's SMTP backend for which ``None`` means "the setting".
DJANGO_SMTP_KWARGS = frozenset(EMAIL_SETTINGS.values())

_NOT_SET = object()
_applied: Any = _NOT_SET
_lock = threading.Lock()


def apply_settings() -> None:
    """Give the ``MAILCORE`` Django setting to :func:`mailcore.configure` when it changed
    since the last call (a test's ``override_settings`` included); when it was removed,
    mailcore's settings start afresh from their other sources."""
    global _applied
    value = getattr(settings, "MAILCORE", _NOT_SET)
    if value is _applied or (value == _applied and value is not _NOT_SET):
        return
    with _lock:
        if value is _NOT_SET:
            mailcore.configure()
        elif isinstance(value, dict):
            mailcore.configure(**value)
        else:
            raise mailcore.ConfigurationError(
                "the MAILCORE setting is a dict shaped like mailcore.toml, "
                f'e.g. {{"default_mailer": "tx", "mailers": {{...}}}}, not {value!r}'
            )
        _applied = value


def email_setting(name: str) -> Any:
    """Django's ``EMAIL_*`` setting ``name`` (``None`` when unset), read without Django
    6.1's deprecation warning of these settings: Django warns about them once, where the
    project defines them; the bridge reads them for the project, as Django's own
    backends do without a warning (a test run with warnings as errors keeps working)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=rf"The {name} setting is deprecated")
        return getattr(settings, name, None)


def django_email_options() -> dict[str, Any]:
    """Django's ``EMAIL_*`` settings as mailcore SMTP options (those set, ``None`` left out).

    With Django 6.1's ``MAILERS`` defined, Django refuses to read them: none then."""
    if hasattr(settings, "MAILERS"):
        return {}
    options: dict[str, Any] = {}
    for setting, option in EMAIL_SETTINGS.items():
        value = email_setting(setting)
        if value is not None and value != "":
            options[option] = value
    return options


def _mailcore_is_configured() -> bool:
    """True unless mailcore's default mailer is the default SMTP backend with every
    option at its default (nothing configured anywhere)."""
    if getattr(settings, "MAILCORE", None) is not None or list(mailcore.mailers) != ["default"]:
        return True
    default = mailcore.mailers.default
    if type(default).name != "smtp":
        return True
    return any(source != "default" for source in default.option_sources.values())


def connect(
    fail_silently: bool,
    using: str | None = None,
    url: str | None = None,
    options: dict[str, Any] | None = None,
    *,
    email_settings: bool = True,
) -> BaseEmailBackend:
    """The mailcore backend for these arguments (see the module doc; Django's ``EMAIL_*``
    settings are read only with ``email_settings``); raises
    :class:`mailcore.ConfigurationError` naming what is wrong."""
    apply_settings()
    options = {
        name: value
        for name, value in (options or {}).items()
        if not (value is None and name in DJANGO_SMTP_KWARGS)
    }
    if using is not None and url is not None:
        raise mailcore.ConfigurationError("give the bridge a mailer `using` or a `url`, not both")
    if url is not None:
        return mailcore.connection_from_url(url, fail_silently, **options)
    if using is not None or _mailcore_is_configured():
        return mailcore.get_connection(fail_silently=fail_silently, using=using, **options)
    given = django_email_options() if email_settings else {}
    return mailcore.get_connection("smtp", fail_silently, **{**given, **options})
