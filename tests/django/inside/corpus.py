"""Send a corpus of Django messages through Django's own SMTP backend and through the
bridge, each to its own server: ``python corpus.py DJANGO_PORT BRIDGE_PORT OUTPUT.json``.

Each message has a fixed Date and Message-ID, and the random generator is seeded the
same before each rendering, so that Django renders the same bytes (MIME boundaries
included) both times; whatever differs on arrival is the transport's doing.
"""

from __future__ import annotations

import json
import random
import sys
import warnings

import django
from django.conf import settings

settings.configure(SECRET_KEY="not secret", INSTALLED_APPS=[], DATABASES={})
django.setup()
warnings.simplefilter("ignore")  # Django 6.1's deprecation of a directly made backend

from django.core.mail import EmailMessage, EmailMultiAlternatives  # noqa: E402
from django.core.mail.backends import smtp  # noqa: E402

from mailcore_django import EmailBackend  # noqa: E402

DJANGO_PORT, BRIDGE_PORT, OUTPUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
PNG = bytes(range(256)) * 4


def fixed(number: int) -> dict[str, str]:
    return {
        "Date": "Mon, 30 Nov 2026 09:00:00 +0000",
        "Message-ID": f"<corpus-{number}@example.com>",
    }


def corpus() -> list[EmailMessage]:
    plain = EmailMessage(
        "Plain", "Just text.\n", "from@example.com", ["to@example.com"], headers=fixed(1)
    )
    unicode = EmailMessage(
        "Chère maman ✉",
        "Je t'aime très fort. Ünïcödé ✓\n" * 3,
        '"Firstname Sürname" <from@example.com>',
        ['"Jörg Müller" <to@example.com>', "b@öäü.com"],
        headers=fixed(2),
    )
    alternatives = EmailMultiAlternatives(
        "Alternatives", "Text part\n", "from@example.com", ["to@example.com"], headers=fixed(3)
    )
    alternatives.attach_alternative("<p>HTML <b>part</b> é</p>", "text/html")
    attachments = EmailMultiAlternatives(
        "Attachments", "See attached.\n", "from@example.com", ["to@example.com"], headers=fixed(4)
    )
    attachments.attach_alternative("<p>See attached.</p>", "text/html")
    attachments.attach("notes.txt", "Some notes, ü.\n", "text/plain")
    attachments.attach("pixel.png", PNG, "image/png")
    attachments.attach("résumé.pdf", b"%PDF-1.4 fake", "application/pdf")
    bcc = EmailMessage(
        "Bcc",
        "Blind copies.\n",
        "from@example.com",
        ["to@example.com"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com", "other@example.org"],
        reply_to=["reply@example.com"],
        headers=fixed(5),
    )
    custom = EmailMessage("Custom headers", "Long line " * 120 + "\n", "bounce@example.com",
                          ["list@example.com"], headers={
                              **fixed(6), "From": "News <news@example.com>",
                              "X-Campaign": "spring-2026",
                              "List-Unsubscribe": "<mailto:u@example.com>",
                          })  # fmt: skip
    return [plain, unicode, alternatives, attachments, bcc, custom]


djangos = smtp.EmailBackend(host="127.0.0.1", port=DJANGO_PORT)
bridge = EmailBackend(host="127.0.0.1", port=BRIDGE_PORT)
counts = []
for number, message in enumerate(corpus()):
    random.seed(number)
    by_django = djangos.send_messages([message])
    random.seed(number)
    by_bridge = bridge.send_messages([message])
    counts.append([by_django, by_bridge, message.mailcore_result.status])
with open(OUTPUT, "w") as out:
    json.dump(counts, out)
