"""The Amazon SES backend: each message goes out through SES v2 ``SendEmail`` (raw).

One boto3 ``sesv2`` client per backend, created on first use and kept for the backend's
life; :meth:`SESBackend.close` closes its HTTP connections, a later :meth:`~SESBackend.open`
reuses it. Credentials come from boto3's usual chain only. botocore is imported on first
use, so listing the installed backends does not load it.
"""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from mailcore import (
    BaseEmailBackend,
    ConfigurationError,
    EmailMessage,
    PerSecond,
    RateLimiter,
    SendError,
    SendResult,
    SerializedMessage,
)
from mailcore_ses.clients import create_sesv2_client
from mailcore_ses.errors import (
    SESAccountError,
    SESCredentialsError,
    SESSendError,
    SESThrottlingError,
)
from mailcore_ses.failures import failure_from_exception
from mailcore_ses.options import SES_URL_SCHEMES, SESOptions

if TYPE_CHECKING:
    from botocore.session import Session
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sesv2.type_defs import GetAccountResponseTypeDef, SendEmailRequestTypeDef

__all__ = ["SESBackend"]

#: Seconds every sender of a limiter waits after SES said ``Throttling``.
THROTTLE_PAUSE = 1.0

_limiters: dict[Hashable, RateLimiter] = {}
_limiters_lock = threading.Lock()


def _limiter_for(options: SESOptions) -> RateLimiter:
    """The process-wide limiter of backends with these region, endpoint and limit."""
    key = (options.region, options.endpoint_url, options.max_per_second)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = RateLimiter(options.max_per_second)
        return limiter


