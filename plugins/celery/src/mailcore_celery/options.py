"""The options of the celery backend, read from arguments, ``MAILCORE_CELERY_*``, ``[celery]``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from mailcore import BackendOptions, URLScheme

__all__ = ["CELERY_URL_SCHEMES", "DEFAULT_BROKER_URL", "CeleryOptions"]

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"

#: ``celery://?using=tx&queue=bulk``: no host or path; every option is a query option
#: (``broker_url`` too, percent-encoded), or comes from the mailer's other settings.
CELERY_URL_SCHEMES = {"celery": URLScheme()}


class CeleryOptions(BackendOptions):
    """What the celery backend can be told.

    - ``broker_url``: the Redis broker (``redis://[:password@]host:port/db``); secret, as
      it may hold a password. The delivery records live in the same Redis database.
    - ``using``: the alias of the mailer the workers send with (required to send).
    - ``queue``: the Celery queue of the tasks (default ``"mailcore"``).
    - ``max_retries``: how often a transient failure is retried before the message goes
      to the dead letters (default 5).
    - ``retry_backoff``: the first retry's delay in seconds; each next one doubles, with
      random jitter of +-50 % (default 2.0).
    - ``max_message_size``: the largest serialized message in bytes that is enqueued
      (default 10 MiB); a bigger one is refused before anything is enqueued.
    """

    broker_url: SecretStr = SecretStr(DEFAULT_BROKER_URL)
    using: str | None = None
    queue: str = Field(default="mailcore", min_length=1)
    max_retries: int = Field(default=5, ge=0)
    retry_backoff: float = Field(default=2.0, ge=0)
    max_message_size: int = Field(default=10 * 1024 * 1024, gt=0)

    @field_validator("broker_url")
    @classmethod
    def _broker_is_redis(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL (redis://, rediss:// or unix://)")
        return value
