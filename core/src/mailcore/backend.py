"""The contract every e-mail backend fulfils: :class:`BaseEmailBackend`.

A backend subclass sets ``name`` (its short name, which is also its settings section),
``options_model`` (a :class:`BackendOptions` subclass declaring its options) and
implements :meth:`BaseEmailBackend.send_messages`, usually through the batch frame
:meth:`~BaseEmailBackend.deliver_batch`; backends with a connection also implement
:meth:`~BaseEmailBackend.open` and :meth:`~BaseEmailBackend.close`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from mailcore import hooks
from mailcore.errors import SendError
from mailcore.results import SendResult
from mailcore.steps import adrive_steps, drive_steps

if TYPE_CHECKING:
    import concurrent.futures

    from mailcore._wire.dkim import Signer
    from mailcore._wire.mime import SerializedMessage
    from mailcore.message import EmailMessage
    from mailcore.options import BackendOptions
    from mailcore.settings import Source
    from mailcore.urls import URLScheme

__all__ = ["BaseEmailBackend"]


@dataclass(slots=True)
class _Batch:
    """The batch a frame is sending: each message's prepared bytes (by ``id``), and the
    messages marked not attempted."""

    data: dict[int, SerializedMessage]
    skipped: set[int] = field(default_factory=set)


#: What the batch frame (:meth:`BaseEmailBackend._frame`) asks its sync or async driver to do.
_Step = Literal["connect", "send", "close"]

_current_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "mailcore_batch", default=None
)

#: In a call :meth:`BaseEmailBackend.run_sync` runs in a thread: set when the awaiting
#: task is cancelled (see :meth:`BaseEmailBackend.cancel_requested`).
_cancelled: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "mailcore_cancelled", default=None
)

#: While set (by :func:`mailcore.testing.redirect_backends`), every backend that is not
#: an instance of this class hands its messages to a new instance of it instead.
_redirect: type[BaseEmailBackend] | None = None


def _set_redirect(target: type[BaseEmailBackend] | None) -> type[BaseEmailBackend] | None:
    """Set the process-wide redirect; return the previous one."""
    global _redirect
    previous, _redirect = _redirect, target
    return previous


def _redirected(backend: BaseEmailBackend, target: type[BaseEmailBackend]) -> bool:
    """Whether ``backend`` hands its messages to the redirect ``target`` now: it is not
    already a ``target``, and the target takes over (:meth:`~BaseEmailBackend.takes_over`)."""
    return not isinstance(backend, target) and target.takes_over(backend)


def _guard_send(send: Callable[..., int]) -> Callable[..., int]:
    def redirected(self: BaseEmailBackend, messages: Iterable[EmailMessage]) -> int:
        target = _redirect
        if target is None or not _redirected(self, target):
            return send(self, messages)
        stand_in = target(fail_silently=self.fail_silently)
        stand_in.stands_in_for = self
        stand_in.alias = self.stand_in_alias()
        with hooks.delegating(stand_in):  # the hooks ran, with the mailer chosen
            return stand_in.send_messages(messages)

    @functools.wraps(send)
    def send_messages(self: BaseEmailBackend, messages: Iterable[EmailMessage]) -> int:
        return hooks.send(self, messages, functools.partial(redirected, self))

    send_messages.__mailcore_guarded__ = True  # type: ignore[attr-defined]
    return send_messages


def _guard_open(open_: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(open_)
    def open(self: BaseEmailBackend) -> bool:
        target = _redirect
        if target is None or not _redirected(self, target):
            return open_(self)
        return False  # a stand-in connects nowhere

    open.__mailcore_guarded__ = True  # type: ignore[attr-defined]
    return open


def _guard_asend(send: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    async def redirected(self: BaseEmailBackend, messages: Iterable[EmailMessage]) -> int:
        target = _redirect
        if target is None or not _redirected(self, target):
            return await send(self, messages)
        stand_in = target(fail_silently=self.fail_silently)
        stand_in.stands_in_for = self
        stand_in.alias = self.stand_in_alias()
        with hooks.delegating(stand_in):
            return await stand_in.asend_messages(messages)

    @functools.wraps(send)
    async def asend_messages(self: BaseEmailBackend, messages: Iterable[EmailMessage]) -> int:
        return await hooks.asend(self, messages, functools.partial(redirected, self))

    asend_messages.__mailcore_guarded__ = True  # type: ignore[attr-defined]
    return asend_messages


def _guard_aopen(open_: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    @functools.wraps(open_)
    async def aopen(self: BaseEmailBackend) -> bool:
        target = _redirect
        if target is None or not _redirected(self, target):
            return await open_(self)
        return False  # a stand-in connects nowhere

    aopen.__mailcore_guarded__ = True  # type: ignore[attr-defined]
    return aopen


#: Options that a backend left unset takes from the core setting of the same name.
CORE_FALLBACKS = ("dkim",)


def _signer_for(options: BackendOptions) -> Signer | None:
    """The DKIM signer of a backend whose options have ``dkim`` (one that sends the
    message's bytes: SMTP, SES, file): its ``dkim`` option, else the core ``dkim``
    setting; the key is read and checked now (a bad one raises here)."""
    if "dkim" not in type(options).model_fields:
        return None
    from mailcore.settings import get_settings

    dkim = getattr(options, "dkim", None) or get_settings().dkim  # see CORE_FALLBACKS
    if dkim is None:
        return None
    from mailcore._wire.dkim import load_signer

    return load_signer(dkim)


def _name_message(exc: BaseException, index: int, total: int) -> None:
    """Put "message N of M (nothing was sent)" in front of ``exc``'s text."""
    if total > 1 and exc.args and isinstance(exc.args[0], str):
        exc.args = (f"message {index + 1} of {total} (nothing was sent): {exc.args[0]}",)


class BaseEmailBackend:
    """Base class of every e-mail backend.

    ``__init__(fail_silently=False, **options)`` builds ``self.options`` from the keyword
    arguments over the settings (``configure()``, environment, ``.env``, TOML, defaults:
    :func:`mailcore.settings.load_options` owns the order) of the backend's section
    ``name``; an unknown or invalid option raises
    :class:`~mailcore.errors.ConfigurationError`, except ``username`` and ``password``,
    which a backend without them ignores. ``fail_silently=True`` turns transport
    errors into messages counted as not sent; it never hides a bad header or a
    configuration error.
    """

    #: Short name and settings section (``"smtp"``); ``None`` reads arguments only.
    name: ClassVar[str | None] = None
    #: The pydantic model of this backend's options; ``None`` for a backend without any.
    options_model: ClassVar[type[BackendOptions] | None] = None

    #: The connection URL schemes this backend accepts, each mapped to how the URL's
    #: parts become options (:class:`mailcore.urls.URLScheme`): ``{"smtps":
    #: URLScheme(host="host", port="port", defaults={"use_ssl": True, "port": 465})}``.
    url_schemes: ClassVar[Mapping[str, URLScheme]] = {}
    #: The errors ``fail_silently`` turns into failed results: the transport's errors.
    transport_errors: ClassVar[tuple[type[BaseException], ...]] = (SendError,)
    #: True for a backend that stores messages for workers to send through another
    #: mailer (``celery``): the mailers it names must not reach one such backend again.
    queues_messages: ClassVar[bool] = False
    #: The option that names the other mailers a backend sends through (see
    #: ``referenced_mailers``), for error texts.
    references_option: ClassVar[str] = "mailers"
    #: On a stand-in made by :func:`mailcore.testing.redirect_backends`: the backend
    #: the code asked for, whose messages this one delivers instead.
    stands_in_for: BaseEmailBackend | None = None
    #: The alias of the mailer this backend was made for (``mailcore.mailers[alias]``,
    #: ``get_connection(using=alias)``); the frame puts it on each ``result.mailer``.
    alias: str | None = None

    def stand_in_alias(self) -> str | None:
        """The ``result.mailer`` a stand-in (the ``mailoutbox`` fixture) reports for this
        backend: its :attr:`alias` (a composite: the mailer it would send through first)."""
        return self.alias

    options: BackendOptions | None
    option_sources: dict[str, Source]
    #: Signs what this backend sends (the ``dkim`` option or setting), else ``None``.
    dkim_signer: Signer | None = None

    @classmethod
    def takes_over(cls, backend: BaseEmailBackend) -> bool:
        """As the target of :func:`mailcore.testing.redirect_backends`: whether this class
        takes over ``backend``'s delivery now (always, by default; a target may decline,
        e.g. Django's outbox only while Django's test environment is set up)."""
        return True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Route every subclass's ``send_messages`` and ``open`` through the redirect
        check, so that a test's outbox gets the mail however the backend was made."""
        super().__init_subclass__(**kwargs)
        guards: tuple[tuple[str, Callable[..., Any]], ...] = (
            ("send_messages", _guard_send),
            ("open", _guard_open),
            ("asend_messages", _guard_asend),
            ("aopen", _guard_aopen),
        )
        for name, guard in guards:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__mailcore_guarded__", False):
                setattr(cls, name, guard(method))

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        self.fail_silently = fail_silently
        if self.options_model is None:
            # no pydantic needed: keeps `import mailcore; get_connection("locmem")` fast
            from mailcore.config_file import check_no_options

            check_no_options(self.name, options)
            self.options, self.option_sources = None, {}
            return
        from mailcore.settings import load_options

        self.options, self.option_sources = load_options(self.name, self.options_model, options)
        self.dkim_signer = _signer_for(self.options)

    def open(self) -> bool:
        """Open a long-lived connection; return True only if this call opened one."""
        return False

    def close(self) -> None:
        """Close the connection opened by :meth:`open`, if any. Safe to call twice."""

    def check(self) -> str | None:
        """Check, without sending anything, that this backend could send; ``mailcore check``
        calls it and prints the line it returns.

        Returns one line saying what was found, or ``None`` when the backend has nothing
        to check; raises (a :class:`~mailcore.SendError`, a
        :class:`~mailcore.ConfigurationError`) when the check fails. This default opens
        and closes the connection (``None`` when :meth:`open` opens none). A backend whose
        :meth:`open` contacts nothing (an HTTP API) should override it with one cheap
        authenticated call and report what the provider says.
        """
        if not self.open():
            return None
        self.close()
        return f"opened and closed with the {self.name or type(self).__name__} backend."

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages`` (any iterable, read once); return how many the transport
        accepted.

        Opens and closes the connection itself only when it was not already open, and
        sets ``message.result`` (a :class:`~mailcore.results.SendResult`) on each.
        """
        raise NotImplementedError("a backend must implement send_messages()")

    def open_quietly(self, connect: Callable[[], bool]) -> bool:
        """Run ``connect`` (which raises on failure) for :meth:`open`: under
        ``fail_silently`` a transport error (:attr:`transport_errors`) gives False."""
        try:
            return connect()
        except self.transport_errors:
            if self.fail_silently:
                return False
            raise

    # -- the batch frame -------------------------------------------------------------

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """The message as this backend sends it; raises if anything of it is invalid.

        The frame calls this for every message of a batch before connecting, and the
        backend sends what :meth:`prepared` gives back. The default is
        ``message.iter_serialized("\\r\\n")``; override it for another line end, a
        Message-ID domain, or checks of the transport's own (an SMTP envelope).
        """
        return message.iter_serialized("\r\n")

    def prepared(self, message: EmailMessage) -> SerializedMessage:
        """Inside :meth:`deliver_batch`: the bytes :meth:`prepare_message` made for
        ``message`` before the connection was opened (so it is not built twice, and its
        Message-ID is the one reported), signed by :meth:`sign_message`; elsewhere,
        prepared and signed now."""
        batch = _current_batch.get()
        data = None if batch is None else batch.data.get(id(message))
        return data if data is not None else self.sign_message(self.prepare_message(message))

    def sign_message(self, data: SerializedMessage) -> SerializedMessage:
        """``data`` as it goes out: with a DKIM signature on top when this mailer signs
        (the ``dkim`` option, else the ``dkim`` setting), else as it is. The frame signs
        every prepared message; a backend that serializes a message again before sending
        it (SMTP's 7-bit form for a server without 8BITMIME) signs those bytes here too."""
        signer = self.dkim_signer
        return data if signer is None else signer.sign(data)

    def batch_stopped_error(self, cause: BaseException) -> SendError:
        """The error of a message not attempted because ``cause`` stopped the batch: a
        :class:`~mailcore.SendError` saying so, whose ``__cause__`` is ``cause``."""
        error = SendError(f"not sent: the batch stopped at another message ({cause})")
        error.__cause__ = cause
        return error

    def stop_batch(self, messages: Iterable[EmailMessage], cause: BaseException) -> None:
        """Mark ``messages`` failed and not attempted because ``cause`` stopped the batch
        (the one way every backend does it; the frame does it for a batch that raised)."""
        error = self.batch_stopped_error(cause)
        batch = _current_batch.get()
        for message in messages:
            message.result = SendResult("failed", error=error)
            if batch is not None:
                batch.skipped.add(id(message))

    def deliver_batch(
        self,
        messages: Iterable[EmailMessage],
        connect: Callable[[], bool],
        send_batch: Callable[[list[EmailMessage]], int],
    ) -> int:
        """The frame of a backend's :meth:`send_messages`.

        1. ``messages`` (any iterable) is read once; earlier results are cleared.
        2. Every message is prepared (:meth:`prepare_message`) before anything is
           opened: a bad one raises its error, named "message N of M (nothing was
           sent)", with a failed result, and every other message is marked not
           attempted (:meth:`stop_batch`); ``fail_silently`` never hides this.
        3. ``connect`` opens the connection unless one is open (True when it opened it)
           and raises on failure: then every message gets a failed result, and the error
           is raised, unless it is a transport error under ``fail_silently`` (0 is
           returned).
        4. ``send_batch`` sends the messages (each as :meth:`prepared` gives it) and
           returns how many were accepted, setting each result; if it raises, messages
           left without a result are marked not attempted. Each message handed to the
           transport gets ``result.message_id_header`` (unless the backend set it, having
           sent other bytes than the prepared ones).
        5. The connection is closed only if ``connect`` opened it; if closing fails,
           the messages count as not sent (a file session is not kept, say).
        6. Every result without a ``mailer`` gets this backend's :attr:`alias`.
        """
        batch = list(messages)

        def act(step: _Step) -> Any:
            if step == "connect":
                return connect()
            if step == "send":
                return send_batch(batch)
            return self.close()

        try:
            return drive_steps(self._frame(batch), act)
        finally:
            self._name_mailer(batch)

    async def adeliver_batch(
        self,
        messages: Iterable[EmailMessage],
        aconnect: Callable[[], Awaitable[bool]],
        asend_batch: Callable[[list[EmailMessage]], Awaitable[int]],
    ) -> int:
        """:meth:`deliver_batch` for native async code: the same frame and rules (every
        message prepared before anything is opened; nothing sent if one is bad), with
        ``aconnect`` and ``asend_batch`` awaited and :meth:`aclose` closing what
        ``aconnect`` opened."""
        batch = list(messages)

        async def act(step: _Step) -> Any:
            if step == "connect":
                return await aconnect()
            if step == "send":
                return await asend_batch(batch)
            return await self.aclose()

        try:
            return await adrive_steps(self._frame(batch), act)
        finally:
            self._name_mailer(batch)

    def _frame(self, batch: list[EmailMessage]) -> Generator[_Step, Any, int]:
        """The frame both :meth:`deliver_batch` and :meth:`adeliver_batch` run: it asks
        its driver to ``"connect"``, ``"send"`` and ``"close"`` (done there, sync or
        awaited), is sent what connecting and sending returned, has their failure thrown
        in, decides everything else, and returns the number sent."""
        state = self._begin(batch)
        if state is None:
            return 0
        # set before connecting: what connecting starts (the SMTP pool's extra
        # connections, in threads of their own) sends the prepared bytes as well
        token = _current_batch.set(state)
        try:
            opened: bool = yield "connect"
        except GeneratorExit:  # abandoned by its driver (an interrupt there): nothing to do
            raise
        except BaseException as exc:  # a ConfigurationError too: every message failed
            _current_batch.reset(token)
            if self._connect_failed(batch, exc):
                return 0
            raise
        error: BaseException | None = None
        sent = 0
        try:
            sent = yield "send"
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            self.stop_batch([m for m in batch if m.result is None], exc)
        finally:
            _current_batch.reset(token)
        self._stamp(batch, state)
        if opened:
            try:
                yield "close"
            except GeneratorExit:
                raise
            except BaseException as exc:
                if self._close_failed(batch, exc, error):
                    return 0
                raise
        if error is not None:
            raise error
        return sent

    # the steps both frames share: one owner for each rule

    def _begin(self, batch: list[EmailMessage]) -> _Batch | None:
        """Clear earlier results and prepare every message (``None`` for no message)."""
        for message in batch:
            message.result = None
        if not batch:
            return None
        return _Batch(self._prepare_all(batch))

    def _name_mailer(self, batch: list[EmailMessage]) -> None:
        """Every result without a ``mailer`` gets this backend's :attr:`alias`."""
        for message in batch:
            if message.result is not None and message.result.mailer is None:
                message.result.mailer = self.alias

    def _connect_failed(self, batch: list[EmailMessage], exc: BaseException) -> bool:
        """Every message failed with ``exc``; True when it is to be swallowed (0 sent)."""
        for message in batch:
            message.result = SendResult("failed", error=exc)
        return self.fail_silently and isinstance(exc, self.transport_errors)

    def _stamp(self, batch: list[EmailMessage], state: _Batch) -> None:
        """Give each message handed over the Message-ID of its prepared bytes."""
        for message in batch:  # a backend that sent other bytes has set the header itself
            result = message.result
            if result and result.message_id_header is None and id(message) not in state.skipped:
                result.message_id_header = getattr(state.data[id(message)], "message_id", None)

    def _close_failed(
        self, batch: list[EmailMessage], exc: BaseException, error: BaseException | None
    ) -> bool:
        """Closing failed: the messages count as not sent; True when swallowed."""
        if exc.__context__ is None:
            exc.__context__ = error
        for message in batch:
            if message.result is None or message.result.sent:
                message.result = SendResult("failed", error=exc)
        return error is None and self.fail_silently and isinstance(exc, self.transport_errors)

    def _prepare_all(self, batch: list[EmailMessage]) -> dict[int, SerializedMessage]:
        prepared: dict[int, SerializedMessage] = {}
        for index, message in enumerate(batch):
            try:
                prepared[id(message)] = self.sign_message(self.prepare_message(message))
            except Exception as exc:
                _name_message(exc, index, len(batch))
                self.stop_batch([m for m in batch if m is not message], exc)
                message.result = SendResult("failed", error=exc)
                raise
        return prepared

    # -- async -------------------------------------------------------------------------

    #: The worker thread of an async session (:meth:`aopen` on a backend without native
    #: async code): the sync methods run there one after another, so a backend that keeps
    #: its connection per thread finds it again.
    _async_worker: concurrent.futures.ThreadPoolExecutor | None = None

    async def run_sync(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` off the event loop: in the session's worker thread
        when :meth:`aopen` started one, else in :meth:`async_executor` (by default the
        loop's, as :func:`asyncio.to_thread`), with the caller's context variables.

        If the awaiting task is cancelled, :meth:`cancel_requested` becomes true in the
        call, which a sender may check between messages to stop its batch there; the
        call finishes first either way (a thread cannot be stopped halfway, and no
        message is left half-sent): the :class:`asyncio.CancelledError` is raised once
        it has, with every result set.
        """
        import asyncio  # not at import time: keeps `import mailcore` fast

        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        cancelled = threading.Event()
        context.run(_cancelled.set, cancelled)
        call = functools.partial(context.run, function, *args)
        future = loop.run_in_executor(self._async_worker or self.async_executor(), call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait([future])
            if future.done() and not future.cancelled():
                future.exception()  # seen: the results on the messages tell it
            raise

    def cancel_requested(self) -> bool:
        """True in a call run by :meth:`run_sync` whose awaiting task was cancelled: a
        sender checks it before each message and stops the batch there (the messages
        left are marked not attempted, as for any stopped batch). False elsewhere."""
        event = _cancelled.get()
        return event is not None and event.is_set()

    def async_executor(self) -> concurrent.futures.Executor | None:
        """Where :meth:`run_sync` runs calls outside a session: ``None``, the event loop's
        default executor. A backend whose calls wait on a bounded resource (a pool of
        connections) returns an executor with as many threads as it has of it."""
        return None

    async def aopen(self) -> bool:
        """:meth:`open` for async code; True only if this call opened a connection.

        The default runs :meth:`open` in a worker thread kept for the session, where
        :meth:`asend_messages` and :meth:`aclose` then run too. A backend with native
        async code overrides :meth:`aopen`, :meth:`aclose` and :meth:`asend_messages`.
        """
        import concurrent.futures

        made = self._async_worker is None
        if made:
            self._async_worker = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="mailcore-session"
            )
        try:
            opened = bool(await self.run_sync(self.open))
        except BaseException:
            if made:
                self._end_worker()
            raise
        if made and not opened:
            self._end_worker()
        return opened

    async def aclose(self) -> None:
        """:meth:`close` for async code (by default in the session's worker thread,
        which then ends). Safe to call twice."""
        try:
            await self.run_sync(self.close)
        finally:
            self._end_worker()

    def _end_worker(self) -> None:
        worker, self._async_worker = self._async_worker, None
        if worker is not None:
            worker.shutdown(wait=False)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """:meth:`send_messages` for async code: same arguments, results and errors.

        The default runs :meth:`send_messages` in a worker thread, so every backend
        works unchanged without blocking the event loop (the send hooks run on the
        event loop, before and after).
        """
        return await hooks.asend(self, messages, self._asend_in_thread)

    async def _asend_in_thread(self, messages: Iterable[EmailMessage]) -> int:
        result: int = await self.run_sync(self.send_messages, messages)
        return result

    async def __aenter__(self) -> Self:
        try:
            await self.aopen()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Keep the connection open for a block, closing it after only if it opened it."""
        opened = self.open()
        try:
            yield
        finally:
            if opened:
                self.close()

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # safe on a backend whose __init__ failed before setting the options
        if "options" not in self.__dict__:
            return f"<{type(self).__name__} (options not built)>"
        return f"<{type(self).__name__} {self.options!r}>"
