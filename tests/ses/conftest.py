"""Fixtures for the SES backend: fake AWS credentials, moto's SES (with the ``GetAccount``
call moto lacks), recorded requests."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws
from moto.ses.models import RawMessage, ses_backends
from moto.sesv2.responses import SESV2Response

from mailcore_ses import SESBackend

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
SENDER = "sender@example.com"


@pytest.fixture(autouse=True)
def aws_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region in the environment; nothing read from ~/.aws.

    The instance-metadata lookup is disabled, so a test with no credentials never
    touches the network.
    """
    for name in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SESV2",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class FakeSES:
    """moto's SES for one test: what it stored, and a verified sender identity."""

    def __init__(self) -> None:
        client = boto3.client("sesv2", region_name=REGION)
        client.create_email_identity(EmailIdentity=SENDER)
        client.close()

    @property
    def sent(self) -> list[RawMessage]:
        """The raw messages moto accepted, oldest first."""
        return [
            message
            for message in ses_backends[ACCOUNT][REGION].sent_messages
            if isinstance(message, RawMessage)
        ]

    def sent_bytes(self) -> list[bytes]:
        """The exact bytes of each message SES received."""
        return [message.raw_data.encode("ascii") for message in self.sent]


class FakeAccount:
    """SES v2 ``GetAccount`` added to moto, which does not implement it (moto 5.2).

    The quota and the number of messages sent come from moto's own SES model (200 a day,
    1 a second, and what moto received); whether the account left the sandbox and may
    send is set by the test. ``requests`` holds the method, path and headers of each
    GetAccount request moto received.
    """

    def __init__(self) -> None:
        self.production_access = False
        self.sending_enabled = True
        self.enforcement_status = "HEALTHY"
        #: ``MaxSendRate`` to answer instead of moto's 1 a second
        self.max_send_rate: float | None = None
        #: ``SendQuota`` to answer as it is instead of moto's (``None``: moto's;
        #: ``"omitted"``: none at all)
        self.send_quota: object = None
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def answer(self, response: SESV2Response) -> str:
        self.requests.append((response.method, response.path, dict(response.headers)))
        quota = ses_backends[response.current_account][response.region].get_send_quota()
        answer: dict[str, object] = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": self.enforcement_status,
            "ProductionAccessEnabled": self.production_access,
            "SendQuota": {
                "Max24HourSend": float(quota.max24_hour_send),
                "MaxSendRate": (
                    float(quota.max_send_rate) if self.max_send_rate is None else self.max_send_rate
                ),
                "SentLast24Hours": float(quota.sent_last24_hours),
            },
            "SendingEnabled": self.sending_enabled,
        }
        if self.send_quota == "omitted":
            del answer["SendQuota"]
        elif self.send_quota is not None:
            answer["SendQuota"] = self.send_quota
        return json.dumps(answer)


@pytest.fixture
def account(ses: FakeSES, monkeypatch: pytest.MonkeyPatch) -> FakeAccount:
    """moto's SES (the ``ses`` fixture), answering ``GetAccount`` too."""
    fake = FakeAccount()

    def get_account(response: SESV2Response) -> str:
        return fake.answer(response)

    monkeypatch.setattr(SESV2Response, "get_account", get_account, raising=False)
    return fake


@pytest.fixture
def ses() -> Iterator[FakeSES]:
    """moto's SES (in-process, no network) with ``sender@example.com`` verified."""
    with mock_aws():
        yield FakeSES()


@pytest.fixture
def backend(ses: FakeSES) -> Iterator[SESBackend]:
    """An SES backend for moto's SES in eu-west-1, closed after the test."""
    backend = SESBackend(region=REGION)
    yield backend
    backend.close()


class RequestRecorder:
    """The JSON bodies of the ``SendEmail`` requests a client sends, as sent."""

    def __init__(self, backend: SESBackend) -> None:
        self.bodies: list[dict[str, Any]] = []
        backend.client.meta.events.register("request-created.sesv2.SendEmail", self._record)

    def _record(self, request: Any, **kwargs: Any) -> None:
        self.bodies.append(json.loads(request.body))


@pytest.fixture
def requests(backend: SESBackend) -> RequestRecorder:
    """Records each SendEmail request of ``backend`` on its way to moto."""
    return RequestRecorder(backend)


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Body(io.BytesIO):
    """A response body as botocore reads it (``stream()``)."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


class ScriptedSES:
    """Answers a backend's SendEmail (or ``operation``) calls in order, at the HTTP layer,
    with no network.

    For the answers moto cannot give (throttling, a paused account): botocore parses
    these responses and raises exactly what it would for the real service.
    """

    def __init__(self, backend: SESBackend, operation: str = "SendEmail") -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        backend.client.meta.events.register(f"before-send.sesv2.{operation}", self._answer)

    def accept(self, message_id: str) -> None:
        self.answers.append((200, {"MessageId": message_id}))

    def refuse(self, status: int, code: str, text: str) -> None:
        self.answers.append((status, {"__type": code, "message": text}))

    def _answer(self, request: Any, **kwargs: Any) -> Any:
        status, body = self.answers.pop(0)
        headers = {"content-type": "application/json"}
        if "__type" in body:
            headers["x-amzn-errortype"] = body["__type"]
        raw = _Body(json.dumps(body).encode())
        return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), raw)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SESBackend, ScriptedSES]]:
    """A backend whose SES answers come from a script (boto3 retries turned off)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    backend = SESBackend(region=REGION)
    yield backend, ScriptedSES(backend)
    backend.close()
