"""A base for backends that write readable messages to a stream (console, file)."""

from __future__ import annotations

import codecs
import io
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO, cast

from mailcore.backend import BaseEmailBackend
from mailcore.errors import SendError
from mailcore.results import SendResult

if TYPE_CHECKING:
    from mailcore._wire.mime import SerializedMessage
    from mailcore.message import EmailMessage

__all__ = ["SEPARATOR", "StreamEmailBackend"]

#: The line written after each message.
SEPARATOR = "-" * 79
_SEPARATOR_LINE = (SEPARATOR + "\n").encode("ascii")


class StreamEmailBackend(BaseEmailBackend):
    """Writes each message, then a separator line, to ``self.stream``.

    Subclasses set ``self.stream`` in :meth:`open` (returning True when they did) and
    release it in :meth:`close`. A binary stream (such as a file opened ``"wb"``) gets the
    message's bytes as they are; any other stream gets text, decoded with the message's
    ``encoding`` (UTF-8 by default; undecodable bytes replaced). Either way the message is
    written chunk by chunk (:meth:`~mailcore.EmailMessage.iter_serialized`), so a large
    attachment is never held encoded in full. Every message of a batch is validated
    before the stream is opened: a bad one raises (a bad header
    :class:`~mailcore.errors.BadHeaderError`) and nothing of the batch is written.
    ``fail_silently`` turns an ``OSError`` into failed results.
    """

    transport_errors = (SendError, OSError)

    stream: TextIO | BinaryIO | None

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self.stream = None
        self._lock = threading.RLock()

    def prepare_message(self, message: EmailMessage) -> SerializedMessage:
        """The message's chunks with ``\\n`` line ends (validated before any is written)."""
        return message.iter_serialized()

    def write_message(self, message: EmailMessage) -> None:
        """Write one message (as the batch prepared it) and its separator line, then flush."""
        assert self.stream is not None, "write_message() needs an open stream"
        chunks = self.prepared(message)
        if isinstance(self.stream, io.RawIOBase | io.BufferedIOBase):
            _write_bytes(cast(BinaryIO, self.stream), chunks)
        else:
            _write_text(cast(TextIO, self.stream), chunks, message.encoding or "utf-8")
        self.stream.flush()

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        with self._lock:
            return self.deliver_batch(messages, self.open, self._write_batch)

    def _write_batch(self, messages: list[EmailMessage]) -> int:
        for index, message in enumerate(messages):
            try:
                self.write_message(message)
            except BaseException as exc:
                message.result = SendResult("failed", error=exc)
                self.stop_batch(messages[index + 1 :], exc)
                if self.fail_silently and isinstance(exc, self.transport_errors):
                    return index
                raise
            message.result = SendResult("sent")
        return len(messages)


def _write_all(stream: IO[bytes], data: bytes) -> None:
    """Write all of ``data``: an unbuffered stream may take only part of it per call."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[len(view) if written is None else written :]


def _write_bytes(stream: IO[bytes], chunks: Iterable[bytes]) -> None:
    last = b"\n"
    for chunk in chunks:
        if chunk:
            _write_all(stream, chunk)
            last = chunk
    if not last.endswith(b"\n"):
        _write_all(stream, b"\n")
    _write_all(stream, _SEPARATOR_LINE)


def _write_text(stream: IO[str], chunks: Iterable[bytes], encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    last = "\n"
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            stream.write(text)
            last = text
    text = decoder.decode(b"", final=True)
    if text:
        stream.write(text)
        last = text
    if not last.endswith("\n"):
        stream.write("\n")
    stream.write(SEPARATOR + "\n")
