"""The Django tests' venvs: one per Django series, built once and kept in a cache.

Django is no dependency of the workspace's venv. Each series gets a venv under
``$XDG_CACHE_HOME/mailkern-tests`` (``~/.cache`` by default) with Django (installed once
with uv, online the first time, from uv's cache after), aiosmtpd, and this checkout's
core, SMTP, locmem, celery and Django bridge distributions installed editable (from the
workspace sources, never from an index). Beside it, ``tests/mail`` of the installed Django's source
distribution (Django's own mail tests, not shipped in its wheel), downloaded once with
pip. A stamp file says what was built; a venv whose stamp differs is built again. A lock
file keeps two test runs from building the same venv at once. Each checkout (a CI clone
in a new folder) has its own venvs; those of a checkout that is gone are removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.venvs import REPO, uv

__all__ = ["SERIES", "DjangoVenv", "django_venv"]

#: Django series tested, each with the requirement and the Python it runs on
#: (Django 6.x needs Python 3.12 or later).
SERIES = {
    "5.2": ("django>=5.2,<5.3", "3.11"),
    "6.1": ("django>=6.1,<6.2", "3.13"),
}

#: This checkout's distributions installed in each venv (editable); celery for the
#: queued route (django-celery-email's replacement).
DISTRIBUTIONS = ("core", "plugins/smtp", "plugins/locmem", "plugins/celery", "plugins/django")


@dataclass(frozen=True)
class DjangoVenv:
    """A built venv: its python, the Django version in it, and Django's ``tests`` folder
    (holding ``mail/`` from the source distribution of that version)."""

    python: Path
    version: str
    django_tests: Path


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mailkern-tests"


def _interpreter(version: str) -> str:
    """A CPython ``version`` interpreter: pyenv's, or one on the PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"{version}.*"), reverse=True):
        python = candidate / "bin" / "python3"
        if python.exists():
            return str(python)
    found = shutil.which(f"python{version}")
    if found is None:
        raise RuntimeError(f"the Django tests need Python {version} (pyenv or python{version})")
    return found


def _stamp(series: str) -> dict[str, str]:
    requirement, python = SERIES[series]
    projects = hashlib.sha256()
    for distribution in DISTRIBUTIONS:
        projects.update((REPO / distribution / "pyproject.toml").read_bytes())
    return {
        "requirement": requirement,
        "python": _interpreter(python),
        "repo": str(REPO),
        "projects": projects.hexdigest(),
    }


def _build(where: Path, series: str, stamp: dict[str, str]) -> None:
    shutil.rmtree(where, ignore_errors=True)
    uv("venv", "--quiet", "--seed", str(where / "venv"), "--python", stamp["python"])
    python = str(where / "venv" / "bin" / "python")
    editables = [arg for d in DISTRIBUTIONS for arg in ("-e", str(REPO / d))]
    uv("pip", "install", "--quiet", "--python", python, stamp["requirement"], "aiosmtpd",
       *editables)  # fmt: skip
    version = subprocess.run(
        [python, "-c", "import django; print(django.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    _django_mail_tests(python, version, where / "django-tests")
    (where / "stamp.json").write_text(json.dumps({**stamp, "version": version}))


def _django_mail_tests(python: str, version: str, into: Path) -> None:
    """Extract ``tests/mail`` of Django ``version``'s source distribution into ``into``."""
    downloads = _cache() / "sdists"
    archive = downloads / f"django-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", f"django=={version}", "-d", str(downloads)],
            capture_output=True, check=True, timeout=300,
        )  # fmt: skip
    prefix = f"django-{version}/tests/mail/"
    with tarfile.open(archive) as sdist:
        members = [m for m in sdist.getmembers() if m.name.startswith(prefix) and m.isfile()]
        for member in members:
            target = into / "mail" / member.name.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = sdist.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())


def _remove_venvs_of_removed_checkouts(cache: Path) -> None:
    for stamp in cache.glob("django-*-*/stamp.json"):
        try:
            repo = Path(json.loads(stamp.read_text())["repo"])
        except (OSError, ValueError, KeyError):
            continue
        if not repo.exists():
            shutil.rmtree(stamp.parent, ignore_errors=True)
            (cache / f"{stamp.parent.name}.lock").unlink(missing_ok=True)


def django_venv(series: str) -> DjangoVenv:
    """The venv of Django ``series`` (``"5.2"``, ``"6.1"``), built when missing or stale."""
    stamp = _stamp(series)
    key = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    where = _cache() / f"django-{series}-{key}"
    where.parent.mkdir(parents=True, exist_ok=True)
    with open(where.parent / f"django-{series}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            built = json.loads((where / "stamp.json").read_text())
        except (OSError, ValueError):
            built = {}
        if {k: built.get(k) for k in stamp} != stamp:
            _remove_venvs_of_removed_checkouts(where.parent)
            _build(where, series, stamp)
            built = json.loads((where / "stamp.json").read_text())
    return DjangoVenv(where / "venv" / "bin" / "python", built["version"], where / "django-tests")
