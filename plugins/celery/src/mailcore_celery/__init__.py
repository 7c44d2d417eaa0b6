"""mailkern-celery: queued delivery on Celery workers, with a Redis broker.

Select it with ``get_connection("celery", using="tx")`` or a mailer ``celery://?using=tx``;
``mailcore worker`` runs the workers and ``mailcore queue`` shows what became of each
message. Celery and redis are imported only when the backend sends, a worker starts or a
``mailcore queue`` command runs.
"""

from __future__ import annotations

from mailcore_celery.backend import CeleryBackend
from mailcore_celery.options import CeleryOptions
from mailcore_celery.stored import StoredMessage

__all__ = ["CeleryBackend", "CeleryOptions", "StoredMessage"]
