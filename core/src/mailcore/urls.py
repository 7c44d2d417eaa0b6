"""Connection URLs: ``scheme://[user[:password]@]host[:port][/path][?option=value&...]``.

Each backend declares the schemes it accepts in ``url_schemes`` (a ClassVar mapping a
scheme to a :class:`URLScheme`), saying which option the host, port, path, user and
password become; so a third-party backend gets URLs by declaring them. User and password
are percent-decoded; query values are typed by the backend's options model, and an
unknown option is refused by name. The password is never part of an error's text:
:func:`mask_url` hides it. Standard library only (no pydantic at import).
"""

from __future__ import annotations

import contextlib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

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
    below the URL's parts; the query may not give them again (``smtps://h?use_ssl=false``
    would contradict the scheme), nor an option a part of the URL sets (``?host=``).
    """

    host: str | None = None
    port: str | None = None
    path: str | None = None
    user: str | None = None
    password: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: The parts a URL of this scheme must give (``("host",)``: ``smtp://`` alone is refused).
    required: tuple[str, ...] = ()


def is_url(text: str) -> bool:
    """True when ``text`` looks like a connection URL (``scheme://...``)."""
    return "://" in text


def mask_url(url: str, backend_class: type[BaseEmailBackend] | None = None) -> str:
    """``url`` as it may be shown: the one way a connection URL reaches a person.

    Everything between ``://`` and the last ``@`` is masked (the user name is kept when
    the user-info is well formed and the user is no secret, such as an API key), and so
    is the value of every query option the backend's options model calls secret
    (:func:`mailcore.options.is_secret`; the backend is found from the scheme unless
    given). Text without ``scheme://``: an alias
    is shown as it is, ``user:password@host`` as ``********@host``, anything else masked.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        if "@" in url:
            return f"{_MASK}@{url.rpartition('@')[2]}"
        return url if _ALIAS_LIKE.fullmatch(url) else _MASK
    if backend_class is None:
        with contextlib.suppress(Exception):
            backend_class = backend_for_scheme(scheme.lower())
    credentials, at, tail = rest.rpartition("@")
    shown = ""
    if at:
        user, colon, _ = credentials.partition(":")
        clean = not any(c in credentials for c in "/?#") and user
        if clean and _secret_user(scheme.lower(), backend_class):
            clean = ""
        shown = f"{user}:{_MASK}@" if clean and colon else f"{_MASK}@"
        if clean and not colon:
            shown = f"{user}@"
    else:
        tail = rest
    base, hash_, fragment = tail.partition("#")
    head, question, query = base.partition("?")
    if question:
        query = _mask_query(query, backend_class)
    return f"{scheme}://{shown}{head}{question}{query}{hash_}{fragment}"


def _secret_user(scheme: str, backend_class: type[BaseEmailBackend] | None) -> bool:
    """Whether the URL's user part sets a secret option (an API key), or is unknown."""
    from mailcore.options import is_secret  # deferred: it imports pydantic

    if backend_class is None:
        return False
    rule = backend_class.url_schemes.get(scheme)
    if rule is None or rule.user is None:
        return False
    return is_secret(backend_class.options_model, rule.user)


#: What a mailer alias looks like (shown unmasked).
_ALIAS_LIKE = re.compile(r"[a-z][a-z0-9_]*")


def _mask_query(query: str, backend_class: type[BaseEmailBackend] | None) -> str:
    """``query`` with the value of every secret option masked."""
    from mailcore.options import is_secret  # deferred: it imports pydantic

    model = backend_class.options_model if backend_class is not None else None
    items = []
    for item in query.split("&"):
        name, equals, _ = item.partition("=")
        secret = is_secret(model, unquote(name))
        items.append(f"{name}={_MASK}" if secret and equals else item)
    return "&".join(items)


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


def _split(url: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port; an error that never quotes the URL (a password with an
    unencoded ``/``, ``?``, ``#`` or ``@`` would be taken for the host, port or path)."""
    if any(c in url for c in "\r\n\t\0"):
        raise ConfigurationError(
            "the URL holds a line break, tab or NUL (percent-encode it if it is meant)"
        )
    rest = url.partition("://")[2]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    encode = (
        "percent-encode '/', '?', '#', '@' and ':' in a user name or password "
        "(%2F, %3F, %23, %40, %3A)"
    )
    if "@" not in netloc and "@" in rest[len(netloc) :] and ":" in netloc:
        raise ConfigurationError(f"the URL's password seems to hold '/', '?' or '#': {encode}")
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        problem = f"bad host or port (a port is a number up to 65535); {encode}"
    if problem is not None:  # raised outside the handler: no context keeps the URL
        raise ConfigurationError(problem)
    if parts.fragment or rest.endswith("#"):
        raise ConfigurationError("a URL takes no #fragment (percent-encode '#' as %23)")
    return parts, port


def _same(text: str, default: Any) -> bool:
    """Whether a query value says what a scheme's default does."""
    if isinstance(default, bool):
        return text.strip().lower() in (
            ("true", "1", "yes", "on") if default else ("false", "0", "no", "off")
        )
    return text.strip() == str(default)


def _host(host: str | None) -> str | None:
    """The URL's host; an IPv6 zone id (``[fe80::1%25eth0]``) is refused, as is any other
    percent sign."""
    if host is None or host == "":
        return None
    if "%" in host:
        raise ConfigurationError(
            "the URL's host holds '%' (an IPv6 zone id such as [fe80::1%25eth0] is not "
            "supported in a URL: give the host as an option instead)"
        )
    return host


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
    parts, port = _split(url)
    options: dict[str, Any] = dict(rule.defaults)
    given = (
        ("host", _host(parts.hostname), rule.host),
        ("port", port, rule.port),
        ("path", unquote(parts.path) if parts.path not in ("", "/") else None, rule.path),
        ("user", unquote(parts.username) if parts.username else None, rule.user),
        ("password", unquote(parts.password) if parts.password else None, rule.password),
    )
    for part, value, option in given:
        if value is None:
            if part in rule.required:
                example = "file:///absolute/path" if part == "path" else f"{scheme}://host"
                raise ConfigurationError(f"{scheme}:// needs a {part} (write {example})")
            continue
        if option is None:
            example = "file:///absolute/path" if rule.path else f"{scheme}://"
            raise ConfigurationError(f"{scheme}:// takes no {part} (write {example})")
        if isinstance(value, str) and any(c in value for c in "\r\n\0"):
            raise ConfigurationError(f"the URL's {part} holds a line break or NUL")
        options[option] = value
    # options a part of the URL or the scheme sets may not be given again in the query
    fixed = {option: part for part, value, option in given if option and value is not None}
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
        if name in fixed:
            raise ConfigurationError(
                f"option {name!r} is given twice: in the URL's query and as its {fixed[name]}"
            )
        parts_of = {rule.host: "host", rule.port: "port", rule.path: "path"}
        if name in parts_of and name in rule.defaults and not _same(value, rule.defaults[name]):
            raise ConfigurationError(
                f"option {name!r} belongs in the URL itself, not its query "
                f"(write it as the URL's {parts_of[name]})"
            )
        if name in rule.defaults and not _same(value, rule.defaults[name]):
            raise ConfigurationError(
                f"option {name!r} in the URL's query contradicts the scheme {scheme}:// "
                f"(which sets {name}={str(rule.defaults[name]).lower()}; use another scheme)"
            )
        seen.add(name)
        problem = None
        try:
            options[name] = _typed(value, fields[name].annotation)
        except ValueError:
            problem = f"option {name!r} in the URL's query is not valid JSON"
        if problem is not None:
            raise ConfigurationError(problem)
    return backend_class, options
