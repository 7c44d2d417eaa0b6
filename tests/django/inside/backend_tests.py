"""Django's own email backend tests, run against ``mailcore_django.EmailBackend``.

Run by ``tests/django/test_django_backend_tests.py`` with the python of a Django venv::

    python backend_tests.py DJANGO_TESTS_DIR ROUTE OUTPUT.json

``DJANGO_TESTS_DIR`` holds ``mail/`` from the installed Django's source distribution;
``ROUTE`` is ``locmem`` (the bridge delivers through mailcore's locmem backend; the
mailbox is ``mailcore.outbox``) or ``smtp`` (through mailcore's SMTP backend, configured
by Django's settings and options, to the aiosmtpd server of Django's own SMTP tests; the
mailbox is what that server received). Django 5.2's shared class is
``BaseEmailBackendTests`` in ``mail/tests.py``; from Django 6.0 on it is
``SharedEmailBackendTests`` in ``mail/test_backends.py``. The outcome of every test
goes to ``OUTPUT.json``.
"""

from __future__ import annotations

import json
import sys
import unittest
from typing import Any, ClassVar

import django
from django.conf import settings

DJANGO_TESTS, ROUTE, OUTPUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, DJANGO_TESTS)

settings.configure(
    SECRET_KEY="not secret",
    INSTALLED_APPS=["mailcore_django"],
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from django.test import SimpleTestCase, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

import mailcore  # noqa: E402
from mailcore_django import EmailBackend  # noqa: E402

setup_test_environment()  # as Django's test runner does

MODERN = django.VERSION >= (6, 0)
if MODERN:
    from mail import test_backends as shared_module
    from mail.tests import message_from_bytes

    Shared: Any = shared_module.SharedEmailBackendTests
    SMTPBase: Any = shared_module.SMTPBackendTestsBase
else:
    from mail import tests as shared_module
    from mail.tests import message_from_bytes

    Shared = shared_module.BaseEmailBackendTests
    SMTPBase = shared_module.SMTPBackendTestsBase

#: mailcore's settings of the locmem route: the default mailer is mailcore's locmem.
LOCMEM_SETTINGS = {"backend": "locmem"}


class Backend:
    """What both routes share: the bridge under test, in Django's shape for the version."""

    email_backend = "mailcore_django.EmailBackend"  # Django 5.2
    backend_class = EmailBackend  # Django 6.x
    #: The options a MAILERS entry needs to reach this route's mailer (Django 6.x).
    mailer_options: ClassVar[dict[str, Any]] = {}

    if MODERN:
        # The bridge keeps fail_silently, as Django's SMTP backend does: Django's test of
        # that backend applies, not the shared one of backends that drop it.
        test_fail_silently_arg_accepted = shared_module.SMTPBackendTests.__dict__[
            "test_fail_silently_arg_accepted"
        ]

        def test_create_from_mailers(self, required_options: Any = None) -> None:
            Shared.test_create_from_mailers(self, required_options=self.mailer_options)

        @unittest.skip(
            "mailcore refuses an unknown option with a ConfigurationError naming it "
            "(its rule for bad input); Django's compatibility mode (no alias) ignores it "
            "with a deprecation warning"
        )
        def test_unknown_kwargs_ignored(self) -> None: ...


class MailcoreLocmemRouteTests(Backend, Shared, SimpleTestCase):
    """The bridge delivering through mailcore's locmem backend (``MAILCORE`` setting)."""

    mailer_options: ClassVar[dict[str, Any]] = {"url": "locmem://"}

    @classmethod
    def setUpClass(cls) -> None:
        cls.enterClassContext(override_settings(MAILCORE=LOCMEM_SETTINGS))
        super().setUpClass()

    def get_mailbox_content(self) -> list[Any]:
        return [message_from_bytes(m.serialize("\n")) for m in getattr(mailcore, "outbox", [])]

    def flush_mailbox(self) -> None:
        mailcore.outbox = []

    def tearDown(self) -> None:
        super().tearDown()
        mailcore.outbox = []


class MailcoreSMTPRouteTests(Backend, Shared, SMTPBase):
    """The bridge delivering through mailcore's SMTP backend to Django's aiosmtpd server:
    no mailcore configuration, so Django's ``EMAIL_HOST``/``EMAIL_PORT`` (5.2) or the
    backend's ``host``/``port`` options (6.x) configure it."""

    def setUp(self) -> None:
        super().setUp()
        self.smtp_handler.flush_mailbox()
        self.addCleanup(self.smtp_handler.flush_mailbox)
        self.mailer_options = {"url": f"smtp://127.0.0.1:{self.smtp_controller.port}"}

    def create_backend(self, **kwargs: Any) -> Any:
        kwargs.setdefault("host", self.smtp_controller.hostname)
        kwargs.setdefault("port", self.smtp_controller.port)
        return super().create_backend(**kwargs)

    def flush_mailbox(self) -> None:
        self.smtp_handler.flush_mailbox()

    def get_mailbox_content(self) -> list[Any]:
        return list(self.smtp_handler.mailbox)


class Outcomes(unittest.TestResult):
    """Every test's outcome by id: ``passed``, ``failed``, ``error`` or ``skipped``."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, dict[str, str]] = {}

    def _set(self, test: Any, outcome: str, detail: str = "") -> None:
        name = test.id().rsplit(".", 1)[-1]
        previous = self.outcomes.get(name, {}).get("outcome")
        if previous in ("failed", "error"):
            return  # a failed subtest keeps its test failed
        self.outcomes[name] = {"outcome": outcome, "detail": detail}

    def addSuccess(self, test: Any) -> None:
        self._set(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:
        self._set(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test: Any, err: Any) -> None:
        self._set(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test: Any, reason: str) -> None:
        self._set(test, "skipped", reason)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(test, "failed" if failed else "error", self._exc_info_to_string(err, test))

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        self._set(test, "expected failure")

    def addUnexpectedSuccess(self, test: Any) -> None:
        self._set(test, "failed", "unexpected success")


route = {"locmem": MailcoreLocmemRouteTests, "smtp": MailcoreSMTPRouteTests}[ROUTE]
suite = unittest.defaultTestLoader.loadTestsFromTestCase(route)
outcomes = Outcomes()
suite.run(outcomes)
with open(OUTPUT, "w") as out:
    json.dump({"django": django.get_version(), "tests": outcomes.outcomes}, out, indent=1)
