"""SES failures become clear mailcore errors; a batch goes on after a rejected message."""

from __future__ import annotations

import time

import pytest

import mailcore
from mailcore import EmailMessage, SendError
from mailcore_ses import (
    SESAccountError,
    SESBackend,
    SESCredentialsError,
    SESEndpointError,
    SESIdentityNotVerifiedError,
    SESMessageRejectedError,
    SESSendError,
    SESThrottlingError,
)
from tests.ses.conftest import REGION, SENDER, FakeSES, ScriptedSES

UNVERIFIED = "someone@unverified.example"


def good(subject: str) -> EmailMessage:
    return EmailMessage(subject, "Body\n", SENDER, ["to@example.com"])


def unverified(subject: str = "Bad sender") -> EmailMessage:
    return EmailMessage(subject, "Body\n", UNVERIFIED, ["victim@example.com"])


def remove_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


# -- unverified identity, rejected messages ------------------------------------------------


def test_unverified_sender_is_a_clear_error_naming_the_message(
    backend: SESBackend, ses: FakeSES
) -> None:
    message = unverified("Quarterly report")

    with pytest.raises(SESIdentityNotVerifiedError) as caught:
        backend.send_messages([message])

    error = caught.value
    assert isinstance(error, SESMessageRejectedError)
    assert isinstance(error, SendError)
    text = str(error)
    assert "'Quarterly report'" in text
    assert "victim@example.com" in text
    assert "not verified" in text
    assert "eu-west-1" in text
    assert UNVERIFIED in text  # SES's own text names the identity
    assert error.code == "MessageRejected"
    assert error.message is message
    assert error.sent == 0
    assert message.result is not None
    assert message.result.status == "failed"
    assert message.result.error is error
    assert ses.sent == []


def test_unverified_sender_failing_silently_counts_as_not_sent(ses: FakeSES) -> None:
    backend = SESBackend(fail_silently=True, region=REGION)
    message = unverified()

    assert backend.send_messages([message]) == 0

    assert message.result is not None
    assert isinstance(message.result.error, SESIdentityNotVerifiedError)


def test_batch_goes_on_after_a_rejected_message_then_raises(
    backend: SESBackend, ses: FakeSES
) -> None:
    messages = [good("first"), unverified("second"), good("third")]

    with pytest.raises(SESIdentityNotVerifiedError) as caught:
        backend.send_messages(messages)

    assert caught.value.sent == 2
    assert caught.value.message is messages[1]
    assert "2 of 3 messages sent, 1 not sent" in "".join(caught.value.__notes__)
    assert [m.result.status for m in messages if m.result] == ["sent", "failed", "sent"]
    ids = [m.result.message_id for m in messages if m.result and m.result.sent]
    assert [m.id for m in ses.sent] == ids


def test_failing_silently_a_batch_returns_the_count_ses_accepted(ses: FakeSES) -> None:
    backend = SESBackend(fail_silently=True, region=REGION)
    messages = [good("first"), unverified("second"), good("third"), unverified("fourth")]

    assert backend.send_messages(messages) == 2

    assert len(ses.sent) == 2
    assert [m.result.sent for m in messages if m.result] == [True, False, True, False]


def test_send_mail_failing_silently_returns_zero(ses: FakeSES) -> None:
    mailcore.configure(ses={"region": REGION})

    sent = mailcore.send_mail(
        "Hi",
        "Body\n",
        UNVERIFIED,
        ["to@example.com"],
        fail_silently=True,
        connection=mailcore.get_connection("ses", fail_silently=True),
    )

    assert sent == 0


# -- answers moto cannot give: throttling, paused account, MAIL FROM domain ---------------


