"""The Django venvs (one per Django series, cached: see :mod:`tests.django.venvs`), and a
way to run a script of ``tests/django/inside`` in one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.django.venvs import SERIES, DjangoVenv, django_venv

INSIDE = Path(__file__).parent / "inside"


@pytest.fixture(scope="session", params=sorted(SERIES), ids=lambda s: f"django-{s}")
def venv(request: pytest.FixtureRequest) -> DjangoVenv:
    """The venv of one Django series (each test using it runs once per series)."""
    return django_venv(str(request.param))


def _clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILCORE_", "DJANGO_"))}
    env.pop("PYTHONPATH", None)
    return env


def run_django_test(
    venv: DjangoVenv, project: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -W error -m django test`` (Django's test runner, warnings as errors) in
    ``project``, with ``env``."""
    return subprocess.run(
        [str(venv.python), "-W", "error", "-m", "django", "test", "-v", "1"],
        cwd=project, env={**_clean_environment(), **env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def run_inside(
    venv: DjangoVenv, script: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> Any:
    """Run ``inside/<script>`` with the venv's python in ``cwd`` (no ``MAILCORE_*``
    variables unless ``env`` gives some); return the JSON it wrote to ``result.json``."""
    output = cwd / "result.json"
    clean = _clean_environment()
    done = subprocess.run(
        [str(venv.python), str(INSIDE / script), *args, str(output)],
        cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(output.read_text())
