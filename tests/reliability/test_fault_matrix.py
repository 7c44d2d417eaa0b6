"""The SMTP fault matrix: every fault at every step, against a batch of five messages.

For each case a real server (STARTTLS, AUTH) misbehaves as scripted, the SMTP backend
sends five messages, and each message's reported result is checked against what the
server actually holds:

- **no loss**: a message reported sent is on the server, exactly once;
- **no silent failure**: a message not reported sent has ``result.status == "failed"``
  and an error, and the call raised (or, with ``fail_silently``, returned the count
  of sent messages);
- **no false failure**: a message reported failed is not on the server, unless the
  result says ``outcome_unknown`` (connection lost after the content was sent: the
  server may have it; the docs call this "maybe");
- and each outcome is the one the SMTP rules call for (``fault_matrix.expected``):
  retries deliver through transient faults, never after a 5xx, never twice.

The figures are printed at the end of the run (``tests/reliability/conftest.py``) and
stated in ``docs/delivery-guarantees.md`` (checked by the last test).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import mailcore
from mailcore import EmailMessage, SendError
from mailcore_smtp import SMTPBackend, SMTPBatchStoppedError, SMTPError
from tests.reliability.fault_matrix import (
    BATCH,
    CASES,
    FAILOVER_CASES,
    TARGET,
    Case,
    Figures,
    Outcome,
    expected,
    expected_failover,
    expected_figures,
    recipients,
    send,
    sender,
    signature,
)
from tests.support.certs import TestCertificates
from tests.support.fault_server import FaultScript
from tests.support.smtp_servers import RecordingSMTPServer

USERNAME, PASSWORD = "matrix", "matrix-Pa55word"
#: The client's timeout against a stalling server: given up on after this long.
STALL_TIMEOUT = 0.4
#: The client's timeout otherwise: only there so that a bug cannot hang the run.
TIMEOUT = 5.0
DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "delivery-guarantees.md"


def timeouts(case: Case) -> dict[str, float]:
    """The backend's timeouts for ``case``: :data:`STALL_TIMEOUT` for the option that
    bounds the wait a stall hits (``connect_timeout`` at a connection step,
    ``data_timeout`` after the content, ``timeout`` at a command of a message),
    :data:`TIMEOUT` for the others: a slow step on a busy machine is not taken for the
    stall, unless it is one bounded by the same option before the fault (see
    :func:`_starved`)."""
    limits = dict.fromkeys(("connect_timeout", "timeout", "data_timeout"), TIMEOUT)
    if case.kind == "stall":
        if case.step.connection:
            limits["connect_timeout"] = STALL_TIMEOUT
        elif case.step.stage in ("DATA", "QUEUED"):
            limits["data_timeout"] = STALL_TIMEOUT
        else:
            limits["timeout"] = STALL_TIMEOUT
    return limits


def batch() -> list[EmailMessage]:
    return [
        EmailMessage(
            f"Message {n}",
            f"Body of message {n}.\n",
            sender(n),
            recipients(n)[:1],
            bcc=recipients(n)[1:],
        )
        for n in range(1, BATCH + 1)
    ]


@pytest.fixture
def trusted_ca(certs: TestCertificates, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def outcome_of(message: EmailMessage) -> Outcome:
    """The message's reported outcome; fails the test for a result that says nothing."""
    result = message.result
    assert result is not None, "a message of the batch has no result"
    if result.sent:
        assert result.error is None
        return "sent"
    assert result.status == "failed"
    assert isinstance(result.error, SMTPError), f"failed without an SMTP error: {result!r}"
    if isinstance(result.error, SMTPBatchStoppedError):
        assert isinstance(result.error.__cause__, SMTPError)
    return "unknown" if result.error.outcome_unknown else "failed"


