"""Django's message queued through the bridge to a ``celery`` mailer, and the same message
sent by Django's own SMTP backend: ``python queued.py DJANGO_PORT OUTPUT.json``.

The settings module (``DJANGO_SETTINGS_MODULE``) makes a celery mailer the default one;
the random generator is seeded the same before each rendering (MIME boundaries).
"""

from __future__ import annotations

import json
import random
import sys
import warnings

import django

django.setup()
warnings.simplefilter("ignore")  # Django 6.1's deprecation of a directly made backend

from django.core.mail import EmailMultiAlternatives  # noqa: E402
from django.core.mail.backends import smtp  # noqa: E402

DJANGO_PORT = int(sys.argv[1])
message = EmailMultiAlternatives(
    "Queued ✓", "Sent by a worker, as Django rendered it.\n", "shop@example.com",
    ["ann@example.com"], bcc=["audit@example.com"],
    headers={"Date": "Mon, 30 Nov 2026 09:00:00 +0000", "Message-ID": "<queued@example.com>"},
)  # fmt: skip
message.attach_alternative("<p>Sent by a <b>worker</b>.</p>", "text/html")
message.attach("data.bin", bytes(range(256)), "application/octet-stream")

random.seed(7)
queued = message.send()
result = message.mailcore_result
random.seed(7)
smtp.EmailBackend(host="127.0.0.1", port=DJANGO_PORT).send_messages([message])
with open(sys.argv[2], "w") as out:
    json.dump({"queued": queued, "status": result.status, "mailer": result.mailer}, out)
