"""The contract tests of :mod:`mailcore.testing` (this module needs pytest)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from email.message import EmailMessage as ParsedMessage
from typing import ClassVar

import pytest

from mailcore import hooks
from mailcore.backend import BaseEmailBackend
from mailcore.errors import BadHeaderError, CancelSend
from mailcore.message import EmailMessage, EmailMultiAlternatives
from mailcore.results import SendResult

__all__ = ["AsyncContractTests", "BackendContractTests"]


@contextlib.contextmanager
def _contract_hooks() -> Iterator[list[tuple[str, str]]]:
    """Hooks registered for one test: the one before-send adds ``X-Hooked`` and cancels
    the message whose subject is "cancelled"; the after-send one records each result."""
    seen: list[tuple[str, str]] = []

    def before(message: EmailMessage, mailer: BaseEmailBackend) -> None:
        if message.subject == "cancelled":
            raise CancelSend("cancelled by the contract test")
        message.extra_headers["X-Hooked"] = "yes"

    def after(message: EmailMessage, result: SendResult, mailer: BaseEmailBackend) -> None:
        seen.append((message.subject, result.status))

    hooks.before_send(before)
    hooks.after_send(after)
    try:
        yield seen
    finally:
        hooks.remove(before)
        hooks.remove(after)


def _check_hooked(received: list[ParsedMessage] | None) -> None:
    """The transport got the kept message as the hook changed it, and nothing else."""
    if received is not None:
        assert [(m["Subject"], m["X-Hooked"]) for m in received] == [("kept", "yes")]


def _assert_same_arrivals(
    arrived: Sequence[tuple[str, str]], sent: Sequence[tuple[str, str]], *, ordered: bool
) -> None:
    """The ``(subject, Message-ID)`` pairs of one call: what arrived is what was sent, as
    a list (``ordered``) or as a multiset."""
    same = list(arrived) == list(sent) if ordered else Counter(arrived) == Counter(sent)
    order = "in this order" if ordered else "in any order"
    assert same, f"one call's messages: {list(arrived)} arrived, {list(sent)} expected ({order})"


class AsyncContractTests:
    """The async half of the contract (a base of :class:`BackendContractTests`, so every
    backend's suite runs it): ``aopen``/``aclose``/``asend_messages``, ``async with``
    and ``EmailMessage.asend()`` give what their sync twins give. Each test runs its
    own event loop (:func:`asyncio.run`), so no async pytest plugin is needed."""

    accepted_status: ClassVar[str] = "sent"

    def make_message(self, subject: str = "Contract test") -> EmailMessage:
        raise NotImplementedError  # pragma: no cover (BackendContractTests has it)

    def _check_arrivals(self, backend: BaseEmailBackend, *batches: list[EmailMessage]) -> None:
        raise NotImplementedError  # pragma: no cover (BackendContractTests has it)

    def delivered(self, backend: BaseEmailBackend) -> list[ParsedMessage] | None:
        raise NotImplementedError  # pragma: no cover (BackendContractTests has it)

    def test_async_sending_nothing_returns_zero(self, backend: BaseEmailBackend) -> None:
        assert asyncio.run(backend.asend_messages([])) == 0

    def test_async_send_messages_returns_the_number_sent(self, backend: BaseEmailBackend) -> None:
        messages = [self.make_message("first"), self.make_message("second")]
        assert asyncio.run(backend.asend_messages(iter(messages))) == 2
        assert all(
            m.result is not None and m.result.status == self.accepted_status for m in messages
        )
        headers = [m.result.message_id_header for m in messages if m.result is not None]
        assert all(h is not None and h.startswith("<") for h in headers)
        self._check_arrivals(backend, messages)

    def test_async_a_bad_message_anywhere_in_the_batch_sends_nothing(
        self, backend: BaseEmailBackend
    ) -> None:
        messages = [self.make_message("first"), self.make_message("Hello\nBcc: v@example.com")]
        with pytest.raises(BadHeaderError, match=r"^message 2 of 2 \(nothing was sent\): "):
            asyncio.run(backend.asend_messages(messages))
        assert [m.result.status if m.result else None for m in messages] == ["failed"] * 2
        received = self.delivered(backend)
        if received is not None:
            assert received == []

    def test_async_bad_header_is_raised_even_when_failing_silently(
        self, backend: BaseEmailBackend
    ) -> None:
        backend.fail_silently = True
        with pytest.raises(BadHeaderError):
            asyncio.run(backend.asend_messages([self.make_message("Hello\nBcc: v@example.com")]))

    def test_async_with_keeps_one_connection_open(self, backend: BaseEmailBackend) -> None:
        one, two = self.make_message("one"), self.make_message("two")

        async def session() -> tuple[int, int, bool]:
            async with backend as opened:
                assert opened is backend
                sent_one = await backend.asend_messages([one])
                sent_two = await backend.asend_messages([two])
                again = await backend.aopen()  # already open: opens nothing
            await backend.aclose()  # closing twice is harmless
            return sent_one, sent_two, again

        assert asyncio.run(session()) == (1, 1, False)
        self._check_arrivals(backend, [one], [two])

    def test_async_send_hooks_change_cancel_and_see_every_result(
        self, backend: BaseEmailBackend
    ) -> None:
        messages = [self.make_message("kept"), self.make_message("cancelled")]
        with _contract_hooks() as seen:
            assert asyncio.run(backend.asend_messages(messages)) == 1
        assert seen == [("kept", self.accepted_status), ("cancelled", "cancelled")]
        _check_hooked(self.delivered(backend))

    def test_async_aclose_without_aopen_is_harmless(self, backend: BaseEmailBackend) -> None:
        asyncio.run(backend.aclose())

    def test_async_message_asend_uses_the_given_connection(self, backend: BaseEmailBackend) -> None:
        message = self.make_message("via asend()")
        message.connection = backend
        assert asyncio.run(message.asend()) == 1
        assert message.result is not None and message.result.status == self.accepted_status


class BackendContractTests(AsyncContractTests):
    """What every ``BaseEmailBackend`` promises, sync and async, as tests to subclass.

    Provide the ``backend`` fixture and, when the transport can be read back,
    :meth:`delivered`. The class attributes below fit the tests to a backend:
    :attr:`accepted_status` for a queueing one, and :attr:`keeps_arrival_order` (``False``)
    for one that sends a batch over several connections at once, such as the SMTP backend
    with ``max_connections`` above 1: the messages of one ``send_messages()`` call may
    then arrive in any order, while every other check stays as strict.
    """

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
    #: Whether the messages of one ``send_messages()`` call reach the transport in the
    #: order given. Set it to ``False`` for a backend that sends a batch over several
    #: connections at once (the SMTP backend's pool): the messages of one call are then
    #: compared with :meth:`delivered` as a multiset. Nothing else is relaxed: each
    #: message's ``result`` must still be its own (its ``message_id_header`` is the
    #: Message-ID that arrived with its subject), every message arrives exactly once,
    #: and the messages of separate calls arrive one call after the other.
    keeps_arrival_order: ClassVar[bool] = True

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

    def _check_arrivals(self, backend: BaseEmailBackend, *batches: list[EmailMessage]) -> None:
        """Unless :meth:`delivered` cannot tell: the transport received the messages of
        ``batches`` (one per ``send_messages()`` call), each once, one batch after the
        other, each with the Message-ID its result names; within a batch in the order
        given, or in any order when :attr:`keeps_arrival_order` is false."""
        received = self.delivered(backend)
        if received is None:
            return
        arrived = [(str(m["Subject"]), str(m["Message-ID"])) for m in received]
        expected = sum(len(batch) for batch in batches)
        assert len(arrived) == expected, f"{len(arrived)} messages arrived, not {expected}"
        for batch in batches:
            sent = [
                (m.subject, str(m.result.message_id_header if m.result else None)) for m in batch
            ]
            these, arrived = arrived[: len(batch)], arrived[len(batch) :]
            _assert_same_arrivals(these, sent, ordered=self.keeps_arrival_order)

    def test_sending_nothing_returns_zero(self, backend: BaseEmailBackend) -> None:
        assert backend.send_messages([]) == 0

    def test_send_messages_returns_the_number_sent(self, backend: BaseEmailBackend) -> None:
        messages = [self.make_message("first"), self.make_message("second")]
        assert backend.send_messages(messages) == 2
        assert all(
            m.result is not None and m.result.status == self.accepted_status for m in messages
        )
        self._check_arrivals(backend, messages)

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
        self._check_arrivals(backend, messages, [third])

    def test_result_has_the_message_id_header_sent(self, backend: BaseEmailBackend) -> None:
        generated = self.make_message("generated id")
        given = self.make_message("given id")
        given.extra_headers["Message-ID"] = "<contract-given-id@example.com>"
        assert backend.send_messages([generated, given]) == 2
        assert generated.result is not None and given.result is not None
        header = generated.result.message_id_header
        assert header is not None and header.startswith("<") and header.endswith(">")
        assert given.result.message_id_header == "<contract-given-id@example.com>"
        self._check_arrivals(backend, [generated, given])

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
        one, two = self.make_message("one"), self.make_message("two")
        opened = backend.open()
        try:
            assert backend.send_messages([one]) == 1
            assert backend.send_messages([two]) == 1
            if opened:
                assert backend.open() is False, "send_messages closed a connection it did not open"
        finally:
            backend.close()
        self._check_arrivals(backend, [one], [two])

    def test_close_without_open_is_harmless(self, backend: BaseEmailBackend) -> None:
        backend.close()
        backend.close()

    def test_message_send_uses_the_given_connection(self, backend: BaseEmailBackend) -> None:
        message = self.make_message("via send()")
        message.connection = backend
        assert message.send() == 1
        assert message.result is not None and message.result.status == self.accepted_status

    def test_send_hooks_change_cancel_and_see_every_result(self, backend: BaseEmailBackend) -> None:
        messages = [self.make_message("kept"), self.make_message("cancelled")]
        with _contract_hooks() as seen:
            assert backend.send_messages(messages) == 1
        assert seen == [("kept", self.accepted_status), ("cancelled", "cancelled")]
        assert messages[1].result is not None
        assert isinstance(messages[1].result.error, CancelSend)
        _check_hooked(self.delivered(backend))

    def test_repr_shows_no_secret(self, backend: BaseEmailBackend) -> None:
        text = repr(backend) + str(backend.options) + repr(backend.options)
        for secret in self.secrets:
            assert secret not in text
