"""DKIM through SES raw sends: the bytes moto's SES stored verify (dkimpy, DNS answered
by the test); SES gets the 7-bit form, and the signature covers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcore import EmailMessage
from mailcore_ses import SESBackend
from tests.ses.conftest import REGION, SENDER, FakeSES
from tests.support.dkim_keys import make_key


@pytest.mark.parametrize("algorithm", ["rsa-sha256", "ed25519-sha256"])
def test_the_raw_message_ses_stored_verifies(ses: FakeSES, tmp_path: Path, algorithm: str) -> None:
    key = make_key(algorithm, tmp_path)
    backend = SESBackend(region=REGION, dkim=key.options)
    message = EmailMessage("Grüße", "Das Café öffnet um 8.\n", SENDER, ["ana@example.org"])
    message.attach("menu.txt", "Frühstück: 8 bis 11 Uhr\n", "text/plain")
    try:
        assert backend.send_messages([message]) == 1
    finally:
        backend.close()

    (raw,) = ses.sent_bytes()
    assert raw.isascii() and raw.startswith(b"DKIM-Signature: ")
    assert key.verify(raw)
    assert not key.verify(raw.replace(b"Subject: =?utf-8?", b"Subject: =?UTF-8?"))
