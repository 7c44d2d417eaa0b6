"""An SMTP server that logs in with OAuth2 only (``AUTH XOAUTH2``), for tests and docs.

Its XOAUTH2 mechanism is written here, as Gmail and Microsoft 365 speak it: the client
sends ``user=<user>^Aauth=Bearer <token>^A^A`` in base64 with ``AUTH XOAUTH2``; a token
that is not accepted gets a ``334`` challenge holding a JSON error, which the client
answers with an empty line, then ``535``. Mail is accepted only after a login::

    with OAuthServer({"good-token"}) as server:
        SMTPBackend(**server.options(username=USER, auth_method="xoauth2", oauth_token=...))
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from mailcore_smtp.serving import BackgroundServer, ServerContext

__all__ = ["USER", "OAuthServer"]

#: The one user the server knows.
USER = "ana@example.com"


class OAuthServer(ServerContext):
    """An SMTP server offering only ``AUTH XOAUTH2``, accepting ``valid`` tokens for
    :data:`USER`; it records each token it was shown and each message it received."""

    __test__ = False

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.tokens: list[str] = []
        self.messages: list[Envelope] = []
        self.logins: list[str] = []
        self._runner = BackgroundServer(self._protocol)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 2.0.0 Ok: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """RFC-less but well-known: ``user=<u>^Aauth=Bearer <token>^A^A`` in base64."""
        fields = dict(
            item.split("=", 1)
            for item in base64.b64decode(args[1]).decode().split("\x01")
            if "=" in item
        )
        token = fields.get("auth", "").removeprefix("Bearer ")
        self.tokens.append(token)
        if fields.get("user") == USER and token in self.valid:
            self.logins.append(USER)
            return AuthResult(success=True, auth_data=USER)
        error = json.dumps({"status": "401", "schemes": "Bearer", "scope": "mail"})
        answer = await server.challenge_auth(error)  # the client answers with an empty line
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        await server.push("535 5.7.8 Username and Password not accepted")
        return AuthResult(success=False, handled=True)

    def _protocol(self) -> SMTP:
        return SMTP(
            self,
            hostname="oauth.localhost",
            auth_require_tls=False,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
        )

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"host": self._runner.host, "port": self._runner.port, **extra}

    def start(self) -> OAuthServer:
        self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()
