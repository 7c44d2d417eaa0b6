"""Scripted faults for :class:`~tests.support.smtp_servers.RecordingSMTPServer`.

A :class:`Fault` says at which step of the SMTP conversation the server misbehaves, how
(a reply line, :data:`DROP` the connection, :data:`STALL` past the client's timeout),
for which command argument (a sender or recipient address, so that one message of a
batch is hit, even when it is retried) and how many times. A :class:`FaultScript` is the
server's ``fault`` hook and counts what fired::

    busy = Fault("MAIL", "421 4.3.2 Shutting down", match=("s3@example.com",), times=1)
    script = FaultScript(busy)
    with RecordingSMTPServer(fault=script) as server:
        ...
    assert script.fired == [1]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.support.smtp_servers import (
    DROP,
    STALL,
    FaultAction,
    FaultStage,
    SessionRecord,
)

__all__ = ["DROP", "STALL", "Fault", "FaultScript"]


@dataclass(frozen=True)
class Fault:
    """At ``stage``, answer ``action`` instead of going on.

    - ``match``: only when the command's argument (see
      :data:`~tests.support.smtp_servers.FaultStage`) is one of these; empty: always.
    - ``times``: fire at most this many times; ``None``: every time.
    """

    stage: FaultStage
    action: FaultAction
    match: tuple[str, ...] = ()
    times: int | None = None

    def applies(self, stage: FaultStage, argument: str) -> bool:
        """True when this fault is for ``stage`` and ``argument``."""
        return self.stage == stage and (not self.match or argument in self.match)


class FaultScript:
    """A fault hook applying the first matching :class:`Fault` that has firings left.

    ``fired[i]`` counts how many times ``faults[i]`` fired; ``fired_on`` lists the
    session numbers each firing hit; ``calls`` lists every ``(stage, argument)`` the
    server asked about, in order.
    """

    def __init__(self, *faults: Fault) -> None:
        self.faults = faults
        self.fired = [0] * len(faults)
        self.fired_on: list[int] = []
        self.calls: list[tuple[FaultStage, str]] = []
        self._lock = threading.Lock()

    def __call__(self, stage: FaultStage, session: SessionRecord, argument: str) -> FaultAction:
        with self._lock:
            self.calls.append((stage, argument))
            for index, fault in enumerate(self.faults):
                if not fault.applies(stage, argument):
                    continue
                if fault.times is not None and self.fired[index] >= fault.times:
                    continue
                self.fired[index] += 1
                self.fired_on.append(session.number)
                return fault.action
            return None
