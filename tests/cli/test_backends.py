"""``mailcore backends`` lists the installed backends, their options, and broken plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli.command import Run, run_mailcore

BUILT_IN = {
    "console": ("mailkern-console 0.1.0", "mailcore_console.backend:ConsoleBackend"),
    "dummy": ("mailkern-dummy 0.1.0", "mailcore_dummy.backend:DummyBackend"),
    "file": ("mailkern-file 0.1.0", "mailcore_file.backend:FileBackend"),
    "locmem": ("mailkern-locmem 0.1.0", "mailcore_locmem.backend:LocmemBackend"),
    "ses": ("mailkern-ses 0.1.0", "mailcore_ses.backend:SESBackend"),
    "smtp": ("mailkern-smtp 0.1.0", "mailcore_smtp.backend:SMTPBackend"),
}


def install_metadata_only(site: Path, name: str, entry_points: str) -> None:
    """Make ``site`` hold an installed distribution (its .dist-info) and nothing else:
    Python finds its entry points, but the modules they name do not exist."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def table_rows(text: str) -> dict[str, list[str]]:
    """The first table of the output: backend name -> [distribution, class...]."""
    head = text.split("\n\n")[0].splitlines()[2:]
    rows = {}
    for line in head:
        name, rest = line.split(None, 1)
        rows[name] = rest.split("  ")
    return {name: [cell.strip() for cell in cells if cell.strip()] for name, cells in rows.items()}


@pytest.fixture(scope="module")
def listing() -> Run:
    """``mailcore backends`` in this environment (run once: it imports every backend)."""
    return run_mailcore("backends")


def test_lists_the_six_built_in_backends_with_distribution_and_class(listing: Run) -> None:
    done = listing

    assert done.status == 0, done
    assert done.stderr == ""
    rows = table_rows(done.stdout)
    for name, (distribution, target) in BUILT_IN.items():
        assert rows[name] == [distribution, target]


def test_shows_each_option_with_type_default_and_environment_variable(listing: Run) -> None:
    done = listing

    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "host str localhost MAILCORE_SMTP_HOST" in lines
    assert "port int (>= 1, <= 65535) 25 MAILCORE_SMTP_PORT" in lines
    assert "password SecretStr | None None MAILCORE_SMTP_PASSWORD" in lines
    assert "file_path Path | None None MAILCORE_FILE_PATH" in lines  # the seed's name
    assert "region str | None None MAILCORE_SES_REGION" in lines
    assert any(line.startswith("argument only: stream (TextIO | None") for line in lines)


def test_a_broken_plugin_is_listed_with_its_error_and_the_others_still_work(
    tmp_path: Path,
) -> None:
    install_metadata_only(
        tmp_path,
        "broken-mail",
        """\
        [mailcore.backends]
        broken = broken_mail_gone.backend:Backend
        """,
    )

    done = run_mailcore("backends", env={"PYTHONPATH": str(tmp_path)})

    assert done.status == 0, done
    rows = table_rows(done.stdout)
    assert rows["broken"] == [
        "broken-mail 1.0",
        "broken_mail_gone.backend:Backend",
        "(failed to load)",
    ]
    assert set(BUILT_IN) < set(rows)
    assert done.stdout.rstrip().endswith(
        "Backends that failed to load:\n"
        "  broken (broken-mail 1.0): ModuleNotFoundError: No module named 'broken_mail_gone'"
    )
    sent = run_mailcore(
        "send",
        "--backend=locmem",
        "--to=a@example.com",
        "--subject=s",
        "--body=b",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert sent.status == 0, sent
    broken = run_mailcore(
        "send",
        "--backend=broken",
        "--to=a@example.com",
        "--subject=s",
        "--body=b",
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert broken.error_lines == [
        "mailcore: error: backend 'broken' is installed but failed to load: "
        "ModuleNotFoundError: No module named 'broken_mail_gone'"
    ]


def test_with_no_backend_installed_it_names_the_distributions_to_install() -> None:
    from mailcore.cli.backends import render

    assert render([]) == (
        "No backends are installed: install one of the mailkern-<name> distributions "
        "(mailkern-smtp, mailkern-console, ...)."
    )


CLASHING_CONSOLE = """
    from mailcore import BaseEmailBackend


    class Console(BaseEmailBackend):
        name = "console"
"""


@pytest.fixture(scope="module")
def clashing_console(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with mailcore, mailkern-console and a second distribution that registers
    the short name ``console`` too; returns the venv's python."""
    from tests.support.venvs import make_plugin_distribution, make_venv

    root = tmp_path_factory.mktemp("clash")
    other = make_plugin_distribution(
        root,
        "other-console",
        {"console": "other_console.backend:Console"},
        {"backend": CLASHING_CONSOLE},
    )
    return make_venv(root / "venv", "core", "plugins/console", other)


def _run_in(python: Path, *args: str) -> Run:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    done = subprocess.run(
        [str(python.with_name("mailcore")), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return Run(done)


def test_a_clashing_short_name_lists_each_entry_point_with_its_distribution(
    clashing_console: Path,
) -> None:
    done = _run_in(clashing_console, "backends")

    assert done.status == 0, done
    table = done.stdout.split("\n\n")[0].splitlines()
    rows = [" ".join(line.split()) for line in table[2:]]
    assert rows[:2] == [
        "console mailkern-console 0.1.0 mailcore_console.backend:ConsoleBackend "
        "(name clash: not usable)",
        "console other-console 1.2.3 other_console.backend:Console (name clash: not usable)",
    ]
    assert done.error_lines == [
        "mailcore: warning: the backend name 'console' is registered by 2 entry points: "
        "mailkern-console 0.1.0 (mailcore_console.backend:ConsoleBackend); "
        "other-console 1.2.3 (other_console.backend:Console); none of them wins: "
        'get_connection("console") fails until all but one are uninstalled'
    ]

    sent = _run_in(
        clashing_console, "send", "--backend=console", "--to=bob@example.com",
        "--subject=Hi", "--body=Hello",
    )  # fmt: skip
    assert sent.status == 2, sent
    [line] = sent.error_lines
    assert line.startswith("mailcore: error: backend 'console': multiple implementations found")
    assert "ConsoleBackend, Console" in line


def test_a_missing_backend_of_this_project_says_where_it_comes_from(
    clashing_console: Path,
) -> None:
    done = _run_in(
        clashing_console, "send", "--backend=smtp", "--to=bob@example.com",
        "--subject=Hi", "--body=Hello",
    )  # fmt: skip

    assert done.status == 2, done
    assert done.error_lines == [
        "mailcore: error: no mailcore backend named 'smtp' is installed; it is provided by "
        "the distribution 'mailkern-smtp': install mailkern-smtp from this project "
        "(pip install ./plugins/smtp in a checkout) (installed backends: console; "
        "composite: failover, roundrobin)"
    ]
