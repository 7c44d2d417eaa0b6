"""The file backend under concurrency: one complete file per session, never a partial one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from mailcore.stream import SEPARATOR
from mailcore.testing import parse_message

WRITERS = 6
SESSIONS_PER_WRITER = 5
MESSAGES_PER_SESSION = 8

WRITER = textwrap.dedent(
    """
    import sys
    from mailcore import EmailMessage
    from mailcore_file import FileBackend

    writer, sessions, per_session, directory = sys.argv[1:5]
    body = "line of a long body\\n" * 400  # ~8 KB: many write() calls per message
    for session in range(int(sessions)):
        with FileBackend(file_path=directory) as backend:
            for number in range(int(per_session)):
                backend.send_messages([EmailMessage(
                    f"w{writer} s{session} m{number}", body, "f@example.com", ["t@example.com"]
                )])
    """
)


def read_session(path: Path) -> list[str]:
    chunks = path.read_text(encoding="utf-8").split(SEPARATOR + "\n")
    assert chunks[-1] == "", f"{path.name} does not end with a separator: partial file"
    return [str(parse_message(chunk.encode())["Subject"]) for chunk in chunks[:-1]]


def test_concurrent_writers_produce_one_complete_file_per_session(tmp_path: Path) -> None:
    outbox = tmp_path / "mail"
    outbox.mkdir()
    seen: dict[Path, list[str]] = {}
    stop = threading.Event()

    def watch() -> None:
        """Read every .log file as soon as it appears: it must already be complete."""
        while not stop.is_set():
            for path in outbox.glob("*.log"):
                if path not in seen:
                    seen[path] = read_session(path)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        writers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WRITER,
                    str(n),
                    str(SESSIONS_PER_WRITER),
                    str(MESSAGES_PER_SESSION),
                    str(outbox),
                ]
            )
            for n in range(WRITERS)
        ]
        assert [w.wait(timeout=60) for w in writers] == [0] * WRITERS
    finally:
        stop.set()
        watcher.join()

    files = sorted(outbox.glob("*.log"))
    assert len(files) == WRITERS * SESSIONS_PER_WRITER
    assert sorted(p.name for p in outbox.iterdir()) == sorted(p.name for p in files)
    sessions = {tuple(read_session(path)) for path in files}
    expected = {
        tuple(f"w{w} s{s} m{m}" for m in range(MESSAGES_PER_SESSION))
        for w in range(WRITERS)
        for s in range(SESSIONS_PER_WRITER)
    }
    assert sessions == expected
    assert seen, "the watcher read no file while the writers ran"
    for path, subjects in seen.items():  # what the watcher read early was already whole
        assert len(subjects) == MESSAGES_PER_SESSION, path.name


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from mailcore import EmailMessage
    from mailcore_file import FileBackend

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    small = EmailMessage("fits", "short body", "f@example.com", ["t@example.com"])
    big = EmailMessage("too big", "x" * 60 + "\\n" * 1 + "long line\\n" * 5000,
                       "f@example.com", ["t@example.com"])
    try:
        FileBackend(file_path=sys.argv[1]).send_messages([small, big])
    except OSError as exc:
        print("raised", exc.errno, small.result.status, big.result.status)
    """
)


def test_a_failed_write_leaves_no_partial_message_in_the_published_file(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "mail"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(outbox)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["raised", "27", "sent", "failed"]  # 27: EFBIG
    (published,) = outbox.glob("*.log")
    assert read_session(published) == ["fits"]
    assert [p.name for p in outbox.iterdir()] == [published.name]
