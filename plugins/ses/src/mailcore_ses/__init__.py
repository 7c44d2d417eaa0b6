"""mailkern-ses: send mailcore messages through Amazon SES (the v2 ``SendEmail`` API).

Select it with ``get_connection("ses")`` or ``backend = "ses"``; its options are
:class:`SESOptions`, its errors subclass :class:`mailcore.SendError`.
"""

from __future__ import annotations

from mailcore_ses.backend import SESBackend
from mailcore_ses.errors import (
    SESAccountError,
    SESCredentialsError,
    SESEndpointError,
    SESIdentityNotVerifiedError,
    SESMessageRejectedError,
    SESSendError,
    SESThrottlingError,
)
from mailcore_ses.options import SESOptions

__all__ = [
    "SESAccountError",
    "SESBackend",
    "SESCredentialsError",
    "SESEndpointError",
    "SESIdentityNotVerifiedError",
    "SESMessageRejectedError",
    "SESOptions",
    "SESSendError",
    "SESThrottlingError",
]
