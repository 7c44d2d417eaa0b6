"""The ``wan`` benchmark: SMTP over a 20 ms round trip, Django against pooled, pipelined mailcore.

An aiosmtpd sink (its own process, offering PIPELINING) sits behind a latency-injecting
proxy (:mod:`benchmarks.wan_proxy`, its own process: 10 ms each way). Django's SMTP
backend sends over one connection, waiting for each reply; mailcore sends with
``max_connections`` 1 (pipelined) and 8. Each contender has its own proxy, which counts
the round trips its messages cost. The physical limit of ``n`` connections is
``n / 20 ms`` messages a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.config import Config
from benchmarks.contenders import django_available, django_message, mailcore_message, setup_django
from benchmarks.corpus import make_corpus
from benchmarks.report import BenchResult, Ratio, Row, throughput_row
from benchmarks.sink import Sink
from benchmarks.smtp import DJANGO_SMTP
from benchmarks.timing import Contender, alternate
from benchmarks.wan_proxy import WanProxy

__all__ = ["ASYNC", "ASYNC_CONCURRENCY", "DELAY", "RATE", "run_wan"]

#: The async contender: concurrent ``message.asend(using=...)`` calls (what
#: ``asend_mail`` runs) through a named mailer with ``max_connections=8``.
ASYNC = "mailcore async asend(using=), max_connections=8"
#: How many of its calls are in flight at once.
ASYNC_CONCURRENCY = 200

#: Seconds each way: a 20 ms round trip.
DELAY = 0.010
#: ``max_per_second`` of the rate check: 8 connections kept to 50 messages a second.
RATE = 50.0


def _best(times: list[float]) -> float:
    return min(times)


def _async_work(
    proxy: WanProxy, messages: list[Any], cpu: dict[str, float], most_open: list[int]
) -> Callable[[], int]:
    """The async contender's run: every message through ``asend(using="wan_async")``,
    :data:`ASYNC_CONCURRENCY` calls at a time, each call a new backend instance of the
    mailer (their pool of 8 connections is shared). ``most_open`` gets the most
    connections the mailer's async pool had open at once in each run, counted in the
    client (the proxy's count also holds connections it is still closing)."""
    import asyncio

    import mailcore

    mailcore.configure(
        mailers={
            "wan_async": {"url": f"smtp://{proxy.host}:{proxy.port}?max_connections=8"},
        }
    )

    async def send_all() -> int:
        gate = asyncio.Semaphore(ASYNC_CONCURRENCY)

        async def one(message: Any) -> int:
            async with gate:
                return int(await message.asend(using="wan_async"))

        sent = sum(await asyncio.gather(*(one(message) for message in messages)))
        from mailcore_smtp.apool import apool_for

        backend: Any = mailcore.get_connection(using="wan_async")
        most_open.append(apool_for(backend.options).most_open)
        return sent

    def work() -> int:
        start = time.process_time()
        sent = asyncio.run(send_all())
        cpu[ASYNC] = cpu.get(ASYNC, 0.0) + time.process_time() - start
        return sent

    return work


def run_wan(config: Config) -> BenchResult:
    """Time Django and mailcore (1 and 8 connections) over the 20 ms link."""
    counts = {
        "django": config.wan_django_messages,
        "mailcore max_connections=1": config.wan_messages // 4,
        "mailcore max_connections=8": config.wan_messages,
        ASYNC: config.wan_messages,
    }
    result = BenchResult(
        "smtp-wan",
        f"SMTP over a {2 * DELAY * 1000:.0f} ms round trip (proxy in its own process) to an "
        f"aiosmtpd sink offering PIPELINING, {config.wan_rounds} rounds; messages per round: "
        + ", ".join(f"{name} {n:,}" for name, n in counts.items()),
    )
    specs = make_corpus(max(counts.values()))
    loads = [os.getloadavg()[0]]
    with_django = django_available()
    if with_django:
        setup_django()
    proxies: dict[str, WanProxy] = {}
    samples: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}  # the client process's CPU seconds, all threads
    most_open: list[int] = []  # the async contender's pool, per run
    with Sink() as sink:
        try:
            for name in counts:
                proxies[name] = WanProxy(sink.port, DELAY).__enter__()

            def contender(name: str) -> Contender:
                proxy = proxies[name]
                n = counts[name]

                def prepare() -> Callable[[], int]:
                    backend: Any
                    if name == ASYNC:
                        messages = [mailcore_message(s) for s in specs[:n]]
                        return _async_work(proxy, messages, cpu, most_open)
                    if name == "django":
                        from django.core.mail import get_connection

                        messages = [django_message(spec) for spec in specs[:n]]
                        backend = get_connection(DJANGO_SMTP, host=proxy.host, port=proxy.port)
                    else:
                        import mailcore

                        messages = [mailcore_message(spec) for spec in specs[:n]]
                        backend = mailcore.get_connection(
                            "smtp",
                            host=proxy.host,
                            port=proxy.port,
                            max_connections=8 if name.endswith("8") else 1,
                        )

                    def work() -> int:
                        start = time.process_time()
                        sent = int(backend.send_messages(messages))
                        cpu[name] = cpu.get(name, 0.0) + time.process_time() - start
                        return sent

                    return work

                return Contender(name, prepare)

            names = [name for name in counts if name != "django" or with_django]
            for round_index in range(config.wan_rounds):
                for name in names[round_index % len(names) :] + names[: round_index % len(names)]:
                    times = alternate([contender(name)], 1, expected_count=counts[name])
                    samples.setdefault(name, []).extend(times[name])
        finally:
            for proxy in proxies.values():
                proxy.__exit__(None, None, None)
    loads.append(os.getloadavg()[0])
    expected = sum(counts[name] * config.wan_rounds for name in names)
    received = sink.stats.get("messages")
    if received != expected:
        result.error = f"the sink received {received} messages, expected {expected}"
    rates: dict[str, float] = {}
    for name in counts:
        if name not in samples:
            result.rows.append(Row(name, unavailable="Django is not installed"))
            continue
        sent = counts[name] * config.wan_rounds
        proxy = proxies[name]
        row = throughput_row(
            name,
            samples[name],
            counts[name],
            **{
                "best msgs/s": counts[name] / _best(samples[name]),
                "round trips/msg": proxy.turns / sent,
                "connections": proxy.connections,
                "most open at once": max(most_open or [0]) if name == ASYNC else None,
                "client CPU ms/msg": 1000 * cpu.get(name, 0.0) / sent,
                "proxy CPU ms/msg": 1000 * proxy.cpu_seconds / sent,
                # the proxy's view of each turn (means, ms): see the note below
                "server answer ms": proxy.mean_ms("server"),
                "client answer ms": proxy.mean_ms("client"),
                "proxy late ms": proxy.mean_ms("late"),
            },
        )
        result.rows.append(row)
        rates[name] = counts[name] / _best(samples[name])
    one, eight = rates.get("mailcore max_connections=1"), rates.get("mailcore max_connections=8")
    if eight and rates.get(ASYNC):
        value = rates[ASYNC] / eight
        result.ratios.append(
            Ratio(
                f"best: mailcore async ({ASYNC_CONCURRENCY} concurrent asend) / sync, "
                "8 connections each",
                value,
                goal=">= 0.8x",
                met=value >= 0.8,
            )
        )
        most = max(most_open or [0])
        result.ratios.append(
            Ratio(
                "mailcore async: most connections its pool had open at once / 8",
                most / 8,
                goal="<= 1.0x",
                met=most <= 8,
            )
        )
    django = rates.get("django")
    limit8 = 8 / (2 * DELAY)
    if django and one:
        value = one / django
        result.ratios.append(
            Ratio("best: mailcore 1 connection / django", value, goal=">= 3x", met=value >= 3)
        )
    if django and eight:
        value = eight / django
        result.ratios.append(
            Ratio("best: mailcore 8 connections / django", value, goal=">= 25x", met=value >= 25)
        )
    if eight:
        value = eight / limit8
        result.ratios.append(
            Ratio(
                f"best: mailcore 8 connections / physical limit ({limit8:.0f} msgs/s)",
                value,
                goal=">= 0.8x",
                met=value >= 0.8,
            )
        )
        allowed = _allowed_by_link_and_sink(proxies["mailcore max_connections=8"], 8)
        result.ratios.append(
            Ratio(
                f"best: mailcore 8 connections / what this link and sink allow "
                f"({allowed:.0f} msgs/s)",
                eight / allowed,
            )
        )
    sink_cpu = sink.stats.get("cpu_ms")
    if sink_cpu and received:
        result.notes.append(
            f"the sink used {sink_cpu / received:.2f} ms of CPU per message (one process "
            "for every contender); with the client's and the proxy's, the CPU a message "
            "costs on this machine bounds the rate once the round trips are overlapped"
        )
    _rate_check(result, specs, config)
    result.notes.append(
        "round trips/msg: turns counted by the proxy (the client sending after the server "
        "spoke) over the messages sent, connection set-up and QUIT included"
    )
    result.notes.append(
        "the proxy's view of each turn (means): server answer ms, from the client's bytes "
        "reaching the sink to the last chunk of its answer; client answer ms, from the "
        "answer reaching the client to its next bytes; proxy late ms, how late the proxy "
        f"forwarded a chunk after its {DELAY * 1000:g} ms (waiting for a CPU). What the "
        "link and sink allow: n connections / (round trip + server answer + 2 x late), "
        "a client that answers at once and never reconnects"
    )
    start, end = loads
    result.notes.append(f"load average (1 min) at the start and end: {start:.2f}, {end:.2f}")
    return result


