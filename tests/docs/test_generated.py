"""The docs' generated tables say what the code says, and every backend page uses them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mailcore.discovery import installed_backends
from mailcore.settings import CoreSettings, env_var_name

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    """docs/hooks/generated.py, the MkDocs hook, imported from its file."""
    spec = importlib.util.spec_from_file_location("docs_hook", REPO / "docs/hooks/generated.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_hook"] = module
    spec.loader.exec_module(module)
    return module


def cells(line: str) -> list[str]:
    """The cells of a markdown table row; a ``|`` inside backticks is not a separator."""
    found, current, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            found.append(current.strip())
            current = ""
        else:
            current += char
    return [*found, current.strip()]


def rows(table: str) -> dict[str, list[str]]:
    """A markdown table's body: first cell (without backticks) -> the cells."""
    found = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        row = cells(line)
        found[row[0].strip("`")] = row
    return found


def test_the_settings_table_lists_every_core_setting(hook: ModuleType) -> None:
    table = rows(hook.settings_table())

    assert list(table) == list(CoreSettings.model_fields)
    assert table["backend"][1:5] == ["`str`", "`smtp`", "`MAILCORE_BACKEND`", "`backend`"]
    assert table["subject_prefix"][2] == "`'[mailcore] '`"
    assert table["admins"][3] == "`MAILCORE_ADMINS`"
    assert all(row[5] for row in table.values()), "every setting has a description"


@pytest.mark.parametrize("name", ["smtp", "ses", "file"])
def test_an_options_table_lists_every_option_of_the_model(hook: ModuleType, name: str) -> None:
    [info] = [info for info in installed_backends() if info.name == name]
    assert info.backend_class is not None and info.backend_class.options_model is not None
    model = info.backend_class.options_model

    table = rows(hook.options_table(name))

    assert list(table) == list(model.model_fields)
    for option, row in table.items():
        assert row[3] == f"`{env_var_name(name, option, model)}`"


def test_the_file_path_variable_is_the_seeds_name(hook: ModuleType) -> None:
    assert rows(hook.options_table("file"))["file_path"][3] == "`MAILCORE_FILE_PATH`"


def test_the_smtp_password_is_marked_secret(hook: ModuleType) -> None:
    password = rows(hook.options_table("smtp"))["password"]
    assert password[1] == "`SecretStr | None`"
    assert "secret" in password[4].lower()


def test_the_console_stream_is_an_argument_not_a_setting(hook: ModuleType) -> None:
    text = hook.options_table("console")
    assert text.startswith("The `console` backend has no settings.")
    assert '`get_connection("console", stream=...)`' in text


def test_a_marker_for_something_missing_fails_the_build(hook: ModuleType) -> None:
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="no mailcore backend named 'nosuch'"):
        hook.expand("<!-- mailcore:options nosuch -->")
    with pytest.raises(PluginError, match="no such command"):
        hook.expand("<!-- mailcore:help nosuch -->")
    with pytest.raises(PluginError, match="unknown marker"):
        hook.expand("<!-- mailcore:colours -->")


def test_help_is_the_commands_own(hook: ModuleType) -> None:
    text = hook.expand("<!-- mailcore:help send -->")
    assert text.startswith("```text\nusage: mailcore send [-h] [--debug]")
    assert "--eml FILE" in text


@pytest.mark.parametrize("name", [info.name for info in installed_backends()])
def test_every_backend_page_generates_its_options_table(name: str) -> None:
    page = REPO / "docs" / "backends" / f"{name}.md"
    text = page.read_text(encoding="utf-8")
    assert f"<!-- mailcore:options {name} -->" in text
    assert "| option |" not in text, "an options table copied by hand"
