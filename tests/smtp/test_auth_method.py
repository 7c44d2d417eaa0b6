"""``auth_method`` picks the SASL mechanism; ``auto`` tries CRAM-MD5, PLAIN, LOGIN: the
first the server offers (:func:`mailcore_smtp.auth.dialogue`, as smtplib does)."""

from __future__ import annotations

import pytest

from mailcore_smtp import SMTPBackend
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message
from tests.support.smtp_servers import RecordingSMTPServer

api = sync_and_async(__name__)  # each test: through the sync API, then the async one

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    ("auth_method", "mechanism"), [("auto", "PLAIN"), ("plain", "PLAIN"), ("login", "LOGIN")]
)
def test_auth_method_chooses_the_mechanism(auth_method: str, mechanism: str) -> None:
    with RecordingSMTPServer(
        credentials={"bob": PASSWORD}, auth_mechanisms=["LOGIN", "PLAIN"]
    ) as server:
        backend = SMTPBackend(
            **server.backend_options(username="bob", password=PASSWORD, auth_method=auth_method)
        )
        assert backend.send_messages([make_message()]) == 1
    (session,) = server.sessions
    assert (session.login, session.auth_mechanisms) == ("bob", [mechanism])
