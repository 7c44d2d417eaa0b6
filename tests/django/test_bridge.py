"""The Django bridge in real Django venvs (5.2 and 6.1), against real SMTP servers."""

from __future__ import annotations

from pathlib import Path

from tests.django.conftest import run_inside
from tests.django.venvs import DjangoVenv
from tests.support.smtp_servers import RecordingSMTPServer


def test_the_bridge_sends_the_bytes_and_envelope_djangos_smtp_backend_sends(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    with RecordingSMTPServer() as by_django, RecordingSMTPServer() as by_bridge:
        counts = run_inside(
            venv, "corpus.py", str(by_django.port), str(by_bridge.port), cwd=tmp_path
        )

    assert counts == [[1, 1, "sent"]] * 6
    assert len(by_django.messages) == len(by_bridge.messages) == 6
    for django_sent, bridge_sent in zip(by_django.messages, by_bridge.messages, strict=True):
        assert bridge_sent.data == django_sent.data
        assert (bridge_sent.mail_from, bridge_sent.rcpt_tos) == (
            django_sent.mail_from,
            django_sent.rcpt_tos,
        )
    bcc = by_bridge.messages[4]
    assert bcc.rcpt_tos == [
        "to@example.com", "cc@example.com", "hidden@example.com", "other@example.org",
    ]  # fmt: skip
    assert b"hidden@example.com" not in bcc.data
    assert by_bridge.messages[1].rcpt_tos == ["to@example.com", "b@xn--4ca9at.com"]
    assert by_bridge.messages[5].mail_from == "bounce@example.com"
