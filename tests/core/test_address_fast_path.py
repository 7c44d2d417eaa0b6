"""The fast path of address parsing gives what the standard library's parser gives."""

from __future__ import annotations

import pytest

from mailcore._wire.addresses import Mailbox, _parse, _parse_with_stdlib


@pytest.mark.parametrize(
    "address",
    [
        "Jürgen Groß <juergen@example.com>",
        "李小龍 <li@example.com>",
        "Ана Петрова <ana@example.com>",
        "Zoë  Ådler   <zoe@example.com>",
        "O'Neil_Smith-Jones <o@example.com>",
        "Ελληνικά<el@example.com>",
        "x\u3000y <ideographic-space@example.com>",
        "name\u2002 <en-space@example.com>",
        "e\u0301 <combining-accent@example.com>",
        "Équipe ✓ Support <support@example.com>",
    ],
)
def test_named_addresses_parse_as_the_standard_library_parses_them(address: str) -> None:
    _parse.cache_clear()

    assert _parse(address) == _parse_with_stdlib(address)


def test_a_unicode_display_name_is_kept_as_given() -> None:
    assert _parse("Jürgen Groß <juergen@example.com>") == Mailbox(
        "Jürgen Groß", "juergen", "example.com"
    )
