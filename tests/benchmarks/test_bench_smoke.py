"""Smoke tests of the benchmark harness (benchmarks/): its logic on tiny inputs, no timings.

They run in the main test environment, where Django is not installed: the harness then
checks mailcore's output against the spec alone and leaves the Django side out.
"""

from __future__ import annotations

import email.message
import email.policy
import json
import sys
from pathlib import Path

import pytest

from benchmarks.build import check_build
from benchmarks.coldstart import time_command
from benchmarks.compare import describe, differences, expected_description, spec_differences
from benchmarks.config import resolve_config
from benchmarks.contenders import django_available, mailcore_bytes
from benchmarks.corpus import ATTACHMENT_SIZE, KINDS, make_corpus, make_spec
from benchmarks.memory import make_attachment, run_child
from benchmarks.memory_child import memory_status, reset_peak
from benchmarks.report import BenchResult, Ratio, Row, format_result
from benchmarks.runner import main
from benchmarks.sink import Sink
from benchmarks.smtp import prebuild, send_raw
from benchmarks.timing import Contender, alternate, rotation


def _stdlib_rendering(subject: str) -> bytes:
    """The plain message number 0 of the corpus, rendered with the standard library."""
    spec = make_spec(0)
    message = email.message.EmailMessage(policy=email.policy.default)
    message["Subject"] = subject
    message["From"] = spec.from_email
    message["To"] = ", ".join(spec.to)
    message["Date"] = "Thu, 01 Jan 2026 00:00:00 +0000"
    message["Message-ID"] = "<1@example.com>"
    message.set_content(spec.body)
    return message.as_bytes()


def test_the_corpus_cycles_through_four_kinds_with_two_20_kib_attachments() -> None:
    specs = make_corpus(8)

    assert [s.kind for s in specs] == [*KINDS, *KINDS]
    assert [len(a.content) for a in specs[3].attachments] == [ATTACHMENT_SIZE, ATTACHMENT_SIZE]
    assert specs[7].subject == "Invoice 00007"


def test_the_expected_structure_of_an_attachment_message() -> None:
    assert expected_description(make_spec(3)).structure == (
        "multipart/mixed(text/plain, application/pdf[attachment; invoice-00003.pdf], "
        "image/png[attachment; chart.png])"
    )


def test_the_checker_accepts_a_faithful_rendering_and_names_a_wrong_subject() -> None:
    assert spec_differences(make_spec(0), _stdlib_rendering("Weekly report #0")) == []

    problems = spec_differences(make_spec(0), _stdlib_rendering("Weekly report #1"))

    assert problems == [
        "header 'subject': mailcore ('Weekly report #1',) vs expected ('Weekly report #0',)"
    ]


def test_two_renderings_differing_only_in_date_and_message_id_are_the_same() -> None:
    first = describe(_stdlib_rendering("Same"))
    second = describe(_stdlib_rendering("Same").replace(b"<1@example.com>", b"<2@example.com>"))

    assert differences(first, second, ("a", "b")) == []


def test_mailcore_builds_every_kind_as_the_spec_says() -> None:
    assert check_build(make_corpus(4), with_django=False) == []


def test_alternate_rotates_who_goes_first_and_checks_the_count() -> None:
    order: list[str] = []

    def contender(name: str) -> Contender:
        def work() -> int:
            order.append(name)
            return 2

        return Contender(name, lambda: work)

    samples = alternate([contender("a"), contender("b"), contender("c")], 3, expected_count=2)

    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {name: len(times) for name, times in samples.items()} == {"a": 3, "b": 3, "c": 3}
    assert rotation(["a", "b"], 1) == ["b", "a"]
    with pytest.raises(AssertionError, match="did 2 of 5"):
        alternate([contender("a")], 1, expected_count=5)


def test_sizes_come_from_quick_then_the_environment_then_the_flags() -> None:
    config = resolve_config(
        True, {"smtp_rounds": 4}, environ={"BENCH_SMTP_MESSAGES": "7", "BENCH_SMTP_ROUNDS": "9"}
    )

    assert (config.build_messages, config.smtp_messages, config.smtp_rounds) == (200, 7, 4)
    assert resolve_config(False, {}, environ={}).build_messages == 4000
    with pytest.raises(ValueError, match="BENCH_BUILD_ROUNDS='x' is not a whole number"):
        resolve_config(False, {}, environ={"BENCH_BUILD_ROUNDS": "x"})


