"""Real processes for the queued-delivery tests: a ``redis-server`` on a free loopback
port with its own directory, and ``mailcore worker`` subprocesses (solo pool)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["RedisServer", "Workers", "free_port", "wait_for"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms until it holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1; ``persistent``: append-only file on, so
    a stop (SIGTERM) and start keeps every key."""

    def __init__(self, directory: Path, persistent: bool = False) -> None:
        self.directory = directory
        self.persistent = persistent
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else []
        command = [
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            *persistence,
            "--protected-mode", "yes",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        wait_for(self.ping, 10, f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis writes its files and exits
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Workers:
    """``mailcore worker`` subprocesses (solo pool: one message at a time each), with
    ``env`` (the mailcore settings) added to a clean environment, run in ``cwd``."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        visibility_timeout: float = 5.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("MAILCORE_")}
        self.env = {**base, **env, "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.visibility_timeout = visibility_timeout
        self.extra = extra
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, count: int = 1) -> Workers:
        for _ in range(count):
            self.start_one()
        return self

    def start_one(self) -> subprocess.Popen[bytes]:
        log = self.cwd / f"worker-{len(self.logs) + 1}.log"
        command = [
            sys.executable, "-m", "mailcore", "worker",
            "--pool", "solo",
            "--visibility-timeout", str(self.visibility_timeout),
            "--loglevel", "INFO",
            *self.extra,
        ]  # fmt: skip
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [process for process in self.processes if process.poll() is None]

    def ready(self) -> list[subprocess.Popen[bytes]]:
        """The live workers that have said they are ready (consuming tasks)."""
        return [
            process
            for process, log in zip(self.processes, self.logs, strict=True)
            if process.poll() is None and log.exists() and b" ready." in log.read_bytes()
        ]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL one worker: whatever it was doing is cut short."""
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.alive():
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())
