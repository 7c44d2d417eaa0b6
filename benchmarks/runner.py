"""``python -m benchmarks``: run the chosen benchmarks, print tables, write JSON."""

from __future__ import annotations

import argparse
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from benchmarks.build import profile_build, run_build
from benchmarks.coldstart import run_coldstart
from benchmarks.config import Config, resolve_config
from benchmarks.corpus import make_corpus
from benchmarks.memory import run_memory
from benchmarks.queue import run_queue
from benchmarks.report import BenchResult, format_result, machine_info, write_json
from benchmarks.ses_wan import run_ses_wan
from benchmarks.smtp import run_smtp
from benchmarks.wan import run_wan

__all__ = ["BENCHMARKS", "main"]

#: Every benchmark by the name used on the command line, in the order they run.
BENCHMARKS: dict[str, Callable[[Config], BenchResult]] = {
    "build": run_build,
    "smtp": run_smtp,
    "wan": run_wan,
    "ses-wan": run_ses_wan,
    "memory": run_memory,
    "coldstart": run_coldstart,
    "queue": run_queue,
}

RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of mailcore against Django's mail (see benchmarks/README.md).",
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="BENCHMARK",
        help=f"which to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--json", type=Path, default=RESULTS / "latest.json", help="where to write the results"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of mailcore's build"
    )
    for f in fields(Config):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=int,
            metavar="N",
            help=f"(env BENCH_{f.name.upper()}; default {f.default})",
        )
    return parser


def _run(name: str, config: Config) -> BenchResult:
    start = time.perf_counter()
    try:
        result = BENCHMARKS[name](config)
    except Exception as exc:
        traceback.print_exc()
        result = BenchResult(name, "crashed", error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 1 if any failed (a check or a crash), else 0."""
    args = _parser().parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in fields(Config)}
    try:
        config = resolve_config(args.quick, overrides)
    except ValueError as exc:
        _parser().error(str(exc))
    unknown = [name for name in args.benchmarks if name not in BENCHMARKS]
    if unknown:
        _parser().error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    machine = machine_info()
    if not machine["mailcore_from_this_repository"]:
        print("WARNING: the mailcore imported is not this repository's core/src", flush=True)
    print(
        f"mailcore benchmarks: {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, Django {machine['versions']['django'] or 'not installed'}, "
        f"mailcore at {machine['git_commit']}"
        + (" (+ uncommitted changes)" if machine["uncommitted_changes_in_core_or_plugins"] else "")
    )
    load = machine["load_average_at_start"][0]
    if load > 0.5:
        print(f"note: load average {load:.2f} at start; other work on this machine adds noise")
    results: list[BenchResult] = []
    for name in args.benchmarks or list(BENCHMARKS):
        result = _run(name, config)
        results.append(result)
        print()
        print(format_result(result), flush=True)
        if name == "build" and args.profile:
            count = min(config.build_messages, 1000)
            print(f"\n-- cProfile of mailcore building {count} messages (by own time) --")
            print(profile_build(make_corpus(count), args.json.with_name("build.prof")))
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(args.json, results, config.as_dict(), machine)
    print(f"\nresults written to {args.json}")
    failed = [r.name for r in results if r.error]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0