def _allowed_by_link_and_sink(proxy: WanProxy, connections: int) -> float:
    """Messages a second ``connections`` connections could carry through ``proxy`` with
    a client that answered at once: each turn is the round trip, the sink's answer and
    the proxy's lateness each way (the proxy's measured means)."""
    server, late = proxy.mean_ms("server") / 1000, proxy.mean_ms("late") / 1000
    return connections / (2 * DELAY + server + 2 * late)


def _rate_check(result: BenchResult, specs: list[Any], config: Config) -> None:
    """mailcore with 8 connections and ``max_per_second=RATE`` for about 10 s (2 s in
    --quick) through the proxy, to its own sink, which times each message's arrival."""
    import mailcore

    count = int(RATE * (10 if config.wan_rounds > 1 else 2))
    messages = [mailcore_message(specs[n % len(specs)]) for n in range(count)]
    with Sink() as sink, WanProxy(sink.port, DELAY) as proxy:
        backend = mailcore.get_connection(
            "smtp", host=proxy.host, port=proxy.port, max_connections=8, max_per_second=RATE
        )
        start = time.perf_counter()
        sent = backend.send_messages(messages)
        elapsed = time.perf_counter() - start
    span = sink.stats.get("span_us", 0) / 1e6
    rate = (count - 1) / span if span else float("nan")
    most = sink.stats.get("max_per_second_window")
    name = f"mailcore max_connections=8, max_per_second={RATE:g}"
    result.rows.append(
        Row(
            name,
            {
                "messages": sent,
                "s": elapsed,
                "msgs/s at the sink": rate,
                "most in 1 s at the sink": most,
            },
        )
    )
    result.ratios.append(
        Ratio(
            f"rate at the sink / max_per_second={RATE:g}",
            rate / RATE,
            goal="0.95x-1.0x",
            met=0.95 <= rate / RATE <= 1.0,
        )
    )
    result.ratios.append(
        Ratio(
            f"most messages in any 1 s at the sink / {RATE:g}",
            (most or 0) / RATE,
            goal="<= 1.0x",
            met=most is not None and most <= RATE,
        )
    )
    if sent != count:
        result.error = f"the rate check sent {sent} of {count} messages"
