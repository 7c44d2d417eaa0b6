"""A real Postfix on 127.0.0.1 for tests: its own configuration and queue in a temporary
directory, a free port, and nothing delivered anywhere (every transport is ``discard``).

``make install`` installs the Debian package ``postfix`` when it is missing (without
configuring or starting the system's own instance). :class:`PostfixServer` starts a
private instance with ``postfix -c DIR start`` and stops it with ``postfix -c DIR stop``;
its log (``maillog``) says what Postfix did with each message::

    with PostfixServer(refuse=("gone@example.com",)) as postfix:
        backend = SMTPBackend(host=postfix.host, port=postfix.port)
        ...
    postfix.queued()  # {queue id: Message-ID}
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["POSTFIX", "PostfixServer"]

POSTFIX = Path("/usr/sbin/postfix")

_DAEMONS = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class PostfixServer:
    """A private Postfix listening on 127.0.0.1 (see the module doc). ``refuse``: recipient
    addresses it refuses at RCPT TO with ``550 5.1.1``."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.refuse = refuse
        # Under /tmp, readable by the postfix user (pytest's tmp_path is not).
        self.root = Path(tempfile.mkdtemp(prefix="mailcore-postfix-"))
        self.root.chmod(0o755)
        self.config = self.root / "conf"
        self.maillog = self.root / "maillog"

    def _postfix(self, command: str) -> None:
        # Postfix prints its errors only to a terminal (else to syslog): `script` gives it one.
        done = subprocess.run(
            ["script", "-qec", f"{POSTFIX} -c {self.config} {command}", "/dev/null"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"postfix {command} failed: {done.stdout.strip()}")

    def _write_config(self) -> None:
        self.config.mkdir()
        (self.root / "queue").mkdir()
        data = self.root / "data"
        data.mkdir()
        shutil.chown(data, "postfix", "postfix")
        access = ", ".join(f"{{{address}=550 5.1.1 No such user}}" for address in self.refuse)
        restrictions = "permit_mynetworks, reject"
        if access:
            restrictions = f"check_recipient_access inline:{{ {access} }}, {restrictions}"
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.root / "queue",
            "data_directory": data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "postfix-test.localhost",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "",
            "default_transport": "discard",
            "relay_transport": "discard",
            "local_transport": "discard",
            "virtual_transport": "discard",
            "alias_maps": "",
            "alias_database": "",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_recipient_restrictions": restrictions,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.root,
            "smtputf8_enable": "no",
        }
        (self.config / "main.cf").write_text(
            "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        smtpd = f"{self.host}:{self.port} inet n - n - - smtpd\n"
        (self.config / "master.cf").write_text(smtpd + _DAEMONS)

    def start(self) -> Self:
        self._write_config()
        self._postfix("check")
        self._postfix("start")
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("Postfix did not start listening") from None
                time.sleep(0.05)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._postfix("stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def queued(self) -> dict[str, str]:
        """``{queue id: Message-ID}`` of every message Postfix queued, from its log."""
        return dict(re.findall(r"cleanup\[\d+\]: (\w+): message-id=<([^>]*)>", self.log()))

    def discarded(self) -> dict[str, list[str]]:
        """``{queue id: [recipients]}`` Postfix delivered (to ``discard``), from its log."""
        found: dict[str, list[str]] = {}
        for queue_id, recipient in re.findall(
            r"discard\[\d+\]: (\w+): to=<([^>]*)>.*status=sent", self.log()
        ):
            found.setdefault(queue_id, []).append(recipient)
        return found

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
