"""The preview's HTTP side: the single-page UI, the JSON API and server-sent events (aiohttp).

Every response carries a Content-Security-Policy, ``X-Content-Type-Options: nosniff``,
``X-Frame-Options``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.
A message's HTML is served by ``/api/messages/{id}/html`` as a document of its own for
the UI's sandboxed iframe, under a policy that allows no script, form, plugin or remote
load (``?remote=1``: remote images only). A request whose Host is not a loopback name,
an IP address or a name given in ``allowed_hosts`` is refused with 421, on every
address the preview is bound to (no DNS rebinding). Every ``/api`` error is JSON
``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html as html_lib
import importlib.resources
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from mailcore_smtp.web import is_loopback
from mailcore_smtp.web.mime import iter_decoded, safe_filename
from mailcore_smtp.web.store import Event, MessageStore, StoredMessage

__all__ = ["WebPreview", "create_app"]

STORE: web.AppKey[MessageStore] = web.AppKey("store", MessageStore)


class _Streams:
    """The queues of the open event streams (each ends when it receives None)."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[Event | None]] = set()


STREAMS: web.AppKey[_Streams] = web.AppKey("streams", _Streams)
ALLOWED_HOSTS: web.AppKey[frozenset[str]] = web.AppKey("allowed_hosts", frozenset)

#: The UI's own pages, scripts and API: nothing from anywhere else.
UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
#: A message's HTML: inline styles and its own inline images only; no script, no form.
MESSAGE_POLICY = (
    "default-src 'none'; img-src 'self' data:{remote}; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-same-origin"
)
#: Raw bytes and attachments: a document of nothing, even if opened directly.
DOWNLOAD_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

STATIC_FILES = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "index.html": "text/html",
}
#: <link rel=prefetch|preload|...>: Chromium lets a prefetch through whenever any fetch
#: directive (img-src, with remote images on) would allow it, so such links are removed.
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_SPECULATIVE = re.compile(r"prefetch|preload|preconnect|prerender|modulepreload", re.IGNORECASE)
_INDEX = re.compile(r"[0-9]{1,9}")
_CID = re.compile(r"""\bcid:([^"'\s)>]+)""", re.IGNORECASE)


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", UI_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-DNS-Prefetch-Control"] = "off"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers.setdefault("Cache-Control", "no-store")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error of ``/api``, the router's 404 and 405 too, is ``{"error": ...}``."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        if not request.path.startswith("/api/") and request.path != "/api":
            raise
        text = exc.reason
        if exc.status == 404:
            text = f"no such resource: {request.method} {request.path}"
        elif exc.status == 405:
            text = f"method {request.method} is not allowed on {request.path}"
        response = _error(exc.status, text)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


@web.middleware
async def _host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if not host_allowed(host, request.app[ALLOWED_HOSTS]):
        return _error(
            421,
            f"this preview does not answer to the host name {host!r} "
            "(start it with --web-allowed-host to add it)",
        )
    return await handler(request)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """True for loopback names, IP addresses and the names in ``allowed``.

    DNS rebinding needs a name that the attacker's DNS server answers: an address
    typed as such cannot be one, so only names are checked against ``allowed``.
    """
    bare = host.lower().strip("[]")
    if is_loopback(host) or bare in allowed:
        return True
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return False
    return True


def _message(request: web.Request) -> StoredMessage:
    message = request.app[STORE].get(request.match_info["id"])
    if message is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no message {request.match_info['id']!r}"}),
            content_type="application/json",
        )
    return message


def _int_param(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{name} must be a whole number >= 0, got {value!r}"}),
            content_type="application/json",
        )
    return number


async def _index(request: web.Request) -> web.StreamResponse:
    return _static_response("index.html")


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES or name == "index.html":
        return _error(404, "no such file")
    return _static_response(name)


def _static_response(name: str) -> web.Response:
    data = importlib.resources.files("mailcore_smtp.web").joinpath("static", name).read_bytes()
    return web.Response(body=data, content_type=STATIC_FILES[name], charset="utf-8")


async def _list(request: web.Request) -> web.StreamResponse:
    limit = _int_param(request, "limit", 50)
    offset = _int_param(request, "offset", 0) or 0
    total, page = request.app[STORE].search(request.query.get("q", ""), limit=limit, offset=offset)
    return _json(
        {
            "total": total,
            "count": len(page),
            "offset": offset,
            "messages": [message.summary() for message in page],
        }
    )


async def _clear(request: web.Request) -> web.StreamResponse:
    request.app[STORE].clear()
    return web.Response(status=204)


async def _detail(request: web.Request) -> web.StreamResponse:
    return _json(_message(request).detail())


