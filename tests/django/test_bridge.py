"""The Django bridge in real Django venvs (5.2 and 6.1), against real SMTP servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.celery.conftest import settings_env
from tests.celery.harness import RedisServer, Workers, wait_for
from tests.django.conftest import run_django_test, run_inside
from tests.django.venvs import DjangoVenv, django_venv
from tests.docs.examples import read_page
from tests.support.smtp_servers import RecordingSMTPServer
from tests.support.venvs import REPO


def test_the_bridge_sends_the_bytes_and_envelope_djangos_smtp_backend_sends(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    with RecordingSMTPServer() as by_django, RecordingSMTPServer() as by_bridge:
        counts = run_inside(
            venv, "corpus.py", str(by_django.port), str(by_bridge.port), cwd=tmp_path
        )

    assert counts == [[1, 1, "sent"]] * 6
    assert len(by_django.messages) == len(by_bridge.messages) == 6
    for django_sent, bridge_sent in zip(by_django.messages, by_bridge.messages, strict=True):
        assert bridge_sent.data == django_sent.data
        assert (bridge_sent.mail_from, bridge_sent.rcpt_tos) == (
            django_sent.mail_from,
            django_sent.rcpt_tos,
        )
    bcc = by_bridge.messages[4]
    assert bcc.rcpt_tos == [
        "to@example.com", "cc@example.com", "hidden@example.com", "other@example.org",
    ]  # fmt: skip
    assert b"hidden@example.com" not in bcc.data
    assert by_bridge.messages[1].rcpt_tos == ["to@example.com", "b@xn--4ca9at.com"]
    assert by_bridge.messages[5].mail_from == "bounce@example.com"


def _project(tmp_path: Path, settings: str) -> dict[str, str]:
    """A minimal project's settings module in ``tmp_path``; the environment to use it."""
    (tmp_path / "site_settings.py").write_text(
        'SECRET_KEY = "not secret"\nINSTALLED_APPS = ["mailcore_django"]\n'
        "DATABASES = {}\nUSE_TZ = True\n" + settings
    )
    return {"DJANGO_SETTINGS_MODULE": "site_settings", "PYTHONPATH": str(tmp_path)}


