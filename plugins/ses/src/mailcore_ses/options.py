"""The options of the SES backend, read from arguments, ``MAILCORE_SES_*``, ``[ses]``."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from mailcore import BackendOptions, DKIMOptions, PerSecond, Seconds, URLScheme

__all__ = ["SES_URL_SCHEMES", "SESOptions"]

#: ``ses://[region]?configuration_set=...``: the host is the AWS region.
SES_URL_SCHEMES = {"ses": URLScheme(host="region")}

#: Seconds to wait for the connection to the SES endpoint (``connect_timeout``).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Seconds to wait for each read of the endpoint's answer (``read_timeout``).
DEFAULT_READ_TIMEOUT = 30.0

#: SES accepts tag names and values of ASCII letters, digits, ``_`` and ``-`` (max 256).
_TAG_PART = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SESOptions(BackendOptions):
    """What the SES backend can be told; AWS credentials are deliberately not here.

    - ``region``: the AWS region (``"eu-west-1"``); ``None`` lets boto3 decide
      (``AWS_DEFAULT_REGION``, ``~/.aws/config``).
    - ``configuration_set``: the SES configuration set every message is sent with.
    - ``endpoint_url``: another endpoint than AWS's (a VPC endpoint, a local emulator).
    - ``tags``: SES message tags, name -> value, added to every message.
    - ``from_arn``: the ARN of the identity that authorizes the sender
      (``FromEmailAddressIdentityArn``, for SES sending authorization).
    - ``max_connections``: how many ``SendEmail`` calls a batch makes at once, over the
      backend's one (thread-safe) boto3 client (1: one after the other).
    - ``max_per_second``: at most this many messages a second (a float from 1/3600 to
      1000000; ``inf`` is refused: leave it unset), shared by every
      backend with the same region, endpoint and limit in the process; ``None``: no
      limit. ``mailcore check --backend ses`` prints the account's ``MaxSendRate``.
    - ``connect_timeout``: seconds to wait for the connection to the endpoint (10).
    - ``read_timeout``: seconds to wait for each read of an answer from the endpoint (30);
      boto3 retries a timed-out call (``mailcore check`` does not: one attempt).
    - ``dkim``: sign every message with DKIM (a table: ``domain``, ``selector``,
      ``private_key_file`` or ``private_key``, ``headers``, ``algorithm``; see
      :class:`mailcore.DKIMOptions`); unset: the core ``dkim`` setting applies, if any.
    """

    region: str | None = None
    configuration_set: str | None = None
    endpoint_url: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    from_arn: str | None = None
    max_connections: Annotated[int, Field(ge=1, le=100)] = 1
    max_per_second: PerSecond | None = None
    connect_timeout: Seconds = DEFAULT_CONNECT_TIMEOUT
    read_timeout: Seconds = DEFAULT_READ_TIMEOUT
    dkim: DKIMOptions | None = None

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_are_ses_safe(cls, value: dict[str, str]) -> dict[str, str]:
        for name, tag_value in value.items():
            for what, text in (("name", name), ("value", tag_value)):
                if not _TAG_PART.fullmatch(text):
                    raise ValueError(
                        f"tag {what} {text!r} must be 1-256 ASCII letters, digits, '_' or '-'"
                    )
        return value
