"""Hypothesis profiles of the fuzz suite (see :mod:`.profiles`) and, with ``MAILKERN_FUZZ=1``,
a summary of the examples run per property at the end of the run."""

from __future__ import annotations

import pytest

from tests.reliability.fuzz import profiles, tally


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if profiles.ACTIVE_PROFILE != profiles.FULL_PROFILE or not tally.outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fuzz: examples run per property")
    for prop, counts in sorted(tally.outcomes.items()):
        details = ", ".join(f"{outcome}: {n}" for outcome, n in counts.most_common())
        write(f"{prop}: {sum(counts.values())} examples ({details})")
