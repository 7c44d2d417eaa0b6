"""The file backend: each open/close session becomes one ``.log`` file in ``file_path``.

Messages are written to a hidden temporary file in the same directory, which is renamed
into place on ``close()``: a reader never sees a partial file. Each message goes to the
file as its bytes, chunk by chunk, so a large attachment is never held encoded in full.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, ClassVar

from mailcore import (
    BackendOptions,
    ConfigurationError,
    DKIMOptions,
    EmailMessage,
    StreamEmailBackend,
    URLScheme,
)

__all__ = ["FileBackend", "FileOptions"]


#: ``file:///absolute/path``: the path is ``file_path``.
URL_SCHEMES = {"file": URLScheme(path="file_path", required=("path",))}


class FileOptions(BackendOptions):
    """Options of the file backend."""

    env_names: ClassVar[dict[str, str]] = {"file_path": "MAILCORE_FILE_PATH"}

    #: Directory the session files are written to (created if missing).
    file_path: Path | None = None
    #: Sign every message with DKIM (see :class:`mailcore.DKIMOptions`); unset: the
    #: core ``dkim`` setting applies, if any.
    dkim: DKIMOptions | None = None


class FileBackend(StreamEmailBackend):
    """Writes each session's messages to ``<file_path>/<timestamp>-<id>.log``."""

    name = "file"
    url_schemes = URL_SCHEMES
    options_model = FileOptions
    options: FileOptions

    def __init__(self, fail_silently: bool = False, **options: Any) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        directory = self.options.file_path
        if directory is None:
            raise ConfigurationError(
                "the file backend needs 'file_path' (the MAILCORE_FILE_PATH environment "
                "variable, file_path in the [file] table, or file_path=...)"
            )
        directory = directory.expanduser().absolute()
        if directory.exists() and not directory.is_dir():
            raise ConfigurationError(
                f"file backend: file_path {str(directory)!r} is not a directory"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"file backend: cannot create file_path {str(directory)!r}: {exc.strerror}"
            ) from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ConfigurationError(f"file backend: file_path {str(directory)!r} is not writable")
        self.directory = directory
        self._temp_path: Path | None = None
        #: The files this backend has completed, in order.
        self.written: list[Path] = []

    def _final_name(self) -> Path:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        return self.directory / f"{stamp}-{uuid.uuid4().hex[:16]}.log"

    def open(self) -> bool:
        if self.stream is not None:
            return False
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".mailcore-", suffix=".tmp")
        self._temp_path = Path(temp)
        # unbuffered: after a failed write, truncating leaves no stale buffer to flush later
        self.stream = os.fdopen(fd, "wb", buffering=0)
        return True

    def write_message(self, message: EmailMessage) -> None:
        """Write one message; if writing fails part-way, cut the file back to where the
        message began, so a published session file never ends in a partial message."""
        stream = self.stream
        assert stream is not None, "write_message() needs an open session"
        start = stream.tell()
        try:
            super().write_message(message)
        except BaseException:
            with contextlib.suppress(OSError):
                stream.truncate(start)
                stream.seek(start)
            raise

    def close(self) -> None:
        stream, temp = self.stream, self._temp_path
        self.stream, self._temp_path = None, None
        if stream is None or temp is None:
            return
        try:
            empty = stream.tell() == 0
            stream.flush()
            os.fsync(stream.fileno())
        finally:
            stream.close()
        if empty:
            temp.unlink(missing_ok=True)
            return
        final = self._final_name()
        os.replace(temp, final)
        self.written.append(final)
