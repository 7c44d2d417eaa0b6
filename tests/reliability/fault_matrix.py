"""The cases of the SMTP fault matrix, and what each must report (the oracle).

Every case is one fault of a real server (:mod:`tests.support.fault_server`), met by a
batch of :data:`BATCH` messages sent over STARTTLS with AUTH, so that the conversation
has every step: greeting, EHLO, STARTTLS, EHLO, AUTH, then per message MAIL FROM,
RCPT TO (two recipients), DATA, the content and its final reply.

- Faults at a connection step (greeting, EHLO, STARTTLS, AUTH) hit every connection.
- Faults at a message step hit message :data:`TARGET` only (matched by its sender or
  recipients), however often it is retried.
- Each fault is persistent, or transient: it clears after one attempt.
- Each runs with ``fail_silently`` off and on, and with ``retries`` 0 and
  :data:`RETRIES`.

The failover column (:data:`FAILOVER_CASES`, :func:`expected_failover`) puts each
persistent fault on the first of two mailers of a ``failover`` backend, the second one
healthy, and says which mailer must have sent each message.

:func:`expected` says, from the SMTP rules alone, what each message must end as.
:class:`Figures` counts what the runs showed.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Literal

from mailcore import BaseEmailBackend, EmailMessage, SendResult
from tests.support.fault_server import DROP, STALL, Fault
from tests.support.smtp_servers import FaultAction, FaultStage

__all__ = [
    "BATCH",
    "CASES",
    "FAILOVER_CASES",
    "RETRIES",
    "TARGET",
    "Case",
    "Expected",
    "ExpectedFailover",
    "Figures",
    "Outcome",
    "expected",
    "expected_failover",
    "recipients",
    "sender",
]

BATCH = 5
TARGET = 3
RETRIES = 2

#: What a message ends as: accepted and reported sent; reported failed and not
#: accepted; reported failed with ``outcome_unknown`` (the server may have it).
Outcome = Literal["sent", "failed", "unknown"]
Kind = Literal["drop", "stall", "4xx", "5xx", "partial 5xx", "partial 4xx", "not smtp"]


def sender(number: int) -> str:
    """The envelope sender of message ``number`` (1-based): how faults find it."""
    return f"sender{number}@example.com"


def recipients(number: int) -> list[str]:
    """The two envelope recipients of message ``number``: one To, one Bcc."""
    return [f"to{number}@example.com", f"bcc{number}@example.com"]


@dataclass(frozen=True)
class Step:
    """One step of the conversation where faults are injected."""

    name: str
    stage: FaultStage
    connection: bool  # a connection step (hits every connection) or a message step
    replies: dict[Kind, str]
    #: How many times a fault fires in one attempt (RCPT: once per refused recipient;
    #: EHLO with a 5xx: EHLO, then the HELO fallback).
    per_attempt: dict[Kind, int] = field(default_factory=dict)
    match: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ("drop", "stall", "4xx", "5xx")


STEPS = (
    Step(
        "greeting",
        "GREETING",
        True,
        {"4xx": "421 4.3.2 Try later", "5xx": "554 5.3.2 No", "not smtp": "hello I am not smtp"},
        kinds=("drop", "stall", "4xx", "5xx", "not smtp"),  # not smtp: permanent, as 5xx
    ),
    Step(
        "EHLO",
        "EHLO",
        True,
        {"4xx": "451 4.3.0 Try later", "5xx": "550 5.7.1 Go away"},
        per_attempt={"5xx": 2},
    ),
    Step(
        "STARTTLS",
        "STARTTLS",
        True,
        {"4xx": "454 4.7.0 TLS not available now", "5xx": "554 5.7.3 No TLS"},
    ),
    Step(
        "AUTH",
        "AUTH",
        True,
        {"4xx": "454 4.7.0 Temporary auth failure", "5xx": "535 5.7.8 Bad credentials"},
    ),
    Step(
        "MAIL FROM",
        "MAIL",
        False,
        {
            "4xx": "421 4.3.2 Shutting down",
            "5xx": "550 5.7.1 Sender rejected",
            "not smtp": "hello I am not smtp",
        },
        match=(sender(TARGET),),
        kinds=("drop", "stall", "4xx", "5xx", "not smtp"),
    ),
    Step(
        "RCPT TO",
        "RCPT",
        False,
        {
            "4xx": "450 4.2.1 Mailbox busy",
            "5xx": "550 5.1.1 No such user",
            "partial 4xx": "452 4.2.2 Mailbox full",
            "partial 5xx": "550 5.1.1 No such user",
            "not smtp": "2.1.5 Ok",  # a reply without its code
        },
        per_attempt={"4xx": 2, "5xx": 2},
        match=tuple(recipients(TARGET)),
        kinds=("drop", "stall", "4xx", "5xx", "partial 4xx", "partial 5xx", "not smtp"),
    ),
    Step(
        "DATA",
        "DATA_COMMAND",
        False,
        {
            "4xx": "451 4.3.0 Try later",
            "5xx": "554 5.5.1 No valid recipients",
            "not smtp": "250-Ok\r\n354 Go ahead",  # its lines' codes differ
        },
        match=(sender(TARGET),),
        kinds=("drop", "stall", "4xx", "5xx", "not smtp"),
    ),
    Step(
        "end of data",
        "DATA",
        False,
        {
            "4xx": "451 4.3.0 Error in processing",
            "5xx": "552 5.3.4 Message too big",
            "not smtp": "hello I am not smtp",
        },
        match=(sender(TARGET),),
        kinds=("drop", "stall", "4xx", "5xx", "not smtp"),
    ),
    Step(
        "after queueing",
        "QUEUED",
        False,
        {"not smtp": "600 Queued"},  # no SMTP code
        match=(sender(TARGET),),
        kinds=("drop", "stall", "not smtp"),
    ),
)


@dataclass(frozen=True)
class Case:
    """One run: a step, a kind of fault, persistent or not, and the backend's settings."""

    step: Step
    kind: Kind
    persistent: bool
    retries: int
    fail_silently: bool

    @property
    def id(self) -> str:
        return (
            f"{self.step.name}-{self.kind}-{'persistent' if self.persistent else 'transient'}"
            f"-retries{self.retries}-{'silent' if self.fail_silently else 'raise'}"
        ).replace(" ", "_")

    @property
    def per_attempt(self) -> int:
        if self.kind.startswith("partial"):
            return 1
        return self.step.per_attempt.get(self.kind, 1)

    def fault(self) -> Fault:
        """The server-side fault of this case."""
        action: FaultAction
        if self.kind == "drop":
            action = DROP
        elif self.kind == "stall":
            action = STALL
        else:
            action = self.step.replies[self.kind]
        match = self.step.match
        if self.kind.startswith("partial"):
            match = match[1:]  # the Bcc recipient only: the To recipient still gets it
        elif self.kind == "not smtp" and self.step.stage == "RCPT":
            match = match[:1]  # the To recipient only: the server accepts the Bcc one
        times = None if self.persistent else self.per_attempt
        return Fault(self.step.stage, action, match=match, times=times)