def run_case(
    case: Case,
    certs: TestCertificates,
    *,
    pipelining: bool = False,
    max_connections: int = 1,
    api: str = "sync",
    seen: list[object] | None = None,
) -> tuple[Figures, list[str]]:
    """Run one case; return its figures and what went against the rules.

    ``pipelining``: the server offers PIPELINING (the backend uses it);
    ``max_connections``: the backend's pool size. With more than one connection the
    messages after the target may be sent on another connection before the target
    fails, so only the target's outcome and the rules (no loss, no duplicate, no silent
    or false failure) are checked, not every message's outcome. ``api="async"`` sends
    through ``asend_messages``; ``seen`` gets what each message's result and the raised
    error say (:func:`tests.reliability.fault_matrix.signature`).
    """
    script = FaultScript(case.fault())
    messages = batch()
    raised: SendError | None = None
    returned: int | None = None
    with RecordingSMTPServer(
        starttls=certs.server_context(),
        credentials={USERNAME: PASSWORD},
        auth_mechanisms=("PLAIN",),
        fault=script,
        pipelining=pipelining,
    ) as server:
        backend = SMTPBackend(
            fail_silently=case.fail_silently,
            host=server.host,
            port=server.port,
            use_tls=True,
            username=USERNAME,
            password=PASSWORD,
            **timeouts(case),
            retries=case.retries,
            retry_backoff=0.001,
            max_connections=max_connections,
        )
        try:
            returned = send(api, backend, messages)
        except SendError as exc:
            raised = exc
        assert backend.connection is None, "send_messages left its connection open"
    if seen is not None:
        seen.extend([signature(m.result) for m in messages] + [signature(raised), returned])

    copies = Counter(received.mail_from for received in server.messages)
    figures, problems = Figures(cases=1, messages=BATCH), []
    outcomes: list[Outcome] = []
    for number, message in enumerate(messages, start=1):
        held = copies[sender(number)]
        if message.result is None or (not message.result.sent and message.result.error is None):
            figures.silent += 1
            outcomes.append("failed")
            continue
        outcome = outcome_of(message)
        outcomes.append(outcome)
        if held > 1:
            figures.duplicates += 1
        if outcome == "sent":
            if held == 0:
                figures.lost += 1
            else:
                figures.sent += 1
                (received,) = [r for r in server.messages if r.mail_from == sender(number)]
                accepted = [a for a in recipients(number) if a not in message.result.refused]
                if received.rcpt_tos != accepted:
                    problems.append(f"message {number}: delivered to {received.rcpt_tos}")
                if message.result.message_id != received.queue_id:
                    problems.append(f"message {number}: queue id {message.result.message_id}")
        elif outcome == "unknown":
            figures.unknown += 1
            figures.unknown_delivered += held
        elif held:
            figures.false_failures += 1
        else:
            figures.failed += 1
    sent = outcomes.count("sent")
    if case.fail_silently:
        if raised is not None:
            problems.append(f"raised despite fail_silently: {raised!r}")
        elif returned != sent:
            problems.append(f"returned {returned}, but {sent} messages were sent")
    elif sent < BATCH:
        if raised is None:
            figures.silent += BATCH - sent
            problems.append(f"returned {returned} without raising, {sent} of {BATCH} sent")
        elif raised.sent != sent:
            problems.append(f"the error says {raised.sent} sent, but {sent} were")
    elif raised is not None:
        problems.append(f"raised although every message was sent: {raised!r}")

    want = expected(case)
    if max_connections > 1:
        # Over several connections the server's Nth transaction, where the fault fires,
        # is whichever message reached it Nth: the faulted outcome must be among them.
        # A connection fault hits the first connection that reached its step: the batch's
        # own (the server's session 1, accepted first) or an extra one connecting along
        # with it, which is dropped while the others carry every message.
        target = 0 if case.step.connection else TARGET - 1
        absorbed = case.step.connection and any(n > 1 for n in script.fired_on)
        if absorbed and outcomes == ["sent"] * BATCH:
            return figures, problems
        if want.outcomes[target] not in outcomes:
            problems.append(f"outcomes {outcomes}, expected {want.outcomes[target]} among them")
        return figures, problems
    if tuple(outcomes) != want.outcomes:
        problems.append(f"outcomes {outcomes}, expected {list(want.outcomes)}")
    if script.fired != [want.fired]:
        problems.append(f"the fault fired {script.fired[0]} times, expected {want.fired}")
    hit = outcomes[0 if case.step.connection else TARGET - 1]
    if hit == "sent" and not case.kind.startswith("partial"):
        figures.retried_cases += 1
    if outcomes.count("unknown") and want.unknown_delivered != bool(figures.unknown_delivered):
        problems.append(f"the server holds {figures.unknown_delivered} unknown messages")
    return figures, problems


