"""Real installs: the core alone, and third-party plugins selected by short name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.venvs import make_plugin_distribution, make_venv, run_python

ACME_BACKEND = """
    from collections.abc import Sequence

    from mailcore import BackendOptions, BaseEmailBackend, EmailMessage, SendResult

    SENT: list[bytes] = []


    class AcmeOptions(BackendOptions):
        api_key: str = "none"


    class AcmeBackend(BaseEmailBackend):
        name = "acme"
        options_model = AcmeOptions

        def send_messages(self, messages: Sequence[EmailMessage]) -> int:
            for message in messages:
                SENT.append(message.serialize())
                message.result = SendResult("sent", message_id=f"acme-{len(SENT)}")
            return len(messages)
"""


@pytest.fixture(scope="module")
def core_and_locmem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding mailcore, mailkern-locmem and two third-party plugins, no others."""
    root = tmp_path_factory.mktemp("plugins")
    acme = make_plugin_distribution(
        root, "acme-mail", {"acme": "acme_mail.backend:AcmeBackend"}, {"backend": ACME_BACKEND}
    )
    broken = make_plugin_distribution(
        root,
        "broken-mail",
        {"broken": "broken_mail.backend:Backend"},
        {"backend": "import a_module_that_does_not_exist\n"},
    )
    return make_venv(root / "venv", "core", "plugins/locmem", acme, broken)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    return {**env, **extra}


def test_core_with_locmem_alone_sends_to_the_outbox(core_and_locmem: Path) -> None:
    done = run_python(
        core_and_locmem,
        """
        import mailcore
        sent = mailcore.send_mail("Hi", "Body", "a@example.com", ["b@example.com"])
        print(sent, [m.subject for m in mailcore.outbox])
        """,
        env=_env(MAILCORE_BACKEND="locmem"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 ['Hi']"


def test_asking_for_a_missing_backend_names_its_distribution(core_and_locmem: Path) -> None:
    done = run_python(
        core_and_locmem,
        """
        import mailcore
        try:
            mailcore.get_connection("smtp")
        except mailcore.BackendNotFoundError as exc:
            print(exc)
        """,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert "no mailcore backend named 'smtp' is installed" in done.stdout
    assert "'mailkern-smtp'" in done.stdout
    assert "installed backends: acme, broken, locmem" in done.stdout


def test_third_party_plugin_is_selected_by_short_name(core_and_locmem: Path) -> None:
    done = run_python(
        core_and_locmem,
        """
        import mailcore
        from acme_mail.backend import SENT
        message = mailcore.EmailMessage("Hello", "Body", "a@example.com", ["b@example.com"])
        print(message.send(), message.result.message_id, len(SENT))
        print(mailcore.get_connection().options.api_key)
        """,
        env=_env(MAILCORE_BACKEND="acme", MAILCORE_ACME_API_KEY="from-env"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["1 acme-1 1", "from-env"]


def test_broken_plugin_is_reported_and_spares_the_others(core_and_locmem: Path) -> None:
    done = run_python(
        core_and_locmem,
        """
        import mailcore
        from mailcore.discovery import installed_backends
        try:
            mailcore.get_connection("broken")
        except mailcore.BackendLoadError as exc:
            print("error:", exc)
        for info in installed_backends():
            print(info.name, info.distribution, info.version, info.error)
        print(mailcore.get_connection("acme").send_messages([]))
        """,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "error: backend 'broken' is installed but failed to load: "
        "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    )
    assert lines[1:] == [
        "acme acme-mail 1.2.3 None",
        "broken broken-mail 1.2.3 ModuleNotFoundError: No module named "
        "'a_module_that_does_not_exist'",
        "locmem mailkern-locmem 0.1.0 None",
        "0",
    ]
