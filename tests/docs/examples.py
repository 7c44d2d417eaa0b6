"""Collecting the examples of a markdown page: fenced code blocks and test directives.

What runs, per page, in order, in one namespace, in an empty temporary directory:

- every ```` ```python ```` block;
- every ```` ```console ```` block: each ``$ command`` line runs in bash; it must exit 0
  (or the status a ``<!-- test: exit=N -->`` directive before the block gives), and each
  output line shown under it must appear in what the command printed (lines holding
  ``...`` are not compared);
- hidden code in a comment, run at its place in the page: ``<!-- test: setup`` (or
  ``<!-- test: check`` for assertions about what the examples did), then Python lines,
  then ``-->``.

Directives, in an HTML comment (invisible on the site):

- ``<!-- test: skip (reason) -->`` just before a block: do not run it;
- ``<!-- test: exit=N -->`` just before a console block: its commands exit with N;
- ``<!-- test: pytest -->`` just before a python block: the block is a test module; it
  is written to a file and run by pytest in a subprocess, and must pass;
- ``<!-- test: smtp-server -->`` anywhere on the page: before the page runs, start an SMTP
  server on 127.0.0.1 and point ``MAILCORE_SMTP_HOST``/``MAILCORE_SMTP_PORT`` at it;
  the page's namespace gets it as ``test_smtp_server``.

Other blocks (```` ```sh ````, ```` ```toml ````, ```` ```text ````...) are shown, not run;
```` ```toml ```` blocks whose first line is ``# mailcore.toml`` are loaded as a
configuration file and checked against the settings models.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Block", "Page", "read_page"]

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
_DIRECTIVE = re.compile(r"^\s*<!--\s*test:\s*(?P<body>[^\n]*?)\s*-->\s*$")
_SETUP_START = re.compile(r"^\s*<!--\s*test:\s*(setup|check)\s*$")


@dataclass
class Block:
    """One runnable piece of a page."""

    kind: str  # "python", "console", "setup", "toml"
    code: str
    line: int  # the line of the page where the code starts (1-based)
    skip: str | None = None  # the reason, when skipped
    exit_status: int = 0
    pytest: bool = False  # a file of tests: run by pytest in a subprocess


@dataclass
class Page:
    """A page's runnable blocks and page-wide directives."""

    path: Path
    blocks: list[Block] = field(default_factory=list)
    smtp_server: bool = False


def read_page(path: Path) -> Page:
    """Parse ``path`` into its blocks and directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page(path)
    pending: list[str] = []  # directives waiting for the next block
    index = 0
    while index < len(lines):
        line = lines[index]
        if _SETUP_START.match(line):
            end = index + 1
            while end < len(lines) and lines[end].strip() != "-->":
                end += 1
            code = textwrap.dedent("\n".join(lines[index + 1 : end]))
            page.blocks.append(Block("setup", code, index + 2))
            index = end + 1
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            body = directive.group("body")
            if body == "smtp-server":
                page.smtp_server = True
            else:
                pending.append(body)
            index += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            end = index + 1
            closing = fence.group("fence")
            while end < len(lines) and not lines[end].strip().startswith(closing):
                end += 1
            body_lines = lines[index + 1 : end]
            indent = len(fence.group("indent"))
            code = "\n".join(text[indent:] if len(text) >= indent else "" for text in body_lines)
            lang = fence.group("lang").lower()
            kind = {"python": "python", "py": "python", "console": "console", "toml": "toml"}
            if lang in kind:
                block = Block(kind[lang], code + "\n", index + 2)
                for item in pending:
                    if item.startswith("skip"):
                        block.skip = item[4:].strip(" ()") or "no reason given"
                    elif item.startswith("exit="):
                        block.exit_status = int(item[5:])
                    elif item == "pytest" and block.kind == "python":
                        block.pytest = True
                    else:
                        raise ValueError(f"{path}:{index + 1}: unknown test directive {item!r}")
                page.blocks.append(block)
            elif pending:
                raise ValueError(f"{path}:{index + 1}: a test directive before a {lang} block")
            pending = []
            index = end + 1
            continue
        if line.strip() and pending:
            raise ValueError(f"{path}:{index}: directive {pending[0]!r} is not before a block")
        index += 1
    return page
