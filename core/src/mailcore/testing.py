"""Contract tests that every backend runs, including third-party ones, and a preview client.

:class:`BackendContractTests` needs pytest (imported when it is first used);
:class:`PreviewClient` and the rest need only the standard library.

:func:`redirect_backends` keeps every message of a test in the process (the
``mailoutbox`` fixture uses it). Subclass :class:`BackendContractTests` in your test
suite, provide the ``backend`` fixture and, if your transport lets you read back what
it received, override :meth:`BackendContractTests.delivered`::

    class TestMyBackendContract(BackendContractTests):
        @pytest.fixture
        def backend(self) -> Iterator[BaseEmailBackend]:
            yield MyBackend(api_key="test")

        def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
            return [email.message_from_bytes(raw, policy=policy.default) for raw in fake_api.sent]

A backend that sends one call's messages over several connections at once sets
``keeps_arrival_order = False`` on its test class: they may then arrive in any order
(see :attr:`BackendContractTests.keeps_arrival_order`).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from typing import TYPE_CHECKING, Any

from mailcore.backend import BaseEmailBackend, _set_redirect
from mailcore.errors import MailcoreError

__all__ = [
    "AsyncContractTests",
    "BackendContractTests",
    "PreviewClient",
    "PreviewError",
    "parse_message",
    "redirect_backends",
]


@contextlib.contextmanager
def redirect_backends(target: type[BaseEmailBackend]) -> Iterator[None]:
    """While the block runs, every backend that is not a ``target`` delivers to a new
    ``target`` instance instead of its transport, in every thread of the process.

    It holds however the code got the backend: ``get_connection("smtp")``, an import
    path, a class instantiated directly, a connection made before the block. The
    backend is still created as usual, so its options are validated by its own options
    model (a wrong option fails as in production); only its ``open()`` connects nowhere
    and its ``send_messages()`` hands the messages over. The stand-in's
    ``stands_in_for`` is the backend asked for. Blocks nest; the previous redirect is
    restored on exit.
    """
    previous = _set_redirect(target)
    try:
        yield
    finally:
        _set_redirect(previous)


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse serialized message bytes with the standard library's modern policy."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    return parsed


class PreviewError(MailcoreError):
    """The preview's API answered with an HTTP error; ``status`` and the server's ``error``."""

    def __init__(self, status: int, error: str, url: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {error}")
        self.status = status
        self.error = error
        self.url = url


class PreviewClient:
    """A client of the JSON API of ``mailcore debug-server --web`` (standard library only).

    For end-to-end tests that send mail from another process (an application under
    test) to the debug server and assert on what arrived::

        preview = PreviewClient("http://127.0.0.1:8025")
        preview.clear()
        ...  # the application sends its mail to 127.0.0.1:1025
        (item,) = preview.wait_for(1, timeout=10)
        message = preview.message(item["id"])
        assert message["envelope"]["rcpt_tos"] == ["ann@example.com"]

    Items are the API's JSON objects (see the "Previewing mail" docs page). An HTTP
    error status raises :class:`PreviewError` with the server's ``{"error"}`` text; a
    server that cannot be reached raises :class:`OSError` (``urllib.error.URLError``).
    """

    #: Messages asked for per request when paging through the list.
    PAGE = 1000

    def __init__(self, url: str = "http://127.0.0.1:8025", *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read().decode("utf-8", "replace")
            try:
                error = str(json.loads(text)["error"])
            except (ValueError, KeyError, TypeError):
                error = text.strip()[:200] or str(exc.reason)
            raise PreviewError(exc.code, error, self.url + path) from None

    def _json(self, path: str) -> Any:
        return json.loads(self._request(path))

    def messages(self, query: str = "", *, limit: int | None = None, offset: int = 0) -> list[Any]:
        """The messages, newest first (``query``: the words subject, addresses or body hold).

        Without ``limit``, every message: the list is fetched page by page.
        """
        found: list[Any] = []
        while True:
            size = self.PAGE if limit is None else min(self.PAGE, limit - len(found))
            params = {"limit": str(size), "offset": str(offset + len(found))}
            if query:
                params["q"] = query
            page = self._json("/api/messages?" + urllib.parse.urlencode(params))
            found.extend(page["messages"])
            done = limit is not None and len(found) >= limit
            if done or not page["messages"] or offset + len(found) >= page["total"]:
                return found

    def message(self, message_id: str) -> Any:
        """One message: envelope, headers, text, html, attachments."""
        return self._json("/api/messages/" + urllib.parse.quote(message_id, safe=""))

    def raw(self, message_id: str) -> bytes:
        """One message's bytes as the server received them."""
        return self._request("/api/messages/" + urllib.parse.quote(message_id, safe="") + "/raw")

    def attachment(self, message_id: str, index: int) -> bytes:
        """The decoded content of one message's attachment number ``index`` (from 0)."""
        path = "/api/messages/" + urllib.parse.quote(message_id, safe="") + f"/attachments/{index}"
        return self._request(path)

    def delete(self, message_id: str) -> None:
        """Delete one message."""
        self._request("/api/messages/" + urllib.parse.quote(message_id, safe=""), "DELETE")

    def clear(self) -> None:
        """Delete every message."""
        self._request("/api/messages", "DELETE")

    def wait_for(self, count: int, *, timeout: float = 10.0, query: str = "") -> list[Any]:
        """Wait until at least ``count`` messages (matching ``query``) are there; return them all.

        ``count=0`` returns the messages there now without waiting; a negative ``count``
        raises :class:`ValueError`. While the server cannot be reached yet (it is still
        starting), it is asked again until ``timeout``. After ``timeout`` seconds,
        raises :class:`TimeoutError` saying how many arrived or why the server did not answer.
        """
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = self.messages(query)
            except (urllib.error.URLError, ConnectionError) as exc:
                if time.monotonic() >= deadline:
                    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                    raise TimeoutError(
                        f"waited {timeout:g} s for {count} message(s) at {self.url}: "
                        f"the server did not answer ({reason})"
                    ) from exc
            else:
                if len(found) >= count:
                    return found
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"waited {timeout:g} s for {count} message(s) at {self.url}, "
                        f"{len(found)} arrived"
                    )
            time.sleep(0.05)


if TYPE_CHECKING:
    from mailcore._contract_tests import AsyncContractTests, BackendContractTests


def __getattr__(name: str) -> Any:
    """The contract test classes are imported on first use: only they need pytest."""
    if name in ("AsyncContractTests", "BackendContractTests"):
        from mailcore import _contract_tests

        return getattr(_contract_tests, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
