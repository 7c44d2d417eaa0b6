"""send_mail, send_mass_mail, mail_admins, mail_managers and get_connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest
from pydantic import SecretStr

import mailcore
from mailcore import (
    BackendNotFoundError,
    BackendOptions,
    BaseEmailBackend,
    EmailMessage,
    SendError,
    SendResult,
)
from mailcore_locmem import LocmemBackend
from tests.support.smtp_servers import RecordingSMTPServer


class RecordingOptions(BackendOptions):
    username: str | None = None
    password: SecretStr | None = None
    fail: bool = False


class RecordingBackend(BaseEmailBackend):
    """Counts connections and keeps what it was given; selected by import path."""

    options_model = RecordingOptions
    options: RecordingOptions
    opened: ClassVar[int] = 0
    sent: ClassVar[list[EmailMessage]] = []

    def __init__(self, fail_silently: bool = False, **options: object) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self.is_open = False

    def open(self) -> bool:
        if self.is_open:
            return False
        type(self).opened += 1
        self.is_open = True
        return True

    def close(self) -> None:
        self.is_open = False

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        with self.batch():
            if self.options.fail:
                if self.fail_silently:
                    return 0
                raise SendError("transport down")
            for message in messages:
                message.message()
                message.result = SendResult("sent")
                type(self).sent.append(message)
        return len(messages)


RECORDING = f"{__name__}.RecordingBackend"


@pytest.fixture(autouse=True)
def _reset_recording() -> None:
    RecordingBackend.opened = 0
    RecordingBackend.sent = []


def test_send_mail_shows_every_recipient_in_to(mailoutbox: list[EmailMessage]) -> None:
    sent = mailcore.send_mail(
        "Subject", "Message.", "from@example.com", ["john@example.com", "jane@example.com"]
    )
    assert sent == 1
    (message,) = mailoutbox
    assert message.to == ["john@example.com", "jane@example.com"]
    assert message.message()["To"] == "john@example.com, jane@example.com"


def test_send_mail_with_html_message_adds_an_alternative(
    mailoutbox: list[EmailMessage],
) -> None:
    mailcore.send_mail("S", "text", "f@example.com", ["t@example.com"], html_message="<b>hi</b>")
    parsed = mailoutbox[0].message()
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.get_payload()] == ["text/plain", "text/html"]


def test_send_mail_without_from_uses_default_from_email(mailoutbox: list[EmailMessage]) -> None:
    mailcore.configure(default_from_email="noreply@example.com")
    mailcore.send_mail("S", "b", None, ["t@example.com"])
    assert mailoutbox[0].from_email == "noreply@example.com"


def test_send_mail_maps_auth_arguments_to_backend_options() -> None:
    mailcore.configure(backend=RECORDING)
    mailcore.send_mail(
        "S", "b", "f@example.com", ["t@example.com"], auth_user="u", auth_password="p"
    )
    # the connection was built from the arguments: check through a fresh one
    connection = mailcore.get_connection(username="u", password="p")
    assert isinstance(connection, RecordingBackend)
    assert connection.options.username == "u"
    assert RecordingBackend.sent[0].subject == "S"


def test_send_mass_mail_uses_one_connection_for_all() -> None:
    datatuple = (
        ("Subject", "Message.", "from@example.com", ["john@example.com"]),
        ("Subject", "Message.", "from@example.com", ["jane@example.com"]),
    )
    assert mailcore.send_mass_mail(datatuple, connection=mailcore.get_connection(RECORDING)) == 2
    assert RecordingBackend.opened == 1
    assert [m.to for m in RecordingBackend.sent] == [["john@example.com"], ["jane@example.com"]]


def test_fail_silently_returns_zero_instead_of_raising() -> None:
    mailcore.configure(backend=RECORDING, default_from_email="f@example.com")
    with pytest.raises(SendError, match="transport down"):
        mailcore.send_mail(
            "S", "b", None, ["t@example.com"], connection=mailcore.get_connection(fail=True)
        )
    assert mailcore.send_mail("S", "b", None, ["t@example.com"], fail_silently=True) == 1
    silent = mailcore.get_connection(fail_silently=True, fail=True)
    assert mailcore.send_mail("S", "b", None, ["t@example.com"], connection=silent) == 0


def test_mail_admins_prefixes_subject_and_sends_from_server_email(
    mailoutbox: list[EmailMessage],
) -> None:
    mailcore.configure(
        backend="locmem",
        admins=["Ann <ann@example.com>", "bob@example.com"],
        server_email="server@example.com",
        subject_prefix="[site] ",
    )
    assert mailcore.mail_admins("Disk full", "Details", html_message="<p>Details</p>") == 1
    (message,) = mailoutbox
    assert message.subject == "[site] Disk full"
    assert message.from_email == "server@example.com"
    assert message.to == ["Ann <ann@example.com>", "bob@example.com"]


def test_mail_managers_uses_managers(mailoutbox: list[EmailMessage]) -> None:
    mailcore.configure(backend="locmem", managers=["m@example.com"])
    assert mailcore.mail_managers("Report", "Body") == 1
    assert mailoutbox[0].subject == "[mailcore] Report"
    assert mailoutbox[0].to == ["m@example.com"]


def test_mail_admins_sends_nothing_to_an_empty_list(mailoutbox: list[EmailMessage]) -> None:
    assert mailcore.mail_admins("S", "b") == 0
    assert mailcore.mail_managers("S", "b") == 0
    assert mailoutbox == []


@pytest.mark.parametrize(
    "name",
    ["locmem", "mailcore_locmem.backend.LocmemBackend", "mailcore_locmem.backend:LocmemBackend"],
)
def test_get_connection_by_short_name_or_import_path(name: str) -> None:
    assert type(mailcore.get_connection(name)) is LocmemBackend


def test_get_connection_defaults_to_the_backend_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_BACKEND", "locmem")
    mailcore.configure()
    connection = mailcore.get_connection(fail_silently=True)
    assert type(connection) is LocmemBackend
    assert connection.fail_silently is True


def test_unknown_backend_lists_the_installed_ones() -> None:
    with pytest.raises(BackendNotFoundError) as caught:
        mailcore.get_connection("carrier-pigeon")
    assert "no mailcore backend named 'carrier-pigeon' is installed" in str(caught.value)
    assert "console, dummy, file, locmem" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("mailcore_locmem.backend.Nope", "has no attribute 'Nope'"),
        ("no_such_package.Backend", "cannot import backend module 'no_such_package'"),
        ("os.path", "is not a subclass of mailcore.BaseEmailBackend"),
    ],
)
def test_bad_import_paths_say_what_is_wrong(path: str, problem: str) -> None:
    with pytest.raises(mailcore.ConfigurationError, match=problem):
        mailcore.get_connection(path)


def test_message_without_recipients_is_not_sent(mailoutbox: list[EmailMessage]) -> None:
    assert EmailMessage("S", "b", "f@example.com").send() == 0
    assert mailoutbox == []


def test_a_bare_string_recipient_list_is_a_type_error(mailoutbox: list[EmailMessage]) -> None:
    with pytest.raises(TypeError, match="to"):
        mailcore.send_mail("S", "b", "f@example.com", "you@example.com")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="to"):
        mailcore.send_mass_mail([("S", "b", "f@example.com", "you@example.com")])  # type: ignore[list-item]
    assert mailoutbox == []


def test_send_mass_mail_with_a_bad_third_message_sends_nothing() -> None:
    datatuple = (
        (subject, "Body", "from@example.com", [f"to{n}@example.com"])
        for n, subject in enumerate(["First", "Second", "Third\r\nBcc: victim@example.com"])
    )
    with RecordingSMTPServer() as server:
        mailcore.configure(backend="smtp", smtp=server.backend_options(timeout=5))
        with pytest.raises(mailcore.BadHeaderError) as caught:
            mailcore.send_mass_mail(datatuple, fail_silently=True)
    assert str(caught.value).startswith("message 3 of 3 (nothing was sent): ")
    assert server.sessions == [] and server.messages == []


def test_send_mass_mail_sends_every_message_of_a_generator_once() -> None:
    datatuple = ((f"S{n}", "Body", "from@example.com", ["to@example.com"]) for n in range(3))
    with RecordingSMTPServer() as server:
        mailcore.configure(backend="smtp", smtp=server.backend_options(timeout=5))
        assert mailcore.send_mass_mail(datatuple) == 3
    assert [m.parsed()["Subject"] for m in server.messages] == ["S0", "S1", "S2"]
    assert len(server.sessions) == 1