def test_a_result_prints_as_a_table_with_its_ratios_and_unavailable_rows() -> None:
    result = BenchResult(
        "demo",
        "a title",
        rows=[Row("fast", {"median s": 0.5, "msgs/s": 8000.0}), Row("slow", unavailable="boom")],
        ratios=[Ratio("fast / slow", 2.5, ">= 2.0x", True)],
        seconds=1.0,
    )

    assert format_result(result).splitlines() == [
        "== demo: a title ==",
        "        median s  msgs/s",
        "  fast     0.500   8,000",
        "  slow  unavailable: boom",
        "  fast / slow = 2.50x   (goal >= 2.0x: met)",
        "  (1.0 s)",
    ]


def test_raw_smtplib_sends_reach_the_sink_process() -> None:
    prebuilt = prebuild(make_corpus(2), mailcore_bytes)

    with Sink() as sink:
        assert send_raw(sink.host, sink.port, prebuilt) == 2

    assert sink.stats["messages"] == 2
    assert sink.stats["bytes"] >= sum(len(data) for _, _, data in prebuilt)


#: Contents whose dots and line ends the sink's block reader must get right.
TRICKY_BODIES = [
    b"",  # no body: the final dot comes right after the headers' blank line
    b".",  # a lone dot, which the client doubles
    b"..\r\n.x\r\nend.\r\n.",  # leading dots, a line ending in a dot, no final CRLF
    b"a.\r\n.\r\n.\r\n",  # dots that end lines and lines that are dots
    b"=2E\r\n" + b"QUJD.\r\n" * 3000,  # 21 KiB of lines ending in a dot
]


def _tricky_messages() -> list[bytes]:
    return [
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: %d\r\n\r\n" % n + body
        for n, body in enumerate(TRICKY_BODIES)
    ]


def _as_received(data: bytes) -> bytes:
    """What the server must hand its handler: the content with a final CRLF."""
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def test_the_sink_reads_dots_and_line_ends_as_sent_by_smtplib_and_pipelined_mailcore() -> None:
    import zlib

    import mailcore

    contents = _tricky_messages()
    expected = [_as_received(data) for data in contents] * 2
    with Sink() as sink:
        prebuilt = [("a@example.com", ["b@example.com"], data) for data in contents]
        assert send_raw(sink.host, sink.port, prebuilt) == len(contents)
        # pipelined: each final dot shares its write with the next MAIL FROM
        backend = mailcore.get_connection("smtp", host=sink.host, port=sink.port)
        messages = [
            mailcore.EmailMessage(
                f"{n}",
                body.decode(),
                "a@example.com",
                ["b@example.com"],
                headers={"Date": "Thu, 01 Jan 2026 00:00:00 +0000", "Message-ID": f"<{n}@x>"},
            )
            for n, body in enumerate(TRICKY_BODIES)
        ]
        assert backend.send_messages(messages) == len(messages)
        expected[len(contents) :] = [_as_received(m.serialize("\r\n")) for m in messages]

    assert sink.stats["messages"] == 2 * len(contents)
    assert sink.stats["bytes"] == sum(len(data) for data in expected)
    crc = 0
    for data in expected:
        crc = zlib.crc32(data, crc)
    assert sink.stats["crc32"] == crc


def test_the_peak_memory_method_sees_a_20_mib_allocation() -> None:
    assert reset_peak()
    baseline = memory_status()["VmRSS"]
    block = b"x" * (20 * 2**20)  # written, so every page is resident

    assert memory_status()["VmHWM"] - baseline >= 19 * 1024
    del block


def test_the_memory_child_measures_one_send_through_the_file_backend(tmp_path: Path) -> None:
    attachment = make_attachment(tmp_path, 1)

    figures = run_child("mailcore", "file", attachment, tmp_path, port=0)

    assert figures.get("error") is None
    assert figures["sent"] == 1
    assert figures["output_bytes"] > 2**20
    assert figures["peak_kib"] >= figures["baseline_kib"]


def test_a_failing_command_is_reported_with_its_error_line() -> None:
    seconds, error = time_command(
        [sys.executable, "-c", "raise SystemExit('no such thing')"], Path()
    )

    assert seconds > 0
    assert error == "exit 1: no such thing"


def test_the_runner_writes_json_for_the_smtp_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "results.json"

    status = main(["smtp", "--smtp-messages", "3", "--smtp-rounds", "1", "--json", str(out)])

    results = json.loads(out.read_text())["benchmarks"]["smtp-one-connection"]
    assert status == 0
    assert results["rows"][0]["label"] == "raw smtplib"
    assert len(results["rows"][0]["samples"]) == 1
    assert not django_available() or [r["label"] for r in results["rows"]][2] == "django"
