"""One measurement of the memory benchmark, run in a fresh process.

``python -m benchmarks.memory_child --library mailcore --backend file --attachment PATH
--outdir DIR [--port N]`` sends one message with the file at PATH attached and prints one
JSON line: baseline and peak resident memory (KiB), the extra above the baseline, the
method used and the seconds taken.

Method: after imports, backend set-up and one small warm-up message through the same
backend (so lazy imports and caches are in the baseline), a garbage collection, then the
peak ("high water mark") is reset by writing ``5`` to ``/proc/self/clear_refs`` and the
baseline is ``VmRSS`` from ``/proc/self/status``. The message is built, the file attached
(read by the library) and the message sent; the peak is then ``VmHWM``. Where
``clear_refs`` cannot be written, ``ru_maxrss`` (never reset) is used instead, which can
only overstate the extra memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "measure", "memory_status", "reset_peak"]


def memory_status() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of this process, in KiB (empty where /proc is missing)."""
    values: dict[str, int] = {}
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS; False if the kernel won't."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _connect(library: str, backend: str, outdir: str, port: int) -> Any:
    if library == "django":
        from django.core.mail import get_connection

        from benchmarks.contenders import setup_django

        setup_django()
        if backend == "file":
            return get_connection(
                "django.core.mail.backends.filebased.EmailBackend", file_path=outdir
            )
        return get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port
        )
    import mailcore

    if backend == "file":
        return mailcore.get_connection("file", file_path=outdir)
    return mailcore.get_connection("smtp", host="127.0.0.1", port=port)


def _message(library: str) -> Any:
    arguments: dict[str, Any] = {
        "subject": "Big attachment",
        "body": "The file is attached.\n",
        "from_email": "sender@example.com",
        "to": ["recipient@example.com"],
    }
    if library == "django":
        from django.core.mail import EmailMessage

        return EmailMessage(**arguments)
    import mailcore

    return mailcore.EmailMessage(**arguments)


def measure(library: str, backend: str, attachment: str, outdir: str, port: int) -> dict[str, Any]:
    """Warm up, reset the peak, send ``attachment``; the figures as a dict."""
    connection = _connect(library, backend, outdir, port)
    if connection.send_messages([_message(library)]) != 1:
        raise RuntimeError("the warm-up message was not sent")
    gc.collect()
    method = "clear_refs+VmHWM" if reset_peak() and memory_status() else "ru_maxrss"
    baseline = memory_status().get("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    message = _message(library)
    message.attach_file(attachment, "application/octet-stream")
    sent = connection.send_messages([message])
    seconds = time.perf_counter() - start
    if method == "ru_maxrss":
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    else:
        peak = memory_status()["VmHWM"]
    return {
        "library": library,
        "backend": backend,
        "sent": sent,
        "method": method,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "extra_kib": peak - baseline,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, measure, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_child")
    parser.add_argument("--library", choices=["mailcore", "django"], required=True)
    parser.add_argument("--backend", choices=["file", "smtp"], required=True)
    parser.add_argument("--attachment", required=True)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    figures = measure(args.library, args.backend, args.attachment, args.outdir, args.port)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
