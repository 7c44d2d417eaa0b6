"""The JSON API of ``mailcore debug-server --web``: every endpoint, over real HTTP."""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mailcore import EmailMessage
from mailcore.testing import PreviewClient, PreviewError
from mailcore_smtp.debug_server import DebugServer
from tests.web.conftest import NON_UTF8, PNG, newsletter, plain_message, send, send_raw

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")


def fetch(server: DebugServer, path: str, method: str = "GET") -> http.client.HTTPResponse:
    """One request; the response (error statuses included) with its body read."""
    assert server.web_url is not None
    request = urllib.request.Request(server.web_url.rstrip("/") + path, method=method)
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error  # type: ignore[assignment]
    response.body = response.read()  # type: ignore[attr-defined]
    response.close()
    return response  # type: ignore[no-any-return]


def fetch_json(server: DebugServer, path: str) -> Any:
    response = fetch(server, path)
    assert response.status == 200, response.body  # type: ignore[attr-defined]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.body)  # type: ignore[attr-defined]


def test_list_is_newest_first_with_the_contract_fields(preview: DebugServer) -> None:
    send(preview, plain_message("first"), plain_message("second"), newsletter())

    page = fetch_json(preview, "/api/messages")

    assert page["total"] == 3 and page["count"] == 3 and page["offset"] == 0
    assert [m["subject"] for m in page["messages"]] == ["November newsletter", "second", "first"]
    newest = page["messages"][0]
    assert set(newest) == {"id", "from", "to", "subject", "date", "size", "attachments"}
    assert newest["from"] == "News <news@example.com>"
    assert newest["to"] == ["Bob <bob@example.com>"]
    assert newest["attachments"] == 2  # the inline logo and the PDF
    assert newest["size"] == len(preview.received[-1].data)
    assert newest["date"].endswith("+00:00")
    assert page["messages"][1]["attachments"] == 0


def test_paging_with_limit_and_offset(preview: DebugServer) -> None:
    send(preview, *(plain_message(f"message {n}") for n in range(5)))

    page = fetch_json(preview, "/api/messages?limit=2&offset=1")

    assert page["total"] == 5 and page["count"] == 2 and page["offset"] == 1
    assert [m["subject"] for m in page["messages"]] == ["message 3", "message 2"]
    assert fetch_json(preview, "/api/messages?offset=5")["messages"] == []


@pytest.mark.parametrize("query", ["limit=-1", "limit=ten", "offset=-3"])
def test_a_bad_paging_value_is_a_400_naming_it(preview: DebugServer, query: str) -> None:
    response = fetch(preview, f"/api/messages?{query}")

    assert response.status == 400
    name = query.split("=")[0]
    assert json.loads(response.body)["error"].startswith(f"{name} must be")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "subjects"),
    [
        ("newsletter", ["November newsletter"]),  # subject
        ("BOB@example.com", ["November newsletter"]),  # an address, any case
        ("hidden@example.com", ["November newsletter"]),  # a Bcc: only in the envelope
        ("quarterly numbers", ["report"]),  # words of the body, in any order
        ("ann@example.com", ["report"]),
        ("nowhere-to-be-found", []),
    ],
)
def test_search_over_subject_addresses_and_body(
    preview: DebugServer, query: str, subjects: list[str]
) -> None:
    send(preview, plain_message("report", "The numbers of this quarterly report.\n"), newsletter())

    page = fetch_json(preview, "/api/messages?q=" + urllib.parse.quote(query))

    assert [m["subject"] for m in page["messages"]] == subjects
    assert page["total"] == len(subjects)


def test_one_message_has_envelope_headers_text_html_and_attachments(preview: DebugServer) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    assert message["envelope"] == {
        "mail_from": "news@example.com",
        "rcpt_tos": ["bob@example.com", "carol@example.com", "hidden@example.com"],
    }
    assert message["subject"] == "November newsletter"
    assert message["cc"] == ["carol@example.com"]
    headers = dict(message["headers"])
    assert headers["Subject"] == "November newsletter"
    assert headers["To"] == "Bob <bob@example.com>"
    assert "Bcc" not in headers
    assert message["text"] == "Newsletter as plain text.\n"
    assert '<h1 id="headline">Rendered headline</h1>' in message["html"]
    assert message["attachments"] == [
        {
            "index": 0,
            "filename": "logo.png",
            "content_type": "image/png",
            "size": len(PNG),
            "content_id": "logo@example.com",
            "inline": True,
        },
        {
            "index": 1,
            "filename": "invoice-2026.pdf",
            "content_type": "application/pdf",
            "size": len(b"%PDF-1.4 invoice " * 64),
            "content_id": None,
            "inline": False,
        },
    ]
    assert message["raw_only"] is False and message["problems"] == []