async def _delete(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    request.app[STORE].delete(message.id)
    return web.Response(status=204)


async def _raw(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    response = web.Response(body=message.raw, content_type="text/plain", charset="utf-8")
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    if request.query.get("download"):
        response.headers["Content-Disposition"] = _disposition("attachment", f"{message.id}.eml")
    return response


async def _html(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    body = message.parsed.html
    if body is None:
        text = message.parsed.text or ""
        body = f"<pre style='white-space:pre-wrap'>{html_lib.escape(text)}</pre>"
    by_cid = {a.content_id: a.index for a in message.parsed.attachments if a.content_id}
    prefix = f"/api/messages/{urllib.parse.quote(message.id)}/attachments/"

    def inline(match: re.Match[str]) -> str:
        index = by_cid.get(urllib.parse.unquote(match.group(1)))
        return match.group(0) if index is None else f"{prefix}{index}?inline=1"

    body = _CID.sub(inline, body)
    body = _LINK.sub(lambda tag: "" if _SPECULATIVE.search(tag.group(0)) else tag.group(0), body)
    remote = " http: https:" if request.query.get("remote") == "1" else ""
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = MESSAGE_POLICY.format(remote=remote)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _disposition(kind: str, filename: str) -> str:
    """``kind; filename="ascii"; filename*=UTF-8''...``: no quote, slash or control char."""
    name = safe_filename(filename, "attachment")
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    quoted = urllib.parse.quote(name, safe="")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


async def _attachment(request: web.Request) -> web.StreamResponse:
    message = _message(request)
    index = request.match_info["index"]
    attachment = None
    if _INDEX.fullmatch(index) and int(index) < len(message.parsed.attachments):
        attachment = message.parsed.attachments[int(index)]
    if attachment is None:
        return _error(
            404, f"message {message.id!r} has no attachment {request.match_info['index']}"
        )
    inline = request.query.get("inline") == "1" and attachment.content_type.startswith("image/")
    response = web.StreamResponse()
    response.content_type = attachment.content_type if inline else "application/octet-stream"
    response.content_length = attachment.size
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    response.headers["Content-Disposition"] = _disposition(
        "inline" if inline else "attachment", attachment.filename
    )
    await response.prepare(request)
    for chunk in iter_decoded(
        message.raw, attachment.encoding, attachment.body_start, attachment.body_end
    ):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``new`` (a list item), ``deleted`` (``{"id"}``), ``cleared``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    streams = request.app[STREAMS].queues

    def deliver(event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(queue.put_nowait, event)

    unsubscribe = request.app[STORE].subscribe(deliver)
    streams.add(queue)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    try:
        await response.prepare(request)
        await response.write(b"retry: 1000\n: connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if event is None:
                break
            data = json.dumps(event.data, ensure_ascii=False)
            await response.write(f"event: {event.kind}\ndata: {data}\n\n".encode())
    except ConnectionError:  # the browser went away
        pass
    finally:
        unsubscribe()
        streams.discard(queue)
    return response


async def _close_streams(app: web.Application) -> None:
    for queue in list(app[STREAMS].queues):
        queue.put_nowait(None)


def create_app(store: MessageStore, *, allowed_hosts: Iterable[str] = ()) -> web.Application:
    """The aiohttp application of the preview, reading and changing ``store``.

    It answers only requests whose Host is a loopback name or one of ``allowed_hosts``.
    """
    app = web.Application(middlewares=[_json_errors, _host_check], client_max_size=1024)
    app[STORE] = store
    app[STREAMS] = _Streams()
    app[ALLOWED_HOSTS] = frozenset(h.lower().strip("[]") for h in allowed_hosts)
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/messages", _list)
    app.router.add_delete("/api/messages", _clear)
    app.router.add_get("/api/events", _events)
    app.router.add_get("/api/messages/{id}", _detail)
    app.router.add_delete("/api/messages/{id}", _delete)
    app.router.add_get("/api/messages/{id}/raw", _raw)
    app.router.add_get("/api/messages/{id}/html", _html)
    app.router.add_get("/api/messages/{id}/attachments/{index}", _attachment)
    return app


class WebPreview:
    """The preview's HTTP server, started and stopped inside a running event loop."""

    def __init__(
        self,
        store: MessageStore,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        #: Host names answered besides loopback names and IP addresses.
        self.allowed_hosts = [*allowed_hosts]
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The UI's address (``http://host:port/``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Bind and serve; :class:`OSError` when the address cannot be bound."""
        app = create_app(self.store, allowed_hosts=self.allowed_hosts)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """End the event streams and close every connection. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()
