"""Every built-in backend reports each message's outcome, failures included.

After ``send_messages`` every message of the batch has a ``result``: ``"sent"`` only when
the transport took it; otherwise ``"failed"`` with the error, including the messages
after a failure that stopped the batch (whose error says so, with the failure as
``__cause__``). A message sent before and given again never keeps its old result.
The SMTP backend's failures are covered in full by the fault matrix.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

import mailcore
from mailcore import BadHeaderError, BaseEmailBackend, EmailMessage, SendError, SendResult
from mailcore.testing import parse_message
from mailcore_console import ConsoleBackend
from mailcore_dummy import DummyBackend
from mailcore_file import FileBackend
from mailcore_locmem import LocmemBackend
from mailcore_ses import SESBackend, SESIdentityNotVerifiedError
from mailcore_smtp import SMTPBackend, SMTPBatchStoppedError
from tests.ses.conftest import REGION, SENDER, FakeSES
from tests.support.smtp_servers import RecordingSMTPServer

BAD_SUBJECT = "Hello\nBcc: victim@example.com"


def batch(*subjects: str, sender: str = SENDER) -> list[EmailMessage]:
    return [EmailMessage(s, "Body.\n", sender, ["to@example.com"]) for s in subjects]


def statuses(messages: list[EmailMessage]) -> list[str | None]:
    return [m.result.status if m.result else None for m in messages]


def stale(messages: list[EmailMessage]) -> None:
    """Give each message a "sent" result, as a message sent before would have."""
    for message in messages:
        message.result = SendResult("sent", message_id="from-an-earlier-send")


def assert_not_attempted(message: EmailMessage, cause: BaseException) -> None:
    """The message failed because an earlier one stopped the batch."""
    assert message.result is not None and message.result.status == "failed"
    error = message.result.error
    assert isinstance(error, SendError)
    assert "batch stopped" in str(error)
    assert error.__cause__ is cause


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSES]:
    """moto's SES with fake credentials, nothing read from ~/.aws, no network."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        yield FakeSES()


# -- success: every message "sent", with the transport's id where it gives one ------------


@pytest.mark.parametrize(
    "make",
    [DummyBackend, LocmemBackend, lambda: ConsoleBackend(stream=io.StringIO())],
    ids=["dummy", "locmem", "console"],
)
def test_dev_backends_report_each_message_sent(make: type[BaseEmailBackend]) -> None:
    messages = batch("one", "two")
    stale(messages)
    assert make().send_messages(messages) == 2
    headers = [m.result.message_id_header for m in messages if m.result]
    assert [m.result for m in messages] == [
        SendResult("sent", message_id_header=header) for header in headers
    ]
    assert len(set(headers)) == 2 and all(h and h.startswith("<") for h in headers)


def test_file_backend_reports_each_message_sent(tmp_path: Path) -> None:
    messages = batch("one", "two")
    backend = FileBackend(file_path=tmp_path)
    assert backend.send_messages(messages) == 2
    (written,) = backend.written
    sent_ids = [
        line.split(b": ", 1)[1].decode()
        for line in written.read_bytes().splitlines()
        if line.startswith(b"Message-ID: ")
    ]
    assert [m.result for m in messages] == [
        SendResult("sent", message_id_header=header) for header in sent_ids
    ]


def test_ses_reports_its_message_id(aws: FakeSES) -> None:
    messages = batch("one", "two")
    backend = SESBackend(region=REGION)
    assert backend.send_messages(messages) == 2
    backend.close()
    ids = [m.result.message_id for m in messages if m.result]
    assert ids == [sent.id for sent in aws.sent]
    assert len(set(ids)) == 2
    headers = [m.result.message_id_header for m in messages if m.result]
    assert headers == [parse_message(raw)["Message-ID"] for raw in aws.sent_bytes()]


