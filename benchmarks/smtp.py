"""The SMTP benchmark: many messages over one connection to a sink in another process.

Three contenders, each sending the same messages over one connection per round:
mailcore's SMTP backend (pipelining: the sink offers PIPELINING), Django's SMTP
``EmailBackend``, and, as the floor, raw ``smtplib.SMTP.sendmail`` of bytes built
before timing (smtplib does not pipeline). Message objects are built before
timing too; the backends' timed work is ``send_messages()`` (which renders each message).
"""

from __future__ import annotations

import email.utils
import smtplib
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.config import Config
from benchmarks.contenders import (
    django_available,
    django_bytes,
    django_message,
    mailcore_bytes,
    mailcore_message,
    setup_django,
)
from benchmarks.corpus import MessageSpec, make_corpus
from benchmarks.report import BenchResult, Ratio, Row, throughput_row
from benchmarks.sink import Sink
from benchmarks.timing import Contender, alternate, median

__all__ = ["Prebuilt", "prebuild", "run_smtp", "send_raw"]

#: One message for raw smtplib: envelope sender, envelope recipients, CRLF bytes.
Prebuilt = tuple[str, list[str], bytes]

RAW = "raw smtplib"
DJANGO_SMTP = "django.core.mail.backends.smtp.EmailBackend"


def prebuild(
    specs: Sequence[MessageSpec], builder: Callable[[MessageSpec, str], bytes]
) -> list[Prebuilt]:
    """The envelope and CRLF-terminated bytes of every spec, built with ``builder``."""
    prebuilt: list[Prebuilt] = []
    for spec in specs:
        sender = email.utils.parseaddr(spec.from_email)[1]
        recipients = [addr for _, addr in email.utils.getaddresses([*spec.to, *spec.cc])]
        prebuilt.append((sender, recipients, builder(spec, "\r\n")))
    return prebuilt


def send_raw(host: str, port: int, prebuilt: Sequence[Prebuilt]) -> int:
    """Send pre-built bytes with ``smtplib.SMTP.sendmail`` over one connection."""
    with smtplib.SMTP(host, port) as connection:
        for sender, recipients, data in prebuilt:
            connection.sendmail(sender, recipients, data)
    return len(prebuilt)


def _backend_contender(
    name: str,
    connect: Callable[[], Any],
    build: Callable[[MessageSpec], Any],
    specs: Sequence[MessageSpec],
) -> Contender:
    def prepare() -> Callable[[], int]:
        messages = [build(spec) for spec in specs]
        backend = connect()
        return lambda: int(backend.send_messages(messages))

    return Contender(name, prepare)


def _probe(
    connect: Callable[[], Any], build: Callable[[MessageSpec], Any], spec: MessageSpec
) -> str | None:
    """Send one message; None if it went, else why not."""
    try:
        sent = connect().send_messages([build(spec)])
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None if sent == 1 else f"send_messages() returned {sent} for one message"


def run_smtp(config: Config) -> BenchResult:
    """Time raw smtplib, mailcore and Django sending ``config.smtp_messages`` messages."""
    count = config.smtp_messages
    result = BenchResult(
        "smtp-one-connection",
        f"{count:,} messages over one SMTP connection to an aiosmtpd sink in another "
        f"process, {config.smtp_rounds} rounds",
    )
    specs = make_corpus(count)
    with_django = django_available()
    if with_django:
        setup_django()
    prebuilt = prebuild(specs, django_bytes if with_django else mailcore_bytes)
    result.notes.append(
        f"raw smtplib sends bytes pre-built by {'Django' if with_django else 'mailcore'}; "
        "message objects are built before timing, the backends render them while sending"
    )
    raw_bytes = sum(len(p[2]) for p in prebuilt)
    sizes: dict[str, int] = {RAW: raw_bytes, "django": raw_bytes}
    with Sink() as sink:
        host, port = sink.host, sink.port

        def mailcore_connect() -> Any:
            import mailcore

            return mailcore.get_connection("smtp", host=host, port=port)

        def django_connect() -> Any:
            from django.core.mail import get_connection

            return get_connection(DJANGO_SMTP, host=host, port=port)

        candidates = [("mailcore", mailcore_connect, mailcore_message)]
        if with_django:
            candidates.append(("django", django_connect, django_message))
        contenders = [Contender(RAW, lambda: lambda: send_raw(host, port, prebuilt))]
        unavailable: dict[str, str] = {}
        probes = 0
        for name, connect, build in candidates:
            probes += 1
            reason = _probe(connect, build, specs[0])
            if reason is None:
                contenders.append(_backend_contender(name, connect, build, specs))
                if name == "mailcore":
                    sizes[name] = sum(len(mailcore_bytes(spec, "\r\n")) for spec in specs)
            else:
                unavailable[name] = reason
        samples = alternate(contenders, config.smtp_rounds, expected_count=count)
    expected = probes - len(unavailable) + count * config.smtp_rounds * len(contenders)
    received = sink.stats.get("messages")
    if received != expected:
        result.error = f"the sink received {received} messages, expected {expected}"
    result.notes.append(f"the sink accepted {received:,} messages in all" if received else "")
    for name in [RAW, "mailcore", "django"]:
        if name in unavailable:
            result.rows.append(Row(name, unavailable=unavailable[name]))
        elif name in samples:
            result.rows.append(
                throughput_row(name, samples[name], count, **{"MiB/round": sizes[name] / 2**20})
            )
    raw_time = median(samples[RAW])
    if "mailcore" in samples:
        value = raw_time / median(samples["mailcore"])
        result.ratios.append(
            Ratio("throughput mailcore / raw smtplib", value, goal=">= 1.0x", met=value >= 1.0)
        )
        best = min(samples[RAW]) / min(samples["mailcore"])
        result.ratios.append(Ratio("best of rounds: mailcore / raw smtplib", best))
    else:
        result.ratios.append(Ratio("throughput mailcore / raw smtplib", None, goal=">= 1.0x"))
    if "django" in samples:
        result.ratios.append(
            Ratio("throughput django / raw smtplib", raw_time / median(samples["django"]))
        )
    if "mailcore" in samples and "django" in samples:
        result.ratios.append(
            Ratio(
                "throughput mailcore / django",
                median(samples["django"]) / median(samples["mailcore"]),
            )
        )
    if "mailcore" in sizes and abs(sizes["mailcore"] / raw_bytes - 1) > 0.05:
        result.notes.append(
            f"mailcore's messages are {sizes['mailcore'] / raw_bytes:.0%} the size of Django's: "
            "not like for like (see the build benchmark's check)"
        )
    result.notes = [n for n in result.notes if n]
    return result
