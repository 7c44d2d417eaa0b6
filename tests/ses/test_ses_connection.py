"""One boto3 client per backend: created on first use, kept across open/close and batches."""

from __future__ import annotations

import pytest

from mailcore import ConfigurationError, EmailMessage
from mailcore_ses import SESBackend
from tests.ses.conftest import REGION, SENDER, FakeSES


def message(subject: str) -> EmailMessage:
    return EmailMessage(subject, "Body\n", SENDER, ["to@example.com"])


def test_the_client_is_made_once_and_reused_across_open_and_close(
    backend: SESBackend, ses: FakeSES
) -> None:
    assert backend.open() is True
    client = backend.client
    assert backend.open() is False  # already open
    backend.send_messages([message("one")])
    backend.close()
    backend.close()  # twice is harmless

    assert backend.open() is True
    backend.send_messages([message("two")])
    backend.close()
    backend.send_messages([message("three")])  # opens and closes by itself

    assert backend.client is client
    assert client.meta.region_name == REGION
    assert len(ses.sent) == 3


def test_send_messages_leaves_an_unopened_backend_closed(backend: SESBackend, ses: FakeSES) -> None:
    backend.send_messages([message("one")])

    assert backend.open() is True  # it was closed again after the batch
    backend.close()


def test_context_manager_opens_and_closes(ses: FakeSES) -> None:
    with SESBackend(region=REGION) as backend:
        assert backend.open() is False
        assert backend.send_messages([message("one"), message("two")]) == 2
    assert backend.open() is True
    backend.close()


def test_region_defaults_to_boto3s_own_configuration(ses: FakeSES) -> None:
    backend = SESBackend()  # AWS_DEFAULT_REGION=eu-west-1 in the test environment

    assert backend.send_messages([message("one")]) == 1
    assert backend.client.meta.region_name == "eu-west-1"
    assert backend.options.region is None


def test_no_region_anywhere_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    backend = SESBackend(fail_silently=True)  # fail_silently never hides configuration

    with pytest.raises(ConfigurationError, match="MAILCORE_SES_REGION"):
        backend.open()
    with pytest.raises(ConfigurationError, match="AWS_DEFAULT_REGION"):
        backend.send_messages([message("one")])


def test_endpoint_url_is_used_by_the_client() -> None:
    backend = SESBackend(region=REGION, endpoint_url="http://127.0.0.1:4566")

    assert backend.client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert "mailkern-ses" in backend.client.meta.config.user_agent_extra  # type: ignore[attr-defined]