def test_raw_is_the_message_as_received(preview: DebugServer) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    response = fetch(preview, f"/api/messages/{item['id']}/raw")

    assert response.status == 200
    assert response.body == preview.received[-1].data  # type: ignore[attr-defined]
    assert response.headers["Content-Type"].startswith("text/plain")
    download = fetch(preview, f"/api/messages/{item['id']}/raw?download=1")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{item["id"]}.eml"')


def test_an_attachment_is_downloaded_decoded_with_a_safe_name(preview: DebugServer) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    response = fetch(preview, f"/api/messages/{item['id']}/attachments/1")

    assert response.status == 200
    assert response.body == b"%PDF-1.4 invoice " * 64  # type: ignore[attr-defined]
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"invoice-2026.pdf\"; filename*=UTF-8''invoice-2026.pdf"
    )
    assert response.headers["Content-Length"] == str(len(b"%PDF-1.4 invoice " * 64))


def test_an_inline_image_is_served_as_an_image_only_when_asked(preview: DebugServer) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    inline = fetch(preview, f"/api/messages/{item['id']}/attachments/0?inline=1")
    pdf_inline = fetch(preview, f"/api/messages/{item['id']}/attachments/1?inline=1")

    assert inline.body == PNG  # type: ignore[attr-defined]
    assert inline.headers["Content-Type"] == "image/png"
    assert inline.headers["Content-Disposition"].startswith('inline; filename="logo.png"')
    assert pdf_inline.headers["Content-Type"] == "application/octet-stream"
    assert pdf_inline.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("filename", "ascii_name"),
    [
        ("../../etc/passwd", "passwd"),
        ('evil"; filename="x.html', "evil filename=x.html"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("résumé ✓.txt", "r_sum_ _.txt"),
        ("..", "attachment-1"),
    ],
)
def test_a_hostile_file_name_cannot_escape_the_disposition(
    preview: DebugServer, filename: str, ascii_name: str
) -> None:
    data = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: names\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: text/plain\r\n\r\nbody\r\n--B\r\n"
        b"Content-Type: text/html\r\nContent-Disposition: attachment; filename*=UTF-8''"
        + urllib.parse.quote(filename, safe="").encode()
        + b"\r\n\r\n<script>alert(1)</script>\r\n--B--\r\n"
    )
    send_raw(preview, data)
    (item,) = fetch_json(preview, "/api/messages")["messages"]
    listed = fetch_json(preview, f"/api/messages/{item['id']}")["attachments"][0]["filename"]

    response = fetch(preview, f"/api/messages/{item['id']}/attachments/0")

    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''")
    assert disposition.count('"') == 2 and "/" not in disposition and "\\" not in disposition
    assert "/" not in listed and "\\" not in listed and '"' not in listed
    assert not listed.startswith(".")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_the_html_document_has_cid_images_rewritten_and_a_strict_policy(
    preview: DebugServer,
) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    response = fetch(preview, f"/api/messages/{item['id']}/html")
    remote = fetch(preview, f"/api/messages/{item['id']}/html?remote=1")

    body = response.body.decode()  # type: ignore[attr-defined]
    assert f'src="/api/messages/{item["id"]}/attachments/0?inline=1"' in body
    assert "cid:" not in body
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "img-src 'self' data:;" in policy
    assert "script-src" not in policy and "sandbox allow-same-origin" in policy
    assert "form-action 'none'" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "img-src 'self' data: http: https:;" in remote.headers["Content-Security-Policy"]


def test_a_text_only_message_is_shown_escaped_in_the_html_document(preview: DebugServer) -> None:
    send(preview, plain_message("text only", "<script>alert(1)</script> & more\n"))
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    body = fetch(preview, f"/api/messages/{item['id']}/html").body.decode()  # type: ignore[attr-defined]

    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in body
    assert "<script>" not in body


