"""``mailcore debug-server``: an SMTP server that prints every message it receives.

The successor of the seed's ``python -m smtpd -n -c DebuggingServer`` (``smtpd`` left
Python in 3.12), built on aiosmtpd. Each message is printed envelope first (MAIL FROM,
RCPT TO: Bcc recipients show here), then its decoded headers, text parts and a summary
of its attachments. ``--save DIR`` also writes each message, as received, to an
``.eml`` file. Nothing is relayed anywhere. Any AUTH login is accepted (the user name
is shown, the password never). Ctrl-C stops it.

In code, :class:`DebugServer` runs the same server in a background thread::

    with DebugServer(port=0, out=io.StringIO()) as server:  # port 0: a free port
        send_mail(..., connection=get_connection("smtp", host=server.host, port=server.port))
    print(server.received[0].rcpt_tos)
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailcore_smtp.render import render_message
from mailcore_smtp.serving import BackgroundServer, ServerContext

__all__ = ["DebugServer", "ReceivedMail", "main", "register"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
PROG = "mailcore debug-server"


@dataclass(frozen=True)
class ReceivedMail:
    """One message the debug server received: its envelope and its bytes as sent."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: str
    login: str | None
    saved_as: Path | None


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=True, auth_data=auth_data)


class _Session(Session):
    """aiosmtpd's session without its deprecated ``login_data``.

    aiosmtpd 1.4 still sets ``login_data`` after each successful AUTH, and that setter
    logs "Session.login_data is deprecated" every time; the login is read from
    ``auth_data`` here, so the legacy value is kept without a word.
    """

    @property
    def login_data(self) -> Any:
        """The legacy login value (unused: see ``auth_data``)."""
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _DebugSMTP(SMTP):
    """aiosmtpd's SMTP protocol with :class:`_Session` sessions."""

    def _create_session(self) -> Session:
        return _Session(self.loop)


class _PrintingHandler:
    def __init__(self, debug_server: DebugServer) -> None:
        self.debug_server = debug_server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        peer = session.peer
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        data = envelope.original_content or b""
        self.debug_server._receive(
            envelope.mail_from or "", list(envelope.rcpt_tos), data, peer_text, login
        )
        return "250 2.0.0 Ok: printed by mailcore debug-server"


class DebugServer(ServerContext):
    """The debug SMTP server, served from a background thread.

    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). Each message
    is printed to ``out`` (default: ``sys.stdout``, flushed after each message), kept
    in :attr:`received` unless ``keep=False``, and written to ``save_dir`` if given.
    :meth:`start` raises :class:`OSError` when the address cannot be bound.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        save_dir: Path | None = None,
        out: IO[str] | None = None,
        keep: bool = True,
    ) -> None:
        self.save_dir = save_dir
        self.out = out
        self.keep = keep
        #: The messages received so far (when ``keep``).
        self.received: list[ReceivedMail] = []
        self.count = 0
        self._lock = threading.Lock()
        self._runner = BackgroundServer(self._protocol, host, port)

    @property
    def host(self) -> str:
        return self._runner.host

    @property
    def port(self) -> int:
        return self._runner.port

    def _protocol(self) -> SMTP:
        return _DebugSMTP(
            _PrintingHandler(self),
            hostname="mailcore-debug-server",
            enable_SMTPUTF8=True,
            authenticator=_accept_any_login,
            auth_require_tls=False,
        )

    def _save(self, data: bytes, number: int) -> Path:
        assert self.save_dir is not None
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        final = self.save_dir / f"{stamp}-{number:04d}.eml"
        fd, temp = tempfile.mkstemp(dir=self.save_dir, prefix=".incoming-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(temp, final)
        return final

    def _receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, peer: str, login: str | None
    ) -> None:
        with self._lock:
            self.count += 1
            number = self.count
            saved = self._save(data, number) if self.save_dir is not None else None
            mail = ReceivedMail(mail_from, rcpt_tos, data, peer, login, saved)
            if self.keep:
                self.received.append(mail)
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            text = render_message(
                data,
                mail_from,
                rcpt_tos,
                title=f"Message {number} from {peer} at {stamp}",
                login=login,
                notes=[f"Saved as {saved}"] if saved is not None else [],
            )
            out = self.out if self.out is not None else sys.stdout
            out.write(text)
            out.flush()

    def start(self) -> Self:
        """Create ``save_dir`` if needed, bind and start serving."""
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
        self._runner.start()
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket. Safe to call twice."""
        self._runner.stop()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0: any free port), got {value}")
    return value


def register(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """Add the ``debug-server`` arguments to ``parser``; return the command's handler."""
    parser.description = (
        "Run an SMTP server that prints every message it receives (envelope, decoded "
        "headers and text, attachment summary) and delivers nothing. Ctrl-C stops it."
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free port)",
    )
    parser.add_argument(
        "--save",
        metavar="DIR",
        type=Path,
        default=None,
        help="also write each message, as received, to an .eml file in DIR",
    )
    return run


def _wait_for_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM, then restore the previous handlers."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; 0 when stopped, 1 when the server cannot listen (the port is
    taken), 2 when ``--save`` names a folder that cannot be used."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.save is not None:
        try:
            args.save.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot use --save {args.save}: {exc.strerror or exc}"
            print(f"mailcore: error: {problem}", file=sys.stderr)
            return 2
    server = DebugServer(args.host, args.port, save_dir=args.save, keep=False)
    try:
        server.start()
    except OSError as exc:
        # asyncio wraps the bind error in a long sentence; the errno says it plainly.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        problem = f"cannot listen on {args.host}:{args.port}: {reason}"
        print(f"mailcore: error: {problem}", file=sys.stderr)
        return 1
    try:
        saving = f"; saving messages to {args.save}" if args.save is not None else ""
        print(
            f"{PROG}: listening on {server.host}:{server.port}{saving} (Ctrl-C to stop)",
            flush=True,
        )
        _wait_for_stop_signal()
    finally:
        server.stop()
    print(f"{PROG}: stopped after {server.count} message(s)", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m mailcore_smtp.debug_server``: the same command without ``mailcore``."""
    parser = argparse.ArgumentParser(prog=PROG)
    handler = register(parser)
    return handler(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
