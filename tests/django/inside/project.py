"""Send as a Django project does, with the settings module the test wrote
(``DJANGO_SETTINGS_MODULE``): ``python project.py OUTPUT.json``.

Sends one message with Django's ``send_mail`` and one with ``await
mailcore_django.asend_mail(...)``, and reports what each returned and its
``mailcore_result`` (the status and the mailer that sent it).
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings

import django

django.setup()
warnings.simplefilter("ignore")  # Django 6.1's deprecation of EMAIL_* settings

from django.core.mail import EmailMessage  # noqa: E402

import mailcore_django  # noqa: E402

message = EmailMessage("Hello", "From the project.\n", "site@example.com", ["ann@example.com"])
sent = message.send()
result = message.mailcore_result
asent = asyncio.run(
    mailcore_django.asend_mail("Async", "From a view.\n", "site@example.com", ["bob@example.com"])
)
with open(sys.argv[1], "w") as out:
    json.dump({"sent": sent, "status": result.status, "mailer": result.mailer, "asent": asent}, out)