def test_delete_one_then_it_is_gone(preview: DebugServer) -> None:
    send(preview, plain_message("keep"), plain_message("drop"))
    keep, drop = (m["id"] for m in fetch_json(preview, "/api/messages?q=")["messages"][::-1])

    assert fetch(preview, f"/api/messages/{drop}", "DELETE").status == 204

    assert [m["id"] for m in fetch_json(preview, "/api/messages")["messages"]] == [keep]
    missing = fetch(preview, f"/api/messages/{drop}")
    assert missing.status == 404
    assert json.loads(missing.body) == {"error": f"no message {drop!r}"}  # type: ignore[attr-defined]
    assert fetch(preview, f"/api/messages/{drop}", "DELETE").status == 404
    assert fetch(preview, f"/api/messages/{drop}/raw").status == 404


def test_delete_all(preview: DebugServer) -> None:
    send(preview, plain_message("one"), plain_message("two"))

    assert fetch(preview, "/api/messages", "DELETE").status == 204

    assert fetch_json(preview, "/api/messages") == {
        "total": 0,
        "count": 0,
        "offset": 0,
        "messages": [],
    }


def test_a_missing_attachment_is_a_404(preview: DebugServer) -> None:
    send(preview, plain_message("no attachments"))
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    for index in ("0", "-1", "x"):
        response = fetch(preview, f"/api/messages/{item['id']}/attachments/{index}")
        assert response.status == 404
        assert "has no attachment" in json.loads(response.body)["error"]  # type: ignore[attr-defined]


def test_every_response_carries_the_security_headers(preview: DebugServer) -> None:
    send(preview, newsletter())
    (item,) = fetch_json(preview, "/api/messages")["messages"]
    paths = [
        "/",
        "/static/app.js",
        "/static/app.css",
        "/static/nothing.js",
        "/nowhere",
        "/api/messages",
        f"/api/messages/{item['id']}",
        f"/api/messages/{item['id']}/raw",
        f"/api/messages/{item['id']}/html",
        f"/api/messages/{item['id']}/attachments/0",
        f"/api/messages/{item['id']}/attachments/9",
        "/api/messages/no-such-id",
    ]
    for path in paths:
        response = fetch(preview, path)
        for name in SECURITY_HEADERS:
            assert response.headers[name], (path, name)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        if not path.endswith("/html"):
            assert response.headers["X-Frame-Options"] == "DENY", path
    ui = fetch(preview, "/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in ui and "frame-ancestors 'none'" in ui
    assert "unsafe-inline" not in ui and "unsafe-eval" not in ui


def test_a_foreign_host_name_is_refused_while_bound_to_loopback(preview: DebugServer) -> None:
    assert preview.web_url is not None
    port = int(preview.web_url.rstrip("/").rsplit(":", 1)[1])
    for host, status in (("attacker.example", 421), (f"localhost:{port}", 200)):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/messages", headers={"Host": host})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == status, host


MALFORMED = [
    b"no header block at all, just text with \xff\xfe\x00 bytes",
    b'Content-Type: multipart/mixed; boundary="X"\r\nSubject: broken\r\n\r\n--X\r\nno end',
    b"Subject: =?utf-8?B?!!!not base64?=\r\nContent-Type: text/plain; charset=nonsense-42\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n%%%% not base64 at all\r\n",
    b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 60,
    b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\nDate: yesterday-ish\r\nContent-Type: ;;;\r\n\r\nbody",
]


def test_a_non_utf8_message_is_shown_as_raw(preview: DebugServer) -> None:
    send_raw(preview, NON_UTF8)
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    assert message["raw_only"] is True
    assert message["problems"] == ["text that is not valid utf-8"]
    assert message["subject"] == "caf\ufffd \ufffd"
    assert "Body in latin-1: caf\ufffd" in message["text"]
    raw = fetch(preview, f"/api/messages/{item['id']}/raw")
    assert raw.status == 200 and raw.body == NON_UTF8  # type: ignore[attr-defined]
    assert fetch(preview, f"/api/messages/{item['id']}/html").status == 200


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_message_is_never_a_server_error(preview: DebugServer, data: bytes) -> None:
    send_raw(preview, data)
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    for suffix in ("/raw", "/html", "/attachments/0"):
        assert fetch(preview, f"/api/messages/{item['id']}{suffix}").status in (200, 404)
    assert fetch(preview, f"/api/messages/{item['id']}/raw").body.rstrip(b"\r\n") == (  # type: ignore[attr-defined]
        data.rstrip(b"\r\n")
    )
    assert isinstance(message["headers"], list)
    assert fetch_json(preview, "/api/messages?q=broken")["total"] in (0, 1)


def test_a_message_without_headers_is_marked_raw_only(preview: DebugServer) -> None:
    send_raw(preview, MALFORMED[0])
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    assert message["raw_only"] is True
    assert message["problems"]


def test_server_sent_events_announce_new_deleted_and_cleared(preview: DebugServer) -> None:
    assert preview.web_url is not None
    port = int(preview.web_url.rstrip("/").rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stream = sock.makefile("rb")
        assert stream.readline().startswith(b"HTTP/1.1 200")
        while b"connected" not in stream.readline():
            pass

        def next_event() -> tuple[str, Any]:
            kind = None
            while True:
                line = stream.readline().decode().strip()
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: ") and kind:
                    return kind, json.loads(line[len("data: ") :])

        send(preview, plain_message("live"))
        kind, data = next_event()
        assert kind == "new" and data["subject"] == "live"
        assert fetch(preview, f"/api/messages/{data['id']}", "DELETE").status == 204
        assert next_event() == ("deleted", {"id": data["id"]})
        assert fetch(preview, "/api/messages", "DELETE").status == 204
        assert next_event() == ("cleared", {"count": 0})


def test_max_messages_drops_the_oldest() -> None:
    with DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0, max_messages=3) as server:
        send(server, *(plain_message(f"message {n}") for n in range(5)))
        subjects = [m["subject"] for m in fetch_json(server, "/api/messages")["messages"]]

    assert subjects == ["message 4", "message 3", "message 2"]


def test_saved_messages_are_loaded_again_at_start(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    with DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0, save_dir=saved) as first:
        send(first, newsletter(), plain_message("second"))
        before = fetch_json(first, "/api/messages")["messages"]
    assert len(list(saved.glob("*.eml"))) == 2
    assert len(list(saved.glob("*.envelope.json"))) == 2

    with DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0, save_dir=saved) as again:
        assert again.loaded.wait(10)
        after = fetch_json(again, "/api/messages")["messages"]
        newsletter_id = after[1]["id"]
        message = fetch_json(again, f"/api/messages/{newsletter_id}")
        assert fetch(again, f"/api/messages/{after[0]['id']}", "DELETE").status == 204

    assert after == before
    assert message["envelope"]["rcpt_tos"] == [
        "bob@example.com",
        "carol@example.com",
        "hidden@example.com",
    ]
    assert [p.stem for p in saved.glob("*.eml")] == [newsletter_id]
    assert len(list(saved.glob("*.envelope.json"))) == 1


