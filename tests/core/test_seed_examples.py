"""Every code example of the seed document runs with ``django.core.mail`` read as ``mailcore``.

The examples are taken from ``shared/reference/seed-sending-email.md`` itself (not copied),
rewritten only where the seed is not Python that can run: the Django import path, one
unbalanced quote in the ``send_mass_mail`` example, and an absolute example file path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mailcore
from mailcore import BadHeaderError, EmailMessage, EmailMultiAlternatives

#: The shared seed beside the checkout when present, else the copy kept with the tests.
SEED_CANDIDATES = [
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "seed-sending-email.md",
    Path(__file__).resolve().parent / "data" / "seed-sending-email.md",
]
SEED = next(p for p in SEED_CANDIDATES if p.is_file())

#: Django settings shown in the seed, and the mailcore backend each one means.
DJANGO_BACKENDS = {
    "django.core.mail.backends.smtp.EmailBackend": "smtp",
    "django.core.mail.backends.console.EmailBackend": "console",
    "django.core.mail.backends.filebased.EmailBackend": "file",
    "django.core.mail.backends.locmem.EmailBackend": "locmem",
    "django.core.mail.backends.dummy.EmailBackend": "dummy",
}

#: How many messages each Python example adds to the outbox, in document order.
EXPECTED_SENDS = [1, 0, 2, 1, 2, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 2, 3]


def seed_blocks() -> list[str]:
    return re.findall(r"```\n(.*?)```", SEED.read_text(encoding="utf-8"), flags=re.DOTALL)


def as_mailcore(code: str, image: Path) -> str:
    code = code.replace("from django.core import mail", "import mailcore as mail")
    code = code.replace("django.core.mail import", "mailcore import")
    code = code.replace("'from@example.com, [", "'from@example.com', [")  # the seed's typo
    return code.replace("/images/weather_map.png", str(image))


class FakeRequest:
    def __init__(self, **post: str) -> None:
        self.POST = post


def test_the_seed_is_available() -> None:
    assert SEED.is_file(), f"seed document not found at {SEED}"
    assert len(seed_blocks()) == 19


def test_every_seed_example_runs(mailoutbox: list[EmailMessage], tmp_path: Path) -> None:
    image = tmp_path / "weather_map.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    # the seed's snippets assume its names are imported, as `from django.core.mail import *`
    namespace: dict[str, Any] = {name: getattr(mailcore, name) for name in mailcore.__all__}
    namespace |= {
        "HttpResponse": lambda text: ("response", text),
        "HttpResponseRedirect": lambda url: ("redirect", url),
        "request": FakeRequest(subject="Hello", message="Body", from_email="visitor@example.com"),
        "message": EmailMessage("With files", "See attached.", "a@example.com", ["b@example.com"]),
        "img_data": b"\x89PNG\r\n\x1a\n" + bytes(32),
        "get_notification_email": lambda: [
            EmailMessage("Note 1", "n1", "a@example.com", ["b@example.com"]),
            EmailMessage("Note 2", "n2", "a@example.com", ["c@example.com"]),
        ],
    }
    python_blocks = []
    for block in seed_blocks():
        if block.startswith("python -m smtpd"):
            continue  # a shell command: `mailcore debug-server` replaces it (tested with SMTP)
        python_blocks.append(as_mailcore(block, image))
    assert len(python_blocks) == len(EXPECTED_SENDS)

    for code, expected in zip(python_blocks, EXPECTED_SENDS, strict=True):
        before = len(mailoutbox)
        if code.startswith("(subject, message, from_email, recipient_list)"):
            # the shape of one send_mass_mail entry: check it against a real entry
            entry = {"subject": "S", "message": "M", "from_email": "f@x.org", "recipient_list": []}
            assert eval(code, entry) == ("S", "M", "f@x.org", [])
            continue
        exec(compile(code, str(SEED), "exec"), namespace)
        assert len(mailoutbox) - before == expected, code
        if "EMAIL_BACKEND" in code:
            name = DJANGO_BACKENDS[namespace.pop("EMAIL_BACKEND")]
            options = {}
            if "EMAIL_FILE_PATH" in namespace:
                options["file_path"] = tmp_path / namespace.pop("EMAIL_FILE_PATH").lstrip("/")
            assert mailcore.get_connection(name, **options).name == name

    subjects = [m.subject for m in mailoutbox]
    assert subjects[:3] == ["Subject here", "Subject here", "Another Subject"]
    assert subjects[-3:] == ["Hello", "Hello", "Hello"]
    assert namespace["send_email"](namespace["request"]) == ("redirect", "/contact/thanks/")
    assert (mailoutbox[-1].subject, mailoutbox[-1].to) == ("Hello", ["admin@example.com"])
    attachments = namespace["message"].attachments
    assert [a[0] for a in attachments] == ["design.png", "weather_map.png"]
    html = namespace["msg"]
    assert isinstance(html, EmailMessage) and html.content_subtype == "html"


def test_the_seed_view_refuses_header_injection(mailoutbox: list[EmailMessage]) -> None:
    code = next(b for b in seed_blocks() if "def send_email" in b)
    namespace: dict[str, Any] = {
        "HttpResponse": lambda text: ("response", text),
        "HttpResponseRedirect": lambda url: ("redirect", url),
    }
    exec(compile(as_mailcore(code, Path("unused")), str(SEED), "exec"), namespace)
    attack = FakeRequest(
        subject="Hi\nBcc: everyone@example.com", message="spam", from_email="x@example.com"
    )
    assert namespace["send_email"](attack) == ("response", "Invalid header found.")
    assert mailoutbox == []
    assert issubclass(BadHeaderError, ValueError)
    assert EmailMultiAlternatives is mailcore.EmailMultiAlternatives
