"""How the command reports mistakes: one line on stderr and an exit status."""

from __future__ import annotations

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
