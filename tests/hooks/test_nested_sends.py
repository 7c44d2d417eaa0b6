"""Mail a hook sends (a copy for an archive, an alert to on-call) goes through the whole
chain again: the hooks, then the staging override. Only the backends a send hands its
messages to (a failover mailer's children, a test's stand-in) skip them. A hook whose
mail triggers it again is stopped at :data:`mailcore.hooks.MAX_NESTED_SENDS`. Real SMTP
servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging

import pytest

import mailcore
from mailcore import BaseEmailBackend, EmailMessage, SendResult, hooks
from tests.support.smtp_servers import RecordingSMTPServer


def staging_system(server: RecordingSMTPServer) -> None:
    mailcore.configure(
        always_to=["qa@example.com"],
        allowed_recipients=["*@example.com"],
        mailers={"default": {"url": f"smtp://{server.host}:{server.port}"}},
    )


def envelopes(server: RecordingSMTPServer) -> list[tuple[str, list[str]]]:
    return [(str(m.parsed()["Subject"]), m.rcpt_tos) for m in server.messages]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_mail_a_before_hook_sends_is_staged_like_any_other(
    server: RecordingSMTPServer, path: str
) -> None:
    @hooks.before_send
    def notify_customer(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        if message.subject == "Order":
            mailcore.send_mail("Inner", "Body.", "shop@example.com", ["victim@customer.org"])

    staging_system(server)
    if path == "sync":
        mailcore.send_mail("Order", "Body.", "shop@example.com", ["ann@customer.org"])
    else:
        asyncio.run(mailcore.asend_mail("Order", "Body.", "shop@example.com", ["ann@customer.org"]))

    assert envelopes(server) == [("Inner", ["qa@example.com"]), ("Order", ["qa@example.com"])]
    inner = server.messages[0].parsed()
    assert inner["To"] == "qa@example.com"
    assert inner["X-Original-To"] == "victim@customer.org"
    assert all("victim" not in rcpt for m in server.messages for rcpt in m.rcpt_tos)


def test_an_alert_sent_from_an_after_hook_through_its_mailer_is_staged_and_hooked(
    server: RecordingSMTPServer,
) -> None:
    stamped: list[str] = []

    @hooks.before_send
    def stamp(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        stamped.append(message.subject)
        message.extra_headers["X-Stamped"] = "yes"

    @hooks.after_send
    def alert_on_call(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        if message.subject == "Invoice":  # the on-call pattern: the very mailer given
            alert = EmailMessage("Alert", "Sent.", "ops@example.com", ["oncall@pager.org"])
            mailer.send_messages([alert])

    staging_system(server)
    mailcore.send_mail("Invoice", "Body.", "billing@example.com", ["ann@customer.org"])

    assert envelopes(server) == [("Invoice", ["qa@example.com"]), ("Alert", ["qa@example.com"])]
    assert stamped == ["Invoice", "Alert"]  # the nested send ran the hooks too
    alert = server.messages[1].parsed()
    assert (alert["X-Stamped"], alert["X-Original-To"]) == ("yes", "oncall@pager.org")


def test_allowed_recipients_holds_for_mail_sent_from_a_hook_through_a_failover(
    server: RecordingSMTPServer,
) -> None:
    @hooks.before_send
    def copy_to_customer(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        if message.subject == "Order":
            copy = EmailMessage("Copy", "Body.", "shop@example.com", ["victim@customer.org"])
            copy.send()

    url = f"smtp://{server.host}:{server.port}"
    mailcore.configure(
        allowed_recipients=["*@example.com"],
        mailers={
            "smtp": {"url": url},
            "default": {"backend": "failover", "mailers": ["smtp"]},
        },
    )
    order = EmailMessage("Order", "Body.", "shop@example.com", ["ops@example.com"])
    assert order.send() == 1
    assert envelopes(server) == [("Order", ["ops@example.com"])]  # the copy was cancelled


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_before_hook_whose_mail_triggers_it_again_is_refused_and_nothing_is_sent(
    server: RecordingSMTPServer, path: str
) -> None:
    @hooks.before_send
    def echo(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        mailcore.send_mail("Echo", "Body.", "shop@example.com", ["ops@example.com"])

    staging_system(server)
    with pytest.raises(mailcore.ConfigurationError) as refused:
        if path == "sync":
            mailcore.send_mail("Order", "Body.", "shop@example.com", ["ops@example.com"])
        else:
            asyncio.run(mailcore.asend_mail("Order", "Body.", None, ["ops@example.com"]))

    assert str(refused.value) == (
        "mail sent by send hooks is nested 4 deep (tests.hooks.test_nested_sends:"
        + " -> tests.hooks.test_nested_sends:".join(
            [
                "test_a_before_hook_whose_mail_triggers_it_again_is_refused_and_nothing_is_sent"
                ".<locals>.echo"
            ]
            * 4
        )
        + "): a hook sends mail whose hooks send mail again; at most 3 are allowed"
    )
    assert server.messages == []


def test_an_after_hook_whose_mail_triggers_it_again_stops_at_the_limit_and_is_logged(
    server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    @hooks.after_send
    def report(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        mailcore.send_mail("Report", "Body.", "shop@example.com", ["ops@example.com"])

    staging_system(server)
    with caplog.at_level(logging.ERROR, logger="mailcore.hooks"):
        assert mailcore.send_mail("Order", "Body.", None, ["ops@example.com"]) == 1

    # the order, then one report per level allowed; the 4th level is refused and logged
    assert [s for s, _ in envelopes(server)] == ["Order", "Report", "Report", "Report"]
    [record] = caplog.records
    assert record.exc_info is not None
    assert "nested 4 deep" in str(record.exc_info[1])
