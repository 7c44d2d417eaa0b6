"""Contract tests that every backend runs, including third-party ones (needs pytest).

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
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage as ParsedMessage
from typing import Any, ClassVar

import pytest

from mailcore.backend import BaseEmailBackend, _set_redirect
from mailcore.errors import BadHeaderError
from mailcore.message import EmailMessage, EmailMultiAlternatives

__all__ = ["BackendContractTests", "parse_message", "redirect_backends"]


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


class BackendContractTests:
    """What every ``BaseEmailBackend`` promises, as tests to subclass."""

    #: Sender and recipients used by the tests (a real transport may need verified ones).
    from_email: ClassVar[str] = "sender@example.com"
    to: ClassVar[list[str]] = ["to@example.com"]
    cc: ClassVar[list[str]] = ["cc@example.com"]
    bcc: ClassVar[list[str]] = ["bcc@example.com"]
    #: Values that must never appear in the backend's repr (passwords, keys).
    secrets: ClassVar[list[str]] = []
    #: The ``result.status`` of a message the backend took: ``"queued"`` for a queueing
    #: backend (whose :meth:`delivered` then waits for the workers).
    accepted_status: ClassVar[str] = "sent"

    @pytest.fixture
    def backend(self) -> Iterator[BaseEmailBackend]:
        """A fresh, unopened backend instance; subclasses must override this fixture."""
        raise NotImplementedError("override the 'backend' fixture")
        yield  # pragma: no cover

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        """The messages the transport received, parsed; ``None`` when it cannot tell."""
        return None

    def make_message(self, subject: str = "Contract test") -> EmailMessage:
        return EmailMessage(
            subject,
            "Body of the contract test.\n",
            self.from_email,
            list(self.to),
            bcc=list(self.bcc),
            cc=list(self.cc),
        )

    def _delivered_subjects(self, backend: BaseEmailBackend) -> list[str] | None:
        received = self.delivered(backend)
        return None if received is None else [str(m["Subject"]) for m in received]

    def test_sending_nothing_returns_zero(self, backend: BaseEmailBackend) -> None:
        assert backend.send_messages([]) == 0

    def test_send_messages_returns_the_number_sent(self, backend: BaseEmailBackend) -> None:
        messages = [self.make_message("first"), self.make_message("second")]
        assert backend.send_messages(messages) == 2
        assert all(
            m.result is not None and m.result.status == self.accepted_status for m in messages
        )
        subjects = self._delivered_subjects(backend)
        if subjects is not None:
            assert subjects == ["first", "second"]

    def test_send_messages_takes_any_iterable_once(self, backend: BaseEmailBackend) -> None:
        messages = [self.make_message("first"), self.make_message("second")]
        taken: list[str] = []

        def generate() -> Iterator[EmailMessage]:
            for message in messages:
                taken.append(message.subject)
                yield message

        assert backend.send_messages(generate()) == 2
        assert taken == ["first", "second"]
        third = self.make_message("third")
        assert backend.send_messages(iter([third])) == 1
        assert all(
            m.result is not None and m.result.status == self.accepted_status
            for m in [*messages, third]
        )
        subjects = self._delivered_subjects(backend)
        if subjects is not None:
            assert subjects == ["first", "second", "third"]

    def test_result_has_the_message_id_header_sent(self, backend: BaseEmailBackend) -> None:
        generated = self.make_message("generated id")
        given = self.make_message("given id")
        given.extra_headers["Message-ID"] = "<contract-given-id@example.com>"
        assert backend.send_messages([generated, given]) == 2
        assert generated.result is not None and given.result is not None
        header = generated.result.message_id_header
        assert header is not None and header.startswith("<") and header.endswith(">")
        assert given.result.message_id_header == "<contract-given-id@example.com>"
        received = self.delivered(backend)
        if received is not None:
            assert [m["Message-ID"] for m in received] == [header, given.result.message_id_header]

    def test_a_bad_message_anywhere_in_the_batch_sends_nothing(
        self, backend: BaseEmailBackend
    ) -> None:
        messages = [
            self.make_message("first"),
            self.make_message("second"),
            self.make_message("Hello\nBcc: victim@example.com"),
        ]
        with pytest.raises(BadHeaderError, match=r"^message 3 of 3 \(nothing was sent\): "):
            backend.send_messages(messages)
        assert [m.result.status if m.result else None for m in messages] == ["failed"] * 3
        for message in messages[:2]:
            assert message.result is not None and message.result.error is not None
            assert "batch stopped" in str(message.result.error)
        received = self.delivered(backend)
        if received is not None:
            assert received == []

    def test_delivered_message_keeps_content_and_hides_bcc(self, backend: BaseEmailBackend) -> None:
        message = EmailMultiAlternatives(
            "Grüße, naïve café",
            "Plain body ✓\n",
            self.from_email,
            list(self.to),
            cc=list(self.cc),
            bcc=list(self.bcc),
            headers={"X-Contract": "yes"},
        )
        message.attach_alternative("<p>HTML body ✓</p>", "text/html")
        message.attach("notes.txt", "attached text ✓\n", "text/plain")
        assert backend.send_messages([message]) == 1
        received = self.delivered(backend)
        if received is None:
            return
        (parsed,) = received
        assert parsed["Subject"] == "Grüße, naïve café"
        assert parsed["X-Contract"] == "yes"
        assert parsed["Bcc"] is None
        assert parsed.get_content_type() == "multipart/mixed"
        body = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        assert body is not None and "Plain body ✓" in body.get_content()
        assert html is not None and "HTML body ✓" in html.get_content()
        names = [part.get_filename() for part in parsed.iter_attachments()]
        assert names == ["notes.txt"]

    def test_bad_header_is_raised_even_when_failing_silently(
        self, backend: BaseEmailBackend
    ) -> None:
        backend.fail_silently = True
        message = self.make_message("Hello\nBcc: victim@example.com")
        with pytest.raises(BadHeaderError):
            backend.send_messages([message])
        received = self.delivered(backend)
        if received is not None:
            assert received == []

    def test_context_manager_opens_and_closes(self, backend: BaseEmailBackend) -> None:
        with backend as opened:
            assert opened is backend
            assert backend.send_messages([self.make_message()]) == 1
        backend.close()  # closing twice is harmless

    def test_open_connection_is_reused_and_left_open(self, backend: BaseEmailBackend) -> None:
        opened = backend.open()
        try:
            assert backend.send_messages([self.make_message("one")]) == 1
            assert backend.send_messages([self.make_message("two")]) == 1
            if opened:
                assert backend.open() is False, "send_messages closed a connection it did not open"
        finally:
            backend.close()
        subjects = self._delivered_subjects(backend)
        if subjects is not None:
            assert subjects == ["one", "two"]

    def test_close_without_open_is_harmless(self, backend: BaseEmailBackend) -> None:
        backend.close()
        backend.close()

    def test_message_send_uses_the_given_connection(self, backend: BaseEmailBackend) -> None:
        message = self.make_message("via send()")
        message.connection = backend
        assert message.send() == 1
        assert message.result is not None and message.result.status == self.accepted_status

    def test_repr_shows_no_secret(self, backend: BaseEmailBackend) -> None:
        text = repr(backend) + str(backend.options) + repr(backend.options)
        for secret in self.secrets:
            assert secret not in text


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
    error status raises :class:`urllib.error.HTTPError`.
    """

    def __init__(self, url: str = "http://127.0.0.1:8025", *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _request(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body: bytes = response.read()
            return body

    def _json(self, path: str) -> Any:
        return json.loads(self._request(path))

    def messages(self, query: str = "", *, limit: int = 1000, offset: int = 0) -> list[Any]:
        """The messages, newest first (``query``: the words subject, addresses or body hold)."""
        params = {"limit": str(limit), "offset": str(offset)}
        if query:
            params["q"] = query
        page = self._json("/api/messages?" + urllib.parse.urlencode(params))
        messages: list[Any] = page["messages"]
        return messages

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
        """Wait until at least ``count`` messages (matching ``query``) are there; return them.

        Raises :class:`TimeoutError`, saying how many arrived, after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(query)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"waited {timeout:g} s for {count} message(s) at {self.url}, "
                    f"{len(found)} arrived"
                )
            time.sleep(0.05)


__all__ += ["PreviewClient"]
