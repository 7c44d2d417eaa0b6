"""Plain-text tables with aligned columns, for terminals."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    """Columns padded to their widest cell, separated by two spaces; header underlined."""
    widths = [len(cell) for cell in header]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        return (indent + "  ".join(padded)).rstrip()

    rule = [("-" * width) for width in widths]
    return "\n".join([line(header), line(rule), *(line(row) for row in rows)])
