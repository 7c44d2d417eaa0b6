"""The contract every e-mail backend fulfils: :class:`BaseEmailBackend`.

A backend subclass sets ``name`` (its short name, which is also its settings section),
``options_model`` (a :class:`BackendOptions` subclass declaring its options) and
implements :meth:`BaseEmailBackend.send_messages`; backends with a connection also
implement :meth:`~BaseEmailBackend.open` and :meth:`~BaseEmailBackend.close`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from mailcore.errors import SendError
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore.message import EmailMessage
    from mailcore.options import BackendOptions
    from mailcore.settings import Source

__all__ = ["BaseEmailBackend"]


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

    options: BackendOptions | None
    option_sources: dict[str, Source]

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

    def open(self) -> bool:
        """Open a long-lived connection; return True only if this call opened one."""
        return False

    def close(self) -> None:
        """Close the connection opened by :meth:`open`, if any. Safe to call twice."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        """Send ``messages``; return how many the transport accepted.

        Opens and closes the connection itself only when it was not already open, and
        sets ``message.result`` (a :class:`~mailcore.results.SendResult`) on each.
        """
        raise NotImplementedError("a backend must implement send_messages()")

    def open_quietly(self, connect: Callable[[], bool]) -> bool:
        """Run ``connect`` (which raises on failure) for :meth:`open`: under
        ``fail_silently`` a transport error (:class:`~mailcore.SendError`) gives False."""
        try:
            return connect()
        except SendError:
            if self.fail_silently:
                return False
            raise

    def deliver_batch(
        self,
        messages: Sequence[EmailMessage],
        connect: Callable[[], bool],
        send_batch: Callable[[list[EmailMessage]], int],
    ) -> int:
        """The frame of a transport's :meth:`send_messages`.

        ``connect`` opens the connection unless one is open (True when it opened it) and
        raises on failure; then every message gets a failed result, and the error is
        raised, unless it is a transport error under ``fail_silently`` (0 is returned).
        ``send_batch`` sends the messages over the open connection and returns how many
        were accepted; the connection is closed afterwards only if ``connect`` opened it.
        """
        batch = list(messages)
        if not batch:
            return 0
        try:
            opened = connect()
        except BaseException as exc:  # a ConfigurationError too: every message failed
            for message in batch:
                message.result = SendResult("failed", error=exc)
            if self.fail_silently and isinstance(exc, SendError):
                return 0
            raise
        try:
            return send_batch(batch)
        finally:
            if opened:
                self.close()

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
        return f"<{type(self).__name__} {self.options!r}>"
