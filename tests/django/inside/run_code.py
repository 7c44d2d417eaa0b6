"""Run a piece of Python (a docs example) in a Django project set up by the settings
module the test wrote (``DJANGO_SETTINGS_MODULE``): ``python run_code.py CODE OUTPUT.json``.
What it printed goes to ``OUTPUT.json``."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import django

django.setup()

printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    exec(compile(Path(sys.argv[1]).read_text(), sys.argv[1], "exec"), {"__name__": "example"})
with open(sys.argv[2], "w") as out:
    json.dump({"printed": printed.getvalue()}, out)