def test_a_saved_file_without_envelope_takes_it_from_the_headers(tmp_path: Path) -> None:
    tmp_path.joinpath("20250101-000000-000000-0001.eml").write_bytes(
        b"From: a@example.com\r\nTo: b@example.com\r\nCc: c@example.com\r\n"
        b"Subject: old\r\n\r\nhi\r\n"
    )
    with DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0, save_dir=tmp_path) as s:
        assert s.loaded.wait(10)
        message = fetch_json(s, "/api/messages/20250101-000000-000000-0001")

    assert message["subject"] == "old"
    assert message["envelope"] == {
        "mail_from": "a@example.com",
        "rcpt_tos": ["b@example.com", "c@example.com"],
    }


def test_the_testing_client_waits_fetches_and_clears(
    preview: DebugServer, client: PreviewClient
) -> None:
    assert client.wait_for(0) == []
    with pytest.raises(TimeoutError, match=r"waited 0.2 s for 1 message\(s\) at .*, 0 arrived"):
        client.wait_for(1, timeout=0.2)
    later = threading.Timer(0.3, send, args=(preview, newsletter(), plain_message("other")))
    later.start()

    items = client.wait_for(2, timeout=10)
    later.join()

    assert [m["subject"] for m in items] == ["other", "November newsletter"]
    assert [m["subject"] for m in client.messages("bob")] == ["November newsletter"]
    message = client.message(items[1]["id"])
    assert message["envelope"]["rcpt_tos"][-1] == "hidden@example.com"
    assert client.raw(items[1]["id"]).startswith(b"Subject: November newsletter\r\n")
    assert client.attachment(items[1]["id"], 0) == PNG
    client.delete(items[0]["id"])
    assert [m["id"] for m in client.messages()] == [items[1]["id"]]
    client.clear()
    assert client.messages() == []
    with pytest.raises(PreviewError, match=f"HTTP 404: no message {items[1]['id']!r}$"):
        client.message(items[1]["id"])


