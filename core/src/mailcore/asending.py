"""The async sending functions: ``asend_mail``, ``asend_mass_mail``, ``amail_admins``,
``amail_managers``.

Each takes the arguments of its sync twin (:mod:`mailcore.sending`, which builds the
messages for both) and returns the same number; it sends through the backend's
:meth:`~mailcore.BaseEmailBackend.asend_messages`, so the event loop is never blocked by
the transport.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mailcore.sending import _mass_mail_messages, _send_mail_message, _setting_list_message

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend

__all__ = ["amail_admins", "amail_managers", "asend_mail", "asend_mass_mail"]


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
    mail = _send_mail_message(
        subject, message, from_email, recipient_list, fail_silently,
        auth_user, auth_password, connection, html_message, using, "a",
    )  # fmt: skip
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
    connection, messages = _mass_mail_messages(
        datatuple, fail_silently, auth_user, auth_password, connection, using, "a"
    )
    return await connection.asend_messages(messages)


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
    mail = _setting_list_message(
        "admins", subject, message, fail_silently, connection, html_message, using, "a"
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
    mail = _setting_list_message(
        "managers", subject, message, fail_silently, connection, html_message, using, "a"
    )
    return 0 if mail is None else await mail.asend()
