"""Crash and broker-restart runs at test size (``make bench`` runs the full size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.celery.scenarios import broker_restart_run, crash_run


@pytest.mark.timeout(150)
def test_sigkilled_workers_lose_nothing_and_every_duplicate_is_counted(tmp_path: Path) -> None:
    outcome = crash_run(tmp_path, messages=600, workers=3, kill_every=2.0)
    print(outcome)
    assert outcome.kills >= 1  # ready workers SIGKILLed while sending (more under load)
    assert outcome.lost == 0
    assert outcome.duplicates <= outcome.unknown
    assert outcome.states_match
    assert outcome.counts["sent"] == 600
    assert outcome.counts["queued"] == outcome.counts["failed"] == 0


@pytest.mark.timeout(150)
def test_broker_restart_loses_nothing(tmp_path: Path) -> None:
    outcome = broker_restart_run(tmp_path, messages=300, down_for=5.0)
    print(outcome)
    assert outcome.lost == 0
    assert outcome.duplicates <= outcome.unknown
    assert outcome.states_match
    assert outcome.counts["sent"] == 300
