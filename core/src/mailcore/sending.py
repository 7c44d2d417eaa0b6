"""The sending functions of the seed: ``get_connection``, ``send_mail`` and friends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from mailcore.discovery import load_backend

if TYPE_CHECKING:
    from mailcore.backend import BaseEmailBackend
    from mailcore.message import EmailMessage

__all__ = ["get_connection", "mail_admins", "mail_managers", "send_mail", "send_mass_mail"]


def get_connection(
    backend: str | None = None,
    fail_silently: bool = False,
    *,
    using: str | None = None,
    **kwargs: Any,
) -> BaseEmailBackend:
    """A backend instance: ``backend`` is a short name or an import path; ``using`` is a
    mailer's alias; with neither, the ``default_mailer``.

    ``kwargs`` are the backend's options (over the mailer's), validated by its options
    model. Giving both ``backend`` and ``using`` is a :class:`TypeError`.
    """
    from mailcore.registry import mailers

    if backend is not None and using is not None:
        raise TypeError("get_connection() takes a backend or using=, not both")
    if backend is None:
        if using is None:
            from mailcore.settings import get_settings

            using = get_settings().default_mailer
        return mailers.create(using, fail_silently=fail_silently, **kwargs)
    backend_class = load_backend(backend)
    return backend_class(fail_silently=fail_silently, **kwargs)


def _connection(
    function: str,
    connection: BaseEmailBackend | None,
    using: str | None,
    fail_silently: bool,
    options: dict[str, Any],
) -> BaseEmailBackend:
    """The backend a sending function uses: ``connection``, or one made for ``using``."""
    if connection is not None and using is not None:
        raise TypeError(f"{function}() takes a connection or using=, not both")
    return connection or get_connection(fail_silently=fail_silently, using=using, **options)


def _auth_options(auth_user: str | None, auth_password: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if auth_user is not None:
        options["username"] = auth_user
    if auth_password is not None:
        options["password"] = auth_password
    return options


def send_mail(
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
    """Send one message to ``recipient_list`` (all shown in To); return 0 or 1.

    ``using`` names the mailer to send with (not together with ``connection``).
    """
    return _send_mail_message(
        subject, message, from_email, recipient_list, fail_silently,
        auth_user, auth_password, connection, html_message, using,
    ).send()  # fmt: skip


def _send_mail_message(
    subject: str,
    message: str,
    from_email: str | None,
    recipient_list: Sequence[str],
    fail_silently: bool,
    auth_user: str | None,
    auth_password: str | None,
    connection: BaseEmailBackend | None,
    html_message: str | None,
    using: str | None,
    prefix: str = "",
) -> EmailMessage:
    """The message :func:`send_mail` (and ``asend_mail``) sends, with its connection."""
    from mailcore.message import EmailMultiAlternatives

    connection = _connection(
        f"{prefix}send_mail",
        connection,
        using,
        fail_silently,
        _auth_options(auth_user, auth_password),
    )
    mail = EmailMultiAlternatives(
        subject, message, from_email, recipient_list, connection=connection
    )
    if html_message:
        mail.attach_alternative(html_message, "text/html")
    return mail


def send_mass_mail(
    datatuple: Iterable[tuple[str, str, str | None, Sequence[str]]],
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    *,
    using: str | None = None,
) -> int:
    """Send one message per ``(subject, message, from_email, recipient_list)`` over one
    connection (or one made for the mailer ``using``); return how many were sent."""
    connection, messages = _mass_mail_messages(
        datatuple, fail_silently, auth_user, auth_password, connection, using
    )
    return connection.send_messages(messages)


def _mass_mail_messages(
    datatuple: Iterable[tuple[str, str, str | None, Sequence[str]]],
    fail_silently: bool,
    auth_user: str | None,
    auth_password: str | None,
    connection: BaseEmailBackend | None,
    using: str | None,
    prefix: str = "",
) -> tuple[BaseEmailBackend, list[EmailMessage]]:
    """The connection and messages :func:`send_mass_mail` (and ``asend_mass_mail``) sends."""
    from mailcore.message import EmailMessage

    connection = _connection(
        f"{prefix}send_mass_mail",
        connection,
        using,
        fail_silently,
        _auth_options(auth_user, auth_password),
    )
    messages = [
        EmailMessage(subject, body, sender, recipients, connection=connection)
        for subject, body, sender, recipients in datatuple
    ]
    return connection, messages


def _mail_setting_list(
    setting: Literal["admins", "managers"],
    subject: str,
    message: str,
    fail_silently: bool,
    connection: BaseEmailBackend | None,
    html_message: str | None,
    using: str | None,
) -> int:
    mail = _setting_list_message(
        setting, subject, message, fail_silently, connection, html_message, using
    )
    return 0 if mail is None else mail.send()


def _setting_list_message(
    setting: Literal["admins", "managers"],
    subject: str,
    message: str,
    fail_silently: bool,
    connection: BaseEmailBackend | None,
    html_message: str | None,
    using: str | None,
    prefix: str = "",
) -> EmailMessage | None:
    """The message ``mail_admins``/``mail_managers`` (``a``-prefixed too) send, or
    ``None`` when the setting lists nobody."""
    from mailcore.settings import get_settings

    if connection is not None and using is not None:
        raise TypeError(f"{prefix}mail_{setting}() takes a connection or using=, not both")
    settings = get_settings()
    recipients = getattr(settings, setting)
    if not recipients:
        return None
    return _send_mail_message(
        f"{settings.subject_prefix}{subject}",
        message,
        settings.server_email,
        recipients,
        fail_silently,
        None,
        None,
        connection,
        html_message,
        using,
    )


def mail_admins(
    subject: str,
    message: str,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
) -> int:
    """Mail the ``admins`` setting; subject prefixed, From is ``server_email``;
    ``using`` names the mailer."""
    return _mail_setting_list(
        "admins", subject, message, fail_silently, connection, html_message, using
    )


def mail_managers(
    subject: str,
    message: str,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
) -> int:
    """Mail the ``managers`` setting; subject prefixed, From is ``server_email``;
    ``using`` names the mailer."""
    return _mail_setting_list(
        "managers", subject, message, fail_silently, connection, html_message, using
    )
