"""The four development backends: locmem, dummy, console and file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from pathlib import Path
from typing import Any

import pytest

import mailcore
from mailcore import BaseEmailBackend, ConfigurationError, EmailMessage
from mailcore.stream import SEPARATOR
from mailcore.testing import BackendContractTests, parse_message, redirect_backends
from mailcore_console import ConsoleBackend
from mailcore_dummy import DummyBackend
from mailcore_file import FileBackend
from mailcore_locmem import LocmemBackend
from mailcore_smtp import SMTPBackend
from tests.support.smtp_servers import RecordingSMTPServer


def _split_stream(text: str) -> list[ParsedMessage]:
    chunks = text.split(SEPARATOR + "\n")
    assert chunks[-1] == "", "every message must be followed by the separator line"
    return [parse_message(chunk.encode()) for chunk in chunks[:-1]]


class TestLocmemContract(BackendContractTests):
    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        yield LocmemBackend()

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        # The outbox keeps message objects, not bytes: each copy's Message-ID is the one
        # recorded on its result when it was stored.
        delivered = []
        for message in getattr(mailcore, "outbox", []):
            assert message.result is not None and message.result.sent
            header = message.result.message_id_header
            delivered.append(parse_message(message.serialize()))
            delivered[-1].replace_header("Message-ID", header)
        return delivered


class TestDummyContract(BackendContractTests):
    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        yield DummyBackend()


class TestConsoleContract(BackendContractTests):
    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        yield ConsoleBackend(stream=io.StringIO())

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        assert isinstance(backend, ConsoleBackend) and isinstance(backend._target, io.StringIO)
        return _split_stream(backend._target.getvalue())


class TestFileContract(BackendContractTests):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[BaseEmailBackend]:
        yield FileBackend(file_path=tmp_path / "mail")

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        assert isinstance(backend, FileBackend)
        return [m for path in backend.written for m in _split_stream(path.read_text())]


def test_outbox_appears_on_first_send() -> None:
    assert not hasattr(mailcore, "outbox")
    LocmemBackend().send_messages([EmailMessage("s", "b", "a@example.com", ["b@example.com"])])
    assert [m.subject for m in mailcore.outbox] == ["s"]


def test_locmem_keeps_a_copy_as_it_was_sent() -> None:
    message = EmailMessage("original", "body", "a@example.com", ["b@example.com"])
    LocmemBackend().send_messages([message])
    message.subject = "changed"
    message.to.append("c@example.com")
    (stored,) = mailcore.outbox
    assert stored.subject == "original"
    assert stored.to == ["b@example.com"]
    assert stored is not message


def _send_through(way: str, options: dict[str, Any]) -> int:
    """Send one message, getting the SMTP backend the way ``way`` names."""
    message = EmailMessage(way, "Body", "a@example.com", ["b@example.com"])
    if way == "configured":
        return mailcore.send_mail(way, "Body", "a@example.com", ["b@example.com"])
    if way == "short name":
        return mailcore.get_connection("smtp", **options).send_messages([message])
    if way == "import path":
        backend = mailcore.get_connection("mailcore_smtp.backend:SMTPBackend", **options)
        return backend.send_messages(iter([message]))
    if way == "dotted path":
        return mailcore.get_connection("mailcore_smtp.SMTPBackend", **options).send_messages(
            [message]
        )
    if way == "class":
        with SMTPBackend(**options) as backend:
            assert backend.connection is None  # opened nothing
            return backend.send_messages([message])
    assert way == "connection argument"
    connection = SMTPBackend(**options)
    return mailcore.send_mail(way, "Body", None, ["b@example.com"], connection=connection)


@pytest.mark.parametrize(
    "way",
    ["configured", "short name", "import path", "dotted path", "class", "connection argument"],
)
def test_mailoutbox_keeps_smtp_mail_in_the_process(
    way: str, mailoutbox: list[EmailMessage]
) -> None:
    with RecordingSMTPServer() as server:
        options = server.backend_options(timeout=5)
        mailcore.configure(backend="smtp", smtp=options)
        assert _send_through(way, options) == 1
    assert server.sessions == [] and server.messages == []
    assert [m.subject for m in mailoutbox] == [way]
    assert mailoutbox[0].result is not None and mailoutbox[0].result.sent


def test_mailoutbox_keeps_console_file_and_dummy_mail_too(
    mailoutbox: list[EmailMessage], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, options in [
        ("console", {}),
        ("file", {"file_path": tmp_path / "mail"}),
        ("dummy", {}),
    ]:
        message = EmailMessage(name, "Body", "a@example.com", ["b@example.com"])
        assert mailcore.get_connection(name, **options).send_messages([message]) == 1
    assert [m.subject for m in mailoutbox] == ["console", "file", "dummy"]
    assert capsys.readouterr().out == ""
    assert list((tmp_path / "mail").iterdir()) == []


def test_mailoutbox_still_checks_the_backend_options(mailoutbox: list[EmailMessage]) -> None:
    with pytest.raises(ConfigurationError, match="hots"):
        mailcore.get_connection("smtp", hots="mail.example.com")
    with pytest.raises(ConfigurationError, match="port"):
        SMTPBackend(port="not a number")
    with pytest.raises(mailcore.BackendNotFoundError):
        mailcore.get_connection("nosuch")
    assert mailoutbox == []


def test_redirect_covers_a_connection_made_before_it() -> None:
    with RecordingSMTPServer() as server:
        backend = SMTPBackend(**server.backend_options(timeout=5))
        message = EmailMessage("early", "Body", "a@example.com", ["b@example.com"])
        with redirect_backends(LocmemBackend):
            assert backend.send_messages([message]) == 1
        assert server.sessions == []
        # outside the block the same backend sends for real again
        assert backend.send_messages([EmailMessage("late", "B", "a@x.com", ["b@x.com"])]) == 1
        assert [m.parsed()["Subject"] for m in server.messages] == ["late"]
    assert [m.subject for m in mailcore.outbox] == ["early"]


def test_console_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    sent = mailcore.get_connection("console").send_messages(
        [
            EmailMessage("one", "first body", "a@example.com", ["b@example.com"]),
            EmailMessage("two", "second body", "a@example.com", ["b@example.com"]),
        ]
    )
    assert sent == 2
    messages = _split_stream(capsys.readouterr().out)
    assert [m["Subject"] for m in messages] == ["one", "two"]
    assert messages[1].get_content().strip() == "second body"


def test_file_backend_writes_one_file_per_session(tmp_path: Path) -> None:
    backend = FileBackend(file_path=tmp_path)
    with backend:
        backend.send_messages([EmailMessage("a", "1", "f@example.com", ["t@example.com"])])
        backend.send_messages([EmailMessage("b", "2", "f@example.com", ["t@example.com"])])
        assert list(tmp_path.glob("*.log")) == [], "no file is visible before the session ends"
    backend.send_messages([EmailMessage("c", "3", "f@example.com", ["t@example.com"])])
    files = sorted(tmp_path.glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    assert len(files) == 2
    assert files == backend.written
    assert [m["Subject"] for m in _split_stream(files[0].read_text())] == ["a", "b"]
    assert [m["Subject"] for m in _split_stream(files[1].read_text())] == ["c"]
    assert list(tmp_path.glob(".*")) == [], "no temporary file is left behind"


def test_file_backend_leaves_no_file_for_an_empty_session(tmp_path: Path) -> None:
    with FileBackend(file_path=tmp_path / "mail"):
        pass
    assert list((tmp_path / "mail").iterdir()) == []


def test_file_path_comes_from_the_seed_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCORE_FILE_PATH", str(tmp_path / "from-env"))
    backend = mailcore.get_connection("file")
    assert isinstance(backend, FileBackend)
    assert backend.directory == tmp_path / "from-env"
    assert backend.option_sources["file_path"] == "environment"


def test_file_backend_without_a_path_says_how_to_set_it() -> None:
    with pytest.raises(ConfigurationError, match="MAILCORE_FILE_PATH"):
        mailcore.get_connection("file")


def test_file_backend_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        FileBackend(file_path=target)


def test_file_backend_rejects_bad_header_without_writing(tmp_path: Path) -> None:
    backend = FileBackend(file_path=tmp_path / "mail", fail_silently=True)
    bad = EmailMessage("x\r\nBcc: evil@example.com", "b", "f@example.com", ["t@example.com"])
    with pytest.raises(mailcore.BadHeaderError):
        backend.send_messages([bad])
    assert list((tmp_path / "mail").iterdir()) == []


def test_mailoutbox_keeps_the_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import mailcore

        mailcore.configure(
            backend="smtp",
            default_from_email="app@example.com",
            smtp={"host": "127.0.0.1", "port": 9},
        )

        def test_app_settings_survive(mailoutbox):
            assert mailcore.get_settings().backend == "smtp"
            assert mailcore.send_mail("Hi", "Body", None, ["b@example.com"]) == 1
            assert mailoutbox[0].from_email == "app@example.com"

        def test_configuration_is_unchanged_after_the_fixture():
            assert mailcore.get_settings().backend == "smtp"
            assert mailcore.get_settings().default_from_email == "app@example.com"
            assert not hasattr(mailcore, "outbox")
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
