"""The fixed mix of messages every benchmark sends: four kinds, cycled in order.

A :class:`MessageSpec` is library-neutral data; :mod:`benchmarks.contenders` turns it into a
mailcore or a Django message with the same constructor arguments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = [
    "ATTACHMENT_SIZE",
    "KINDS",
    "AttachmentSpec",
    "MessageSpec",
    "make_corpus",
    "make_spec",
]

#: Size of each of the two attachments of the ``attachments`` kind.
ATTACHMENT_SIZE = 20 * 1024

#: The kinds of message, in the order the corpus cycles through them.
KINDS = ("plain", "unicode", "alternative", "attachments")


@dataclass(frozen=True)
class AttachmentSpec:
    """One attachment: its file name, raw bytes and MIME type."""

    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class MessageSpec:
    """Everything needed to build one message with either library."""

    kind: str
    subject: str
    body: str
    from_email: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    attachments: tuple[AttachmentSpec, ...] = ()


def _random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


_PDF = b"%PDF-1.4\n" + _random_bytes(1, ATTACHMENT_SIZE - 9)
_PNG = b"\x89PNG\r\n\x1a\n" + _random_bytes(2, ATTACHMENT_SIZE - 8)


def _plain(i: int) -> MessageSpec:
    lines = [
        f"Line {j:02d} of the weekly report for account {i}: all systems are nominal."
        for j in range(12)
    ]
    return MessageSpec(
        kind="plain",
        subject=f"Weekly report #{i}",
        body="Hello,\n\n" + "\n".join(lines) + "\n\nRegards,\nThe reporting robot\n",
        from_email="reports@example.com",
        to=(f"alice{i}@example.com",),
    )


def _unicode(i: int) -> MessageSpec:
    paragraph = (
        f"Grüße aus Köln! Ihre Bestellung №{i} ist unterwegs 🚚.\n"
        "Ça coûte 42 € — merci beaucoup, à bientôt.\n"
        "日本語のテキストも含まれています。\n"
        "Ελληνικά: καλημέρα κόσμε.\n"
        "Русский: привет, мир.\n"
    )
    return MessageSpec(
        kind="unicode",
        subject=f"Grüße aus Köln — Bestellung №{i} ✓ 🚚",
        body=paragraph * 5,
        from_email="Zoë Ådler <zoe@example.com>",
        to=(f"Jürgen Groß <juergen{i}@example.com>", f"李小龍 <li{i}@example.com>"),
        cc=(f"Ана Петрова <ana{i}@example.com>",),
        reply_to=("Équipe Support <support@example.com>",),
    )


def _alternative(i: int) -> MessageSpec:
    items = [f"Item {j}: a short story about spring, gardens and issue {i}." for j in range(20)]
    html = (
        f"<html><body>\n<h1>Spring newsletter #{i}</h1>\n"
        + "".join(f'<p class="item">{item}</p>\n' for item in items)
        + '<p><a href="https://example.com/unsubscribe">Unsubscribe</a></p>\n'
        + "</body></html>\n"
    )
    return MessageSpec(
        kind="alternative",
        subject=f"Spring newsletter #{i}",
        body=f"Spring newsletter #{i}\n\n" + "\n".join(items) + "\n",
        from_email="News <news@example.com>",
        to=(f"reader{i}@example.com",),
        headers={"List-Unsubscribe": "<mailto:unsubscribe@example.com>"},
        html=html,
    )


def _attachments(i: int) -> MessageSpec:
    return MessageSpec(
        kind="attachments",
        subject=f"Invoice {i:05d}",
        body=f"Dear customer,\n\nplease find invoice {i:05d} and this month's chart attached.\n",
        from_email="billing@example.com",
        to=(f"customer{i}@example.com",),
        attachments=(
            AttachmentSpec(f"invoice-{i:05d}.pdf", _PDF, "application/pdf"),
            AttachmentSpec("chart.png", _PNG, "image/png"),
        ),
    )


_MAKERS = {
    "plain": _plain,
    "unicode": _unicode,
    "alternative": _alternative,
    "attachments": _attachments,
}


def make_spec(i: int) -> MessageSpec:
    """The ``i``-th message of the corpus (kinds cycle in :data:`KINDS` order)."""
    return _MAKERS[KINDS[i % len(KINDS)]](i)


def make_corpus(count: int) -> list[MessageSpec]:
    """The first ``count`` messages of the corpus."""
    return [make_spec(i) for i in range(count)]
