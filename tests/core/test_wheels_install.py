"""The distributions' names cannot be confused with another project's (issue 10, item 19).

Every distribution is built as a wheel; a plugin wheel installed with ``--no-index
--find-links`` into an empty venv gets this repository's core, and without the core's
wheel at hand the install fails instead of fetching a ``mailkern`` from anywhere else.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.venvs import REPO, build_wheels, empty_venv, run_python, uv, wheel_metadata

DISTRIBUTIONS = {
    "mailkern",
    "mailkern-celery",
    "mailkern-console",
    "mailkern-django",
    "mailkern-dummy",
    "mailkern-file",
    "mailkern-locmem",
    "mailkern-ses",
    "mailkern-smtp",
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every distribution's wheel, built once for this module."""
    return build_wheels(tmp_path_factory.mktemp("wheels"))


def _requirements(wheel: Path) -> list[Requirement]:
    return [Requirement(text) for text in wheel_metadata(wheel).get_all("Requires-Dist") or []]


def _venv_with_core_dependencies(where: Path, core_wheel: Path) -> Path:
    """An empty venv, then the core's own third-party dependencies (offline, from uv's
    cache): what an index would provide. mailkern itself is not installed."""
    python = empty_venv(where)
    needed = [str(r) for r in _requirements(core_wheel) if r.marker is None]
    uv("pip", "install", "--quiet", "--offline", "--python", str(python), *needed)
    return python


def _install_offline(python: Path, find_links: Path, *names: str) -> tuple[int, str]:
    """``uv pip install --no-index --offline --find-links DIR NAMES``: status, stderr."""
    done = uv(
        "pip",
        "install",
        "--no-index",
        "--offline",
        "--find-links",
        str(find_links),
        "--python",
        str(python),
        *names,
        check=False,
    )
    return done.returncode, done.stderr


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    env.pop("PYTHONPATH", None)  # only what the venv holds
    return env


def test_every_distribution_builds_and_the_plugins_depend_on_mailkern(
    wheels: dict[str, Path],
) -> None:
    assert set(wheels) == DISTRIBUTIONS
    assert {str(wheel_metadata(w)["Version"]) for w in wheels.values()} == {"0.1.0"}
    for name, wheel in wheels.items():
        depends_on = {r.name for r in _requirements(wheel)}
        assert not any(dep.startswith("mailcore") for dep in depends_on), (name, depends_on)
        if name != "mailkern":
            assert "mailkern" in depends_on, name
        # only the Django bridge needs Django
        assert ("django" in depends_on) == (name == "mailkern-django"), (name, depends_on)


def test_a_plugin_wheel_gets_this_repositorys_core(wheels: dict[str, Path], tmp_path: Path) -> None:
    python = _venv_with_core_dependencies(tmp_path / "venv", wheels["mailkern"])
    find_links = wheels["mailkern"].parent

    status, stderr = _install_offline(python, find_links, "mailkern-console")

    assert status == 0, stderr
    done = run_python(
        python,
        """
        import importlib.metadata, pathlib, sys
        import mailcore
        print(pathlib.Path(mailcore.__file__).resolve())
        print(importlib.metadata.version("mailkern"))
        print(sorted(d.metadata["Name"] for d in importlib.metadata.distributions()
                     if d.metadata["Name"].startswith(("mailcore", "mailkern"))))
        with mailcore.get_connection("console") as connection:
            sent = mailcore.send_mail("Hi", "Body", "a@example.com", ["b@example.com"],
                                      connection=connection)
        print("sent", sent)
        """,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    location, version, names, *console = done.stdout.splitlines()
    installed = Path(location)
    assert installed.is_relative_to((tmp_path / "venv").resolve())
    assert installed.read_bytes() == (REPO / "core/src/mailcore/__init__.py").read_bytes()
    assert version == "0.1.0"
    assert names == "['mailkern', 'mailkern-console']"
    assert "Subject: Hi" in console
    assert console[-1] == "sent 1"


def test_without_the_core_wheel_the_install_fails_and_fetches_nothing(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    python = _venv_with_core_dependencies(tmp_path / "venv", wheels["mailkern"])
    plugins_only = tmp_path / "plugins-only"
    plugins_only.mkdir()
    for name, wheel in wheels.items():
        if name != "mailkern":
            shutil.copy(wheel, plugins_only)

    status, stderr = _install_offline(python, plugins_only, "mailkern-console")

    assert status != 0
    assert "mailkern was not found" in stderr, stderr
    done = run_python(
        python,
        """
        import importlib.util, importlib.metadata
        print(importlib.util.find_spec("mailcore"), importlib.util.find_spec("mailcore_console"))
        print([d.metadata["Name"] for d in importlib.metadata.distributions()
               if d.metadata["Name"].startswith(("mailcore", "mailkern"))])
        """,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["None None", "[]"]
