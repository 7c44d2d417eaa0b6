"""``celery -A mailcore_celery.app worker``: the workers' Celery application, made from
the mailcore settings of the ``celery`` backend (``broker_url``, ``queue``)."""

from __future__ import annotations

from mailcore_celery.commands import settings_backend
from mailcore_celery.tasks import make_app

_backend = settings_backend(None)
app = make_app(_backend.broker_url, _backend.options.queue)

__all__ = ["app"]
