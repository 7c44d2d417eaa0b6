"""DKIM through SMTP: what a real server receives verifies (dkimpy, DNS answered by the
test), with and without PIPELINING, sync and async; a server without 8BITMIME gets the
7-bit form, and the signature is computed on those bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcore_smtp import SMTPBackend
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message
from tests.support.dkim_keys import DKIMKey, make_key
from tests.support.smtp_servers import LimitedSMTPServer, RecordingSMTPServer

BODY = "Grüße aus Köln: the café's naïve menu.\n"


api = sync_and_async(__name__)  # each test: through the sync API, then the async one


@pytest.fixture(scope="module", params=["rsa-sha256", "ed25519-sha256"])
def key(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DKIMKey:
    return make_key(request.param, tmp_path_factory.mktemp("keys"))


@pytest.mark.parametrize("pipelining", [False, True])
def test_messages_the_server_receives_verify(key: DKIMKey, pipelining: bool) -> None:
    with RecordingSMTPServer(pipelining=pipelining) as server:
        backend = SMTPBackend(**server.backend_options(dkim=key.options))
        messages = [make_message(f"Message {n}", body=BODY) for n in range(3)]
        messages[2].attach("data.bin", bytes(range(256)) * 400, "application/octet-stream")
        assert backend.send_messages(messages) == 3

    for received in server.messages:
        assert received.data.startswith(b"DKIM-Signature: ")
        assert "BODY=8BITMIME" in received.mail_options  # the 8-bit form went out
        assert key.verify(received.data)
    altered = server.messages[0].data.replace(b"Message 0", b"Message 9")
    assert not key.verify(altered)


def test_a_server_without_8bitmime_gets_signed_7bit_bytes(key: DKIMKey, tmp_path: Path) -> None:
    with LimitedSMTPServer(eight_bit=False) as server:
        message = make_message("Übersicht", body=BODY)
        backend = SMTPBackend(**server.backend_options(dkim=key.options))
        assert backend.send_messages([message]) == 1

    (received,) = server.messages
    assert received.data.isascii()
    assert received.data.count(b"DKIM-Signature:") == 1  # the 8-bit form's was dropped
    assert key.verify(received.data)
    body = received.parsed().get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == BODY