def test_a_project_swaps_email_backend_and_keeps_its_email_settings(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    with RecordingSMTPServer(credentials={"site": "s3cret"}) as server:
        env = _project(
            tmp_path,
            'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
            f'EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = {server.port}\n'
            'EMAIL_HOST_USER = "site"\nEMAIL_HOST_PASSWORD = "s3cret"\nEMAIL_TIMEOUT = 10\n',
        )
        report = run_inside(venv, "project.py", cwd=tmp_path, env=env)

    assert report == {"sent": 1, "status": "sent", "mailer": None, "asent": 1}
    assert [(m.mail_from, m.rcpt_tos) for m in server.messages] == [
        ("site@example.com", ["ann@example.com"]),
        ("site@example.com", ["bob@example.com"]),
    ]
    assert [s.login for s in server.sessions] == ["site", "site"]
    assert server.messages[1].parsed()["Subject"] == "Async"


def test_a_project_sends_through_a_failover_mailer_of_two_servers(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    def down(stage: str, session: object, argument: str) -> str | None:
        return "451 4.3.0 try later" if stage == "MAIL" else None

    with RecordingSMTPServer(fault=down) as first, RecordingSMTPServer() as second:
        mailcore = (
            'MAILCORE = {"default_mailer": "tx", "mailers": {"tx": {"backend": "failover", '
            f'"mailers": ["smtp://127.0.0.1:{first.port}", "smtp://127.0.0.1:{second.port}"]}}}}}}\n'
        )
        if venv.version.startswith("5."):
            backend = 'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
        else:  # Django 6.1: a MAILERS entry naming the mailcore mailer
            backend = (
                'MAILERS = {"default": {"BACKEND": "mailcore_django.EmailBackend", '
                '"OPTIONS": {"using": "tx"}}}\n'
            )
        report = run_inside(
            venv, "project.py", cwd=tmp_path, env=_project(tmp_path, mailcore + backend)
        )

    assert report["sent"] == report["asent"] == 1
    assert report["status"] == "sent"
    assert report["mailer"] == f"smtp://127.0.0.1:{second.port}"
    assert first.messages == []
    assert [m.rcpt_tos for m in second.messages] == [["ann@example.com"], ["bob@example.com"]]


def _docs_example(containing: str) -> str:
    """The python block of docs/django.md that holds ``containing`` (the page's Django
    examples run here, in the Django venvs, not in the docs tests)."""
    page = read_page(REPO / "docs" / "django.md")
    return next(b.code for b in page.blocks if b.kind == "python" and containing in b.code)


def test_under_djangos_test_runner_mailcore_mail_lands_in_djangos_outbox(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    # mailcore's own mailer points at a port where nothing listens: only the outbox works
    with RecordingSMTPServer() as server:
        closed_port = server.port
    if venv.version.startswith("5."):
        backend = 'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
    else:  # Django 6.1 deprecates EMAIL_BACKEND (a warning: an error here) for MAILERS
        backend = 'MAILERS = {"default": {"BACKEND": "mailcore_django.EmailBackend"}}\n'
    env = _project(
        tmp_path,
        backend + f'MAILCORE = {{"smtp": {{"host": "127.0.0.1", "port": {closed_port}}}}}\n',
    )
    (tmp_path / "test_outbox.py").write_text(_docs_example("class SignupTests"))
    (tmp_path / "test_named_mailer.py").write_text(
        "from asgiref.sync import async_to_sync\n"
        "from django.core import mail\n"
        "from django.test import SimpleTestCase\n"
        "import mailcore_django\n\n"
        "class NamedMailerTests(SimpleTestCase):\n"
        "    def test_asend_mail_to_a_url_lands_in_the_outbox_too(self):\n"
        "        sent = async_to_sync(mailcore_django.asend_mail)(\n"
        f'            "News", "Body", None, ["bob@example.com"], url="smtp://127.0.0.1:{closed_port}"\n'
        "        )\n"
        "        self.assertEqual(sent, 1)\n"
        '        self.assertEqual([m.to for m in mail.outbox], [["bob@example.com"]])\n'
    )

    done = run_django_test(venv, tmp_path, env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 3 tests" in done.stderr and "OK" in done.stderr


def test_the_core_and_its_backends_never_import_django(venv: DjangoVenv, tmp_path: Path) -> None:
    report = run_inside(venv, "no_django.py", cwd=tmp_path)

    assert report == {"sent": 1, "django_modules": []}


def test_each_django_message_gets_its_mailcore_result_and_fail_silently_holds(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    refuse = {"nobody@example.com": (550, "5.1.1 No such user")}
    with RecordingSMTPServer(refuse=refuse) as server:
        report = run_inside(venv, "results.py", str(server.port), cwd=tmp_path)

    assert report["batch"] == 3
    assert report["batch_results"] == [
        {"status": "sent", "message_id": "MC00001", "refused": []},
        {"status": "sent", "message_id": "MC00002", "refused": ["nobody@example.com"]},
        {"status": "sent", "message_id": "MC00003", "refused": []},
    ]
    assert server.sessions[0].messages == 3  # one connection for the batch
    assert report["silent"] == 0
    assert report["silent_result"] == {
        "status": "failed", "message_id": None, "refused": ["nobody@example.com"],
    }  # fmt: skip
    assert report["raised"] == ["SMTPRecipientsRefusedError", True]
    assert report["no_recipients"] == [0, None]


@pytest.mark.parametrize("source", ["environment", "mailcore.toml"])
def test_mailcore_configuration_outside_django_settings_wins_over_email_settings(
    venv: DjangoVenv, tmp_path: Path, source: str
) -> None:
    with (
        RecordingSMTPServer() as default,
        RecordingSMTPServer() as bulk,
        RecordingSMTPServer() as email_settings,
    ):
        env = _project(
            tmp_path,
            'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
            f'EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = {email_settings.port}\n',
        )
        urls = {
            "default": f"smtp://127.0.0.1:{default.port}",
            "bulk": f"smtp://127.0.0.1:{bulk.port}",
        }
        if source == "environment":
            env |= {f"MAILCORE_MAILERS_{alias.upper()}": url for alias, url in urls.items()}
        else:
            (tmp_path / "mailcore.toml").write_text(
                "".join(f'[mailers.{alias}]\nurl = "{url}"\n' for alias, url in urls.items())
            )
        report = run_inside(venv, "project.py", "bulk", cwd=tmp_path, env=env)

    assert report == {
        "sent": 1, "status": "sent", "mailer": "default", "asent": 1,
        "using": 1, "using_mailer": "bulk",
    }  # fmt: skip
    assert [m.rcpt_tos for m in default.messages] == [["ann@example.com"], ["bob@example.com"]]
    assert [m.rcpt_tos for m in bulk.messages] == [["cy@example.com"]]
    assert email_settings.messages == []


def test_the_docs_examples_of_results_and_async_views_run(venv: DjangoVenv, tmp_path: Path) -> None:
    example = (
        _docs_example("mailcore_result.status")
        + _docs_example("async def signup")
        + "import asyncio\nasyncio.run(signup(None))\n"
    )
    (tmp_path / "example.py").write_text(example)
    with RecordingSMTPServer() as server:
        env = _project(
            tmp_path,
            'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
            f'EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = {server.port}\n'
            'DEFAULT_FROM_EMAIL = "site@example.com"\n',
        )
        report = run_inside(
            venv, "run_code.py", str(tmp_path / "example.py"), cwd=tmp_path, env=env
        )

    assert report == {"printed": "sent None\n"}  # no mailer alias: Django's EMAIL_* settings
    assert [(m.mail_from, m.rcpt_tos, m.parsed()["Subject"]) for m in server.messages] == [
        ("shop@example.com", ["ann@example.com"], "Receipt"),
        ("site@example.com", ["ann@example.com"], "Welcome"),
    ]


def test_a_message_queued_through_the_bridge_is_sent_by_a_worker_as_django_rendered_it(
    tmp_path: Path,
) -> None:
    venv = django_venv("6.1")  # one Django is enough: the worker runs no Django
    redis = RedisServer(tmp_path / "redis").start()
    try:
        with RecordingSMTPServer() as by_worker, RecordingSMTPServer() as by_django:
            env = _project(
                tmp_path,
                'EMAIL_BACKEND = "mailcore_django.EmailBackend"\n'
                'MAILCORE = {"default_mailer": "queued", "mailers": {"queued": {'
                f'"backend": "celery", "broker_url": "{redis.url}", "using": "tx"}}, '
                f'"tx": {{"url": "smtp://127.0.0.1:{by_worker.port}"}}}}}}\n',
            )
            report = run_inside(venv, "queued.py", str(by_django.port), cwd=tmp_path, env=env)
            workers = Workers(settings_env(redis, by_worker), tmp_path).start()
            try:
                wait_for(lambda: len(by_worker.messages) == 1, 60, "the worker's delivery")
            finally:
                workers.stop()
    finally:
        redis.stop()

    assert report == {"queued": 1, "status": "queued", "mailer": "queued"}
    (sent,) = by_worker.messages
    (reference,) = by_django.messages
    assert sent.data == reference.data
    assert (sent.mail_from, sent.rcpt_tos) == (reference.mail_from, reference.rcpt_tos)
    assert sent.rcpt_tos == ["ann@example.com", "audit@example.com"]


def test_a_new_users_trial_of_email_settings_and_hostile_input(
    venv: DjangoVenv, tmp_path: Path
) -> None:
    with RecordingSMTPServer(credentials={"user": "s3cretPW"}) as server:
        report = run_inside(venv, "trial.py", str(server.port), cwd=tmp_path)

    # Django's shortcuts pass username=None, password=None: "as configured", as in Django
    assert [report[k] for k in ("send_mail", "mail_admins", "send_mass_mail")] == [1, 1, 1]
    assert report["get_connection"] == 1
    # a header name that would add a Bcc line (or any invalid name): Django's BadHeaderError
    assert report["header_name"][1:] == [
        "BadHeaderError",  # Django's with Django 5.2, mailcore's (a ValueError) with 6.1
        "header name 'X-A\\r\\nBcc' contains a newline",
    ]
    assert report["header_colon"][2] == (
        "header name 'X:A' is invalid: use printable ASCII without spaces or ':'"
    )
    # a non-ASCII local part: refused (Django 5.2 would send an encoded word; 6.1 refuses)
    assert report["utf8_local_part"][1] == (
        "InvalidAddressError" if venv.version.startswith("5.") else "ValueError"
    )
    # Django's IDNA 2003: straße.de is strasse.de; duplicates go once to the server
    assert report["international_domain"] == report["duplicates"] == 1
    assert report["no_recipients"] == [0, False]  # Django returns before the backend
    assert report["fallback_mailer"] is None  # no mailcore alias: Django's EMAIL_* settings
    assert report["timeout"] == 30.0  # EMAIL_TIMEOUT = None: mailcore's default timeout
    assert report["remote_without_tls"][:2] == ["mailcore", "ConfigurationError"]
    assert "unencrypted to smtp.example.com" in report["remote_without_tls"][2]
    assert [m.rcpt_tos for m in server.messages] == [
        ["ann@example.com"], ["admin@example.com"], ["bob@example.com"], ["cy@example.com"],
        ["user@strasse.de"], ["eve@example.com"], ["fay@example.com"],
    ]  # fmt: skip
    assert [s.login for s in server.sessions] == ["user"] * 7
    assert all(b"Bcc" not in m.data for m in server.messages)
