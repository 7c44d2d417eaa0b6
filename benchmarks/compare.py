"""Parse serialized messages into comparable descriptions, and list how two differ.

A :class:`Description` holds what a reader of the message sees, parsed back with the
standard library (``policy.default``):

* ``headers``: every top-level header except ``Date`` and ``Message-ID`` (different on every
  message), ``Content-Transfer-Encoding`` (a wire detail: the decoded payloads are compared
  instead) and ``Content-Type``/``Content-Disposition`` (compared as the structure). Address
  headers become ``Name <addr>`` lists; other values have their folding whitespace collapsed.
* ``structure``: the tree of content types, with each part's disposition and file name,
  e.g. ``multipart/mixed(text/plain, application/pdf[attachment; a.pdf])``. The charset is
  left out: the decoded payloads show whether the text survived.
* ``payloads``: each leaf's decoded content in order (text with CRLF turned into LF, bytes).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage as StdMessage
from email.message import Message
from typing import cast

from benchmarks.corpus import MessageSpec

__all__ = [
    "ADDRESS_HEADERS",
    "IGNORED_HEADERS",
    "Description",
    "MismatchError",
    "describe",
    "differences",
    "expected_description",
    "parse_problems",
    "spec_differences",
]

#: Headers left out of the header comparison (see the module docstring for why).
IGNORED_HEADERS = frozenset(
    {"date", "message-id", "content-transfer-encoding", "content-type", "content-disposition"}
)

#: Headers compared as lists of addresses rather than as text.
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})

Payload = str | bytes


class MismatchError(AssertionError):
    """The outputs of the two libraries (or mailcore's and the spec) differ."""


@dataclass(frozen=True)
class Description:
    """What a reader of one message sees (see the module docstring)."""

    headers: dict[str, tuple[str, ...]]
    present: frozenset[str]
    structure: str
    payloads: tuple[tuple[str, Payload], ...]
    defects: tuple[str, ...] = ()


def _format_addresses(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{name} <{addr}>" if name else addr for name, addr in pairs)


def _spec_addresses(values: Iterable[str]) -> str:
    return _format_addresses(email.utils.getaddresses(list(values)))


def _collapse(value: str) -> str:
    return " ".join(value.split())


def _header_value(name: str, value: object) -> str:
    addresses = getattr(value, "addresses", None)
    if name in ADDRESS_HEADERS and addresses is not None:
        return _format_addresses((a.display_name, a.addr_spec) for a in addresses)
    return _collapse(str(value))


def _leaf_label(part: Message) -> str:
    label = part.get_content_type()
    disposition = part.get_content_disposition()
    filename = part.get_filename()
    if disposition or filename:
        label += f"[{disposition or ''}; {filename or ''}]"
    return label


def _walk(
    part: StdMessage, path: str, payloads: list[tuple[str, Payload]], defects: list[str]
) -> str:
    defects.extend(f"{path}: {type(d).__name__}: {d}" for d in part.defects)
    if part.is_multipart():
        children = cast(list[StdMessage], part.get_payload())
        inner = ", ".join(
            _walk(child, f"{path}.{n}", payloads, defects) for n, child in enumerate(children, 1)
        )
        return f"{part.get_content_type()}({inner})"
    content = part.get_content()
    if isinstance(content, str):
        content = content.replace("\r\n", "\n")
    elif not isinstance(content, bytes):
        content = bytes(content)
    payloads.append((path, content))
    return _leaf_label(part)


def describe(data: bytes) -> Description:
    """Parse ``data`` with ``policy.default`` and describe it."""
    message: StdMessage = email.message_from_bytes(data, policy=email.policy.default)
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        key = name.lower()
        if key not in IGNORED_HEADERS:
            headers.setdefault(key, []).append(_header_value(key, value))
    payloads: list[tuple[str, Payload]] = []
    defects: list[str] = []
    structure = _walk(message, "1", payloads, defects)
    return Description(
        headers={k: tuple(v) for k, v in sorted(headers.items())},
        present=frozenset(name.lower() for name in message),
        structure=structure,
        payloads=tuple(payloads),
        defects=tuple(defects),
    )


def expected_description(spec: MessageSpec) -> Description:
    """What :func:`describe` should return for a correct rendering of ``spec``."""
    headers: dict[str, tuple[str, ...]] = {
        "subject": (_collapse(spec.subject),),
        "from": (_spec_addresses([spec.from_email]),),
        "mime-version": ("1.0",),
    }
    for key, values in (("to", spec.to), ("cc", spec.cc), ("reply-to", spec.reply_to)):
        if values:
            headers[key] = (_spec_addresses(values),)
    for name, value in spec.headers.items():
        headers[name.lower()] = (_collapse(value),)
    structure = "text/plain"
    payloads: list[tuple[str, Payload]] = [("", spec.body)]
    if spec.html is not None:
        structure = "multipart/alternative(text/plain, text/html)"
        payloads.append(("", spec.html))
    if spec.attachments:
        labels = [f"{a.mimetype}[attachment; {a.filename}]" for a in spec.attachments]
        structure = f"multipart/mixed({', '.join([structure, *labels])})"
        payloads.extend(("", a.content) for a in spec.attachments)
    return Description(
        headers=dict(sorted(headers.items())),
        present=frozenset(headers) | {"date", "message-id"},
        structure=structure,
        payloads=tuple(payloads),
    )


def _show(value: object, limit: int = 100) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes starting {value[:24]!r}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_difference(a: Payload, b: Payload) -> str:
    if type(a) is not type(b):
        return f"{type(a).__name__} {_show(a)} vs {type(b).__name__} {_show(b)}"
    index = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if index is None:
        return f"lengths {len(a)} vs {len(b)}; the shorter is a prefix of the longer"
    start = max(0, index - 20)
    return (
        f"first difference at offset {index}: "
        f"{_show(a[start : index + 40])} vs {_show(b[start : index + 40])}"
    )


def parse_problems(description: Description) -> list[str]:
    """What is wrong with a parsed message on its own: defects, missing or leaked headers."""
    problems = [f"parser defect {d}" for d in description.defects]
    problems += [
        f"missing header {name!r}"
        for name in ("date", "message-id")
        if name not in description.present
    ]
    if "bcc" in description.present:
        problems.append("the Bcc header is shown")
    return problems


def differences(a: Description, b: Description, names: tuple[str, str]) -> list[str]:
    """Every way ``a`` and ``b`` differ, phrased with ``names`` for the two sides."""
    left, right = names
    found: list[str] = []
    for key in sorted(set(a.headers) | set(b.headers)):
        va, vb = a.headers.get(key), b.headers.get(key)
        if va != vb:
            found.append(f"header {key!r}: {left} {_show(va)} vs {right} {_show(vb)}")
    if a.structure != b.structure:
        found.append(f"structure: {left} {a.structure!r} vs {right} {b.structure!r}")
    elif len(a.payloads) == len(b.payloads):
        for (path, pa), (_, pb) in zip(a.payloads, b.payloads, strict=True):
            if pa != pb:
                found.append(f"payload of part {path}: {_first_difference(pa, pb)}")
    return found


def spec_differences(spec: MessageSpec, data: bytes, name: str = "mailcore") -> list[str]:
    """How ``data`` (one library's rendering of ``spec``) departs from the spec."""
    actual = describe(data)
    problems = parse_problems(actual)
    problems += differences(actual, expected_description(spec), (name, "expected"))
    return problems
