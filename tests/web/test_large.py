"""A 20 MB attachment: read and downloaded in chunks, never held a second time.

The measurements use tracemalloc (every thread: the server's event loop included) and
are not timed (no pytest timeout: tracing makes it slower on a loaded machine).
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import urllib.request

import pytest

from mailcore import EmailMessage
from mailcore_smtp.debug_server import DebugServer
from mailcore_smtp.web.store import MessageStore
from tests.web.conftest import send

SIZE = 20 * 1024 * 1024
MB = 1024 * 1024


def big_message(payload: bytes) -> EmailMessage:
    message = EmailMessage("big", "See the attachment.\n", "a@example.com", ["b@example.com"])
    message.attach("big.bin", payload, "application/octet-stream")
    return message


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


@pytest.mark.timeout(0)
def test_reading_a_20_mb_message_copies_no_body(payload: bytes) -> None:
    raw = big_message(payload).serialize(linesep="\r\n")
    assert len(raw) > 27 * MB  # base64
    store = MessageStore()

    tracemalloc.start()
    try:
        stored = store.add(raw, "a@example.com", ["b@example.com"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    (attachment,) = stored.parsed.attachments
    assert attachment.size == SIZE and attachment.filename == "big.bin"
    assert stored.raw is raw
    assert peak < 2 * MB, f"reading the message allocated {peak / MB:.1f} MB at peak"


@pytest.mark.timeout(0)
def test_a_20_mb_attachment_is_streamed(payload: bytes) -> None:
    with DebugServer(port=0, out=io.StringIO(), keep=False, quiet=True, web_port=0) as server:
        send(server, big_message(payload))
        assert server.store is not None and server.web_url is not None
        (item,) = server.store.search()[1]
        url = f"{server.web_url}api/messages/{item.id}/attachments/0"

        digest = hashlib.sha256()
        tracemalloc.start()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                length = int(response.headers["Content-Length"])
                while chunk := response.read(64 * 1024):
                    digest.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert length == SIZE
    assert digest.digest() == hashlib.sha256(payload).digest()
    assert peak < 4 * MB, f"the download allocated {peak / MB:.1f} MB at peak"