@dataclass(frozen=True)
class Expected:
    """What a case must show: each message's outcome, whether the server holds each
    message reported ``unknown``, how often the fault fires, whether the call raises."""

    outcomes: tuple[Outcome, ...]
    unknown_delivered: bool
    fired: int
    raises: bool

    @property
    def sent(self) -> int:
        return self.outcomes.count("sent")


def _out_of_step(case: Case) -> bool:
    """A reply that is no SMTP reply during a message: the client closes the connection
    there, as if it was lost (at the greeting: a permanent failure, as a 5xx)."""
    return case.kind == "not smtp" and not case.step.connection


def _temporary(case: Case) -> bool:
    return case.kind in ("drop", "stall", "4xx") or _out_of_step(case)


def _loses_connection(case: Case) -> bool:
    reply = case.step.replies.get(case.kind, "")
    return case.kind in ("drop", "stall") or reply.startswith("421") or _out_of_step(case)


def expected(case: Case) -> Expected:
    """The outcome the SMTP rules call for, independent of how the backend is written.

    - A temporary failure (4xx, drop, timeout) is retried when ``retries`` allows, and a
      transient fault then clears; a 5xx is never retried.
    - A connection lost after the content was sent (end of data, after queueing) leaves
      the outcome unknown: reported failed, never retried.
    - A refusal of some recipients still sends the message to the others.
    - After a failed message the batch stops unless ``fail_silently``; then it goes on,
      over the same connection, or a new one if ``retries`` allows reconnecting.
    """
    step = case.step
    attempts = case.retries + 1
    recovers = _temporary(case) and not case.persistent and case.retries > 0
    if step.connection:
        outcome: Outcome = "sent" if recovers else "failed"
        retried = _temporary(case) and case.persistent
        fired = case.per_attempt * (attempts if retried else 1)
        raises = outcome == "failed" and not case.fail_silently
        return Expected((outcome,) * BATCH, False, fired, raises)

    after_content = step.stage in ("DATA", "QUEUED") and _loses_connection(case)
    if after_content:
        target: Outcome = "unknown"
        fired = 1
    elif case.kind.startswith("partial"):
        target, fired = "sent", 1
    else:
        target = "sent" if recovers else "failed"
        retried = _temporary(case) and case.persistent
        fired = case.per_attempt * (attempts if retried else 1)
    if target == "sent":
        rest: Outcome = "sent"
    elif not case.fail_silently:
        rest = "failed"  # the batch stops at the first failure
    elif _loses_connection(case) and case.retries == 0:
        rest = "failed"  # no connection left, and no reconnecting
    else:
        rest = "sent"
    sent_before: Outcome = "sent"
    outcomes = [sent_before] * (TARGET - 1) + [target] + [rest] * (BATCH - TARGET)
    raises = target != "sent" and not case.fail_silently
    return Expected(tuple(outcomes), step.stage == "QUEUED", fired, raises)


