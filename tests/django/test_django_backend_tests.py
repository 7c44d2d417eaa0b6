"""Django's own email backend tests pass against ``mailcore_django.EmailBackend``.

Django's shared backend test class (``BaseEmailBackendTests`` of ``tests/mail/tests.py``
in Django 5.2; ``SharedEmailBackendTests`` of ``tests/mail/test_backends.py`` from Django
6.0 on), taken from the installed version's source distribution, runs in that Django's
venv twice: delivering through mailcore's locmem backend, and through mailcore's SMTP
backend to the aiosmtpd server of Django's own SMTP tests (``inside/backend_tests.py``).
Every test passes, except those skipped here with their reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.django.conftest import run_inside
from tests.django.venvs import DjangoVenv

#: The tests skipped, by Django series, with why (they are the same for both routes).
SKIPPED = {
    "5.2": {},
    "6.1": {
        "test_unknown_kwargs_ignored": (
            "mailcore refuses an unknown option with a ConfigurationError naming it "
            "(its rule for bad input); Django's compatibility mode (no alias) ignores it "
            "with a deprecation warning"
        ),
    },
}

#: Shared tests each series has at least (a smaller count means tests went missing).
AT_LEAST = {"5.2": 18, "6.1": 11}


@pytest.mark.parametrize("route", ["locmem", "smtp"])
def test_djangos_backend_tests_pass(venv: DjangoVenv, route: str, tmp_path: Path) -> None:
    series = ".".join(venv.version.split(".")[:2])
    report = run_inside(venv, "backend_tests.py", str(venv.django_tests), route, cwd=tmp_path)

    tests = report["tests"]
    assert report["django"] == venv.version
    assert len(tests) >= AT_LEAST[series], sorted(tests)
    not_passed = {n: t for n, t in tests.items() if t["outcome"] != "passed"}
    skipped = {n: t["detail"] for n, t in not_passed.items() if t["outcome"] == "skipped"}
    assert skipped == SKIPPED[series]
    assert {n: t["detail"] for n, t in not_passed.items() if n not in skipped} == {}
    print(f"Django {venv.version}, {route}: {len(tests) - len(skipped)} passed, skipped:")
    for name, reason in skipped.items():
        print(f"  {name}: {reason}")
