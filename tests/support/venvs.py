"""Throwaway virtual environments and plugin distributions, built offline with uv.

``make install`` fills uv's cache with everything the workspace needs (hatchling
included), so these installs never touch the network.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

__all__ = ["REPO", "make_plugin_distribution", "make_venv", "run_python"]

REPO = Path(__file__).resolve().parents[2]


def _uv(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "uv", *args], check=True, capture_output=True, text=True)


def make_venv(where: Path, *distributions: Path | str) -> Path:
    """Create a venv at ``where`` with the given local distributions; return its python."""
    _uv("venv", "--quiet", str(where), "--python", sys.executable)
    python = where / "bin" / "python"
    specs = [str(REPO / d) if isinstance(d, str) else str(d) for d in distributions]
    _uv("pip", "install", "--quiet", "--offline", "--python", str(python), *specs)
    return python


def make_plugin_distribution(
    where: Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write a minimal third-party plugin project (hatchling) and return its folder."""
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

            [project.entry-points."mailcore.backends"]
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