CASES = tuple(
    Case(step, kind, persistent, retries, fail_silently)
    for step in STEPS
    for kind in step.kinds
    for persistent, retries, fail_silently in itertools.product(
        (True, False), (0, RETRIES), (False, True)
    )
)


#: The failover column: every step and kind of fault, persistent, on the first mailer
#: (no retries of its own), with ``fail_silently`` off and on.
FAILOVER_CASES = tuple(
    Case(step, kind, True, 0, fail_silently)
    for step in STEPS
    for kind in step.kinds
    for fail_silently in (False, True)
)


@dataclass(frozen=True)
class ExpectedFailover:
    """What a failover case must show: each message's outcome, the mailer that sent each
    message reported sent (``None`` for the others), and whether the first mailer's
    server holds the message reported ``unknown``."""

    outcomes: tuple[Outcome, ...]
    mailers: tuple[str | None, ...]
    unknown_delivered: bool


def expected_failover(case: Case) -> ExpectedFailover:
    """The failover rules: a failure to connect to the first mailer (any reply, a drop, a
    timeout) and a temporary failure of a message move the message on to the second
    mailer and mark the first down (the rest go to the second); a permanent refusal of
    the message stays its failure; an outcome unknown is not re-sent (the first mailer
    is marked down) and does not stop the batch: the rest go to the second mailer,
    whatever ``fail_silently`` says. After a failed message the batch stops unless
    ``fail_silently``.
    """
    step = case.step
    if step.connection:
        return ExpectedFailover(("sent",) * BATCH, ("backup",) * BATCH, False)
    after_content = step.stage in ("DATA", "QUEUED") and _loses_connection(case)
    target: Outcome
    if after_content:
        target, by, rest_by = "unknown", None, "backup"
    elif case.kind.startswith("partial"):
        target, by, rest_by = "sent", "primary", "primary"
    elif _temporary(case):
        target, by, rest_by = "sent", "backup", "backup"
    else:
        target, by, rest_by = "failed", None, "primary"
    moves_on = target in ("sent", "unknown") or case.fail_silently
    rest: Outcome = "sent" if moves_on else "failed"
    outcomes = ("sent",) * (TARGET - 1) + (target,) + (rest,) * (BATCH - TARGET)
    mailers = (
        ("primary",) * (TARGET - 1)
        + (by,)
        + ((rest_by if rest == "sent" else None),) * (BATCH - TARGET)
    )
    return ExpectedFailover(outcomes, mailers, after_content and step.stage == "QUEUED")


