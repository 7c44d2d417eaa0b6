"""A distribution adds hooks through the entry-point group ``mailcore.hooks``: installed
in a throwaway virtual environment, its hooks run with no line of the user's code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.venvs import make_plugin_distribution, make_venv, run_python

TRACKING = """\
import itertools
import os
import subprocess

if os.environ.get("ACME_BREAK"):
    raise ImportError("no tracking server configured")

_numbers = itertools.count(1)


def before_send(message, mailer):
    message.extra_headers["X-Tracking-Id"] = f"t-{next(_numbers)}"


def after_send(message, result, mailer):
    print("tracked", message.extra_headers["X-Tracking-Id"], result.status, mailer.alias)
"""

STAMP = """\
def stamp(message, mailer):
    message.subject = "[stamped] " + message.subject
"""


def test_an_installed_distribution_s_hooks_run_by_entry_point_name(tmp_path: Path) -> None:
    project = make_plugin_distribution(
        tmp_path,
        "acme-tracking",
        # "a-stamp" sorts first: its hook runs before the tracking one
        {"tracking": "acme_tracking.tracking", "a-stamp": "acme_tracking.stamp:stamp"},
        {"tracking": TRACKING, "stamp": STAMP},
        group="mailcore.hooks",
    )
    python = make_venv(tmp_path / "venv", "core", "plugins/locmem", project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    done = run_python(
        python,
        """
        import mailcore
        mailcore.send_mail("Hi", "Body", "a@example.com", ["b@example.com"])
        mailcore.send_mail("Again", "Body", "a@example.com", ["b@example.com"])
        for message in mailcore.outbox:
            print(message.subject, message.extra_headers["X-Tracking-Id"])
        """,
        env={**env, "MAILCORE_BACKEND": "locmem"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "tracked t-1 sent default",
        "tracked t-2 sent default",
        "[stamped] Hi t-1",
        "[stamped] Again t-2",
    ]

    broken = run_python(
        python,
        """
        import mailcore
        try:
            mailcore.send_mail("Hi", "Body", "a@example.com", ["b@example.com"])
        except mailcore.ConfigurationError as error:
            print(error)
        """,
        env={**env, "MAILCORE_BACKEND": "locmem", "ACME_BREAK": "1"},
    )
    assert broken.stdout.strip() == (
        "hook 'tracking' (acme_tracking.tracking, entry-point group mailcore.hooks) failed "
        "to load: ImportError: no tracking server configured"
    )

    # `mailcore check` loads the hooks a send would run: the broken one fails it
    check = subprocess.run(
        [str(python.with_name("mailcore")), "check"],
        capture_output=True,
        text=True,
        env={**env, "MAILCORE_BACKEND": "locmem", "ACME_BREAK": "1"},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert check.returncode == 2, check
    assert check.stderr.splitlines() == [
        "mailcore: error: hook 'tracking' (acme_tracking.tracking, entry-point group "
        "mailcore.hooks) failed to load: ImportError: no tracking server configured"
    ]
