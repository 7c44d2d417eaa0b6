"""The findings of the new-user and attacker review of the web preview, each with its input."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mailcore.testing import PreviewClient, PreviewError
from mailcore_smtp.debug_server import DebugServer
from mailcore_smtp.web import mime, store
from tests.cli.command import run_mailcore
from tests.web.conftest import newsletter, plain_message, send, send_raw
from tests.web.test_api import fetch, fetch_json


def _server(**options: Any) -> DebugServer:
    return DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0, **options)


def _request(server: DebugServer, path: str, method: str = "GET", host: str = "") -> Any:
    assert server.web_url is not None
    port = int(server.web_url.rsplit(":", 1)[1].strip("/"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, headers={"Host": host or f"127.0.0.1:{port}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


# 1. Delete all with --save and --max-messages.


def test_delete_all_leaves_no_saved_file_to_come_back_at_the_next_start(tmp_path: Path) -> None:
    tmp_path = tmp_path / "saved"
    with _server(save_dir=tmp_path, max_messages=3) as server:
        send(server, *(plain_message(f"message {n}") for n in range(5)))
        assert len(list(tmp_path.glob("*.eml"))) == 3  # the two dropped took their files
        assert fetch(server, "/api/messages", "DELETE").status == 204
    assert list(tmp_path.iterdir()) == []

    with _server(save_dir=tmp_path, max_messages=3) as again:
        assert again.loaded.wait(10)
        assert fetch_json(again, "/api/messages")["total"] == 0


def test_delete_all_removes_saved_files_that_were_not_shown(tmp_path: Path) -> None:
    for n in range(4):
        tmp_path.joinpath(f"2025010{n + 1}-000000-000000-0001.eml").write_bytes(
            f"From: a@example.com\r\nSubject: old {n}\r\n\r\nhi\r\n".encode()
        )
    with _server(save_dir=tmp_path, max_messages=2) as server:
        assert server.loaded.wait(10)
        assert fetch_json(server, "/api/messages")["total"] == 2
        assert len(list(tmp_path.glob("*.eml"))) == 4  # loading deletes nothing
        assert fetch(server, "/api/messages", "DELETE").status == 204
    assert list(tmp_path.glob("*.eml")) == []


# 2. mailcore.testing without pytest.

_NO_PYTEST = """
import sys
class NoPytest:
    def find_spec(self, name, path=None, target=None):
        if name == "pytest" or name.startswith(("pytest.", "_pytest")):
            raise ModuleNotFoundError("No module named 'pytest'", name="pytest")
        return None
sys.meta_path.insert(0, NoPytest())
from mailcore.testing import PreviewClient, PreviewError, parse_message, redirect_backends
client = PreviewClient("http://127.0.0.1:9")
print(client.url, "pytest" in sys.modules)
try:
    from mailcore.testing import BackendContractTests
except ModuleNotFoundError as exc:
    print("contract tests:", exc)
"""


def test_the_preview_client_imports_without_pytest() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _NO_PYTEST],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )

    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "http://127.0.0.1:9 False",
        "contract tests: No module named 'pytest'",
    ]


# 3. A 10,000-part message is parsed off the event loop; at most 1,000 parts are read.


def _many_parts(count: int) -> bytes:
    parts = b"".join(
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="p%d.bin"\r\n\r\nx\r\n' % n
        for n in range(count)
    )
    return (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: many parts\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + parts
        + b"--b--\r\n"
    )


class _HeldParse:
    """parse_mail that, for the message with ``marker``, waits until released."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.started = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()
        self.real = mime.parse_mail

    def __call__(self, raw: bytes) -> mime.ParsedMail:
        if self.marker not in raw:
            return self.real(raw)
        self.started.set()
        assert self.release.wait(30)
        try:
            return self.real(raw)
        finally:
            self.ended.set()