@dataclass
class Figures:
    """What the matrix runs showed, message by message."""

    cases: int = 0
    messages: int = 0
    sent: int = 0  # reported sent, and the server has it exactly once
    failed: int = 0  # reported failed with an error, and the server does not have it
    unknown: int = 0  # reported failed with outcome_unknown
    unknown_delivered: int = 0  # ... of which the server has it
    lost: int = 0  # reported sent, but the server does not have it
    silent: int = 0  # not reported sent, and neither flagged with an error nor raised
    false_failures: int = 0  # reported failed (not unknown), but the server has it
    duplicates: int = 0  # the server has it more than once
    retried_cases: int = 0  # cases where a retry delivered a message that first failed

    def add(self, other: Figures) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self, name: str = "SMTP fault matrix") -> str:
        """One line: the column's ``name`` and its figures."""
        retried = (
            f"; retries delivered through the fault in {self.retried_cases} cases"
            if self.retried_cases
            else ""
        )
        return (
            f"{name}: {self.cases} cases x {BATCH} messages = {self.messages} "
            f"messages: {self.sent} sent and received once, {self.failed} failed and not "
            f"received, {self.unknown} outcome unknown ({self.unknown_delivered} of them "
            f"received); lost: {self.lost}, silent failures: {self.silent}, false failures: "
            f"{self.false_failures}, duplicates: {self.duplicates}{retried}"
        )


def expected_figures() -> Figures:
    """The figures the whole matrix must produce, from :func:`expected` alone."""
    figures = Figures()
    for case in CASES:
        want = expected(case)
        figures.cases += 1
        figures.messages += BATCH
        figures.sent += want.outcomes.count("sent")
        figures.failed += want.outcomes.count("failed")
        unknown = want.outcomes.count("unknown")
        figures.unknown += unknown
        figures.unknown_delivered += unknown if want.unknown_delivered else 0
        hit = want.outcomes[0 if case.step.connection else TARGET - 1]
        figures.retried_cases += int(hit == "sent" and not case.kind.startswith("partial"))
    return figures


def send(api: str, backend: BaseEmailBackend, messages: list[EmailMessage]) -> int:
    """``backend.send_messages(messages)``, or with ``api="async"`` its async twin."""
    if api == "async":
        return asyncio.run(backend.asend_messages(messages))
    return backend.send_messages(messages)


def signature(outcome: SendResult | BaseException | None) -> tuple[object, ...] | None:
    """What a result (or a raised error) tells a caller, without its free text: the
    status, the queue id, the refused recipients, and for the error (and the error that
    stopped the batch) its class, ``stage``, SMTP code, ``outcome_unknown`` and ``sent``."""
    if outcome is None:
        return None
    if isinstance(outcome, SendResult):
        refused = sorted(outcome.refused or {})
        return (outcome.status, outcome.message_id, refused, signature(outcome.error))
    return (
        type(outcome).__name__,
        getattr(outcome, "stage", None),
        getattr(outcome, "smtp_code", None),
        getattr(outcome, "outcome_unknown", None),
        getattr(outcome, "sent", None),
        signature(outcome.__cause__),
    )
