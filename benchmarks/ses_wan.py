"""The ``ses-wan`` benchmark: SES ``SendEmail`` over a 20 ms round trip, sequential
against ``max_connections=8``.

moto's SES runs in server mode in its own process (its WSGI application served by
cheroot, with keep-alive) behind the
latency-injecting proxy of :mod:`benchmarks.wan_proxy`; the SES backend's
``endpoint_url`` points at the proxy. Each call costs at least one round trip (HTTP
keep-alive); 8 at once over one boto3 client should approach 8 times as many.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from benchmarks.config import Config
from benchmarks.contenders import mailcore_message
from benchmarks.corpus import make_corpus
from benchmarks.report import BenchResult, Ratio, Row, throughput_row
from benchmarks.timing import Contender, alternate
from benchmarks.wan import DELAY
from benchmarks.wan_proxy import WanProxy

__all__ = ["run_ses_wan"]

REGION = "us-east-1"
SENDER = "bench@example.com"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def _moto_server() -> Iterator[int]:
    """moto's server on a free port of 127.0.0.1, in its own process."""
    port = _free_port()
    # moto's own server (werkzeug's) closes the connection after each call; SES keeps
    # it alive, so moto's application is served by cheroot, which does too
    code = (
        "import sys; from cheroot.wsgi import Server; "
        "from moto.moto_server.werkzeug_app import DomainDispatcherApplication, "
        "create_backend_app; "
        "Server(('127.0.0.1', int(sys.argv[1])), "
        "DomainDispatcherApplication(create_backend_app), numthreads=16).safe_start()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_ses_wan(config: Config) -> BenchResult:
    """Time the SES backend sequential and with 8 concurrent calls over the 20 ms link."""
    counts = {
        "sequential": max(1, config.wan_messages // 8),
        "max_connections=8": config.wan_messages,
    }
    result = BenchResult(
        "ses-wan",
        f"SES SendEmail to moto's server over a {2 * DELAY * 1000:.0f} ms round trip, "
        f"{config.wan_rounds} rounds; messages per round: "
        + ", ".join(f"{name} {n:,}" for name, n in counts.items()),
    )
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ.setdefault(name, value)
    specs = [replace(spec, from_email=SENDER) for spec in make_corpus(max(counts.values()))]
    import boto3

    import mailcore

    samples: dict[str, list[float]] = {}
    proxies: dict[str, WanProxy] = {}
    with _moto_server() as port:
        boto3.client(
            "ses", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}"
        ).verify_email_identity(EmailAddress=SENDER)
        try:
            for name in counts:
                proxies[name] = WanProxy(port, DELAY).__enter__()

            def contender(name: str) -> Contender:
                proxy = proxies[name]

                def prepare() -> Callable[[], int]:
                    messages = [mailcore_message(spec) for spec in specs[: counts[name]]]
                    backend = mailcore.get_connection(
                        "ses",
                        region=REGION,
                        endpoint_url=f"http://{proxy.host}:{proxy.port}",
                        max_connections=8 if name.endswith("8") else 1,
                    )
                    backend.open()  # the client and its credentials, outside the timing
                    return lambda: int(backend.send_messages(messages))

                return Contender(name, prepare)

            names = list(counts)
            for round_index in range(config.wan_rounds):
                shift = round_index % len(names)
                for name in names[shift:] + names[:shift]:
                    times = alternate([contender(name)], 1, expected_count=counts[name])
                    samples.setdefault(name, []).extend(times[name])
        finally:
            for proxy in proxies.values():
                proxy.__exit__(None, None, None)
    rates = {}
    for name in counts:
        sent = counts[name] * config.wan_rounds
        row: Row = throughput_row(
            name,
            samples[name],
            counts[name],
            **{
                "best msgs/s": counts[name] / min(samples[name]),
                "round trips/msg": proxies[name].turns / sent,
                "connections": proxies[name].connections,
            },
        )
        result.rows.append(row)
        rates[name] = counts[name] / min(samples[name])
    ratio = rates["max_connections=8"] / rates["sequential"]
    result.ratios.append(
        Ratio("best: max_connections=8 / sequential", ratio, goal=">= 6x", met=ratio >= 6)
    )
    return result
