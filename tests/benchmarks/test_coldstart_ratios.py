"""The cold-start benchmark's figures for the command's start-up (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.coldstart import HELP, IMPORT, commands, help_ratios


def test_the_command_start_up_is_timed_against_importing_mailcore() -> None:
    found = commands(with_django=False)

    script = str(Path(sys.executable).with_name("mailcore"))
    assert found[HELP] == [script, "--help"]
    assert found[IMPORT] == [sys.executable, "-c", "import mailcore"]
    assert found["mailcore send --help"] == [script, "send", "--help"]


def test_help_ratios_compare_medians_and_best_runs_with_the_2x_goal() -> None:
    samples = {HELP: [0.30, 0.09, 0.095], IMPORT: [0.05, 0.04, 0.06]}

    ratios = help_ratios(samples)

    assert [(r.label, round(r.value or 0, 2), r.goal, r.met) for r in ratios] == [
        ("time 'mailcore --help' / 'import mailcore' (median)", 1.9, "<= 2.0x", True),
        ("time 'mailcore --help' / 'import mailcore' (best)", 2.25, "<= 2.0x", False),
    ]
    assert help_ratios({HELP: [0.1]}) == []