class SESBackend(BaseEmailBackend):
    """Sends each message's own MIME bytes with SES v2 ``SendEmail``.

    The bytes are :meth:`~mailcore.EmailMessage.serialize` with CRLF line ends and
    ``allow_8bit=False`` (SES takes 7-bit content only); ``Destination`` holds every
    envelope recipient (Bcc included) and ``FromEmailAddress`` the envelope sender. On
    success ``message.result`` is ``SendResult("sent", message_id=<SES MessageId>)``; on
    failure it is ``SendResult("failed", error=<SESSendError>)``.

    A failing message does not stop the batch, except for errors that would recur for
    every message (no or refused credentials, unreachable endpoint, paused account).
    With ``max_connections`` above 1 that many calls run at once (results stay in the
    batch's order; after an error that stops the batch, calls already made finish and
    no new one starts); ``max_per_second`` paces them, and a ``Throttling`` answer holds
    every sender of the limiter back for a second.
    Without ``fail_silently`` an error is raised once the batch is over (the one that
    stopped it, else the first), with ``error.sent`` counting the messages SES accepted.
    """

    name = "ses"
    options_model = SESOptions
    url_schemes = SES_URL_SCHEMES
    options: SESOptions

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self._client: SESV2Client | None = None
        self._session: Session | None = None
        self._is_open = False
        self._lock = threading.RLock()
        self.limiter = _limiter_for(self.options)

    @property
    def client(self) -> SESV2Client:
        """The boto3 ``sesv2`` client, created on first use (also for event hooks)."""
        with self._lock:
            if self._client is None:
                self._client = self._create_client()
            return self._client

    def _create_client(self) -> SESV2Client:
        import botocore.exceptions

        try:
            client, self._session = create_sesv2_client(
                self.options.region,
                self.options.endpoint_url,
                self.options.max_connections,
                self.options.connect_timeout,
                self.options.read_timeout,
            )
        except botocore.exceptions.NoRegionError:
            raise ConfigurationError(
                "the ses backend needs an AWS region: set the ses option 'region' "
                "(MAILCORE_SES_REGION, [ses] region) or AWS_DEFAULT_REGION"
            ) from None
        except ValueError as exc:  # botocore refuses a malformed region or endpoint
            raise ConfigurationError(f"invalid ses option: {exc}") from None
        return client

    def open(self) -> bool:
        """Create (or reuse) the client and check that AWS credentials are found.

        Returns True only if this call opened the backend. Missing credentials raise
        :class:`~mailcore_ses.SESCredentialsError`, or return False with
        ``fail_silently``; a missing region is a :class:`mailcore.ConfigurationError`.
        """
        return self.open_quietly(self._open)

    def _open(self) -> bool:
        with self._lock:
            if self._is_open:
                return False
            import botocore.exceptions

            region = self.client.meta.region_name  # creates the client and its session
            assert self._session is not None
            try:
                credentials = self._session.get_credentials()
            except botocore.exceptions.BotoCoreError as exc:  # e.g. a broken SSO profile
                raise failure_from_exception(exc, None, region) from exc
            if credentials is None:
                raise SESCredentialsError(
                    "no AWS credentials found: boto3 looks in the environment "
                    "(AWS_ACCESS_KEY_ID...), the shared files (~/.aws), and instance roles",
                    code="NoCredentialsError",
                )
            self._is_open = True
            return True

    def close(self) -> None:
        """Close the client's HTTP connections; the client is kept for a later open()."""
        with self._lock:
            if not self._is_open:
                return
            self._is_open = False
            if self._client is not None:
                self._client.close()

    def check(self) -> str:
        """Call SES v2 ``GetAccount`` (sends nothing) and describe the account in one line:
        its sending quota, what was sent in the last 24 hours, and whether it is still in
        the sandbox.

        Raises the errors a send would (:class:`~mailcore_ses.SESCredentialsError`,
        :class:`~mailcore_ses.SESEndpointError`...), and
        :class:`~mailcore_ses.SESAccountError` when the account may not send.
        """
        import botocore.exceptions

        opened = self.open()
        region = self.client.meta.region_name
        try:
            account = self.client.get_account()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise failure_from_exception(exc, None, region, "GetAccount") from exc
        except (AttributeError, TypeError, ValueError) as exc:  # botocore reading a stranger
            raise SESAccountError(
                f"SES GetAccount in {region}: the answer could not be read "
                f"({type(exc).__name__}: {exc}); is endpoint_url an SES endpoint?",
                code="MalformedResponse",
            ) from exc
        finally:
            if opened:
                self.close()
        unreadable = _unreadable_quota(account)
        if unreadable:
            raise SESAccountError(
                f"SES GetAccount in {region} answered without a readable sending quota "
                f"({unreadable}); is endpoint_url an SES endpoint?",
                code="MalformedResponse",
            )
        line = _describe_account(account, region)
        if account.get("SendingEnabled") is False:
            raise SESAccountError(
                f"the SES account may not send: sending is paused ({line})",
                code="SendingPausedException",
            )
        return line

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """SES raw content must be 7-bit: the core's own 7-bit serialization, CRLF."""
        return message.iter_serialized("\r\n", allow_8bit=False)

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send each message; return how many SES accepted (see the class docstring)."""
        return self.deliver_batch(messages, self._open, self._send_batch)

    def _send_batch(self, messages: Sequence[EmailMessage]) -> int:
        errors: dict[int, SESSendError] = {}
        fatal: list[tuple[int, BaseException]] = []
        lock = threading.Lock()
        taken = iter(range(len(messages)))
        stop = threading.Event()
        self.client  # noqa: B018 - made once, before any thread uses it

        def work() -> None:
            while not stop.is_set():
                with lock:
                    index = next(taken, None)
                if index is None:
                    return
                message = messages[index]
                try:
                    error = self._send_one(message)
                except BaseException as exc:  # a bad header, an invalid address: never hidden
                    message.result = SendResult("failed", error=exc)
                    with lock:
                        fatal.append((index, exc))
                    stop.set()
                    return
                if error is not None:
                    with lock:
                        errors[index] = error
                    if error.stops_batch:
                        stop.set()

        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True)
            for _ in range(min(self.options.max_connections, len(messages)) - 1)
        ]
        for thread in threads:
            thread.start()
        work()
        for thread in threads:
            thread.join()
        unsent = [m for m in messages if m.result is None]
        if fatal:
            _, exc = min(fatal, key=lambda item: item[0])
            self.stop_batch(unsent, exc)
            raise exc
        ordered = [errors[index] for index in sorted(errors)]
        stoppers = [error for error in ordered if error.stops_batch]
        if stoppers:
            self.stop_batch(unsent, stoppers[0])
        accepted = sum(1 for m in messages if m.result is not None and m.result.sent)
        if not ordered or self.fail_silently:
            return accepted
        # The error to fix first: the one that stopped the batch, else the first one.
        raised = stoppers[0] if stoppers else ordered[0]
        raised.sent = accepted
        if len(messages) > 1:
            stopped = "; the batch stopped there" if raised.stops_batch else ""
            raised.add_note(
                f"{accepted} of {len(messages)} messages sent, "
                f"{len(messages) - accepted} not sent{stopped}; "
                "each message's .result has its outcome"
            )
        raise raised

    def _send_one(self, message: EmailMessage) -> SESSendError | None:
        """Send one message; set its result; return the error instead of raising it."""
        recipients = list(dict.fromkeys(message.envelope_recipients()))
        if not recipients:
            message.result = SendResult("failed", error=SendError("the message has no recipients"))
            return None
        request = self._request(message, recipients)
        import botocore.exceptions

        self.limiter.wait()
        try:
            response = self.client.send_email(**request)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            error = failure_from_exception(exc, message, self.client.meta.region_name)
            error.__cause__ = exc
            if isinstance(error, SESThrottlingError):
                self.limiter.pause(THROTTLE_PAUSE)  # botocore already retried it
            message.result = SendResult("failed", error=error)
            return error
        message.result = SendResult("sent", message_id=response.get("MessageId"))
        return None

    def _request(self, message: EmailMessage, recipients: list[str]) -> SendEmailRequestTypeDef:
        data = self.prepared(message).to_bytes()
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": message.envelope_from(),
            "Destination": {"ToAddresses": recipients},
            "Content": {"Raw": {"Data": data}},
        }
        if self.options.configuration_set:
            request["ConfigurationSetName"] = self.options.configuration_set
        if self.options.tags:
            request["EmailTags"] = [
                {"Name": name, "Value": value} for name, value in self.options.tags.items()
            ]
        if self.options.from_arn:
            request["FromEmailAddressIdentityArn"] = self.options.from_arn
        return request


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)  # nan, inf: as is


def _unreadable_quota(account: GetAccountResponseTypeDef) -> str:
    """What a ``GetAccount`` answer lacks to be described (``""``: nothing)."""
    quota: Any = account.get("SendQuota")
    if not isinstance(quota, dict):
        return "no SendQuota"
    for name in ("Max24HourSend", "MaxSendRate", "SentLast24Hours"):
        value = quota.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"SendQuota.{name} is {value!r}, not a number"
    return ""


def _describe_account(account: GetAccountResponseTypeDef, region: str | None) -> str:
    """One line from a ``GetAccount`` answer: quota, sent in 24 hours, sandbox or not."""
    quota = account.get("SendQuota", {})
    where = f"SES account in {region}" if region else "SES account"
    parts = [
        f"{where}: sending quota {_number(quota.get('Max24HourSend', 0))} messages "
        f"per 24 hours, at most {_number(quota.get('MaxSendRate', 0))} per second, "
        f"{_number(quota.get('SentLast24Hours', 0))} sent in the last 24 hours"
    ]
    if account.get("ProductionAccessEnabled"):
        parts.append("production access (out of the sandbox)")
    else:
        parts.append("in the sandbox (ProductionAccessEnabled false: verified recipients only)")
    enforcement = account.get("EnforcementStatus")
    if enforcement and enforcement != "HEALTHY":
        parts.append(f"enforcement status {enforcement}")
    parts.append(_suggestion(float(quota.get("MaxSendRate", 0))))
    return "; ".join(parts)


def _suggestion(rate: float) -> str:
    """The settings that keep to the account's ``MaxSendRate``, when ``max_per_second``
    takes that rate (:data:`mailcore.PerSecond` decides); else why none is suggested."""
    try:
        TypeAdapter(PerSecond).validate_python(rate)
    except ValidationError:
        return (
            f"no setting suggested (MaxSendRate {_number(rate)} is not a rate max_per_second takes)"
        )
    return (
        f"suggested: max_per_second = {_number(rate)}, "
        f"max_connections = {suggested_connections(rate)}"
    )


def suggested_connections(rate: float) -> int:
    """Concurrent calls that reach ``rate`` messages a second: one ``SendEmail`` call
    takes about 100 ms from outside AWS, so one per 10 messages a second (1 to 50)."""
    return max(1, min(50, math.ceil(rate / 10)))
