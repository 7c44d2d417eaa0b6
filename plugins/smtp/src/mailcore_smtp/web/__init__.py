"""The web preview of ``mailcore debug-server --web`` (the ``mailkern-smtp[web]`` extra).

:mod:`~mailcore_smtp.web.store` and :mod:`~mailcore_smtp.web.mime` need only the
standard library; :mod:`~mailcore_smtp.web.app` needs aiohttp, which is imported only
when the preview is started (:func:`missing_extra` says whether it can be).
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRA", "missing_extra"]

#: What to install for the preview.
EXTRA = "mailkern-smtp[web]"


def missing_extra() -> str | None:
    """None when the preview can run; else the one-line reason (aiohttp is not installed)."""
    try:
        found = importlib.util.find_spec("aiohttp") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"--web needs aiohttp, which is not installed: pip install '{EXTRA}'"
