"""The console backend: each message, then a separator line, to a text stream."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from mailcore import StreamEmailBackend, URLScheme

__all__ = ["ConsoleBackend"]


#: ``console://``: a URL without host, port or path.
URL_SCHEMES = {"console": URLScheme()}


class ConsoleBackend(StreamEmailBackend):
    """Writes messages to ``stream`` (an argument only; default: ``sys.stdout``)."""

    name = "console"
    url_schemes = URL_SCHEMES

    def __init__(
        self, fail_silently: bool = False, stream: TextIO | None = None, **options: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **options)
        self._target = stream

    def open(self) -> bool:
        if self.stream is not None:
            return False
        self.stream = self._target if self._target is not None else sys.stdout
        return True

    def close(self) -> None:
        self.stream = None
