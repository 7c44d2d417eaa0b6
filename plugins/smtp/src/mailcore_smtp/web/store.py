"""The messages the preview shows: in memory, newest last, at most ``max_messages``.

With a save directory, each message's ``.eml`` file (written by the debug server, as
received) gets an ``.envelope.json`` file beside it, and :meth:`MessageStore.load`
reads both back at start. The directory and the memory agree: deleting a message, and
dropping the oldest one past ``max_messages``, delete its files too, and clearing the
store deletes every ``.eml`` file of the directory.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import re
import stat
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
    """A change: ``new`` (with the summary), ``deleted`` (the id), ``cleared`` or ``loaded``."""

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
        #: The save directory given to :meth:`load`: :meth:`clear` empties it of mail.
        self.directory: Path | None = None

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
        message = self._make(raw, mail_from, rcpt_tos, path=path, received=received)
        when = message.received
        if path is not None and write_envelope:
            envelope = {"mail_from": mail_from, "rcpt_tos": rcpt_tos, "received": when.isoformat()}
            _envelope_path(path).write_text(json.dumps(envelope), encoding="utf-8")
        with self._lock:
            self._messages[message.id] = message
            dropped = self._trim()
        for old in dropped:
            _unlink(old.path)
        self._emit(Event("new", message.summary()))
        return message

    def _trim(self) -> list[StoredMessage]:
        """Drop the oldest messages past ``max_messages`` (with the lock held); return them."""
        dropped = []
        while len(self._messages) > self.max_messages:
            dropped.append(self._messages.popitem(last=False)[1])
        return dropped

    def _make(
        self,
        raw: bytes,
        mail_from: str,
        rcpt_tos: list[str],
        *,
        path: Path | None,
        received: datetime.datetime | None,
    ) -> StoredMessage:
        parsed = parse_mail(raw)
        message_id = path.stem if path is not None and _ID.match(path.stem) else self._new_id()
        return StoredMessage(
            id=message_id,
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            received=received or datetime.datetime.now(datetime.UTC),
            raw=raw,
            parsed=parsed,
            path=path,
            search=search_text(parsed, mail_from, rcpt_tos),
        )

    def load(self, directory: Path) -> int:
        """Read back the newest ``max_messages`` ``.eml`` files of ``directory``; return how many.

        Newest by the time received that the envelope file holds (else the file's time).
        Only regular files are read (a symbolic link is skipped). A file without a valid
        envelope file gets the envelope from its headers (From; To and Cc) and a note in
        its problems; a file that cannot be read is skipped. Messages that arrived while
        loading stay the newest. Safe to run in a thread while the servers answer.
        """
        self.directory = directory
        found: list[tuple[datetime.datetime, str, Path, bytes, str, list[str], str | None]] = []
        for path in directory.glob("*.eml"):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                raw = _read_regular(path)
            except OSError:
                continue
            mail_from, rcpt_tos, received, note = _read_envelope(path, raw)
            found.append((received, path.name, path, raw, mail_from, rcpt_tos, note))
        found.sort(key=lambda item: (item[0], item[1]))
        loaded: list[StoredMessage] = []
        for received, _, path, raw, mail_from, rcpt_tos, note in found[-self.max_messages :]:
            message = self._make(raw, mail_from, rcpt_tos, path=path, received=received)
            if note:
                message.parsed.problems.append(note)
            loaded.append(message)
        with self._lock:
            merged = OrderedDict((m.id, m) for m in loaded if m.id not in self._messages)
            merged.update(self._messages)
            self._messages = merged
            dropped = self._trim()
        for old in dropped:
            _unlink(old.path)
        if loaded:
            self._emit(Event("loaded", {"count": len(loaded)}))
        return len(loaded) - len(dropped)

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
        """Forget every message and delete their files; return how many there were.

        With a save :attr:`directory`, every ``.eml`` file in it (and its envelope file)
        is deleted too, shown or not, so that none comes back at the next start.
        """
        with self._lock:
            messages = list(self._messages.values())
            self._messages.clear()
        for message in messages:
            _unlink(message.path)
        if self.directory is not None:
            for path in self.directory.glob("*.eml"):
                if path.is_symlink() or path.is_file():
                    _unlink(path)
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


def _read_regular(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symbolic link put there after the check."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fp:
        if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return fp.read()


def _read_envelope(path: Path, raw: bytes) -> tuple[str, list[str], datetime.datetime, str | None]:
    """``(mail_from, rcpt_tos, received, note)``; the note says why the headers were used."""
    received = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    envelope_path = _envelope_path(path)
    try:
        if envelope_path.is_symlink():
            raise ValueError("it is a symbolic link")
        envelope = json.loads(_read_regular(envelope_path).decode("utf-8"))
        if not isinstance(envelope, dict):
            raise ValueError("not a JSON object")
        mail_from, rcpt_tos = envelope.get("mail_from"), envelope.get("rcpt_tos")
        if not isinstance(mail_from, str):
            raise ValueError("mail_from is not a string")
        if not isinstance(rcpt_tos, list) or not all(isinstance(r, str) for r in rcpt_tos):
            raise ValueError("rcpt_tos is not a list of strings")
        stamp = envelope.get("received")
        if isinstance(stamp, str):
            with contextlib.suppress(ValueError):
                received = datetime.datetime.fromisoformat(stamp)
                if received.tzinfo is None:
                    received = received.replace(tzinfo=datetime.UTC)
        return mail_from, list(rcpt_tos), received, None
    except FileNotFoundError:
        note = None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        note = f"{envelope_path.name} ignored ({exc}): envelope taken from the headers"
    parsed = parse_mail(raw)
    return parsed.from_, [*parsed.to, *parsed.cc], received, note