def test_the_api_answers_while_a_10000_part_message_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = _HeldParse(b"Subject: many parts")
    monkeypatch.setattr(store, "parse_mail", held)
    with _server() as server:
        send(server, plain_message("before"))
        sender = threading.Thread(target=send_raw, args=(server, _many_parts(10_000)))
        sender.start()
        assert held.started.wait(30)

        # The parse is still running (held): the event loop answers all the same.
        page = fetch_json(server, "/api/messages")
        answered_before_the_parse_ended = not held.ended.is_set()
        held.release.set()
        sender.join(30)
        assert held.ended.is_set()
        items = fetch_json(server, "/api/messages")["messages"]
        detail = fetch_json(server, f"/api/messages/{items[0]['id']}")

    assert answered_before_the_parse_ended
    assert [m["subject"] for m in page["messages"]] == ["before"]
    assert items[0]["subject"] == "many parts" and items[0]["attachments"] == 1000
    assert detail["problems"] == [
        "9,000 more part(s) not shown: only the first 1,000 parts are read"
    ]
    assert detail["raw_only"] is False


def test_saved_files_are_loaded_after_the_servers_listen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path.joinpath("20250101-000000-000000-0001.eml").write_bytes(_many_parts(10_000))
    held = _HeldParse(b"Subject: many parts")
    monkeypatch.setattr(store, "parse_mail", held)
    server = _server(save_dir=tmp_path)
    try:
        server.start()  # returns while the saved file is being read
        assert held.started.wait(30)
        page = fetch_json(server, "/api/messages")
        send(server, plain_message("new while loading"))
        answered_before_the_load_ended = not server.loaded.is_set()
        held.release.set()
        assert server.loaded.wait(30)
        after = fetch_json(server, "/api/messages")["messages"]
    finally:
        held.release.set()
        server.stop()

    assert answered_before_the_load_ended and page["total"] == 0
    assert [m["subject"] for m in after] == ["new while loading", "many parts"]


# 4. Attachment indexes: plain non-negative decimals only.


@pytest.mark.parametrize("index", ["-1", "%201", "+1", "1%20", "%D9%A1", "01x", "2"])
def test_an_attachment_index_that_is_not_a_plain_decimal_is_404(
    preview: DebugServer, index: str
) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    response = fetch(preview, f"/api/messages/{item['id']}/attachments/{index}")

    assert response.status == 404
    assert "has no attachment" in json.loads(response.body)["error"]  # type: ignore[attr-defined]
    assert fetch(preview, f"/api/messages/{item['id']}/attachments/1").status == 200


# 5. The Host allow-list holds on every address.


def test_the_host_guard_answers_allowed_names_only() -> None:
    with _server(web_allowed_hosts=["mail.test"]) as server:
        refused, body = _request(server, "/api/messages", host="attacker.example")
        rebound, _ = _request(server, "/api/messages", host="127.0.0.1.attacker.example")
        allowed, _ = _request(server, "/api/messages", host="mail.test:8025")
        local, _ = _request(server, "/api/messages", host="localhost")
        by_address, _ = _request(server, "/api/messages", host="192.0.2.7:8025")

    assert (refused.status, rebound.status) == (421, 421)
    assert json.loads(body) == {
        "error": "this preview does not answer to the host name 'attacker.example' "
        "(start it with --web-allowed-host to add it)"
    }
    assert (allowed.status, local.status, by_address.status) == (200, 200, 200)


def test_web_allowed_host_needs_web() -> None:
    result = run_mailcore("debug-server", "--port", "0", "--web-allowed-host", "box.lan")

    assert result.status == 2
    assert result.error_lines == ["mailcore: error: --web-allowed-host needs --web"]


# 6. Every /api error is JSON.


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/api/nope", 404, "no such resource: GET /api/nope"),
        ("POST", "/api/messages", 405, "method POST is not allowed on /api/messages"),
        ("PUT", "/api/events", 405, "method PUT is not allowed on /api/events"),
    ],
)
def test_unknown_routes_and_wrong_methods_answer_json(
    preview: DebugServer, method: str, path: str, status: int, error: str
) -> None:
    response, body = _request(preview, path, method)

    assert response.status == status
    assert response.getheader("Content-Type") == "application/json; charset=utf-8"
    assert json.loads(body) == {"error": error}


# 8. PreviewClient.


