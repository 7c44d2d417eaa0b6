"""The composite backends ``failover`` and ``roundrobin``: mailers sending through others.

Options: ``mailers``, the mailers to send through (aliases of named mailers, or
connection URLs), and ``retry_period``, the seconds a mailer that failed is left out
(60). ``failover`` sends each message through the first mailer not marked down;
``roundrobin`` starts at a random mailer and takes the next one for each message.

Only a transport failure moves a message on to the next mailer (:func:`moves_on`): a
:class:`~mailcore.SendError` that is not a permanent refusal (``temporary`` False) and
whose outcome is known; the mailer that failed is then marked down for
``retry_period``. A message a mailer accepted is never given to another; one whose
outcome is unknown (connection lost after its content) is not re-sent but reported with
``status`` ``"unknown"`` and that error. When every mailer failed, the message's error is a
:class:`~mailcore.MailersFailedError` listing each mailer's answer.

Which mailers are down belongs to the mailer, not to one instance: every instance of a
named composite mailer in the process (``send_mail(using="fo")`` makes one per call)
shares it, under a lock; ``configure()`` starts it afresh. An instance made without an
alias keeps its own. One instance may be shared by threads; each thread has its own
connections to the mailers. This module imports pydantic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from mailcore import hooks
from mailcore.backend import BaseEmailBackend
from mailcore.errors import (
    ConfigurationError,
    MailersFailedError,
    RecipientsRefusedError,
    SendError,
)
from mailcore.message import EmailMessage
from mailcore.options import BackendOptions
from mailcore.results import SendResult
from mailcore.urls import is_url, mask_url

__all__ = [
    "CompositeBackend",
    "CompositeOptions",
    "FailoverBackend",
    "RoundRobinBackend",
    "moves_on",
]


class CompositeOptions(BackendOptions):
    """Options of ``failover`` and ``roundrobin``.

    - ``mailers``: the mailers to send through, in order: aliases of named mailers or
      connection URLs (at least one).
    - ``retry_period``: seconds a mailer that failed is left out before it is tried again.
    """

    mailers: Annotated[list[str], Field(min_length=1)]
    retry_period: Annotated[float, Field(ge=0)] = 60.0

    @field_validator("mailers", mode="before")
    @classmethod
    def _entries(cls, value: object) -> object:
        # a ConfigurationError: the input (URLs with passwords) is never echoed
        if not isinstance(value, list | tuple) or not all(
            isinstance(entry, str) and entry.strip() for entry in value
        ):
            raise ConfigurationError("must be a list of mailer aliases or connection URLs")
        from mailcore.registry import url_spec
        from mailcore.settings import validate_spec

        seen: set[str] = set()
        for entry in value:
            if entry in seen:
                raise ConfigurationError(f"{mask_url(entry)} is listed twice")
            seen.add(entry)
            if is_url(entry):  # checked now, as a named mailer is: an InvalidMailer
                validate_spec(url_spec(entry))
        return list(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, [mask_url(v) for v in value] if name == "mailers" else value


def moves_on(
    error: BaseException,
    transport_errors: tuple[type[BaseException], ...],
    *,
    opening: bool = False,
) -> bool:
    """Whether a message that failed with ``error`` goes on to the next mailer.

    Yes for a transport error of the mailer: any failure to open its connection
    (``opening``: refused, timed out, a 4xx or 5xx greeting, TLS or login refused), and
    while sending a connection lost, a timeout, a temporary reply, throttling. No for an
    outcome that may have been accepted (``outcome_unknown``), a permanent refusal of
    the message (``temporary`` False: a 5xx reply to it, content rejected, every
    recipient refused) and anything that is not a transport error (a bad header, an
    invalid address, a configuration error).
    """
    if not isinstance(error, transport_errors):
        return False
    if getattr(error, "outcome_unknown", False):
        return False
    if opening:
        return True
    return bool(getattr(error, "temporary", not isinstance(error, RecipientsRefusedError)))


class _DownBook:
    """Which mailers of a composite are down, until when (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.until: dict[int, float] = {}
        self.next = 0


#: The down state of each named composite mailer, by alias: every instance of a mailer
#: (``send_mail(using=...)`` makes a new one per call) shares it. Kept for one build of
#: the settings (``configure()`` starts afresh).
_books: dict[str, _DownBook] = {}
_books_for: object = None
_books_lock = threading.Lock()


def _shared_book(alias: str, count: int, rotates: bool) -> _DownBook | None:
    """The down state of the named mailer ``alias`` (``None`` for an unnamed one)."""
    global _books_for
    from mailcore.settings import get_mailers

    specs = get_mailers()
    if alias not in specs:
        return None
    with _books_lock:
        if _books_for is not specs:
            _books.clear()
            _books_for = specs
        book = _books.get(alias)
        if book is None:
            book = _books[alias] = _DownBook()
            book.next = random.randrange(count) if rotates else 0
        return book


class _Session:
    """An async session's (or one async call's) backends for the mailers, and which of
    them it opened."""

    def __init__(self, count: int) -> None:
        self.children: list[BaseEmailBackend | None] = [None] * count
        self.opened: set[int] = set()
        self.session = False


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.children: list[BaseEmailBackend | None] = []
        self.opened: set[int] = set()
        self.session = False


class CompositeBackend(BaseEmailBackend):
    """The shared part of ``failover`` and ``roundrobin`` (see the module doc)."""

    options_model = CompositeOptions
    options: CompositeOptions
    #: Rotate the first mailer per message (round-robin) rather than keep the order.
    rotates: ClassVar[bool] = False

    @staticmethod
    def referenced_mailers(options: CompositeOptions) -> list[str]:
        """The aliases ``options`` names (its URLs aside): each must be a mailer."""
        return [entry for entry in options.mailers if not is_url(entry)]

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        entries = self.options.mailers
        self.labels = [mask_url(entry) if is_url(entry) else entry for entry in entries]
        self._own = _DownBook()
        self._own.next = random.randrange(len(entries)) if self.rotates else 0
        self._state = _ThreadState()
        # made now, so that a wrong mailer is an error here; used by this thread
        self._state.children = [self._make(index) for index in range(len(entries))]

    def _make(self, index: int) -> BaseEmailBackend:
        from mailcore.registry import connection_from_url, mailers

        entry = self.options.mailers[index]
        if is_url(entry):
            return connection_from_url(entry)
        return mailers.create(entry)

    def _child(self, index: int) -> BaseEmailBackend:
        children = self._state.children
        if not children:
            children.extend([None] * len(self.labels))
        child = children[index]
        if child is None:
            child = children[index] = self._make(index)
        return child

    # -- which mailer next ---------------------------------------------------------------

    def _book(self) -> _DownBook:
        """The down state: the named mailer's (shared by all its instances in the
        process), or this instance's own for a composite made without an alias."""
        if self.alias is not None:
            shared = _shared_book(self.alias, len(self.labels), self.rotates)
            if shared is not None:
                return shared
        return self._own

    def _candidates(self) -> list[int]:
        """The mailers to try for the next message, in order: those not marked down,
        then (as a last resort) those that are."""
        count = len(self.labels)
        now = time.monotonic()
        book = self._book()
        with book.lock:
            start = book.next
            if self.rotates:
                book.next = (start + 1) % count
            order = [(start + step) % count for step in range(count)]
            up = [i for i in order if book.until.get(i, 0.0) <= now]
        return up + [i for i in order if i not in up]

    def stand_in_alias(self) -> str | None:
        """The mailer a healthy send would go through first (the ``mailoutbox`` fixture
        reports it, as a real send would): the first not marked down."""
        now = time.monotonic()
        book = self._book()
        with book.lock:
            count = len(self.labels)
            order = [(book.next + step) % count for step in range(count)]
            up = [i for i in order if book.until.get(i, 0.0) <= now]
        return self.labels[(up or order)[0]]

    def down(self) -> list[str]:
        """The mailers marked down now."""
        now = time.monotonic()
        book = self._book()
        with book.lock:
            return [self.labels[i] for i, until in sorted(book.until.items()) if until > now]

    def _mark(self, index: int, failed: bool) -> None:
        book = self._book()
        with book.lock:
            if failed:
                book.until[index] = time.monotonic() + self.options.retry_period
            else:
                book.until.pop(index, None)

    # -- connections ---------------------------------------------------------------------

    def open(self) -> bool:
        """Start a session in this thread: each mailer's connection is opened when it is
        first used and kept until :meth:`close`. True when this call started it."""
        if self._state.session:
            return False
        self._state.session = True
        return True

    def close(self) -> None:
        """Close this thread's connections to the mailers and end its session."""
        state = self._state
        for index in sorted(state.opened):
            child = state.children[index]
            if child is not None:
                with contextlib.suppress(Exception):
                    child.close()
        state.opened.clear()
        state.session = False

    def check(self) -> str | None:
        """Each mailer's own check, one line per mailer; raises
        :class:`~mailcore.MailersFailedError` (listing every mailer's answer) when any
        of them fails: an operator wants to know that a fallback is broken."""
        found: list[str] = []
        answers: dict[str, BaseException] = {}
        for index, label in enumerate(self.labels):
            try:
                line = self._child(index).check()
            except Exception as exc:
                answers[label] = exc
                found.append(f"{label}: failed: {' '.join(str(exc).split())}")
                continue
            found.append(f"{label}: {' '.join((line or 'nothing to check').split())}")
        if answers:
            failed = f"{len(answers)} of {len(self.labels)} mailers failed"
            raise MailersFailedError("\n".join([f"{failed}:", *found]), answers)
        return "\n".join(["every mailer works:", *found])

    # -- sending -------------------------------------------------------------------------

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        return self.deliver_batch(messages, self.open, self._send_all)

    def _send_all(self, batch: list[EmailMessage]) -> int:
        """Each message through its mailer. A message whose outcome is unknown does not
        stop the batch (the others go on, as after a temporary failure); its error is
        raised once the batch is done. Another failure stops it (not silently)."""
        tally = _Tally()
        for index, message in enumerate(batch):
            self._after_message(tally, batch, index, self._send_one(message))
        return self._finish(tally)

    def _after_message(
        self, tally: _Tally, batch: list[EmailMessage], index: int, error: BaseException | None
    ) -> None:
        """Count message ``index`` of ``batch`` sent, or note its unknown outcome, or stop
        the batch by raising its ``error`` (the rule both the sync and async paths use)."""
        message = batch[index]
        if message.result is not None and message.result.sent:
            tally.sent += 1
            return
        if error is None:
            return  # a failure the mailer reported without raising stays so
        if message.result is not None and message.result.status == "unknown":
            tally.unknown = tally.unknown or error
            return
        if self.fail_silently:
            return
        if isinstance(error, SendError):
            error.sent, error.message = tally.sent, message
        self.stop_batch(batch[index + 1 :], error)
        raise error

    def _finish(self, tally: _Tally) -> int:
        if tally.unknown is not None and not self.fail_silently:
            if isinstance(tally.unknown, SendError):
                tally.unknown.sent = tally.sent
            raise tally.unknown
        return tally.sent

    def _send_one(self, message: EmailMessage) -> BaseException | None:
        """Send ``message`` through the first mailer that takes it (setting its result);
        return the error to raise when it failed with one."""
        answers: dict[str, BaseException] = {}
        for index in self._candidates():
            child = self._child(index)
            error, opening = self._attempt(index, child, message)
            done, outcome = self._judge(index, child, message, error, opening, answers)
            if done:
                return outcome
        return self._all_failed(message, answers)

    def _judge(
        self,
        index: int,
        child: BaseEmailBackend,
        message: EmailMessage,
        error: BaseException | None,
        opening: bool,
        answers: dict[str, BaseException],
    ) -> tuple[bool, BaseException | None]:
        """After one mailer's attempt: whether the message is done (else it moves on to
        the next mailer), and the error to report. Marks the mailer up or down."""
        if error is None:
            self._mark(index, failed=False)
            return True, None
        if getattr(error, "outcome_unknown", False):
            self._mark(index, failed=True)  # its connection broke: not re-sent
            if message.result is not None:
                message.result = dataclasses.replace(message.result, status="unknown")
            return True, error
        if not moves_on(error, child.transport_errors, opening=opening):
            return True, error  # the message's own failure: it would fail everywhere
        answers[self.labels[index]] = error
        self._mark(index, failed=True)
        return False, None

    def _all_failed(
        self, message: EmailMessage, answers: dict[str, BaseException]
    ) -> MailersFailedError:
        text = "every mailer failed: " + "; ".join(f"{k}: {v}" for k, v in answers.items())
        failure = MailersFailedError(text, answers, message=message)
        message.result = SendResult("failed", error=failure)
        return failure

    def _attempt(
        self, index: int, child: BaseEmailBackend, message: EmailMessage
    ) -> tuple[BaseException | None, bool]:
        """Send through one mailer: the transport error it raised (else ``None``), and
        whether it came while opening the connection."""
        state = self._state
        opening = index not in state.opened
        try:
            if opening and child.open():
                state.opened.add(index)
            opening = False
            with hooks.delegating(child):  # the hooks ran here, once per message
                child.send_messages([message])
        except child.transport_errors as exc:
            self._attempt_failed(index, message, exc)
            if index in state.opened:  # a broken connection is not used again
                state.opened.discard(index)
                with contextlib.suppress(Exception):
                    child.close()
            return exc, opening
        return None, False

    def _attempt_failed(self, index: int, message: EmailMessage, exc: BaseException) -> None:
        if message.result is None or message.result.sent:
            message.result = SendResult("failed", error=exc, mailer=self.labels[index])

    # -- async ---------------------------------------------------------------------------

    def _async_state(self) -> _Session:
        """The async session of this instance, shared by its tasks."""
        state: _Session | None = self.__dict__.get("_astate")
        if state is None:
            state = self.__dict__["_astate"] = _Session(len(self.labels))
        return state

    async def aopen(self) -> bool:
        """:meth:`open` for async code: a session whose connections to the mailers are
        opened (``aopen``) when first used and kept until :meth:`aclose`; the instance's
        tasks share it. True when this call started it."""
        state = self._async_state()
        if state.session:
            return False
        state.session = True
        return True

    async def aclose(self) -> None:
        """End the async session, closing its connections to the mailers (``aclose``)."""
        state = self._async_state()
        state.session = False
        await self._aclose_children(state)

    @staticmethod
    async def _aclose_children(state: _Session) -> None:
        opened = sorted(state.opened)
        state.opened.clear()
        for index in opened:
            child = state.children[index]
            if child is not None:
                with contextlib.suppress(Exception):
                    await child.aclose()

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages` for async code: the same order, marks (the down state is
        the sync path's) and results, each mailer sent to with its ``asend_messages``.

        Inside a session (:meth:`aopen`) its connections are used; otherwise this call
        has its own, closed when it returns, so concurrent calls never share one.
        """
        session = self._async_state()
        if session.session:
            return await self.adeliver_batch(
                messages, _opened_nothing, functools.partial(self._asend_all, session)
            )
        state = _Session(len(self.labels))
        try:
            return await self.adeliver_batch(
                messages, _opened_nothing, functools.partial(self._asend_all, state)
            )
        finally:
            await self._aclose_children(state)

    async def _asend_all(self, state: _Session, batch: list[EmailMessage]) -> int:
        tally = _Tally()
        for index, message in enumerate(batch):
            self._after_message(tally, batch, index, await self._asend_one(state, message))
        return self._finish(tally)

    async def _asend_one(self, state: _Session, message: EmailMessage) -> BaseException | None:
        answers: dict[str, BaseException] = {}
        for index in self._candidates():
            child = state.children[index]
            if child is None:
                child = state.children[index] = self._make(index)
            error, opening = await self._aattempt(state, index, child, message)
            done, outcome = self._judge(index, child, message, error, opening, answers)
            if done:
                return outcome
        return self._all_failed(message, answers)

    async def _aattempt(
        self, state: _Session, index: int, child: BaseEmailBackend, message: EmailMessage
    ) -> tuple[BaseException | None, bool]:
        opening = index not in state.opened
        try:
            if opening and await child.aopen():
                state.opened.add(index)
            opening = False
            with hooks.delegating(child):
                await child.asend_messages([message])
        except child.transport_errors as exc:
            self._attempt_failed(index, message, exc)
            if index in state.opened:  # a broken connection is not used again
                state.opened.discard(index)
                with contextlib.suppress(Exception):
                    await child.aclose()
            return exc, opening
        return None, False


async def _opened_nothing() -> bool:
    return False


@dataclasses.dataclass
class _Tally:
    """A batch's progress: messages sent, and the first error of an unknown outcome."""

    sent: int = 0
    unknown: BaseException | None = None


class FailoverBackend(CompositeBackend):
    """``failover``: each message through the first of ``mailers`` not marked down."""

    name = "failover"


class RoundRobinBackend(CompositeBackend):
    """``roundrobin``: from a random mailer, each message through the next one."""

    name = "roundrobin"
    rotates = True