def test_throttling_is_its_own_error_and_the_batch_goes_on(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    backend, ses = scripted
    ses.accept("id-1")
    ses.refuse(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
    ses.accept("id-3")
    messages = [good("one"), good("two"), good("three")]

    with pytest.raises(SESThrottlingError) as caught:
        backend.send_messages(messages)

    assert "'two'" in str(caught.value)
    assert "rate or quota" in str(caught.value)
    assert "Maximum sending rate exceeded." in str(caught.value)
    assert caught.value.sent == 2
    assert [m.result.message_id for m in messages if m.result] == ["id-1", None, "id-3"]


def test_mail_from_domain_not_verified(scripted: tuple[SESBackend, ScriptedSES]) -> None:
    backend, ses = scripted
    ses.refuse(400, "MailFromDomainNotVerifiedException", "MAIL FROM domain not verified")

    with pytest.raises(SESIdentityNotVerifiedError, match="MAIL FROM domain is not verified"):
        backend.send_messages([good("one")])


def test_paused_account_stops_the_batch(scripted: tuple[SESBackend, ScriptedSES]) -> None:
    backend, ses = scripted
    ses.accept("id-1")
    ses.refuse(400, "SendingPausedException", "Sending paused for this account.")
    messages = [good("one"), good("two"), good("three")]

    with pytest.raises(SESAccountError) as caught:
        backend.send_messages(messages)

    assert caught.value.sent == 1
    assert ses.answers == []  # the third message was not tried
    assert messages[2].result is not None
    assert messages[2].result.error is not None
    assert messages[2].result.error.__cause__ is caught.value  # not attempted because of it


def test_refused_credentials_stop_the_batch(scripted: tuple[SESBackend, ScriptedSES]) -> None:
    backend, ses = scripted
    ses.refuse(403, "UnrecognizedClientException", "The security token is invalid.")
    messages = [good("one"), good("two")]

    with pytest.raises(SESCredentialsError, match="AWS refused the credentials"):
        backend.send_messages(messages)

    assert [m.result.status for m in messages if m.result] == ["failed", "failed"]


def test_unknown_ses_error_is_still_a_send_error(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    backend, ses = scripted
    ses.refuse(404, "NotFoundException", "Configuration set <nope> does not exist.")

    with pytest.raises(SESSendError, match="Configuration set <nope> does not exist"):
        backend.send_messages([good("one")])


# -- missing credentials, unreachable endpoint ---------------------------------------------


def test_missing_credentials_are_reported_at_open(monkeypatch: pytest.MonkeyPatch) -> None:
    remove_credentials(monkeypatch)
    backend = SESBackend(region=REGION)

    with pytest.raises(SESCredentialsError, match="no AWS credentials found") as caught:
        backend.open()

    assert caught.value.code == "NoCredentialsError"
    backend.close()


def test_missing_credentials_fail_a_batch_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remove_credentials(monkeypatch)
    messages = [good("one"), good("two")]

    with pytest.raises(SESCredentialsError):
        SESBackend(region=REGION).send_messages(messages)

    assert all(m.result is not None and not m.result.sent for m in messages)


def test_missing_credentials_failing_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    remove_credentials(monkeypatch)
    backend = SESBackend(fail_silently=True, region=REGION)

    assert backend.open() is False
    assert backend.send_messages([good("one")]) == 0


def test_unreachable_endpoint_stops_the_batch_quickly(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    backend = SESBackend(region=REGION, endpoint_url=f"http://127.0.0.1:{closed_port}")
    messages = [good("one"), good("two")]
    started = time.monotonic()

    with pytest.raises(SESEndpointError) as caught:
        backend.send_messages(messages)

    assert time.monotonic() - started < 10
    text = str(caught.value)
    assert "'one'" in text
    assert "could not be reached" in text
    assert f"127.0.0.1:{closed_port}" in text
    assert caught.value.sent == 0
    assert messages[1].result is not None and messages[1].result.error is not None
    assert messages[1].result.error.__cause__ is caught.value  # not attempted because of it


def test_unreachable_endpoint_failing_silently(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    backend = SESBackend(
        fail_silently=True, region=REGION, endpoint_url=f"http://127.0.0.1:{closed_port}"
    )

    assert backend.send_messages([good("one")]) == 0


def test_errors_never_show_the_credentials(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID1234")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    backend = SESBackend(region=REGION, endpoint_url=f"http://127.0.0.1:{closed_port}")

    with pytest.raises(SESEndpointError) as caught:
        backend.send_messages([good("one")])

    shown = str(caught.value) + repr(caught.value) + repr(backend)
    assert "AKIAEXAMPLEKEYID1234" not in shown
    assert "SECRET" not in shown


def test_the_error_that_stopped_the_batch_is_the_one_raised(
    scripted: tuple[SESBackend, ScriptedSES],
) -> None:
    backend, ses = scripted
    ses.refuse(400, "MessageRejected", "Illegal address")
    ses.refuse(403, "InvalidClientTokenId", "The security token is invalid.")
    messages = [good("one"), good("two"), good("three")]

    with pytest.raises(SESCredentialsError) as caught:
        backend.send_messages(messages)

    assert isinstance(messages[0].result.error, SESMessageRejectedError)  # type: ignore[union-attr]
    assert "0 of 3 messages sent, 3 not sent; the batch stopped there" in caught.value.__notes__[0]
