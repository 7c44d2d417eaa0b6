"""``mailcore debug-server``: an SMTP server that prints every message it receives.

The successor of the seed's ``python -m smtpd -n -c DebuggingServer`` (``smtpd`` left
Python in 3.12), built on aiosmtpd. Each message is printed envelope first (MAIL FROM,
RCPT TO: Bcc recipients show here), then its decoded headers, text parts and a summary
of its attachments. ``--save DIR`` also writes each message, as received, to an
``.eml`` file. ``--web`` (with the ``mailkern-smtp[web]`` extra) also serves a preview UI
and a JSON API of the received mail from the same event loop (see :mod:`mailcore_smtp.web`).
Nothing is relayed anywhere. Any AUTH login is accepted (the user name
is shown, the password never). Ctrl-C stops it.

In code, :class:`DebugServer` runs the same server in a background thread::

    with DebugServer(port=0, out=io.StringIO()) as server:  # port 0: a free port
        send_mail(..., connection=get_connection("smtp", host=server.host, port=server.port))
    print(server.received[0].rcpt_tos)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import io
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailcore_smtp.render import render_message
from mailcore_smtp.serving import BackgroundServer, ServerContext

if TYPE_CHECKING:
    from mailcore_smtp.web.app import WebPreview
    from mailcore_smtp.web.store import MessageStore

__all__ = ["DebugServer", "ReceivedMail", "main", "register"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1025
DEFAULT_WEB_PORT = 8025
DEFAULT_MAX_MESSAGES = 1000
#: How long start() waits for the web preview to bind.
_WEB_START_TIMEOUT = 30.0
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
        # Saving, parsing and printing run in a worker thread: a huge message does not
        # hold up the event loop that also serves the other SMTP sessions and the preview.
        await asyncio.get_running_loop().run_in_executor(
            None,
            self.debug_server._receive,
            envelope.mail_from or "",
            list(envelope.rcpt_tos),
            data,
            peer_text,
            login,
        )
        return "250 2.0.0 Ok: printed by mailcore debug-server"


class DebugServer(ServerContext):
    """The debug SMTP server, served from a background thread.

    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). Each message
    is printed to ``out`` (default: ``sys.stdout``, flushed after each message), kept
    in :attr:`received` unless ``keep=False``, and written to ``save_dir`` if given.
    ``quiet=True`` prints nothing. With ``web_port`` (0: a free port; needs aiohttp,
    the ``mailkern-smtp[web]`` extra) the web preview is served on ``web_host`` from
    the SMTP server's own event loop, keeping the newest ``max_messages`` in
    :attr:`store` (and loading those already in ``save_dir`` at :meth:`start`).
    Without aiohttp, ``web_port`` raises :class:`ImportError` naming the extra.
    :meth:`start` raises :class:`OSError` when an address cannot be bound.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        save_dir: Path | None = None,
        out: IO[str] | None = None,
        keep: bool = True,
        quiet: bool = False,
        web_port: int | None = None,
        web_host: str = DEFAULT_HOST,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        web_allowed_hosts: Sequence[str] = (),
    ) -> None:
        self.save_dir = save_dir
        self.out = out
        self.keep = keep
        self.quiet = quiet
        #: The web preview's messages (None without ``web_port``).
        self.store: MessageStore | None = None
        #: True when :meth:`start` failed because the web preview could not bind.
        self.web_failed = False
        self._web: WebPreview | None = None
        if web_port is not None:
            from mailcore_smtp.web import missing_extra

            if (problem := missing_extra()) is not None:
                raise ImportError(problem)
            from mailcore_smtp.web.app import WebPreview
            from mailcore_smtp.web.store import MessageStore

            self.store = MessageStore(max_messages)
            self._web = WebPreview(self.store, web_host, web_port, allowed_hosts=web_allowed_hosts)
        #: The messages received so far (when ``keep``).
        self.received: list[ReceivedMail] = []
        self.count = 0
        self._lock = threading.Lock()
        self._runner = BackgroundServer(self._protocol, host, port)
        #: Set once the saved messages are loaded into :attr:`store` (see :meth:`start`).
        self.loaded = threading.Event()
        self._loader: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._runner.host

    @property
    def port(self) -> int:
        return self._runner.port

    @property
    def web_url(self) -> str | None:
        """The web preview's address, e.g. ``http://127.0.0.1:8025/`` (None without it)."""
        return self._web.url if self._web is not None else None

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
            if self.store is not None:
                self.store.add(data, mail_from, rcpt_tos, path=saved)
            if self.quiet:
                return
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
        """Create ``save_dir`` if needed, bind and start serving.

        With the web preview, the messages already in ``save_dir`` are loaded in a
        background thread after both servers listen; :attr:`loaded` is set when done.
        """
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
        self._runner.start()
        if self._web is not None:
            try:
                self._in_loop(self._web.start(), _WEB_START_TIMEOUT)
            except BaseException:
                self.web_failed = True
                self._runner.stop()
                raise
        if self.store is not None and self.save_dir is not None:
            store, directory = self.store, self.save_dir

            def load() -> None:
                try:
                    store.load(directory)
                finally:
                    self.loaded.set()

            self._loader = threading.Thread(target=load, name="load-saved-mail", daemon=True)
            self._loader.start()
        else:
            self.loaded.set()
        return self

    def _in_loop(self, coroutine: Coroutine[Any, Any, None], timeout: float) -> None:
        """Run ``coroutine`` in the SMTP server's event loop and wait for it."""
        loop = self._runner._loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    def stop(self) -> None:
        """Close every connection and the listening sockets. Safe to call twice."""
        if self._loader is not None:
            self._loader.join()
        if self._web is not None and self._runner.running:
            with contextlib.suppress(Exception):
                self._in_loop(self._web.stop(), _WEB_START_TIMEOUT)
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
        "headers and text, attachment summary) and delivers nothing; with --web, also "
        "shows them in a browser. Ctrl-C stops it."
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
        help="also write each message, as received, to an .eml file in DIR "
        "(with --web: and show the messages already there)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not print the messages (--save and --web still get them)",
    )
    web = parser.add_argument_group(
        "web preview", "a UI and JSON API of the received mail (needs mailkern-smtp[web])"
    )
    web.add_argument(
        "--web",
        action="store_true",
        help=f"also serve the web preview (default http://{DEFAULT_HOST}:{DEFAULT_WEB_PORT}/)",
    )
    web.add_argument(
        "--web-port",
        type=_port,
        metavar="PORT",
        default=None,
        help=f"port of the web preview (default {DEFAULT_WEB_PORT}; 0 picks a free port)",
    )
    web.add_argument(
        "--web-host",
        default=None,
        metavar="HOST",
        help=f"address of the web preview (default {DEFAULT_HOST}; any other prints a warning)",
    )
    web.add_argument(
        "--web-allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a host name the preview also answers to, besides loopback names and IP "
        "addresses (repeatable; e.g. the machine's name on your network)",
    )
    web.add_argument(
        "--max-messages",
        type=_positive,
        default=None,
        metavar="N",
        help=f"messages the preview keeps, oldest dropped first (default {DEFAULT_MAX_MESSAGES})",
    )
    return run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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


