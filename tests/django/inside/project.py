"""Send as a Django project does, with the settings module the test wrote
(``DJANGO_SETTINGS_MODULE``): ``python project.py [MAILER] OUTPUT.json``.

Sends one message with ``EmailMessage.send()`` and one with ``await
mailcore_django.asend_mail(...)``, and reports what each returned and the first one's
``mailcore_result`` (the status and the mailer that sent it); given a mailcore MAILER
alias, one more through ``get_connection(using=MAILER)``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings

import django

django.setup()
warnings.simplefilter("ignore")  # Django 6.1's deprecation of EMAIL_* settings

from django.core.mail import EmailMessage, get_connection  # noqa: E402

import mailcore_django  # noqa: E402

message = EmailMessage("Hello", "From the project.\n", "site@example.com", ["ann@example.com"])
sent = message.send()
result = message.mailcore_result
asent = asyncio.run(
    mailcore_django.asend_mail("Async", "From a view.\n", "site@example.com", ["bob@example.com"])
)
report = {"sent": sent, "status": result.status, "mailer": result.mailer, "asent": asent}
if len(sys.argv) > 2:
    bulk = EmailMessage("Bulk", "News.\n", "news@example.com", ["cy@example.com"])
    report["using"] = get_connection(using=sys.argv[1]).send_messages([bulk])
    report["using_mailer"] = bulk.mailcore_result.mailer
with open(sys.argv[-1], "w") as out:
    json.dump(report, out)
