"""The queue benchmark: the celery backend with a real redis-server and real workers.

1. Enqueue cost in the web process: ``send_messages()`` of 20 KB messages, wall and CPU
   time per message, in one batch and one message per call, best of 3 (goal: at most
   1 ms per message in a batch).
2. Scale-out: messages through 1, 2 and 4 ``mailcore worker`` processes (solo pool) to
   the ``wan`` benchmark's sink behind its 20 ms round-trip proxy (each in its own
   process), best of ``queue_rounds`` rounds, with the load average after each round
   and the round trips per message (goal: 4 workers at least 3.5x one).
3. The crash run at full size: 5,000 messages, 3 workers, one SIGKILLed and restarted
   every 2 s (0 lost, duplicates <= outcome unknown), and a broker restart (Redis down
   5 s, persistence on).

Needs Debian's ``redis-server`` (``make bench`` installs it when missing).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from benchmarks.config import Config
from benchmarks.report import BenchResult, Ratio, Row, Value
from benchmarks.sink import Sink
from benchmarks.wan import DELAY
from benchmarks.wan_proxy import WanProxy

__all__ = ["LatencySink", "run_queue"]

LATENCY = 0.020
BODY_20KB = ("A line of the newsletter, about sixty-four characters long....\n" * 320)[:20_000]


@dataclass(frozen=True)
class _Received:
    data: bytes

    def parsed(self) -> Message:
        return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(self.data)


class _SlowHandler:
    def __init__(self, sink: LatencySink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        await asyncio.sleep(self.sink.latency)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        await asyncio.sleep(self.sink.latency)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.sink.latency)
        self.sink.messages.append(_Received(envelope.original_content or b""))
        return "250 2.0.0 accepted"


class LatencySink:
    """An aiosmtpd server on 127.0.0.1 (in a thread) that waits ``latency`` seconds before
    each reply to MAIL, RCPT and DATA, and keeps what it received (``messages``)."""

    def __init__(self, latency: float = LATENCY) -> None:
        self.latency = latency
        self.messages: list[_Received] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-sink", daemon=True)

    def _run(self) -> None:
        from aiosmtpd.smtp import SMTP

        loop = self._loop
        asyncio.set_event_loop(loop)
        handler = _SlowHandler(self)

        def protocol() -> SMTP:
            return SMTP(handler, data_size_limit=None, hostname="latency-sink", loop=loop)

        server = loop.run_until_complete(loop.create_server(protocol, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    def start(self) -> LatencySink:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _per_message(start: float, cpu: float, count: int) -> tuple[float, float]:
    """Wall and CPU milliseconds per message since ``start`` and ``cpu``."""
    return (
        (time.perf_counter() - start) / count * 1000,
        (time.process_time() - cpu) / count * 1000,
    )


def _best_costs(samples: list[tuple[float, float]]) -> dict[str, Value]:
    return {"ms/msg": min(wall for wall, _ in samples), "cpu ms/msg": min(c for _, c in samples)}


def _enqueue_cost(directory: Path, count: int) -> list[Row]:
    import mailcore
    from mailcore_celery import CeleryBackend
    from tests.celery.harness import RedisServer

    redis = RedisServer(directory / "enqueue-redis").start()
    try:
        mailcore.configure(mailers={"tx": {"url": "dummy://"}})  # 'using' must be a mailer
        backend = CeleryBackend(using="tx", broker_url=redis.url)

        def batch() -> list[mailcore.EmailMessage]:
            return [
                mailcore.EmailMessage(
                    f"Newsletter {n}", BODY_20KB, "news@example.com", [f"r{n}@example.com"]
                )
                for n in range(count)
            ]

        backend.send_messages(batch()[:20])  # warm: imports, connection
        batched: list[tuple[float, float]] = []
        single: list[tuple[float, float]] = []
        for _ in range(3):
            messages = batch()
            start, cpu = time.perf_counter(), time.process_time()
            assert backend.send_messages(messages) == count
            batched.append(_per_message(start, cpu, count))
            messages = batch()
            with backend:
                start, cpu = time.perf_counter(), time.process_time()
                for message in messages:
                    assert backend.send_messages([message]) == 1
                single.append(_per_message(start, cpu, count))
        return [
            Row(f"enqueue 20 KB, {count} per call, best of 3", _best_costs(batched)),
            Row("enqueue 20 KB, 1 per call, best of 3", _best_costs(single)),
        ]
    finally:
        redis.stop()


def _throughput(directory: Path, workers: int, count: int) -> tuple[float, int]:
    """Messages per second through ``workers`` worker processes to the benchmark sink
    behind the 20 ms WAN proxy (both in their own processes, as in the ``wan``
    benchmark), and the proxy's round trips (turns) per message."""
    import mailcore
    from mailcore_celery import CeleryBackend
    from mailcore_celery.ledger import Ledger
    from tests.celery.harness import RedisServer, Workers, wait_for

    run = directory / f"scale-{workers}-{time.monotonic_ns()}"
    run.mkdir()
    redis = RedisServer(run / "redis").start()
    with Sink() as sink, WanProxy(sink.port, DELAY) as proxy:
        env = {
            "MAILCORE_CELERY_BROKER_URL": redis.url,
            "MAILCORE_MAILERS_TX": f"smtp://{proxy.host}:{proxy.port}",
        }
        pool = Workers(env, run)
        try:
            pool.start(workers)
            wait_for(lambda: len(pool.ready()) == workers, 120, f"{workers} workers ready")
            backend = CeleryBackend(using="tx", broker_url=redis.url)
            messages = [
                mailcore.EmailMessage(
                    f"Scale {n}", "Hello.\n", "a@example.com", [f"r{n}@example.com"]
                )
                for n in range(count)
            ]
            ledger = Ledger.from_url(redis.url, "mailcore", patience=0)
            start = time.perf_counter()
            backend.send_messages(messages)
            wait_for(lambda: ledger.counts()["sent"] == count, 600, f"{count} sent")
            elapsed = time.perf_counter() - start
        finally:
            pool.stop()
            redis.stop()
    if sink.stats.get("messages", 0) < count:
        raise AssertionError(f"the sink received {sink.stats.get('messages')} of {count}")
    return count / elapsed, proxy.turns


