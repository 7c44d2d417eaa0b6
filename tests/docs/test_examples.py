"""Every example in the documentation and the README runs, so the docs cannot drift.

Each page is one test: its blocks run in order, in one namespace, in the empty working
directory the shared fixture gives every test (no MAILCORE_* variables, no settings
file). See :mod:`tests.docs.examples` for what runs and the directives pages may use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.docs.examples import Block, Page, read_page

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [*sorted(DOCS.rglob("*.md")), REPO / "README.md"]
VENV_BIN = Path(sys.executable).parent


def _page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def _run_python(page: Page, block: Block, namespace: dict[str, Any]) -> None:
    # Padding keeps the page's line numbers, so a traceback points into the markdown.
    code = compile("\n" * (block.line - 1) + block.code, str(page.path), "exec")
    exec(code, namespace)


def _run_pytest(page: Page, block: Block) -> None:
    module = Path(f"test_example_line_{block.line}.py")
    module.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    where = f"{_page_id(page.path)}:{block.line}"
    assert done.returncode == 0, f"{where}: the example's tests failed:\n{done.stdout}"
    assert " passed" in done.stdout, f"{where}: no test ran:\n{done.stdout}"


def _commands(block: Block) -> Iterator[tuple[str, list[str], int]]:
    """``(command, output lines shown under it, line)`` for each ``$`` line."""
    lines = block.code.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            index += 1
            continue
        start = index
        command = line[2:]
        while command.endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command[:-1] + " " + lines[index].strip()
        index += 1
        shown = []
        while index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        yield command, shown, block.line + start


def _normal(text: str) -> str:
    return " ".join(text.split())


def _run_console(page: Page, block: Block) -> None:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["COLUMNS"] = "88"
    for command, shown, line in _commands(block):
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        where = f"{_page_id(page.path)}:{line}: $ {command}"
        printed = done.stdout + done.stderr
        assert done.returncode == block.exit_status, (
            f"{where}\nexited {done.returncode}, expected {block.exit_status}:\n{printed}"
        )
        actual = _normal(printed)
        for expected in shown:
            if expected.strip() and "..." not in expected:
                assert _normal(expected) in actual, (
                    f"{where}\nthe page shows {expected.strip()!r}, the command printed:\n{printed}"
                )


def _check_toml(page: Page, block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``# mailcore.toml`` block is a valid configuration for every section it has."""
    import tomllib

    from mailcore.discovery import load_backend
    from mailcore.settings import CoreSettings, load_options

    document = tomllib.loads(block.code)
    if not block.code.lstrip().startswith("# mailcore.toml"):
        return
    path = Path(f"checked-{block.line}.toml").absolute()
    path.write_text(block.code, encoding="utf-8")
    with monkeypatch.context() as patch:
        patch.setenv("MAILCORE_CONFIG", str(path))
        core, sources = load_options(None, CoreSettings)
        if "mailers" in document:  # named mailers: each built and validated
            from mailcore.settings import _build_mailers

            assert set(_build_mailers(core, sources, {}, {})) >= set(document["mailers"])
        for section, table in document.items():
            if isinstance(table, dict) and section != "mailers":
                model = load_backend(section).options_model
                assert model is not None, f"[{section}] configures a backend without options"
                load_options(section, model)
    path.unlink()


def _restore_environment(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_the_examples_of_the_page_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = read_page(path)
    runnable = [block for block in page.blocks if block.skip is None]
    if not runnable:
        pytest.skip("the page has no runnable example")
    name = "docs_" + re.sub(r"\W", "_", _page_id(path).removesuffix(".md"))
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    namespace = module.__dict__
    environment = dict(os.environ)  # examples may set variables: put them back after
    stack = ExitStack()
    stack.callback(_restore_environment, environment)
    with stack:
        if page.smtp_server:
            from tests.support.smtp_servers import RecordingSMTPServer

            server = stack.enter_context(RecordingSMTPServer())
            monkeypatch.setenv("MAILCORE_SMTP_HOST", server.host)
            monkeypatch.setenv("MAILCORE_SMTP_PORT", str(server.port))
            namespace["test_smtp_server"] = server
        for block in runnable:
            if block.pytest:
                _run_pytest(page, block)
            elif block.kind in ("python", "setup"):
                _run_python(page, block, namespace)
            elif block.kind == "console":
                _run_console(page, block)
            elif block.kind == "toml":
                _check_toml(page, block, monkeypatch)
