"""Hostile attachment file names: a ``BadHeaderError`` naming the header, or a message whose
attachments carry exactly those file names (RFC 2231 when needed) and contents."""

from __future__ import annotations

from email.message import MIMEPart

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailcore import BadHeaderError, EmailMessage
from tests.reliability.fuzz.profiles import fuzz_settings
from tests.reliability.fuzz.roundtrip import expected_header_names, read_back
from tests.reliability.fuzz.strategies import has_line_break, mixed_text
from tests.reliability.fuzz.tally import record

# Reads as a message too, for file names that make mailcore guess message/rfc822.
CONTENT = b"Subject: attached\n\nHello.\n"
_MIMETYPES = st.sampled_from([None, None, "application/octet-stream", "text/plain", "image/png"])


def filename_of(part: MIMEPart) -> str | None:
    """The ``filename`` parameter of ``part``'s Content-Disposition, as ``policy.default``
    reads it (RFC 2231 and RFC 2047 decoded), or ``None``."""
    disposition = part["Content-Disposition"]
    if disposition is None:
        return None
    assert not disposition.defects, disposition.defects
    name = disposition.params.get("filename")
    assert isinstance(name, str)
    return name


@fuzz_settings
@given(files=st.lists(st.tuples(mixed_text, _MIMETYPES), min_size=1, max_size=3))
@example(files=[("=?utf-8?q?hidden?=", None)])  # read back as "hidden" when quoted
@example(files=[("data:te xt/plain,x", None)])  # the type was read from it as from a URL
@example(files=[("\\" * 500, None)])  # 1000 octets once escaped: a line over 998
def test_attachment_file_names_read_back_exactly_or_are_refused(
    files: list[tuple[str, str | None]],
) -> None:
    msg = EmailMessage("Files", "See attached.", "from@example.com", ["to@example.com"])
    for filename, mimetype in files:
        msg.attach(filename, CONTENT, mimetype)
    if any(has_line_break(filename) for filename, _ in files):
        with pytest.raises(BadHeaderError, match="'Content-Disposition'"):
            msg.serialize()
        record("attachment filename", "BadHeaderError")
        return
    parsed = read_back(msg)
    assert sorted(parsed.keys()) == expected_header_names(True, False, False, [], True)
    body, *attachments = parsed.iter_parts()
    assert body.get_content() == "See attached.\n" or body.get_content() == "See attached."
    # The header's params, not get_filename(): that strips whitespace, and quotes or angle
    # brackets around the name, whatever the message says.
    assert [filename_of(part) for part in attachments] == [name or None for name, _ in files]
    for part, (name, _) in zip(attachments, files, strict=True):
        expected = ["Content-Type", "Content-Transfer-Encoding"] + ["Content-Disposition"] * bool(
            name
        )
        assert sorted(part.keys()) == sorted(expected)
        if part.get_content_type() != "message/rfc822":  # text parts end lines in CRLF
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            assert payload.replace(b"\r\n", b"\n") == CONTENT
    record("attachment filename", "round-trip")