def _load() -> str:
    """The machine's load averages (1, 5, 15 minutes), as ``uptime`` prints them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run_queue(config: Config) -> BenchResult:
    """Enqueue cost, scale-out throughput, and the full-size crash and restart runs."""
    from tests.celery.scenarios import broker_restart_run, crash_run

    result = BenchResult("queue", "celery backend: enqueue cost, scale-out, crash runs")
    with tempfile.TemporaryDirectory(prefix="mailcore-bench-queue-") as name:
        directory = Path(name)
        result.rows += _enqueue_cost(directory, min(500, config.queue_messages))
        samples: dict[int, list[float]] = {1: [], 2: [], 4: []}
        turns: dict[int, float] = {}
        for round_number in range(config.queue_rounds):
            for workers in samples:
                count = config.queue_messages * workers // 2
                rate, round_trips = _throughput(directory, workers, count)
                samples[workers].append(rate)
                turns[workers] = round_trips / count
            result.notes.append(
                f"scale-out round {round_number + 1}: "
                + ", ".join(f"{w} -> {r[-1]:.1f}/s" for w, r in samples.items())
                + f"; load {_load()}"
            )
        rates = {workers: max(values) for workers, values in samples.items()}
        for workers, rate in rates.items():
            result.rows.append(
                Row(
                    f"{workers} worker process(es), 20 ms WAN, best of {config.queue_rounds}",
                    {"msgs/s": rate, "round trips/msg": turns[workers]},
                )
            )
        speedup = rates[4] / rates[1]
        result.ratios.append(Ratio("4 workers / 1 worker", speedup, ">= 3.5", speedup >= 3.5))
        enqueue = result.rows[0].values["ms/msg"]
        assert isinstance(enqueue, float)
        result.ratios.append(
            Ratio("enqueue ms per 20 KB message (batch)", enqueue, "<= 1", enqueue <= 1.0)
        )
        crash = crash_run(
            directory / "crash", config.crash_messages, server=_recording_sink, lone=True
        )
        result.notes.append(f"crash run: {crash}")
        ok = crash.lost == 0 and crash.duplicates <= crash.unknown and crash.states_match
        result.ratios.append(Ratio("crash run: lost", float(crash.lost), "0", ok))
        restart = broker_restart_run(
            directory / "restart", max(100, config.crash_messages // 5), server=_recording_sink
        )
        result.notes.append(f"broker restart: {restart}")
        result.ratios.append(
            Ratio("broker restart: lost", float(restart.lost), "0", restart.lost == 0)
        )
        if not ok or restart.lost:
            result.error = "a queued message was lost or a duplicate was not counted"
    return result


def _recording_sink() -> Any:
    """The crash runs' server: no latency, keeps every message."""
    return LatencySink(latency=0).start()
