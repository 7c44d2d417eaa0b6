"""The async sending functions: ``asend_mail``, ``asend_mass_mail``, ``amail_admins``,
``amail_managers``.

Each takes the arguments of its sync twin (:mod:`mailcore.sending`, which builds the
messages for both) and returns the same number; it sends through the backend's
:meth:`~mailcore.BaseEmailBackend.asend_messages`, so the event loop is never blocked by
the transport. Nor by the set-up: the first call for a mailer builds its backend in a
worker thread (:func:`built`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from mailcore.sending import _mass_mail_messages, _send_mail_message, _setting_list_message

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = ["amail_admins", "amail_managers", "asend_mail", "asend_mass_mail", "built"]

T = TypeVar("T")

#: The mailers (``using``; ``None``: the default one) a call has been set up for.
_set_up: set[str | None] = set()


async def built(using: str | None, build: Callable[[], T]) -> T:
    """``build()``: what a call makes before it sends (its backend, its messages). The
    first time for the mailer ``using`` it runs in a worker thread: it then reads the
    settings (importing pydantic), discovers the backends and imports the mailer's
    plugin, some 200 ms that would stall the event loop. Then it runs here (microseconds)."""
    if using in _set_up:
        return build()
    result = await asyncio.to_thread(build)
    _set_up.add(using)
    return result


async def asend_mail(
    subject: str,
    message: str,
    from_email: str | None,
    recipient_list: Sequence[str],
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
) -> int:
    """:func:`~mailcore.send_mail` for async code; return 0 or 1."""
    mail = await built(using, lambda: _send_mail_message(
        subject, message, from_email, recipient_list, fail_silently,
        auth_user, auth_password, connection, html_message, using, "a",
    ))  # fmt: skip
    return await mail.asend()


async def asend_mass_mail(
    datatuple: Iterable[tuple[str, str, str | None, Sequence[str]]],
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    *,
    using: str | None = None,
) -> int:
    """:func:`~mailcore.send_mass_mail` for async code: one batch over one connection;
    return how many were sent."""
    backend, messages = await built(
        using,
        lambda: _mass_mail_messages(
            datatuple, fail_silently, auth_user, auth_password, connection, using, "a"
        ),
    )
    return await backend.asend_messages(messages)


async def amail_admins(
    subject: str,
    message: str,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
) -> int:
    """:func:`~mailcore.mail_admins` for async code."""
    mail = await built(
        using,
        lambda: _setting_list_message(
            "admins", subject, message, fail_silently, connection, html_message, using, "a"
        ),
    )
    return 0 if mail is None else await mail.asend()


async def amail_managers(
    subject: str,
    message: str,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
) -> int:
    """:func:`~mailcore.mail_managers` for async code."""
    mail = await built(
        using,
        lambda: _setting_list_message(
            "managers", subject, message, fail_silently, connection, html_message, using, "a"
        ),
    )
    return 0 if mail is None else await mail.asend()
