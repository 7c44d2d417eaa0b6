"""How the command reports mistakes: one line on stderr and an exit status."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from mailcore.errors import MailcoreError, SendError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_USAGE",
    "UsageError",
    "describe",
    "exit_status",
    "log_to_stderr",
    "report",
]

EXIT_OK = 0
#: The command was right but the work failed: a refused connection, a refused message.
EXIT_FAILED = 1
#: A mistake in the command or the configuration: nothing was attempted.
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Standard output was a pipe whose reader had gone (``mailcore check | head -3``): 128 +
#: SIGPIPE, the status a shell reports for a Unix tool that SIGPIPE stopped.
EXIT_PIPE_CLOSED = 141


class UsageError(MailcoreError):
    """A mistake in how the command was called (a missing argument, an unreadable file)."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException) -> str:
    """The error as one line of text, naming its kind when its text alone is unclear."""
    text = _one_line(str(exc))
    if isinstance(exc, MailcoreError):
        return text or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror and not text.startswith("["):
        return text
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def exit_status(exc: BaseException) -> int:
    """``EXIT_FAILED`` for delivery and connection failures, ``EXIT_USAGE`` for mistakes."""
    if isinstance(exc, SendError | OSError):
        return EXIT_FAILED
    if isinstance(exc, MailcoreError | ValueError):
        return EXIT_USAGE
    return EXIT_FAILED


def report(exc: BaseException, debug: bool, stream: TextIO | None = None) -> int:
    """Print ``exc`` as ``mailcore: error: ...`` (with the traceback under ``--debug``)."""
    stream = stream or sys.stderr
    if debug:
        import traceback  # only here: it costs start-up time

        traceback.print_exception(exc, file=stream)
    expected = isinstance(exc, MailcoreError | OSError | ValueError)
    hint = "" if expected or debug else " (this looks like a bug: run with --debug to see where)"
    print(f"mailcore: error: {describe(exc)}{hint}", file=stream)
    return exit_status(exc)


class _OneLineHandler(logging.Handler):
    """A record of mailcore's loggers (a failed after-send hook) as one line on stderr,
    ``mailcore: warning: ...`` ending with its exception; ``--debug`` adds the
    traceback. A warning: what was logged did not change the command's outcome."""

    def __init__(self, debug: bool) -> None:
        super().__init__(logging.WARNING)
        self.debug = debug

    def emit(self, record: logging.LogRecord) -> None:
        text = _one_line(record.getMessage())
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            text = f"{text}: {describe(exc)}"
        if self.debug and exc is not None:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        print(f"mailcore: warning: {text}", file=sys.stderr)


def log_to_stderr(debug: bool) -> logging.Handler:
    """Show the records of the ``mailcore`` loggers as :class:`_OneLineHandler` does,
    until :func:`logging.Logger.removeHandler` is given the handler returned."""
    handler = _OneLineHandler(debug)
    logging.getLogger("mailcore").addHandler(handler)
    return handler
