"""The ``mailcore`` command (being written)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    print("mailcore: command not written yet", file=sys.stderr)
    return 2
