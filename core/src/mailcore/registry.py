"""``mailcore.mailers``: the named mailers of the settings, each made into a backend.

``mailcore.mailers["bulk"]`` returns a new backend instance for the mailer ``bulk``
(never cached, as in Django); ``mailcore.mailers.default`` is the ``default_mailer``;
``"bulk" in mailcore.mailers`` and iteration give the configured aliases. Importing this
module is cheap: the settings (pydantic) are read on first use.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mailcore.errors import InvalidMailer, MailerDoesNotExist

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend
    from mailcore.settings import MailerSpec

__all__ = ["Mailers", "connection_from_url", "mailers", "url_spec"]

#: The aliases being made, innermost last: a composite mailer naming itself is a loop.
_making: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "mailcore_making_mailers", default=()
)


class Mailers:
    """The configured mailers, by alias (see the module doc)."""

    def _aliases(self) -> list[str]:
        from mailcore.settings import get_mailers

        return sorted(get_mailers())

    def create(self, alias: str, fail_silently: bool = False, **arguments: Any) -> BaseEmailBackend:
        """A new backend for mailer ``alias``; ``arguments`` override its options.

        Raises :class:`~mailcore.MailerDoesNotExist` (listing the configured aliases) for
        an unknown alias.
        """
        from mailcore.discovery import load_backend
        from mailcore.settings import building, get_mailers

        specs = get_mailers()
        spec = specs.get(alias) if isinstance(alias, str) else None
        if spec is None:
            raise MailerDoesNotExist(
                f"no mailer named {alias!r} (configured mailers: {', '.join(sorted(specs))})"
            )
        trail = _making.get()
        if alias in trail:
            raise InvalidMailer(f"mailers refer to each other in a loop: {' -> '.join(trail)}")
        token = _making.set((*trail, alias))
        try:
            backend_class = load_backend(spec.backend)
            if spec.legacy:
                backend = backend_class(fail_silently=fail_silently, **arguments)
            else:
                with building(spec):
                    backend = backend_class(fail_silently=fail_silently, **arguments)
        finally:
            _making.reset(token)
        backend.alias = alias
        return backend

    def __getitem__(self, alias: str) -> BaseEmailBackend:
        return self.create(alias)

    @property
    def default(self) -> BaseEmailBackend:
        """A new backend for the ``default_mailer``."""
        from mailcore.settings import get_settings

        return self.create(get_settings().default_mailer)

    def __contains__(self, alias: object) -> bool:
        return alias in self._aliases()

    def __iter__(self) -> Iterator[str]:
        return iter(self._aliases())

    def __len__(self) -> int:
        return len(self._aliases())

    def __repr__(self) -> str:
        return f"<Mailers {', '.join(self._aliases())}>"


def url_spec(url: str) -> MailerSpec:
    """The mailer a connection URL alone describes (the backend's table and variables are
    not read), named by the URL masked (:func:`~mailcore.urls.mask_url`); raises
    :class:`~mailcore.InvalidMailer` showing only the masked URL."""
    from mailcore.settings import MailerSpec
    from mailcore.urls import mask_url, parse_url

    problem = None
    try:
        backend_class, options = parse_url(url)
    except Exception as exc:  # a ConfigurationError, or JSON in the query
        problem = str(exc)
    if problem is not None:
        raise InvalidMailer(f"invalid connection URL {mask_url(url)}: {problem}")
    masked = mask_url(url, backend_class)
    name = backend_class.name or f"{backend_class.__module__}:{backend_class.__qualname__}"
    return MailerSpec(
        masked, name, backend_class.name, (("configure", options),), {"configure": "from its URL"}
    )


def connection_from_url(
    url: str, fail_silently: bool = False, **arguments: Any
) -> BaseEmailBackend:
    """A backend made from a connection URL alone (see :func:`url_spec`); ``arguments``
    override the URL's options. Its ``alias`` is the masked URL."""
    from mailcore.discovery import load_backend
    from mailcore.settings import building

    spec = url_spec(url)
    with building(spec):
        backend = load_backend(spec.backend)(fail_silently=fail_silently, **arguments)
    backend.alias = spec.alias
    return backend


#: The process-wide mailers: ``mailcore.mailers["bulk"]``.
mailers = Mailers()
