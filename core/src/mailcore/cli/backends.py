"""``mailcore backends``: the installed backends, their distributions and their options."""

from __future__ import annotations

import argparse
import sys

from mailcore.cli.errors import EXIT_OK
from mailcore.cli.options import argument_only_parameters, describe_options
from mailcore.cli.parser import Handler
from mailcore.cli.table import format_table
from mailcore.discovery import BackendInfo, installed_backends

__all__ = ["register", "render"]

DESCRIPTION = """\
List the installed backends (entry points in the 'mailcore.backends' group): short name,
distribution and version, class, and each backend's options with their type, default and
environment variable. Plugins that fail to load are listed with the reason.
"""


def register(parser: argparse.ArgumentParser) -> Handler:
    """Add the arguments of ``mailcore backends`` to ``parser``; return its handler."""
    parser.description = DESCRIPTION
    return run


def _distribution(info: BackendInfo) -> str:
    if info.distribution is None:
        return "(unknown)"
    return f"{info.distribution} {info.version}" if info.version else info.distribution


def _options_section(info: BackendInfo) -> str:
    assert info.backend_class is not None
    lines = [f"{info.name} options:"]
    model = info.backend_class.options_model
    options = describe_options(info.name, model) if model is not None else []
    if options:
        rows = [[o.name, o.type, o.default, o.env_var] for o in options]
        header = ["option", "type", "default", "environment variable"]
        lines.append(format_table(header, rows, indent="  "))
    else:
        lines.append("  (no options)")
    for argument in argument_only_parameters(info.backend_class):
        lines.append(
            f"  argument only: {argument.name} ({argument.type}, default {argument.default}), "
            f'e.g. get_connection("{info.name}", {argument.name}=...)'
        )
    return "\n".join(lines)


def render(infos: list[BackendInfo]) -> str:
    """The full text ``mailcore backends`` prints for ``infos``."""
    if not infos:
        return (
            "No backends are installed: install one of the mailkern-<name> distributions "
            "(mailkern-smtp, mailkern-console, ...)."
        )
    rows = []
    for info in infos:
        state = "" if info.loaded else "  (failed to load)"
        state += "  (name clash: not usable)" if info.clashes else ""
        rows.append([info.name, _distribution(info), info.target + state])
    sections = [format_table(["backend", "distribution", "class"], rows)]
    sections += [_options_section(info) for info in infos if info.loaded]
    broken = [info for info in infos if not info.loaded]
    if broken:
        lines = ["Backends that failed to load:"]
        lines += [f"  {info.name} ({_distribution(info)}): {info.error}" for info in broken]
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def clash_warnings(infos: list[BackendInfo]) -> list[str]:
    """One line per short name that several entry points register: stevedore (which
    loads backends by name) picks none of them, so asking for that name fails."""
    lines = []
    for name in dict.fromkeys(info.name for info in infos if info.clashes):
        owners = [f"{_distribution(i)} ({i.target})" for i in infos if i.name == name]
        lines.append(
            f"mailcore: warning: the backend name {name!r} is registered by "
            f"{len(owners)} entry points: {'; '.join(owners)}; none of them wins: "
            f'get_connection("{name}") fails until all but one are uninstalled'
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the table (and a warning line on stderr per clashing name); broken plugins
    are shown but do not change the exit status."""
    infos = installed_backends(core=True)
    print(render(infos))
    sys.stdout.flush()
    for line in clash_warnings(infos):
        print(line, file=sys.stderr)
    return EXIT_OK
