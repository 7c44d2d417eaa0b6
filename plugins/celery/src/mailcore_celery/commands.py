"""``mailcore worker`` and ``mailcore queue``: the plugin's commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from mailcore import ConfigurationError, mailers
from mailcore_celery.backend import BrokerError, CeleryBackend, celery_app, where
from mailcore_celery.ledger import Ledger

__all__ = ["register_queue", "register_worker", "settings_backend"]


class _Settings(CeleryBackend):
    """The celery backend's settings without ``using`` (the workers read it per task)."""

    require_using = False


def settings_backend(mailer: str | None, **options: Any) -> CeleryBackend:
    """The celery backend of the mailer ``mailer``, or of the ``[celery]`` settings."""
    if mailer is None:
        return _Settings(**options)
    backend = mailers.create(mailer, **options)
    if not isinstance(backend, CeleryBackend):
        raise ConfigurationError(f"mailer {mailer!r} does not use the celery backend")
    return backend


#: The most worker processes or threads ``--concurrency`` takes: each holds a few file
#: descriptors and connections, and a worker past the limit of open files crashes.
MAX_CONCURRENCY = 256


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_CONCURRENCY}, not {value}")
    return value


def _seconds(text: str, least: float = 0.0, inclusive: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value >= least if inclusive else value > least):
        bound = "at least" if inclusive else "more than"
        raise argparse.ArgumentTypeError(f"must be {bound} {least:g} seconds, not {text}")
    return value


def _seconds_from_zero(text: str) -> float:
    return _seconds(text, inclusive=True)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mailer",
        "--using",
        dest="mailer",
        metavar="ALIAS",
        help="take broker_url and queue from this celery mailer (default: the [celery] settings)",
    )
    parser.add_argument("--queue", metavar="Q", help="the Celery queue (default: the settings')")


def _backend(args: argparse.Namespace) -> CeleryBackend:
    options = {"queue": args.queue} if args.queue else {}
    return settings_backend(args.mailer, **options)


def register_worker(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add the ``worker`` arguments to ``parser``; return the command's handler."""
    parser.description = (
        "Run a Celery worker that sends the messages the celery backend enqueued, each "
        "through the mailer named when it was enqueued, with these mailcore settings."
    )
    _common(parser)
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        metavar="N",
        help=f"processes or threads, 1 to {MAX_CONCURRENCY} (default: CPUs)",
    )
    parser.add_argument(
        "-n",
        "--hostname",
        default=None,
        metavar="NAME",
        help="the worker's node name (default mailcore-<pid>@<host>: unique per process)",
    )
    parser.add_argument(
        "--pool",
        choices=["prefork", "solo", "threads"],
        default="prefork",
        help="Celery's execution pool (default prefork)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="redeliver a task taken by a worker that died, after this long (default 300)",
    )
    parser.add_argument("--loglevel", default="WARNING", help="Celery's log level")
    return _worker


def _worker(args: argparse.Namespace) -> int:
    from mailcore_celery.tasks import make_app

    backend = _backend(args)
    _reachable(backend)
    queue = backend.options.queue
    app = make_app(backend.broker_url, queue, args.visibility_timeout)
    hostname = args.hostname or f"mailcore-{os.getpid()}@%h"
    # no gossip or mingle: mailcore uses neither, and gossip has crashed workers on a
    # broker restart ('NoneType' object has no attribute 'hostname', kombu issue #582)
    argv = ["worker", "-Q", queue, "--pool", args.pool, "--loglevel", args.loglevel,
            "--hostname", hostname, "--without-gossip", "--without-mingle"]  # fmt: skip
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    print(
        f"mailcore worker: queue {queue!r} on {where(backend.broker_url)}",
        file=sys.stderr,
        flush=True,
    )
    app.worker_main(argv)
    return 0


def register_queue(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add ``queue status|failed|retry-failed|recover`` to ``parser``; return the handler."""
    parser.description = "What became of the messages the celery backend enqueued."
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="count queued, sent, retrying, failed, unknown")
    status.add_argument("--json", action="store_true", help="print the counts as JSON")
    failed = actions.add_parser("failed", help="list the dead letters with their errors")
    failed.add_argument("--json", action="store_true", help="print them as JSON")
    failed.add_argument(
        "--refused",
        action="store_true",
        help="list only the messages sent while the server refused some recipients",
    )
    retry = actions.add_parser("retry-failed", help="enqueue the dead letters again")
    retry.add_argument(
        "--id",
        action="append",
        dest="ids",
        metavar="MESSAGE_ID",
        help="only this Message-ID (repeatable; default: every dead letter)",
    )
    recover = actions.add_parser(
        "recover", help="enqueue again the messages whose tasks the broker lost"
    )
    recover.add_argument(
        "--visibility-timeout",
        type=_seconds_from_zero,
        default=300.0,
        metavar="SECONDS",
        help="the workers' visibility timeout (default 300): a message is taken for lost "
        "once it stayed unstarted past it",
    )
    for sub in (status, failed, retry, recover):
        _common(sub)
    return _queue


def _reachable(backend: CeleryBackend) -> Ledger:
    """The backend's ledger, once the broker answered: else one clear error at once."""
    ledger = backend.ledger()
    try:
        ledger.client.ping()
    except Exception as exc:
        raise BrokerError(
            f"cannot reach the broker at {where(backend.broker_url)}: {exc}"
        ) from None
    return ledger


def _failed(ledger: Ledger, letters: dict[str, Any], as_json: bool, refused: bool) -> int:
    """Print the dead letters and the partly refused messages (``refused``: only those)."""
    partly = ledger.partly_refused()
    if as_json:
        print(json.dumps(partly if refused else letters))
        return 0
    for message_id, letter in sorted(letters.items()) if not refused else ():
        print(f"{message_id}  attempts {letter['attempts']}  {letter['error']}")
    for message_id, note in sorted(partly.items()):
        answers = "; ".join(
            f"{rcpt}: {code} {text}" for rcpt, (code, text) in note["refused"].items()
        )
        print(f"{message_id}  sent, partly refused  {answers}")
    return 0


def _queue(args: argparse.Namespace) -> int:
    backend = _backend(args)
    ledger = _reachable(backend)
    if args.action == "status":
        counts = ledger.counts()
        if args.json:
            print(json.dumps(counts))
        else:
            for state, count in counts.items():
                print(f"{state:<9} {count}")
        return 0
    from mailcore_celery.tasks import grace, publish

    app = celery_app(backend.broker_url, backend.options.queue)
    if args.action == "recover":
        from mailcore_celery.sweep import recover

        count = recover(app, ledger, grace(args.visibility_timeout))
        print(f"{count} lost message(s) enqueued again")
        return 0
    letters = ledger.dead_letters()
    if args.action == "failed":
        return _failed(ledger, letters, args.json, args.refused)
    chosen = args.ids or sorted(letters)
    missing = [message_id for message_id in chosen if message_id not in letters]
    if missing:
        raise ConfigurationError(f"no dead letter with Message-ID {missing[0]}")
    taken = ledger.requeue(chosen)
    publish(app, backend.options.queue, [(message_id, 0) for message_id in taken])
    print(f"{len(taken)} message(s) enqueued again")
    return 0
