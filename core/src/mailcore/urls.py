"""Connection URLs: ``scheme://[user[:password]@]host[:port][/path][?option=value&...]``.

Each backend declares the schemes it accepts in ``url_schemes`` (a ClassVar mapping a
scheme to a :class:`URLScheme`), saying which option the host, port, path, user and
password become; so a third-party backend gets URLs by declaring them. User and password
are percent-decoded; query values are typed by the backend's options model, and an
unknown option is refused by name. The password is never part of an error's text:
:func:`mask_url` hides it. Standard library only (no pydantic at import).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mailcore.errors import BackendNotFoundError, ConfigurationError

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = ["URLScheme", "backend_for_scheme", "is_url", "mask_url", "parse_url"]

#: What a password is shown as in a URL.
_MASK = "********"


@dataclass(frozen=True, slots=True)
class URLScheme:
    """How the parts of a connection URL become a backend's options.

    ``host``, ``port``, ``path``, ``user``, ``password``: the option each part sets
    (``None``: the scheme takes no such part, and a URL giving one is refused).
    ``defaults``: options the scheme itself implies (``{"use_ssl": True, "port": 465}``),
    below the URL's parts and query.
    """

    host: str | None = None
    port: str | None = None
    path: str | None = None
    user: str | None = None
    password: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)


def is_url(text: str) -> bool:
    """True when ``text`` looks like a connection URL (``scheme://...``)."""
    return "://" in text


def mask_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``********``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            cut = min(cut, index)
    netloc, tail = rest[:cut], rest[cut:]
    credentials, at, host = netloc.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{_MASK}@{host}{tail}"


def backend_for_scheme(scheme: str) -> type[BaseEmailBackend]:
    """The installed backend declaring ``scheme``: first the backend named like the
    scheme's first part (``smtp`` for ``smtp+starttls``), then every installed one."""
    from mailcore.discovery import installed_backends, load_backend

    try:
        first = load_backend(scheme.split("+", 1)[0])
    except BackendNotFoundError:
        first = None
    if first is not None and scheme in first.url_schemes:
        return first
    known: set[str] = set()
    for info in installed_backends(core=True):
        if info.backend_class is None:
            continue
        if scheme in info.backend_class.url_schemes:
            return info.backend_class
        known.update(info.backend_class.url_schemes)
    from mailcore.config_file import suggest

    hint = suggest(scheme, known, "known schemes")
    raise ConfigurationError(f"no installed backend accepts the URL scheme {scheme!r}{hint}")


def _typed(value: str, annotation: Any) -> Any:
    """A query value for a field of type ``annotation``: a list from ``a,b`` (or JSON),
    a dict from JSON; anything else as text, for the options model to convert."""
    import json  # deferred: only a query needs it

    origins = {typing.get_origin(a) or a for a in _members(annotation)}
    if origins & {list, tuple, set, frozenset}:
        if value.startswith("["):
            return json.loads(value)
        return [item for item in value.split(",") if item]
    if dict in origins:
        return json.loads(value)
    return value


def _members(annotation: Any) -> list[Any]:
    import types

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def parse_url(
    url: str, backend_class: type[BaseEmailBackend] | None = None
) -> tuple[type[BaseEmailBackend], dict[str, Any]]:
    """The backend a connection URL names and the options it gives.

    ``backend_class``, when given, must accept the URL's scheme. Raises
    :class:`ConfigurationError` saying what is wrong (never showing the password).
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme:
        raise ConfigurationError("expected scheme://... (smtp://host:25, ses://eu-west-1)")
    if backend_class is None:
        backend_class = backend_for_scheme(scheme)
    elif scheme not in backend_class.url_schemes:
        accepted = ", ".join(f"{s}://" for s in backend_class.url_schemes) or "none"
        raise ConfigurationError(
            f"backend {backend_class.name or backend_class.__name__!r} does not accept the "
            f"scheme {scheme}:// (it accepts: {accepted})"
        )
    rule = backend_class.url_schemes[scheme]
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        problem = f"bad host or port: {exc}"
    if problem is not None:  # raised outside the handler: no context keeps the URL
        raise ConfigurationError(problem)
    if parts.fragment:
        raise ConfigurationError("a URL takes no #fragment (percent-encode '#' as %23)")
    options: dict[str, Any] = dict(rule.defaults)
    given = (
        ("host", parts.hostname, rule.host),
        ("port", port, rule.port),
        ("path", unquote(parts.path) if parts.path not in ("", "/") else None, rule.path),
        ("user", unquote(parts.username) if parts.username else None, rule.user),
        ("password", unquote(parts.password) if parts.password else None, rule.password),
    )
    for part, value, option in given:
        if value is None:
            continue
        if option is None:
            example = "file:///absolute/path" if rule.path else f"{scheme}://"
            raise ConfigurationError(f"{scheme}:// takes no {part} (write {example})")
        options[option] = value
    model = backend_class.options_model
    fields = model.model_fields if model is not None else {}
    seen: set[str] = set()
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in fields:
            from mailcore.config_file import suggest

            hint = suggest(name, fields, "options")
            raise ConfigurationError(f"unknown option {name!r} in the URL's query{hint}")
        if name in seen:
            raise ConfigurationError(f"option {name!r} is given twice in the URL's query")
        seen.add(name)
        try:
            options[name] = _typed(value, fields[name].annotation)
        except ValueError:
            problem = f"option {name!r} in the URL's query is not valid JSON"
        if problem is not None:
            raise ConfigurationError(problem)
    return backend_class, options