def test_wait_for_refuses_a_negative_count_and_zero_returns_at_once(
    client: PreviewClient,
) -> None:
    with pytest.raises(ValueError, match=r"^count must be 0 or more, got -1$"):
        client.wait_for(-1)
    assert client.wait_for(0, timeout=0) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wait_for_retries_while_the_server_is_not_up_yet() -> None:
    port = _free_port()
    client = PreviewClient(f"http://127.0.0.1:{port}")
    with pytest.raises(TimeoutError, match=r"the server did not answer \(.*refused"):
        client.wait_for(0, timeout=0.3)
    server = DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=port)
    starter = threading.Timer(0.5, server.start)
    starter.start()
    try:
        started = time.monotonic()
        assert client.wait_for(0, timeout=20) == []
        assert time.monotonic() - started > 0.2  # it did wait for the start
    finally:
        starter.join()
        server.stop()


def test_the_client_sees_past_the_first_1000_messages() -> None:
    with _server(max_messages=2000) as server:
        assert server.store is not None and server.web_url is not None
        for n in range(1005):
            raw = b"Subject: bulk %d\r\n\r\nx\r\n" % n
            server.store.add(raw, "a@example.com", ["b@example.com"])
        client = PreviewClient(server.web_url)

        found = client.wait_for(1005, timeout=10)
        window = client.messages(limit=3, offset=1002)

    assert len(found) == 1005
    assert found[0]["subject"] == "bulk 1004" and found[-1]["subject"] == "bulk 0"
    assert [m["subject"] for m in window] == ["bulk 2", "bulk 1", "bulk 0"]


def test_an_http_error_carries_the_servers_error_text(client: PreviewClient) -> None:
    with pytest.raises(PreviewError) as caught:
        client.message("nope")

    assert caught.value.status == 404
    assert caught.value.error == "no message 'nope'"
    assert str(caught.value).endswith("/api/messages/nope: HTTP 404: no message 'nope'")


# 9. Loading saved files.


def _eml(subject: str) -> bytes:
    return f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nhi\r\n".encode()


def _envelope(path: Path, envelope: object) -> None:
    path.with_name(path.stem + ".envelope.json").write_text(json.dumps(envelope))


def test_a_symbolic_link_in_the_save_directory_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    saved = tmp_path / "saved"
    saved.mkdir()
    saved.joinpath("20250101-000000-000000-0001.eml").write_bytes(_eml("real"))
    saved.joinpath("zz-passwd.eml").symlink_to(secret)

    with _server(save_dir=saved) as server:
        assert server.loaded.wait(10)
        page = fetch_json(server, "/api/messages")

    assert [m["subject"] for m in page["messages"]] == ["real"]
    assert secret.exists()


def test_saved_messages_are_ordered_by_the_received_time_of_their_envelope(
    tmp_path: Path,
) -> None:
    for name, received in (("a", "2025-03-01T10:00:00+00:00"), ("b", "2025-01-01T10:00:00+00:00")):
        path = tmp_path / f"{name}.eml"
        path.write_bytes(_eml(f"file {name}"))
        _envelope(path, {"mail_from": "a@x.test", "rcpt_tos": ["b@x.test"], "received": received})

    with _server(save_dir=tmp_path) as server:
        assert server.loaded.wait(10)
        page = fetch_json(server, "/api/messages")

    assert [m["subject"] for m in page["messages"]] == ["file a", "file b"]  # newest first
    assert [m["date"] for m in page["messages"]] == [
        "2025-03-01T10:00:00+00:00",
        "2025-01-01T10:00:00+00:00",
    ]


def test_an_envelope_of_the_wrong_types_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "20250101-000000-000000-0001.eml"
    path.write_bytes(_eml("bad envelope"))
    _envelope(path, {"mail_from": "a@x.test", "rcpt_tos": "abc"})

    with _server(save_dir=tmp_path) as server:
        assert server.loaded.wait(10)
        message = fetch_json(server, f"/api/messages/{path.stem}")

    assert message["envelope"] == {"mail_from": "a@example.com", "rcpt_tos": ["b@example.com"]}
    assert message["problems"] == [
        f"{path.stem}.envelope.json ignored (rcpt_tos is not a list of strings): "
        "envelope taken from the headers"
    ]


# 10. The Raw tab's reason for broken base64.


def test_a_text_part_with_broken_base64_says_so(preview: DebugServer) -> None:
    send_raw(
        preview,
        b"From: a@example.com\r\nSubject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n/////!!!!*\r\n",
    )
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    assert message["raw_only"] is True
    assert message["problems"] == ["a text part whose base64 is broken (cannot be decoded)"]
