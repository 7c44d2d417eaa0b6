"""The fault matrix through the async API: every case of the SMTP matrix and of the
failover column is run twice, through ``send_messages`` and through ``asend_messages``,
against its own real server; both keep the rules (no loss, no duplicate, no silent or
false failure), and the async path gives exactly the sync path's results: each
message's status, queue id, refused recipients, error class, ``stage``, SMTP code and
``outcome_unknown``, and the raised error's, with the same count returned."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability.fault_matrix import CASES, FAILOVER_CASES, Case, Figures
from tests.reliability.test_fault_matrix import _check, _starved, run_case, run_failover_case
from tests.support.certs import TestCertificates


@pytest.fixture
def trusted_ca(certs: TestCertificates, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


Run = tuple[Figures, list[str]]


def _both(
    case: Case, certs: TestCertificates, failover: bool
) -> tuple[Run, Run, list[object], list[object]]:
    run = run_failover_case if failover else run_case
    sync_seen: list[object] = []
    async_seen: list[object] = []
    sync_run = run(case, certs, api="sync", seen=sync_seen)
    async_run = run(case, certs, api="async", seen=async_seen)
    return sync_run, async_run, sync_seen, async_seen


@pytest.mark.timeout(240)  # two runs of every case; a loaded machine is slower
@pytest.mark.parametrize("column", ["matrix", "failover"])
def test_async_column_equals_the_sync_one(
    column: str, certs: TestCertificates, trusted_ca: None
) -> None:
    cases = FAILOVER_CASES if column == "failover" else CASES
    # the failover cases configure() the process's mailers: one at a time
    with ThreadPoolExecutor(max_workers=1 if column == "failover" else 8) as pool:
        runs = list(pool.map(lambda case: _both(case, certs, column == "failover"), cases))
    # a stall case starved by a busy machine before its fault runs again alone (see
    # tests.reliability.test_fault_matrix._starved)
    runs = [
        _both(case, certs, column == "failover")
        if _starved(case, run[0][1]) or _starved(case, run[1][1])
        else run
        for case, run in zip(cases, runs, strict=True)
    ]
    figures = {"sync": Figures(), "async": Figures()}
    problems: list[str] = []
    differ: list[str] = []
    for case, (sync_run, async_run, sync_seen, async_seen) in zip(cases, runs, strict=True):
        for api, (case_figures, case_problems) in (("sync", sync_run), ("async", async_run)):
            figures[api].add(case_figures)
            problems += [f"{api} {case.id}: {problem}" for problem in case_problems]
        if sync_seen != async_seen:
            differ.append(f"{case.id}: sync {sync_seen} != async {async_seen}")
    _check(figures["async"], problems)
    assert differ == []
    assert figures["async"].cases == len(cases)
    assert vars(figures["async"]) == vars(figures["sync"])
