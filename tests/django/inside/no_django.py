"""Import mailcore and its backends, send through each, in a venv where Django is
installed; report the ``django`` modules imported: ``python no_django.py OUTPUT.json``."""

from __future__ import annotations

import json
import sys

import mailcore
import mailcore_locmem
import mailcore_smtp

sent = mailcore.get_connection("locmem").send_messages(
    [mailcore.EmailMessage("S", "B", "a@example.com", ["b@example.com"])]
)
mailcore.get_connection("smtp", host="127.0.0.1")  # made, options checked; never connects
assert mailcore_locmem and mailcore_smtp
with open(sys.argv[1], "w") as out:
    json.dump(
        {
            "sent": sent,
            "django_modules": sorted(m for m in sys.modules if m.split(".")[0] == "django"),
        },
        out,
    )
