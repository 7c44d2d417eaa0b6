"""A new user's (and an attacker's) trial of the bridge, with Django's ``EMAIL_*``
settings: ``python trial.py AUTH_PORT OUTPUT.json``.

The server at ``AUTH_PORT`` requires AUTH as ``user`` / ``s3cretPW`` before MAIL. Sends
with Django's ``send_mail``, ``mail_admins``, ``send_mass_mail`` and ``get_connection()``;
then a header name with a line break, a non-ASCII local part, an international domain,
duplicate recipients, a message without recipients; reports what each did, and how the
bridge reads ``EMAIL_TIMEOUT = None`` and a remote host with credentials and no TLS.
"""

from __future__ import annotations

import json
import sys
import warnings

import django
from django.conf import settings

PORT, OUTPUT = int(sys.argv[1]), sys.argv[2]
settings.configure(
    SECRET_KEY="not secret",
    INSTALLED_APPS=["mailcore_django"],
    DATABASES={},
    USE_TZ=True,
    EMAIL_BACKEND="mailcore_django.EmailBackend",
    EMAIL_HOST="127.0.0.1",
    EMAIL_PORT=PORT,
    EMAIL_HOST_USER="user",
    EMAIL_HOST_PASSWORD="s3cretPW",
    EMAIL_TIMEOUT=None,
    DEFAULT_FROM_EMAIL="site@example.com",
    SERVER_EMAIL="server@example.com",
    ADMINS=[("Admin", "admin@example.com")] if django.VERSION < (6,) else ["admin@example.com"],
)
django.setup()
warnings.simplefilter("ignore")  # Django 6.1's deprecation of EMAIL_* and get_connection()

from django.core import mail  # noqa: E402
from django.core.mail import EmailMessage  # noqa: E402

import mailcore  # noqa: E402


def outcome(send: object) -> object:
    """What a send returned, or the class and text of what it raised."""
    try:
        return send() if callable(send) else send
    except Exception as exc:
        return [type(exc).__module__.split(".")[0], type(exc).__name__, str(exc)]


report: dict[str, object] = {
    "send_mail": outcome(lambda: mail.send_mail("Hi", "Body", None, ["ann@example.com"])),
    "mail_admins": outcome(lambda: mail.mail_admins("Alert", "Body") or 1),
    "send_mass_mail": outcome(
        lambda: mail.send_mass_mail((("Mass", "Body", None, ["bob@example.com"]),))
    ),
    "get_connection": outcome(
        lambda: mail.get_connection().send_messages(
            [EmailMessage("Conn", "Body", None, ["cy@example.com"])]
        )
    ),
    "header_name": outcome(
        lambda: EmailMessage(
            "Inject", "Body", None, ["dan@example.com"], headers={"X-A\r\nBcc": "v"}
        ).send()
    ),
    "header_colon": outcome(
        lambda: EmailMessage(
            "Colon", "Body", None, ["dan@example.com"], headers={"X:A": "v"}
        ).send()
    ),
    "utf8_local_part": outcome(lambda: mail.send_mail("Hi", "Body", None, ["jörg@example.com"])),
    "international_domain": outcome(lambda: mail.send_mail("Hi", "B", None, ["user@straße.de"])),
    "duplicates": outcome(
        lambda: EmailMessage(
            "Twice", "Body", None, ["eve@example.com"], cc=["eve@example.com"]
        ).send()
    ),
}
nobody = EmailMessage("Nobody", "Body", None, [])
report["no_recipients"] = [nobody.send(), hasattr(nobody, "mailcore_result")]
fallback = EmailMessage("Fallback", "Body", None, ["fay@example.com"])
fallback.send()
report["fallback_mailer"] = fallback.mailcore_result.mailer
report["timeout"] = mail.get_connection().mailer.options.timeout
report["remote_without_tls"] = outcome(
    lambda: mail.get_connection(host="smtp.example.com", username="u", password="p")
)
assert isinstance(mailcore.ConfigurationError("x"), Exception)
with open(OUTPUT, "w") as out:
    json.dump(report, out)