def _web_problem(args: argparse.Namespace) -> str | None:
    """Why the web options cannot be used as given (None when they can)."""
    if not args.web:
        for flag, value in (
            ("--web-port", args.web_port),
            ("--web-host", args.web_host),
            ("--max-messages", args.max_messages),
            ("--web-allowed-host", args.web_allowed_host),
        ):
            if value is not None:
                return f"{flag} needs --web"
        return None
    from mailcore_smtp.web import missing_extra

    return missing_extra()


def _is_loopback(host: str) -> bool:
    from mailcore_smtp.web import is_loopback

    return is_loopback(host)


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; 0 when stopped, 1 when the server cannot listen (the port is
    taken), 2 when ``--save`` names a folder that cannot be used."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    problem = _web_problem(args)
    if problem is not None:
        print(f"mailcore: error: {problem}", file=sys.stderr)
        return 2
    if args.save is not None:
        try:
            args.save.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot use --save {args.save}: {exc.strerror or exc}"
            print(f"mailcore: error: {problem}", file=sys.stderr)
            return 2
    web_host = args.web_host or DEFAULT_HOST
    web_port = (
        (args.web_port if args.web_port is not None else DEFAULT_WEB_PORT) if args.web else None
    )
    server = DebugServer(
        args.host,
        args.port,
        save_dir=args.save,
        keep=False,
        quiet=args.quiet,
        web_port=web_port,
        web_host=web_host,
        max_messages=args.max_messages or DEFAULT_MAX_MESSAGES,
        web_allowed_hosts=args.web_allowed_host or (),
    )
    if web_port is not None and not _is_loopback(web_host):
        print(
            f"mailcore: warning: the web preview listens on {web_host}, not only on this "
            "machine: anyone who can reach it can read and delete the mail (it answers "
            "only to loopback names, IP addresses and --web-allowed-host names)",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.start()
    except OSError as exc:
        # asyncio wraps the bind error in a long sentence; the errno says it plainly.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        where = f"{args.host}:{args.port}"
        if server.web_failed:
            where = f"{web_host}:{web_port} (web preview)"
        print(f"mailcore: error: cannot listen on {where}: {reason}", file=sys.stderr)
        return 1
    try:
        saving = f"; saving messages to {args.save}" if args.save is not None else ""
        print(
            f"{PROG}: listening on {server.host}:{server.port}{saving} (Ctrl-C to stop)",
            flush=True,
        )
        if server.web_url is not None:
            assert server.store is not None
            loaded = f" (loading the saved messages of {args.save})" if args.save else ""
            print(f"{PROG}: web preview on {server.web_url}{loaded}", flush=True)
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
