"""The four development backends: locmem, dummy, console and file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from pathlib import Path

import pytest

import mailcore
from mailcore import BaseEmailBackend, ConfigurationError, EmailMessage
from mailcore.stream import SEPARATOR
from mailcore.testing import BackendContractTests, parse_message
from mailcore_console import ConsoleBackend
from mailcore_dummy import DummyBackend
from mailcore_file import FileBackend
from mailcore_locmem import LocmemBackend


def _split_stream(text: str) -> list[ParsedMessage]:
    chunks = text.split(SEPARATOR + "\n")
    assert chunks[-1] == "", "every message must be followed by the separator line"
    return [parse_message(chunk.encode()) for chunk in chunks[:-1]]


class TestLocmemContract(BackendContractTests):
    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        yield LocmemBackend()

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        return [parse_message(m.serialize()) for m in getattr(mailcore, "outbox", [])]


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


def test_mailoutbox_fixture_swaps_in_locmem(mailoutbox: list[EmailMessage]) -> None:
    assert mailcore.get_settings().backend == "locmem"
    assert mailcore.send_mail("s", "b", "a@example.com", ["b@example.com"]) == 1
    assert [m.to for m in mailoutbox] == [["b@example.com"]]


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


def test_mailoutbox_keeps_the_rest_of_the_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import mailcore

        mailcore.configure(backend="smtp", default_from_email="app@example.com")

        def test_app_settings_survive(mailoutbox):
            assert mailcore.get_settings().backend == "locmem"
            assert mailcore.send_mail("Hi", "Body", None, ["b@example.com"]) == 1
            assert mailoutbox[0].from_email == "app@example.com"

        def test_configuration_is_restored_after_the_fixture():
            assert mailcore.get_settings().backend == "smtp"
            assert mailcore.get_settings().default_from_email == "app@example.com"
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