def run_side_by_side(
    cases: Sequence[Case], certs: TestCertificates, workers: int, **options: Any
) -> list[tuple[Figures, list[str]]]:
    """:func:`run_case` for each case, ``workers`` at a time; a case that :func:`_starved`
    runs once more, alone, and that run is the one judged."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda case: run_case(case, certs, **options), cases))
    return [
        run_case(case, certs, **options) if _starved(case, problems) else (figures, problems)
        for case, (figures, problems) in zip(cases, runs, strict=True)
    ]


def _starved(case: Case, problems: list[str]) -> bool:
    """A stall case that broke a rule. Its fault is judged by a 0.4 s bound on one kind
    of wait (:func:`timeouts`), which also bounds the waits of that kind before the
    fault: the set-up steps before a connection step's stall (and a retry's set-up),
    the commands of the messages before a command's stall, the replies to the earlier
    messages' content. With 16 cases side by side on a busy machine one of them can
    outlast it before the fault fires (an after-queueing stall: "the fault fired 0
    times, expected 1", at a load average of 7 on 2 cores). Such a case is judged
    again on a run of its own (a real fault breaks the rule there too): the rules are
    the same, only the machine is quieter."""
    return case.kind == "stall" and bool(problems)


def _check(figures: Figures, problems: list[str]) -> None:
    assert problems == []
    bad = (figures.lost, figures.silent, figures.false_failures, figures.duplicates)
    assert bad == (0, 0, 0, 0), "lost, silent failures, false failures, duplicates"


QUICK_CASES = [case for case in CASES if case.kind != "stall"]
STALL_CASES = {
    step: [case for case in CASES if case.kind == "stall" and case.step.name == step]
    for step in dict.fromkeys(case.step.name for case in CASES if case.kind == "stall")
}


@pytest.mark.parametrize("case", QUICK_CASES, ids=[case.id for case in QUICK_CASES])
def test_fault(
    case: Case, certs: TestCertificates, trusted_ca: None, matrix_figures: Figures
) -> None:
    figures, problems = run_case(case, certs)
    matrix_figures.add(figures)
    _check(figures, problems)


@pytest.mark.parametrize("step", list(STALL_CASES), ids=[s.replace(" ", "_") for s in STALL_CASES])
def test_stall(
    step: str, certs: TestCertificates, trusted_ca: None, matrix_figures: Figures
) -> None:
    """A server silent past the timeout at ``step``: each variant waits out the client's
    timeout at least once, so they run side by side, each with its own server."""
    cases = STALL_CASES[step]
    runs = run_side_by_side(cases, certs, len(cases))
    figures = Figures()
    problems = []
    for case, (case_figures, case_problems) in zip(cases, runs, strict=True):
        figures.add(case_figures)
        problems += [f"{case.id}: {problem}" for problem in case_problems]
    matrix_figures.add(figures)
    _check(figures, problems)


#: The matrix again, with PIPELINING and with a pool of 4 connections (pipelined too).
VARIANTS = {"pipelining": {"pipelining": True}, "pool4": {"pipelining": True, "max_connections": 4}}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fault_matrix_variant(
    variant: str,
    certs: TestCertificates,
    trusted_ca: None,
    matrix_column: Callable[[str], Figures],
) -> None:
    """Every case of the matrix, pipelined (same outcomes as without), and pipelined
    over 4 connections (the target's outcome, and never a lost, duplicated, silently
    or falsely failed message); cases run side by side, 16 at a time."""
    options = VARIANTS[variant]
    runs = run_side_by_side(CASES, certs, 16, **options)
    figures = Figures()
    problems = []
    for case, (case_figures, case_problems) in zip(CASES, runs, strict=True):
        figures.add(case_figures)
        problems += [f"{case.id}: {problem}" for problem in case_problems]
    matrix_column(variant).add(figures)
    _check(figures, problems)
    assert figures.cases == len(CASES)
    if variant == "pipelining":
        want = expected_figures()
        assert (figures.sent, figures.failed, figures.unknown) == (
            want.sent,
            want.failed,
            want.unknown,
        )


def test_no_fault_delivers_the_whole_batch_once(certs: TestCertificates, trusted_ca: None) -> None:
    with RecordingSMTPServer(
        starttls=certs.server_context(), credentials={USERNAME: PASSWORD}
    ) as server:
        messages = batch()
        backend = SMTPBackend(
            host=server.host,
            port=server.port,
            use_tls=True,
            username=USERNAME,
            password=PASSWORD,
            timeout=TIMEOUT,
            retries=2,
        )
        assert backend.send_messages(messages) == BATCH

    assert [m.mail_from for m in server.messages] == [sender(n) for n in range(1, BATCH + 1)]
    assert [m.result.message_id for m in messages if m.result] == [
        received.queue_id for received in server.messages
    ]
    assert [session.tls for session in server.sessions] == [True]


def _stated_figures(text: str) -> dict[str, int]:
    """The figures listed in the docs page's fault matrix section (``- **288** fault
    cases: ...``), by label."""
    section = text.split("## What the fault matrix proves", 1)[1].split("\n## ", 1)[0]
    figures = {}
    for count, label in re.findall(r"^- \*\*(\d+)\*\* ([a-z ,()-]+?)[:.]", section, re.M):
        figures[label.strip()] = int(count)
    return figures


def test_the_docs_page_states_the_figures_of_this_matrix() -> None:
    want = expected_figures()
    stated = _stated_figures(DOCS_PAGE.read_text(encoding="utf-8"))
    assert stated == {
        "fault cases": want.cases,
        "messages": want.messages,
        "sent and received once": want.sent,
        "failed and not received": want.failed,
        "outcome unknown": want.unknown,
        "outcome unknown and received": want.unknown_delivered,
        "cases where retries delivered through the fault": want.retried_cases,
        "lost": 0,
        "silent failures": 0,
        "false failures": 0,
        "duplicates": 0,
    }


# -- the failover column: the fault on the first mailer, the second one healthy --------


def run_failover_case(
    case: Case, certs: TestCertificates, *, api: str = "sync", seen: list[object] | None = None
) -> tuple[Figures, list[str]]:
    """Run one failover case; return its figures and what went against the rules."""
    messages = batch()
    raised: SendError | None = None
    returned: int | None = None
    with (
        RecordingSMTPServer(
            starttls=certs.server_context(),
            credentials={USERNAME: PASSWORD},
            auth_mechanisms=("PLAIN",),
            fault=FaultScript(case.fault()),
            stall_seconds=1.0,
        ) as first,
        RecordingSMTPServer() as second,
    ):
        mailcore.configure(
            mailers={
                "primary": {
                    "url": f"smtp+starttls://{USERNAME}:{PASSWORD}@{first.host}:{first.port}",
                    **timeouts(case),
                },
                "backup": {"url": f"smtp://{second.host}:{second.port}?timeout={TIMEOUT}"},
                "main": {"backend": "failover", "mailers": ["primary", "backup"]},
            }
        )
        backend = mailcore.get_connection(using="main", fail_silently=case.fail_silently)
        try:
            returned = send(api, backend, messages)
        except SendError as exc:
            raised = exc
    if seen is not None:
        seen.extend([signature(m.result) for m in messages] + [signature(raised), returned])
    held = {
        "primary": Counter(r.mail_from for r in first.messages),
        "backup": Counter(r.mail_from for r in second.messages),
    }
    figures, problems = Figures(cases=1, messages=BATCH), []
    want = expected_failover(case)
    outcomes: list[Outcome] = []
    for number, message in enumerate(messages, start=1):
        result = message.result
        copies = held["primary"][sender(number)] + held["backup"][sender(number)]
        if copies > 1:
            figures.duplicates += 1
        if result is None or (not result.sent and result.error is None):
            figures.silent += 1
            outcomes.append("failed")
            continue
        if result.sent:
            outcomes.append("sent")
            if result.mailer not in held or held[result.mailer][sender(number)] != 1:
                figures.lost += 1
                problems.append(f"message {number}: sent by {result.mailer}, not held there")
            else:
                figures.sent += 1
            if result.mailer != want.mailers[number - 1]:
                problems.append(f"message {number}: sent by {result.mailer}")
        elif result.status == "unknown":
            assert getattr(result.error, "outcome_unknown", False), result
            outcomes.append("unknown")
            figures.unknown += 1
            figures.unknown_delivered += copies
        else:
            outcomes.append("failed")
            if copies:
                figures.false_failures += 1
            else:
                figures.failed += 1
    if tuple(outcomes) != want.outcomes:
        problems.append(f"outcomes {outcomes}, expected {list(want.outcomes)}")
    if outcomes.count("unknown") and want.unknown_delivered != bool(figures.unknown_delivered):
        problems.append(f"the first server holds {figures.unknown_delivered} unknown messages")
    sent = outcomes.count("sent")
    if case.fail_silently and (raised is not None or returned != sent):
        problems.append(f"fail_silently: raised {raised!r}, returned {returned}, sent {sent}")
    if not case.fail_silently and (sent < BATCH) != (raised is not None):
        problems.append(f"raised {raised!r} with {sent} of {BATCH} sent")
    if raised is not None and raised.sent != sent:
        problems.append(f"the error says {raised.sent} sent, but {sent} were")
    return figures, problems


@pytest.mark.parametrize("case", FAILOVER_CASES, ids=[case.id for case in FAILOVER_CASES])
def test_failover(
    case: Case,
    certs: TestCertificates,
    trusted_ca: None,
    matrix_column: Callable[[str], Figures],
) -> None:
    figures, problems = run_failover_case(case, certs)
    matrix_column("failover").add(figures)
    _check(figures, problems)


def test_the_docs_page_states_the_figures_of_the_failover_column() -> None:
    outcomes: Counter[str] = Counter()
    by_second = 0
    for case in FAILOVER_CASES:
        want = expected_failover(case)
        outcomes.update(want.outcomes)
        by_second += want.mailers.count("backup")
    section = DOCS_PAGE.read_text(encoding="utf-8").split("## Failover:", 1)[1]
    text = " ".join(section.split("\n## ", 1)[0].split())
    assert f"{len(FAILOVER_CASES)} cases of {BATCH} messages, {len(FAILOVER_CASES) * BATCH}" in text
    assert f"{outcomes['sent']} are sent and received exactly once" in text
    assert f"({by_second} by the second mailer" in text
    assert f"{outcomes['failed']} fail with the first mailer's" in text
    assert f"{outcomes['unknown']} have an outcome unknown" in text


def test_the_docs_page_states_the_variants_and_the_failover_line_as_the_run_prints_them() -> None:
    """The pipelining variant's figures are the matrix's (its test asserts that); the
    failover column's summary line, as the terminal summary prints it, is on the page."""
    text = " ".join(DOCS_PAGE.read_text(encoding="utf-8").split())
    want = expected_figures()
    assert (
        f"**pipelining**: the server offers PIPELINING, so the backend sends each message's "
        f"commands in one write. Every message's outcome must be the one the matrix expects "
        f"without pipelining, so the figures are the matrix's: {want.messages} messages, "
        f"{want.sent} sent and received once, {want.failed} failed and not received, "
        f"{want.unknown} outcome unknown ({want.unknown_delivered} of them received); lost 0, "
        "silent failures 0, false failures 0, duplicates 0."
    ) in text
    failover = Figures(cases=len(FAILOVER_CASES), messages=len(FAILOVER_CASES) * BATCH)
    for case in FAILOVER_CASES:
        outcomes = expected_failover(case)
        failover.sent += outcomes.outcomes.count("sent")
        failover.failed += outcomes.outcomes.count("failed")
        unknown = outcomes.outcomes.count("unknown")
        failover.unknown += unknown
        failover.unknown_delivered += unknown if outcomes.unknown_delivered else 0
    assert failover.summary("SMTP fault matrix, failover") in text
