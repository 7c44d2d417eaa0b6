"""The web preview of ``mailcore debug-server --web`` (the ``mailkern-smtp[web]`` extra).

:mod:`~mailcore_smtp.web.store` and :mod:`~mailcore_smtp.web.mime` need only the
standard library; :mod:`~mailcore_smtp.web.app` needs aiohttp, which is imported only
when the preview is started (:func:`missing_extra` says whether it can be).
"""

from __future__ import annotations

import importlib.util
import ipaddress

__all__ = ["EXTRA", "INSTALL", "is_loopback", "missing_extra"]

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

#: What to install for the preview: the distribution is not on the public package index,
#: so the command installs the core and the plugin with its extra from the checkout.
EXTRA = "mailkern-smtp[web]"
INSTALL = "pip install ./core './plugins/smtp[web]' (from the mailcore checkout)"


def missing_extra() -> str | None:
    """None when the preview can run; else the one-line reason (aiohttp is not installed)."""
    try:
        found = importlib.util.find_spec("aiohttp") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"--web needs aiohttp, which is not installed: {INSTALL}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
