"""mailkern-django: every mailcore mailer usable from a Django project.

``EMAIL_BACKEND = "mailcore_django.EmailBackend"`` (or a Django 6.1 ``MAILERS`` entry),
the ``MAILCORE`` setting, ``"mailcore_django"`` in ``INSTALLED_APPS`` for one test outbox,
and ``await mailcore_django.asend_mail(...)`` in async views. See the "Django" docs page.
The core and its backends never import Django: only this distribution does.
"""

from __future__ import annotations

from mailcore_django.asending import asend_mail
from mailcore_django.backend import EmailBackend

__all__ = ["EmailBackend", "asend_mail"]
