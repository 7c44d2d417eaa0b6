"""Turn what boto3 raises into the SES backend's errors, naming cause and message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailcore_ses.errors import (
    SESAccountError,
    SESCredentialsError,
    SESEndpointError,
    SESIdentityNotVerifiedError,
    SESMessageRejectedError,
    SESSendError,
    SESThrottlingError,
)

if TYPE_CHECKING:
    from mailcore import EmailMessage

__all__ = ["describe_message", "failure_from_exception"]

_SHOWN_RECIPIENTS = 5

_THROTTLING = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)
_ACCOUNT = frozenset({"AccountSuspendedException", "SendingPausedException"})
_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
_REJECTED = frozenset({"MessageRejected", "BadRequestException", "InvalidParameterValue"})
_NOT_VERIFIED_HINTS = ("not verified", "did not have authority")


def describe_message(message: EmailMessage | None) -> str:
    """``the message 'Subject' to a@example.com, b@example.com`` (at most five shown)."""
    if message is None:
        return "the batch"
    recipients = message.recipients()
    shown = ", ".join(recipients[:_SHOWN_RECIPIENTS]) or "no recipients"
    more = len(recipients) - _SHOWN_RECIPIENTS
    if more > 0:
        shown += f" and {more} more"
    return f"the message {message.subject!r} to {shown}"


def failure_from_exception(
    exc: Exception,
    message: EmailMessage | None,
    region: str | None,
    operation: str = "SendEmail",
) -> SESSendError:
    """The :class:`SESSendError` subclass for a boto3 exception raised by the SES v2 call
    ``operation`` (sending ``message``, for ``SendEmail``)."""
    import botocore.exceptions  # here, not at import: listing backends loads no botocore

    if operation == "SendEmail":
        action = f"SES did not send {describe_message(message)}"
    else:
        action = f"SES {operation} failed"
    error_class: type[SESSendError]
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        text = str(error.get("Message", ""))
        error_class, cause = _classify(code, text, region, operation)
        return error_class(f"{action}: {cause} ({code}: {text})", code=code, message=message)
    code = type(exc).__name__
    if isinstance(
        exc,
        botocore.exceptions.NoCredentialsError
        | botocore.exceptions.PartialCredentialsError
        | botocore.exceptions.CredentialRetrievalError,
    ):
        error_class, cause = SESCredentialsError, "no usable AWS credentials found by boto3"
    elif isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectionClosedError
        | botocore.exceptions.ReadTimeoutError
        | botocore.exceptions.HTTPClientError,
    ):
        error_class, cause = SESEndpointError, "the SES endpoint could not be reached"
    else:
        error_class, cause = SESSendError, "boto3 failed"
    return error_class(f"{action}: {cause} ({code}: {exc})", code=code, message=message)


def _classify(
    code: str, text: str, region: str | None, operation: str
) -> tuple[type[SESSendError], str]:
    where = f" in region {region}" if region else ""
    if code == "MailFromDomainNotVerifiedException":
        return SESIdentityNotVerifiedError, f"the MAIL FROM domain is not verified{where}"
    if code == "MessageRejected" and any(hint in text.lower() for hint in _NOT_VERIFIED_HINTS):
        return (
            SESIdentityNotVerifiedError,
            f"an address or domain is not verified in SES{where}",
        )
    if code in _REJECTED:
        return SESMessageRejectedError, "SES rejected the message"
    if code in _THROTTLING:
        return SESThrottlingError, "the SES sending rate or quota is exceeded"
    if code in _ACCOUNT:
        return SESAccountError, "the SES account may not send"
    if code in _CREDENTIALS:
        return SESCredentialsError, "AWS refused the credentials"
    if code in ("AccessDenied", "AccessDeniedException"):
        if operation == "SendEmail":
            return SESSendError, "these AWS credentials are not allowed to send this message"
        return SESSendError, f"these AWS credentials are not allowed to call ses:{operation}"
    return SESSendError, "SES returned an error"
