"""Send hooks: before-send hooks change or cancel a message, after-send hooks see every
result; registered in code, in the settings (import paths, top level or per mailer),
sync and async, once per message even through a failover mailer. Real SMTP servers."""

from __future__ import annotations

import asyncio
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mailcore
from mailcore import BaseEmailBackend, CancelSend, EmailMessage, SendResult, hooks
from tests.support.smtp_servers import RecordingSMTPServer


def smtp_url(server: RecordingSMTPServer) -> str:
    return f"smtp://{server.host}:{server.port}"


def message(subject: str, to: str = "to@example.com") -> EmailMessage:
    return EmailMessage(subject, "Body.", "from@example.com", [to])


def received_subjects(server: RecordingSMTPServer) -> list[str]:
    return [str(m.parsed()["Subject"]) for m in server.messages]


# -- before-send: change or cancel --------------------------------------------------------


def test_a_before_hook_changes_what_goes_out(server: RecordingSMTPServer) -> None:
    @hooks.before_send
    def tag(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        message.body += "\n-- sent by mailcore"
        message.extra_headers["X-Mailer-Alias"] = str(mailer.alias)

    mailcore.configure(mailers={"default": {"url": smtp_url(server)}})
    assert mailcore.send_mail("Hi", "Body.", "from@example.com", ["to@example.com"]) == 1

    received = server.messages[0].parsed()
    assert received["X-Mailer-Alias"] == "default"
    assert received.get_content().replace("\r\n", "\n") == "Body.\n-- sent by mailcore\n"


def test_a_cancelled_message_is_not_sent_and_the_others_go_on(
    server: RecordingSMTPServer,
) -> None:
    def no_drafts(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        if message.subject.startswith("DRAFT"):
            raise CancelSend("drafts are never sent")

    hooks.before_send(no_drafts)  # called as a function, not as a decorator
    batch = [message("one"), message("DRAFT two"), message("three")]
    with mailcore.get_connection("smtp", host=server.host, port=server.port) as connection:
        assert connection.send_messages(batch) == 2

    assert received_subjects(server) == ["one", "three"]
    cancelled = batch[1].result
    assert cancelled is not None
    assert (cancelled.status, cancelled.sent, str(cancelled.error)) == (
        "cancelled",
        False,
        "drafts are never sent",
    )
    assert isinstance(cancelled.error, CancelSend)
    assert [m.result.status for m in batch if m.result] == ["sent", "cancelled", "sent"]


def test_a_hook_that_raises_stops_the_batch_before_anything_is_sent(
    server: RecordingSMTPServer,
) -> None:
    @hooks.before_send
    def broken(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        if message.subject == "two":
            raise KeyError("template")

    batch = [message("one"), message("two")]
    connection = mailcore.get_connection("smtp", host=server.host, port=server.port)
    with pytest.raises(KeyError, match="message 2 of 2"):
        connection.send_messages(batch)
    assert server.messages == []
    assert [m.result.status for m in batch if m.result] == ["failed", "failed"]


# -- after-send: every result -------------------------------------------------------------


def test_after_hooks_see_sent_and_failed_messages() -> None:
    seen: list[tuple[str, str, str | None]] = []

    @hooks.after_send
    def record(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        seen.append((message.subject, result.status, mailer.name))

    refused = {"nobody@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refused) as server:
        connection = mailcore.get_connection(
            "smtp", fail_silently=True, host=server.host, port=server.port
        )
        batch = [message("good"), message("bad", to="nobody@example.com")]
        assert connection.send_messages(batch) == 1

    assert seen == [("good", "sent", "smtp"), ("bad", "failed", "smtp")]


def test_after_hooks_see_a_server_that_is_down_and_the_error_is_still_raised() -> None:
    seen: list[SendResult] = []
    hooks.after_send(lambda message, result, mailer: seen.append(result))
    down = "421 4.3.2 Service not available"
    with RecordingSMTPServer(fault=lambda stage, s, a: down if stage == "GREETING" else None) as s:
        connection = mailcore.get_connection("smtp", host=s.host, port=s.port)
        with pytest.raises(mailcore.SendError, match="421"):
            connection.send_messages([message("one")])

    assert [r.status for r in seen] == ["failed"]
    assert "421" in str(seen[0].error)


def test_a_failing_after_hook_is_logged_and_the_message_stays_sent(
    server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    @hooks.after_send
    def broken(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        raise RuntimeError("metrics server down")

    mail = message("one")
    with caplog.at_level(logging.ERROR, logger="mailcore.hooks"):
        assert mailcore.get_connection("smtp", host=server.host, port=server.port).send_messages(
            [mail]
        )
    assert mail.result is not None and mail.result.sent
    assert len(server.messages) == 1
    [record] = caplog.records
    assert "after-send hook" in record.getMessage() and "broken" in record.getMessage()
    assert record.exc_info is not None and "metrics server down" in str(record.exc_info[1])


# -- async ---------------------------------------------------------------------------------


def test_async_hooks_are_awaited_on_the_async_path(server: RecordingSMTPServer) -> None:
    calls: list[str] = []

    @hooks.before_send
    async def add_header(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        await asyncio.sleep(0)
        message.extra_headers["X-Checked"] = "async"
        calls.append("before")

    @hooks.after_send
    async def record(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        calls.append(f"after {result.status}")

    mail = message("one")
    sent = asyncio.run(
        mailcore.get_connection("smtp", host=server.host, port=server.port).asend_messages([mail])
    )
    assert sent == 1
    assert calls == ["before", "after sent"]
    assert server.messages[0].parsed()["X-Checked"] == "async"


def test_an_async_hook_on_the_sync_path_is_refused_before_sending(
    server: RecordingSMTPServer,
) -> None:
    @hooks.before_send
    async def add_header(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        raise AssertionError("never called")

    connection = mailcore.get_connection("smtp", host=server.host, port=server.port)
    with pytest.raises(mailcore.ConfigurationError, match="add_header is async"):
        connection.send_messages([message("one")])
    assert server.messages == []


def test_hooks_run_for_a_backend_without_async_code_on_the_async_path() -> None:
    order: list[str] = []
    hooks.before_send(lambda message, mailer: order.append(f"before {message.subject}"))
    hooks.after_send(lambda message, result, mailer: order.append(f"after {result.status}"))
    mailcore.configure(backend="locmem")

    assert asyncio.run(mailcore.asend_mail("Hi", "Body.", None, ["to@example.com"])) == 1
    assert order == ["before Hi", "after sent"]
    assert [m.subject for m in mailcore.outbox] == ["Hi"]


# -- once per message through failover ----------------------------------------------------


@pytest.mark.parametrize("path", ["sync", "async"])
def test_each_hook_runs_once_per_message_through_a_failover(path: str) -> None:
    calls: list[str] = []
    hooks.before_send(lambda message, mailer: calls.append(f"before {message.subject}"))
    hooks.after_send(
        lambda message, result, mailer: calls.append(f"after {message.subject} {result.mailer}")
    )
    down = "421 4.3.2 Service not available"
    with (
        RecordingSMTPServer(fault=lambda stage, s, a: down if stage == "GREETING" else None) as bad,
        RecordingSMTPServer() as good,
    ):
        mailcore.configure(
            mailers={
                "first": {"url": smtp_url(bad)},
                "second": {"url": smtp_url(good)},
                "default": {"backend": "failover", "mailers": ["first", "second"]},
            }
        )
        batch = [message("one"), message("two")]
        connection = mailcore.mailers.default
        if path == "sync":
            assert connection.send_messages(batch) == 2
        else:
            assert asyncio.run(connection.asend_messages(batch)) == 2

        assert received_subjects(good) == ["one", "two"]
        assert bad.messages == [] and len(bad.sessions) >= 1  # it was tried, and failed
    assert calls == ["before one", "before two", "after one second", "after two second"]


def test_a_mailer_a_failover_sends_through_may_not_have_its_own_hooks() -> None:
    with pytest.raises(mailcore.InvalidMailer, match=r"mailer 'first' sets always_to.*'fo'"):
        mailcore.configure(
            mailers={
                "first": {"url": "locmem://", "always_to": ["qa@example.com"]},
                "fo": {"backend": "failover", "mailers": ["first"]},
            }
        )


# -- settings: import paths, top level and per mailer --------------------------------------

HOOK_MODULE = """\
calls = []

def tag(message, mailer):
    calls.append(("top", message.subject))

def tag_bulk(message, mailer):
    calls.append(("bulk", message.subject))

def record(message, result, mailer):
    calls.append(("after", result.status, result.mailer))

not_callable = 42
"""


@pytest.fixture
def hook_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "myhooks.py").write_text(textwrap.dedent(HOOK_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    import myhooks  # type: ignore[import-not-found]

    yield myhooks
    sys.modules.pop("myhooks", None)


def test_hooks_from_the_settings_run_top_level_then_the_mailers_then_codes(
    hook_module: Any, isolated_settings: Path
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        textwrap.dedent(
            """\
            hooks = ["myhooks:tag"]
            after_send_hooks = ["myhooks:record"]

            [mailers.default]
            url = "locmem://"

            [mailers.bulk]
            url = "locmem://"
            hooks = ["myhooks:tag_bulk"]
            """
        )
    )
    mailcore.configure()  # read the file now
    hooks.before_send(lambda message, mailer: hook_module.calls.append(("code", message.subject)))
    mailcore.send_mail("A", "Body.", None, ["to@example.com"])
    mailcore.send_mail("B", "Body.", None, ["to@example.com"], using="bulk")

    assert hook_module.calls == [
        ("top", "A"),
        ("code", "A"),
        ("after", "sent", "default"),
        ("top", "B"),
        ("bulk", "B"),
        ("code", "B"),
        ("after", "sent", "bulk"),
    ]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("myhooks:missing", "module 'myhooks' has no attribute 'missing'"),
        ("no_such_module:fn", "cannot import 'no_such_module'"),
        ("myhooks:not_callable", "is not callable"),
        ("justaname", "is no import path"),
    ],
)
def test_a_bad_hook_path_is_a_configuration_error_when_the_settings_are_built(
    hook_module: Any, path: str, problem: str
) -> None:
    with pytest.raises(mailcore.ConfigurationError, match=problem) as top:
        mailcore.configure(hooks=[path])
    assert "hooks" in str(top.value)
    with pytest.raises(mailcore.InvalidMailer, match=problem) as own:
        mailcore.configure(mailers={"bulk": {"url": "locmem://", "after_send_hooks": [path]}})
    assert "'after_send_hooks' of mailer 'bulk'" in str(own.value)


def test_under_redirect_backends_hooks_run_with_the_mailer_the_code_chose() -> None:
    from mailcore.testing import redirect_backends
    from mailcore_locmem import LocmemBackend

    chosen: list[tuple[str | None, str | None]] = []
    hooks.before_send(lambda message, mailer: chosen.append((mailer.name, mailer.alias)))
    mailcore.configure(
        mailers={"default": {"url": "smtp://127.0.0.1:1"}},  # nothing listens there
        allowed_recipients=["*@example.com"],
    )
    with redirect_backends(LocmemBackend):
        mail = EmailMessage("Hi", "Body.", "from@example.com", ["to@example.com", "x@other.org"])
        assert mail.send() == 1

    assert chosen == [("smtp", "default")]  # once, with the SMTP mailer, not the stand-in
    assert [m.recipients() for m in mailcore.outbox] == [["to@example.com"]]


def test_hooks_from_the_environment_are_a_json_list(
    hook_module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILCORE_HOOKS", '["myhooks:tag"]')
    monkeypatch.setenv("MAILCORE_AFTER_SEND_HOOKS", '["myhooks:record"]')
    mailcore.configure(backend="locmem")
    mailcore.send_mail("A", "Body.", None, ["to@example.com"])
    assert hook_module.calls == [("top", "A"), ("after", "sent", "default")]


# -- what a hook returns, and registering twice -------------------------------------------


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_before_hook_returning_a_new_message_is_an_error_naming_it(
    server: RecordingSMTPServer, path: str
) -> None:
    @hooks.before_send
    def rewrite(message: EmailMessage, mailer: BaseEmailBackend) -> EmailMessage:
        return EmailMessage("Rewritten", "Body.", "from@example.com", ["to@example.com"])

    connection = mailcore.get_connection("smtp", host=server.host, port=server.port)
    mail = message("original")
    with pytest.raises(mailcore.ConfigurationError) as error:
        if path == "sync":
            connection.send_messages([mail])
        else:
            asyncio.run(connection.asend_messages([mail]))

    assert str(error.value) == (
        "before-send hook tests.hooks.test_send_hooks:test_a_before_hook_returning_a_new_"
        "message_is_an_error_naming_it.<locals>.rewrite returned EmailMessage, which is "
        "ignored: before_send hooks change the message in place and return None"
    )
    assert server.messages == []  # neither the original nor the new one went out
    assert mail.result is not None and mail.result.status == "failed"


def test_a_hook_registered_twice_or_also_in_the_settings_runs_once(
    hook_module: Any, server: RecordingSMTPServer
) -> None:
    hooks.before_send(hook_module.tag)
    hooks.before_send(hook_module.tag)
    hooks.after_send(hook_module.record)
    mailcore.configure(hooks=["myhooks:tag"], mailers={"default": {"url": smtp_url(server)}})
    mailcore.send_mail("A", "Body.", None, ["to@example.com"])

    assert hook_module.calls == [("top", "A"), ("after", "sent", "default")]
    hooks.remove(hook_module.tag)  # one remove is enough
    mailcore.configure(mailers={"default": {"url": smtp_url(server)}})
    mailcore.send_mail("B", "Body.", None, ["to@example.com"])
    assert hook_module.calls[2:] == [("after", "sent", "default")]
