"""Results and ``fail_silently`` through the bridge: ``python results.py PORT OUTPUT.json``.

The server at ``PORT`` refuses ``nobody@example.com``. Three messages go out on one
connection (``with connection:``), then one to the refused recipient alone, with and
without ``fail_silently``, and one without recipients.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings

PORT, OUTPUT = int(sys.argv[1]), sys.argv[2]
settings.configure(SECRET_KEY="not secret", INSTALLED_APPS=[], DATABASES={})
django.setup()

from django.core.mail import EmailMessage  # noqa: E402

from mailcore_django import EmailBackend  # noqa: E402


def message(*to: str) -> EmailMessage:
    return EmailMessage("Hi", "Body\n", "shop@example.com", list(to))


def result(sent: EmailMessage) -> dict[str, object]:
    r = sent.mailcore_result
    return {"status": r.status, "message_id": r.message_id, "refused": sorted(r.refused)}


report: dict[str, object] = {}
batch = [message("ann@example.com"), message("bob@example.com", "nobody@example.com"),
         message("cy@example.com")]  # fmt: skip
with EmailBackend(url=f"smtp://127.0.0.1:{PORT}") as connection:
    report["batch"] = connection.send_messages(batch)
report["batch_results"] = [result(m) for m in batch]

refused = message("nobody@example.com")
report["silent"] = EmailBackend(True, url=f"smtp://127.0.0.1:{PORT}").send_messages([refused])
report["silent_result"] = result(refused)
try:
    EmailBackend(url=f"smtp://127.0.0.1:{PORT}").send_messages([message("nobody@example.com")])
except Exception as exc:
    import smtplib

    report["raised"] = [type(exc).__name__, isinstance(exc, smtplib.SMTPException)]

nobody = message()
report["no_recipients"] = [EmailBackend(url="locmem://").send_messages([nobody]),
                           nobody.mailcore_result]  # fmt: skip
with open(OUTPUT, "w") as out:
    json.dump(report, out)
