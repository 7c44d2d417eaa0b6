"""Throwaway virtual environments and plugin distributions, built offline with uv.

``make install`` fills uv's cache with everything the workspace needs (hatchling
included), so these installs never touch the network.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import textwrap
import zipfile
from email.message import Message
from pathlib import Path

__all__ = [
    "REPO",
    "build_wheels",
    "empty_venv",
    "make_plugin_distribution",
    "make_venv",
    "run_python",
    "uv",
    "wheel_metadata",
]

REPO = Path(__file__).resolve().parents[2]


def uv(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``uv ARGS`` (the one installed in the test environment); with ``check``, a
    failure raises :class:`subprocess.CalledProcessError`."""
    return subprocess.run(
        [sys.executable, "-m", "uv", *args],
        check=check,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def build_wheels(out: Path) -> dict[str, Path]:
    """Build the wheel of every distribution of the workspace into ``out``, offline; return
    them by distribution name (``mailkern``, ``mailkern-smtp``, ...)."""
    uv(
        "build",
        "--wheel",
        "--all-packages",
        "--offline",
        "--quiet",
        "--out-dir",
        str(out),
        cwd=REPO,
    )
    wheels = {}
    for wheel in sorted(out.glob("*.whl")):
        wheels[str(wheel_metadata(wheel)["Name"])] = wheel
    return wheels


def wheel_metadata(wheel: Path) -> Message:
    """The core metadata (``METADATA`` of the ``.dist-info``) of a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


def empty_venv(where: Path) -> Path:
    """Create a venv at ``where`` with nothing installed in it; return its python."""
    uv("venv", "--quiet", str(where), "--python", sys.executable)
    return where / "bin" / "python"


def make_venv(where: Path, *distributions: Path | str) -> Path:
    """Create a venv at ``where`` with the given local distributions; return its python."""
    python = empty_venv(where)
    specs = [str(REPO / d) if isinstance(d, str) else str(d) for d in distributions]
    uv("pip", "install", "--quiet", "--offline", "--python", str(python), *specs)
    return python


def make_plugin_distribution(
    where: Path,
    distribution: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
    group: str = "mailcore.backends",
) -> Path:
    """Write a minimal third-party plugin project (hatchling) whose ``entry_points`` are in
    ``group``, and return its folder."""
    package = distribution.replace("-", "_")
    project = where / distribution
    source = project / "src" / package
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    for name, code in modules.items():
        (source / f"{name}.py").write_text(textwrap.dedent(code))
    lines = "\n".join(f'{name} = "{target}"' for name, target in entry_points.items())
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{distribution}"
            version = "1.2.3"
            dependencies = ["mailkern"]

            [project.entry-points."{group}"]
            """
        )
        + lines
        + textwrap.dedent(
            f"""

            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/{package}"]
            """
        )
    )
    return project


def run_python(
    python: Path, code: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``python``; return the finished process (never raises on failure)."""
    return subprocess.run(
        [str(python), "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