def test_smtp_reports_the_queue_id_and_refused_recipients() -> None:
    refuse = {"gone@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refuse) as server:
        message = EmailMessage("Hi", "Body.\n", SENDER, ["to@example.com", "gone@example.com"])
        assert SMTPBackend(**server.backend_options(timeout=5)).send_messages([message]) == 1
    assert message.result == SendResult(
        "sent",
        message_id=server.messages[0].queue_id,
        refused=refuse,
        message_id_header=server.messages[0].parsed()["Message-ID"],
    )


# -- one bad message: the whole batch is refused before anything is opened or sent ---------


def assert_refused_batch(messages: list[EmailMessage], error: BaseException) -> None:
    """The third message is named and failed; the first two were not attempted."""
    assert str(error).startswith("message 3 of 3 (nothing was sent): ")
    assert statuses(messages) == ["failed", "failed", "failed"]
    assert messages[2].result is not None and messages[2].result.error is error
    assert messages[2].result.message_id_header is None
    assert_not_attempted(messages[0], error)
    assert_not_attempted(messages[1], error)


@pytest.mark.parametrize(
    "make",
    [DummyBackend, LocmemBackend, lambda: ConsoleBackend(stream=io.StringIO())],
    ids=["dummy", "locmem", "console"],
)
def test_dev_backends_refuse_a_batch_whose_third_message_is_bad(
    make: type[BaseEmailBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailcore, "outbox", [], raising=False)
    backend = make()
    messages = batch("fine", "also fine", BAD_SUBJECT)
    stale(messages)
    with pytest.raises(BadHeaderError) as caught:
        backend.send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert mailcore.outbox == []
    if isinstance(backend, ConsoleBackend):
        assert isinstance(backend._target, io.StringIO) and backend._target.getvalue() == ""


def test_file_backend_refuses_a_batch_whose_third_message_is_bad(tmp_path: Path) -> None:
    messages = batch("fine", "also fine", BAD_SUBJECT)
    stale(messages)
    backend = FileBackend(file_path=tmp_path / "mail", fail_silently=True)
    with pytest.raises(BadHeaderError) as caught:
        backend.send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert list((tmp_path / "mail").iterdir()) == []  # no session file, not even a temporary one


def test_ses_refuses_a_batch_whose_third_message_is_bad(aws: FakeSES) -> None:
    messages = batch("fine", "also fine", BAD_SUBJECT)
    stale(messages)
    backend = SESBackend(region=REGION, fail_silently=True)
    with pytest.raises(BadHeaderError) as caught:
        backend.send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert aws.sent == []


def test_smtp_refuses_a_batch_whose_third_message_is_bad() -> None:
    with RecordingSMTPServer() as server:
        messages = batch("fine", "also fine", BAD_SUBJECT)
        stale(messages)
        with pytest.raises(BadHeaderError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert isinstance(messages[0].result.error, SMTPBatchStoppedError)  # type: ignore[union-attr]
    assert server.messages == []
    assert server.sessions == []  # not even connected


def test_smtp_refuses_a_batch_with_a_non_ascii_address_before_connecting() -> None:
    with RecordingSMTPServer() as server:
        bad = EmailMessage("x", "Body.\n", SENDER, ["jörg@example.com"])
        messages = [*batch("fine", "also fine"), bad]
        with pytest.raises(mailcore.InvalidAddressError) as caught:
            SMTPBackend(**server.backend_options(timeout=5)).send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert "'jörg@example.com' in To: its local part is not ASCII" in str(caught.value)
    assert server.sessions == []


@pytest.mark.parametrize("problem", ["attachment", "address"])
def test_a_bad_attachment_or_address_refuses_the_batch(
    problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mailcore, "outbox", [], raising=False)
    messages = batch("fine", "also fine", "bad")
    if problem == "attachment":
        messages[2].attachments.append(mailcore.EmailAttachment("a.bin", 42, "application/x"))
        expected: type[Exception] = TypeError
    else:
        messages[2].to = ["not an address"]
        expected = mailcore.InvalidAddressError
    with pytest.raises(expected) as caught:
        LocmemBackend().send_messages(messages)
    assert_refused_batch(messages, caught.value)
    assert mailcore.outbox == []


# -- transport failures ---------------------------------------------------------------------


class BrokenStream(io.StringIO):
    """A text stream whose writes fail once ``fail_after`` separator lines were written."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after

    def write(self, text: str) -> int:
        if self.getvalue().count("-" * 79) >= self.fail_after:
            raise OSError(28, "No space left on device")
        return super().write(text)


@pytest.mark.parametrize("fail_silently", [False, True])
def test_console_write_failure_marks_that_message_and_the_rest(fail_silently: bool) -> None:
    messages = batch("one", "two", "three")
    stale(messages)
    backend = ConsoleBackend(stream=BrokenStream(fail_after=1), fail_silently=fail_silently)
    if fail_silently:
        assert backend.send_messages(messages) == 1
        error = messages[1].result.error  # type: ignore[union-attr]
    else:
        with pytest.raises(OSError) as caught:
            backend.send_messages(messages)
        error = caught.value
    assert statuses(messages) == ["sent", "failed", "failed"]
    assert isinstance(error, OSError) and messages[1].result.error is error  # type: ignore[union-attr]
    assert_not_attempted(messages[2], error)


def test_file_backend_that_cannot_create_its_file_marks_every_message(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    backend = FileBackend(file_path=directory, fail_silently=True)
    shutil.rmtree(directory)  # gone after the backend checked it
    messages = batch("one", "two")
    stale(messages)
    assert backend.send_messages(messages) == 0
    assert statuses(messages) == ["failed", "failed"]
    for message in messages:
        assert isinstance(message.result.error, OSError | SendError)  # type: ignore[union-attr]


def test_ses_rejection_fails_that_message_only(aws: FakeSES) -> None:
    messages = batch("one") + batch("two", sender="nobody@unverified.example") + batch("three")
    backend = SESBackend(region=REGION)
    with pytest.raises(SESIdentityNotVerifiedError) as caught:
        backend.send_messages(messages)
    backend.close()
    assert statuses(messages) == ["sent", "failed", "sent"]
    assert messages[1].result is not None and messages[1].result.error is caught.value
    assert caught.value.sent == 2
    assert len(aws.sent) == 2


@pytest.mark.parametrize("backend_name", ["smtp", "ses"])
def test_a_message_without_recipients_is_failed_with_a_reason(
    backend_name: str, aws: FakeSES
) -> None:
    message = EmailMessage("Nobody", "Body.\n", SENDER, [])
    message.result = SendResult("sent")
    with RecordingSMTPServer() as server:
        options = (
            server.backend_options(timeout=5) if backend_name == "smtp" else {"region": REGION}
        )
        backend = mailcore.get_connection(backend_name, **options)
        assert backend.send_messages([message]) == 0
        backend.close()
    assert message.result is not None and message.result.status == "failed"
    assert isinstance(message.result.error, SendError)
    assert "no recipients" in str(message.result.error)
    assert server.messages == [] and aws.sent == []


def test_a_configuration_error_found_when_connecting_fails_every_message(
    tmp_path: Path, aws: FakeSES, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_messages, ses_messages = batch("one", "two"), batch("three")
    stale(smtp_messages + ses_messages)
    with RecordingSMTPServer() as server:
        missing = tmp_path / "missing.pem"
        smtp = SMTPBackend(
            fail_silently=True, use_tls=True, ssl_certfile=missing, **server.backend_options()
        )
        with pytest.raises(mailcore.ConfigurationError, match=r"missing\.pem"):
            smtp.send_messages(smtp_messages)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(mailcore.ConfigurationError, match="region"):
        SESBackend(fail_silently=True).send_messages(ses_messages)
    for message in smtp_messages + ses_messages:
        assert message.result is not None and message.result.status == "failed"
        assert isinstance(message.result.error, mailcore.ConfigurationError)
