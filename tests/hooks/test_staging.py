"""The staging override against a real SMTP server: ``always_to`` sends every message to
the QA inbox only, with the originals in headers; ``allowed_recipients`` drops (and
reports) every recipient outside its patterns; ``mailcore check`` warns of both."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import mailcore
from mailcore import BaseEmailBackend, CancelSend, EmailMessage, hooks
from tests.cli.command import run_mailcore
from tests.support.smtp_servers import RecordingSMTPServer


def staged_mailer(server: RecordingSMTPServer, **policy: list[str]) -> None:
    url = f"smtp://{server.host}:{server.port}"
    mailcore.configure(mailers={"default": {"url": url, **policy}})


def team_message() -> EmailMessage:
    return EmailMessage(
        "Invoice",
        "Body.",
        "billing@example.com",
        to=["Ann Customer <ann@customer.org>", "ops@example.com"],
        cc=["boss@customer.org"],
        bcc=["secret-archive@customer.org"],
    )


def test_always_to_sends_only_to_the_qa_inbox_and_keeps_the_originals_in_headers(
    server: RecordingSMTPServer,
) -> None:
    staged_mailer(server, always_to=["qa@example.com"])
    mail = team_message()
    assert mail.send() == 1

    [received] = server.messages
    assert received.rcpt_tos == ["qa@example.com"]
    headers = received.parsed()
    assert headers["To"] == "qa@example.com"
    assert headers["Cc"] is None
    assert headers["X-Original-To"] == "Ann Customer <ann@customer.org>, ops@example.com"
    assert headers["X-Original-Cc"] == "boss@customer.org"
    assert b"secret-archive" not in received.data  # a Bcc is never written anywhere
    # the message the code holds is left as it was; its result is the staged send's
    assert mail.to == ["Ann Customer <ann@customer.org>", "ops@example.com"]
    assert mail.bcc == ["secret-archive@customer.org"]
    assert mail.result is not None and mail.result.sent and mail.result.mailer == "default"


def test_allowed_recipients_drops_and_reports_the_others(server: RecordingSMTPServer) -> None:
    staged_mailer(server, allowed_recipients=["*@example.com", "*@bücher.de"])
    mail = team_message()
    mail.cc.append("Lab <lab@EXAMPLE.com>")
    mail.bcc.append("buyer@Bücher.de")
    assert mail.send() == 1

    [received] = server.messages
    assert received.rcpt_tos == ["ops@example.com", "lab@EXAMPLE.com", "buyer@xn--bcher-kva.de"]
    assert received.parsed()["To"] == "ops@example.com"
    assert received.parsed()["Cc"] == "Lab <lab@EXAMPLE.com>"
    assert mail.result is not None and mail.result.status == "sent"
    assert mail.result.cancelled_recipients == {
        "ann@customer.org": "not in allowed_recipients",
        "boss@customer.org": "not in allowed_recipients",
        "secret-archive@customer.org": "not in allowed_recipients",
    }


def test_a_message_left_without_a_recipient_is_cancelled_never_sent_to_nobody(
    server: RecordingSMTPServer,
) -> None:
    staged_mailer(server, allowed_recipients=["*@example.com"])
    outside = EmailMessage("Hi", "Body.", "billing@example.com", ["ann@customer.org"])
    inside = EmailMessage("Hi", "Body.", "billing@example.com", ["ops@example.com"])
    with mailcore.mailers.default as connection:
        assert connection.send_messages([outside, inside]) == 1

    assert [m.rcpt_tos for m in server.messages] == [["ops@example.com"]]
    result = outside.result
    assert result is not None and result.status == "cancelled"
    assert isinstance(result.error, CancelSend)
    assert "no recipient is in allowed_recipients" in str(result.error)
    assert result.cancelled_recipients == {"ann@customer.org": "not in allowed_recipients"}


def test_a_hook_cannot_add_recipients_past_the_override(server: RecordingSMTPServer) -> None:
    @hooks.before_send
    def archive(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        message.bcc.append("archive@customer.org")

    staged_mailer(server, allowed_recipients=["*@example.com"])
    mail = EmailMessage("Hi", "Body.", "billing@example.com", ["ops@example.com"])
    assert asyncio.run(mail.asend()) == 1
    assert server.messages[0].rcpt_tos == ["ops@example.com"]
    assert mail.result is not None
    assert mail.result.cancelled_recipients == {"archive@customer.org": "not in allowed_recipients"}


def test_a_mailer_s_own_override_replaces_the_top_level_one(server: RecordingSMTPServer) -> None:
    url = f"smtp://{server.host}:{server.port}"
    mailcore.configure(
        always_to=["qa@example.com"],
        mailers={"default": {"url": url}, "live": {"url": url, "always_to": []}},
    )
    mailcore.send_mail("staged", "Body.", None, ["ann@customer.org"])
    mailcore.send_mail("live", "Body.", None, ["ann@customer.org"], using="live")
    assert [m.rcpt_tos for m in server.messages] == [["qa@example.com"], ["ann@customer.org"]]


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("allowed_recipients", ["example.com"], "no pattern of the form 'local@domain'"),
        ("always_to", ["not an address"], "invalid address 'not an address' in always_to"),
        # each would match no address at all: refused rather than silently dropping all
        ("allowed_recipients", [" *@example.com"], "' \\*@example.com': a pattern holds no"),
        ("allowed_recipients", ["a@b@c"], "'a@b@c' is no pattern of the form 'local@domain'"),
    ],
)
def test_a_wrong_override_is_refused_when_the_settings_are_built(
    setting: str, value: list[str], problem: str
) -> None:
    with pytest.raises(mailcore.ConfigurationError, match=problem):
        mailcore.configure(**{setting: value})


def test_mailcore_check_warns_loudly_of_a_staging_override(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'always_to = ["qa@example.com"]\n\n'
        '[mailers.default]\nurl = "locmem://"\nallowed_recipients = ["*@example.com"]\n'
    )
    done = run_mailcore("check")

    assert done.status == 0, done
    assert done.stderr.splitlines() == [
        "mailcore: WARNING: staging override (top-level settings): always_to sends every "
        "message only to qa@example.com, never to its own recipients",
        "mailcore: WARNING: staging override (mailer 'default'): allowed_recipients drops "
        "every recipient not matching *@example.com",
    ]


def test_always_to_replaces_a_to_header_given_in_headers(server: RecordingSMTPServer) -> None:
    staged_mailer(server, always_to=["qa@example.com", "qa2@example.com"])
    mail = EmailMessage(
        "List mail",
        "Body.",
        "news@example.com",
        ["ann@customer.org", "bob@customer.org"],
        headers={"To": "Our customers <customers@customer.org>"},
    )
    assert mail.send() == 1

    [received] = server.messages
    assert received.rcpt_tos == ["qa@example.com", "qa2@example.com"]
    assert received.parsed()["To"] == "qa@example.com, qa2@example.com"
    assert received.parsed()["X-Original-To"] == "Our customers <customers@customer.org>"
    assert received.parsed()["X-Original-Cc"] is None


def test_mailcore_check_using_a_mailer_that_turns_the_override_off_warns_of_nothing(
    isolated_settings: Path,
) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'always_to = ["qa@example.com"]\n\n'
        '[mailers.default]\nurl = "locmem://"\n\n'
        '[mailers.live]\nurl = "locmem://"\nalways_to = []\n'
    )
    live = run_mailcore("check", "--using", "live")
    assert live.status == 0, live
    assert live.error_lines == []

    every = run_mailcore("check")  # every mailer: 'default' takes the top-level one
    assert every.error_lines == [
        "mailcore: WARNING: staging override (top-level settings): always_to sends every "
        "message only to qa@example.com, never to its own recipients",
    ]


def test_only_star_and_question_mark_are_special_in_a_pattern(
    server: RecordingSMTPServer,
) -> None:
    staged_mailer(server, allowed_recipients=["[a-z]*@example.com", "ops-?@example.com"])
    mail = EmailMessage(
        "Hi", "Body.", None, ["ann@example.com", "ops-1@example.com", "ops-12@example.com"]
    )
    assert mail.send() == 1

    assert server.messages[0].rcpt_tos == ["ops-1@example.com"]  # [a-z] is no class
    assert mail.result is not None
    assert sorted(mail.result.cancelled_recipients) == ["ann@example.com", "ops-12@example.com"]


def test_always_to_replaces_x_original_headers_the_message_brought(
    server: RecordingSMTPServer,
) -> None:
    staged_mailer(server, always_to=["qa@example.com"])
    mail = EmailMessage(
        "Hi",
        "Body.",
        None,
        ["Jörg <joerg@bücher.de>"],
        headers={"X-Original-To": "forged@x.org", "x-original-cc": "forged-cc@x.org"},
    )
    assert mail.send() == 1

    received = server.messages[0].parsed()
    # the real To, written as a To header is: the domain IDNA-encoded, the name RFC 2047
    assert received.get_all("X-Original-To") == ["Jörg <joerg@xn--bcher-kva.de>"]
    raw = server.messages[0].data
    assert b"X-Original-To: =?utf-8?b?SsO2cmc=?= <joerg@xn--bcher-kva.de>" in raw
    assert received.get_all("X-Original-Cc") is None  # the message had no Cc
    assert b"forged" not in raw