def test_non_ascii_stays_readable_in_json(preview: DebugServer) -> None:
    message = EmailMessage("Grüße ✓", "Ümlauts.\n", "a@example.com", ["Zoë <zoe@example.com>"])
    send(preview, message)

    response = fetch(preview, "/api/messages")

    assert "Grüße ✓".encode() in response.body  # type: ignore[attr-defined]
    assert json.loads(response.body)["messages"][0]["to"] == ["Zoë <zoe@example.com>"]  # type: ignore[attr-defined]


def test_the_ui_never_turns_message_data_into_html() -> None:
    static = Path(__file__).resolve().parents[2] / "plugins/smtp/src/mailcore_smtp/web/static"
    script = (static / "app.js").read_text(encoding="utf-8")
    page = (static / "index.html").read_text(encoding="utf-8")

    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script
    assert "<script>" not in page and not re.search(r"\son\w+=", page)  # no inline code
    assert 'sandbox="allow-same-origin"' in page and "allow-scripts" not in page


def test_a_message_dropped_past_max_messages_loses_its_files(tmp_path: Path) -> None:
    with DebugServer(
        port=0, out=io.StringIO(), quiet=True, web_port=0, max_messages=2, save_dir=tmp_path
    ) as server:
        send(server, *(plain_message(f"message {n}") for n in range(3)))
        shown = [m["subject"] for m in fetch_json(server, "/api/messages")["messages"]]
        ids = [m["id"] for m in fetch_json(server, "/api/messages")["messages"]]

    assert shown == ["message 2", "message 1"]
    assert sorted(p.stem for p in tmp_path.glob("*.eml")) == sorted(ids)
    assert len(list(tmp_path.glob("*.envelope.json"))) == 2


def test_a_message_of_headers_only_is_read(preview: DebugServer) -> None:
    send_raw(preview, b"From: a@example.com\r\nSubject: headers only")
    (item,) = fetch_json(preview, "/api/messages")["messages"]

    message = fetch_json(preview, f"/api/messages/{item['id']}")

    assert message["subject"] == "headers only" and message["raw_only"] is False


def test_stopping_ends_an_open_event_stream_at_once() -> None:
    server = DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0).start()
    assert server.web_url is not None
    port = int(server.web_url.rstrip("/").rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        stream = sock.makefile("rb")
        while b"connected" not in stream.readline():
            pass
        started = time.monotonic()
        server.stop()
        took = time.monotonic() - started
        rest = stream.read()

    assert took < 3, f"stop() took {took:.1f} s with an event stream open"
    assert rest.endswith(b"0\r\n\r\n"), "the stream was ended, not cut"


def test_another_origin_gets_no_cors_permission(preview: DebugServer) -> None:
    """A web page elsewhere cannot delete (its preflight is refused) nor read the mail."""
    assert preview.web_url is not None
    port = int(preview.web_url.rstrip("/").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "OPTIONS",
        "/api/messages",
        headers={
            "Host": f"127.0.0.1:{port}",
            "Origin": "http://attacker.example",
            "Access-Control-Request-Method": "DELETE",
        },
    )
    response = connection.getresponse()
    response.read()
    connection.close()

    assert response.status == 405
    assert response.getheader("Access-Control-Allow-Origin") is None
    assert response.getheader("Access-Control-Allow-Methods") is None


def test_at_start_only_the_newest_max_messages_files_are_loaded(tmp_path: Path) -> None:
    for n in range(3):
        tmp_path.joinpath(f"20250101-00000{n}-000000-0001.eml").write_bytes(
            f"From: a@example.com\r\nTo: b@example.com\r\nSubject: saved {n}\r\n\r\nhi\r\n".encode()
        )
    with DebugServer(
        port=0, out=io.StringIO(), quiet=True, web_port=0, save_dir=tmp_path, max_messages=2
    ) as server:
        assert server.loaded.wait(10)
        subjects = [m["subject"] for m in fetch_json(server, "/api/messages")["messages"]]

    assert subjects == ["saved 2", "saved 1"]
