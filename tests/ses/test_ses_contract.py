"""The shared backend contract (mailcore.testing), run against the SES backend under moto."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from typing import ClassVar

import pytest

from mailcore import BaseEmailBackend
from mailcore.testing import BackendContractTests, parse_message
from mailcore_ses import SESBackend
from tests.ses.conftest import REGION, SENDER, FakeSES


class TestSESBackendContract(BackendContractTests):
    """Every contract test, with moto's SES as the transport and its store read back."""

    from_email: ClassVar[str] = SENDER
    secrets: ClassVar[list[str]] = ["testing-secret-access-key"]

    @pytest.fixture
    def backend(self, ses: FakeSES, monkeypatch: pytest.MonkeyPatch) -> Iterator[BaseEmailBackend]:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-access-key")
        self.fake_ses = ses
        backend = SESBackend(region=REGION)
        yield backend
        backend.close()

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        return [parse_message(raw) for raw in self.fake_ses.sent_bytes()]
