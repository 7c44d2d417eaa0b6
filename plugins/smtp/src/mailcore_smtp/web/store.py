"""The messages the preview shows: in memory, newest last, at most ``max_messages``.

With a save directory, each message's ``.eml`` file (written by the debug server, as
received) gets an ``.envelope.json`` file beside it, and :meth:`MessageStore.load`
reads both back at start. Deleting a message through the store deletes its files;
dropping the oldest message past ``max_messages`` only forgets it in memory.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailcore_smtp.web.mime import ParsedMail, parse_mail, search_text

__all__ = ["DEFAULT_MAX_MESSAGES", "Event", "MessageStore", "StoredMessage"]

DEFAULT_MAX_MESSAGES = 1000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ENVELOPE_SUFFIX = ".envelope.json"


@dataclass(frozen=True)
class StoredMessage:
    """One message: its envelope, its bytes as received and what the preview reads of them."""

    id: str
    mail_from: str
    rcpt_tos: list[str]
    received: datetime.datetime
    raw: bytes
    parsed: ParsedMail
    path: Path | None
    search: str

    def summary(self) -> dict[str, object]:
        """The message as an item of ``GET /api/messages``."""
        return {
            "id": self.id,
            "from": self.parsed.from_ or self.mail_from,
            "to": self.parsed.to or list(self.rcpt_tos),
            "subject": self.parsed.subject,
            "date": self.received.isoformat(),
            "size": len(self.raw),
            "attachments": len(self.parsed.attachments),
        }

    def detail(self) -> dict[str, object]:
        """The message as ``GET /api/messages/{id}`` shows it."""
        parsed = self.parsed
        return {
            **self.summary(),
            "envelope": {"mail_from": self.mail_from, "rcpt_tos": list(self.rcpt_tos)},
            "cc": parsed.cc,
            "header_date": parsed.header_date,
            "headers": [[name, value] for name, value in parsed.headers],
            "text": parsed.text,
            "html": parsed.html,
            "attachments": [a.as_json() for a in parsed.attachments],
            "raw_only": parsed.raw_only,
            "problems": parsed.problems,
        }


@dataclass(frozen=True)
class Event:
    """A change: ``new`` (with the summary), ``deleted`` (with the id) or ``cleared``."""

    kind: str
    data: dict[str, object]


Listener = Callable[[Event], None]


class MessageStore:
    """Thread-safe: the SMTP handler adds, the web handlers read and delete."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        self.max_messages = max_messages
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._numbers = itertools.count(1)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after each change; return the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def _new_id(self) -> str:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        return f"{stamp}-{next(self._numbers):04d}"

    def add(
        self,
        raw: bytes,
        mail_from: str,
        rcpt_tos: list[str],
        *,
        path: Path | None = None,
        received: datetime.datetime | None = None,
        write_envelope: bool = True,
    ) -> StoredMessage:
        """Keep one message (dropping the oldest past ``max_messages``) and announce it.

        ``path`` is its ``.eml`` file, if it was saved; its id is then the file's stem,
        and (unless ``write_envelope`` is false) its envelope is written beside it.
        """
        parsed = parse_mail(raw)
        message_id = path.stem if path is not None and _ID.match(path.stem) else self._new_id()
        when = received or datetime.datetime.now(datetime.UTC)
        message = StoredMessage(
            id=message_id,
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            received=when,
            raw=raw,
            parsed=parsed,
            path=path,
            search=search_text(parsed, mail_from, rcpt_tos),
        )
        if path is not None and write_envelope:
            envelope = {"mail_from": mail_from, "rcpt_tos": rcpt_tos, "received": when.isoformat()}
            _envelope_path(path).write_text(json.dumps(envelope), encoding="utf-8")
        with self._lock:
            self._messages[message_id] = message
            while len(self._messages) > self.max_messages:
                self._messages.popitem(last=False)
        self._emit(Event("new", message.summary()))
        return message

    def load(self, directory: Path) -> int:
        """Read back the newest ``max_messages`` ``.eml`` files of ``directory``; return how many.

        A file without its envelope file gets the envelope from its headers
        (From; To and Cc); a file that cannot be read is skipped.
        """
        files = sorted(p for p in directory.glob("*.eml") if p.is_file())
        loaded = 0
        for path in files[-self.max_messages :]:
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            mail_from, rcpt_tos, received = _read_envelope(path, raw)
            self.add(raw, mail_from, rcpt_tos, path=path, received=received, write_envelope=False)
            loaded += 1
        return loaded

    def get(self, message_id: str) -> StoredMessage | None:
        """The message with this id, or None."""
        with self._lock:
            return self._messages.get(message_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def search(
        self, query: str = "", *, limit: int | None = None, offset: int = 0
    ) -> tuple[int, list[StoredMessage]]:
        """``(total matching, page)``, newest first; every word of ``query`` must match."""
        words = query.casefold().split()
        with self._lock:
            newest_first = list(reversed(self._messages.values()))
        matching = [m for m in newest_first if all(word in m.search for word in words)]
        end = None if limit is None else offset + limit
        return len(matching), matching[offset:end]

    def delete(self, message_id: str) -> bool:
        """Forget one message and delete its files; False when there is no such message."""
        with self._lock:
            message = self._messages.pop(message_id, None)
        if message is None:
            return False
        _unlink(message.path)
        self._emit(Event("deleted", {"id": message_id}))
        return True

    def clear(self) -> int:
        """Forget every message and delete their files; return how many there were."""
        with self._lock:
            messages = list(self._messages.values())
            self._messages.clear()
        for message in messages:
            _unlink(message.path)
        self._emit(Event("cleared", {"count": len(messages)}))
        return len(messages)


def _envelope_path(eml: Path) -> Path:
    return eml.with_name(eml.stem + ENVELOPE_SUFFIX)


def _unlink(path: Path | None) -> None:
    if path is None:
        return
    for target in (path, _envelope_path(path)):
        with contextlib.suppress(OSError):
            target.unlink()


def _read_envelope(path: Path, raw: bytes) -> tuple[str, list[str], datetime.datetime]:
    received = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    try:
        envelope = json.loads(_envelope_path(path).read_text(encoding="utf-8"))
        mail_from = str(envelope["mail_from"])
        rcpt_tos = [str(r) for r in envelope["rcpt_tos"]]
        with contextlib.suppress(KeyError, TypeError, ValueError):
            received = datetime.datetime.fromisoformat(str(envelope["received"]))
        return mail_from, rcpt_tos, received
    except (OSError, ValueError, KeyError, TypeError):
        parsed = parse_mail(raw)
        return parsed.from_, [*parsed.to, *parsed.cc], received
