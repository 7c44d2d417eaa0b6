"""Addresses: display names, IDNA domains, invalid addresses and the SMTP envelope."""

from __future__ import annotations

import email.policy
import re
from email.header import decode_header, make_header
from email.headerregistry import Address

import pytest

import mailcore
from mailcore import EmailMessage, InvalidAddressError
from tests.support.parsed import header_lines, parse, parsed


def make(**kwargs: object) -> EmailMessage:
    values: dict[str, object] = {
        "subject": "Hi",
        "body": "Body",
        "from_email": "from@example.com",
        "to": ["to@example.com"],
    }
    values.update(kwargs)
    return EmailMessage(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "display_name", "addr_spec"),
    [
        ('"Doe, John" <john@example.com>', "Doe, John", "john@example.com"),
        ('"Müller, Jörg" <jorg@example.com>', "Müller, Jörg", "jorg@example.com"),
        ('"Say \\"hi\\"" <say@example.com>', 'Say "hi"', "say@example.com"),
        ("John Q. Public <jqp@example.com>", "John Q. Public", "jqp@example.com"),
        ("Jörg Müller <jorg@example.com>", "Jörg Müller", "jorg@example.com"),
        ("田中 太郎 <taro@example.com>", "田中 太郎", "taro@example.com"),
        ("<bare@example.com>", "", "bare@example.com"),
        ("plain@example.com", "", "plain@example.com"),
        ("=?utf-8?q?J=C3=B6rg?= <j@example.com>", "Jörg", "j@example.com"),
    ],
)
def test_display_names_parse_back_to_the_original(
    address: str, display_name: str, addr_spec: str
) -> None:
    for field in ("to", "cc", "reply_to"):
        result = parsed(make(**{field: [address]}))
        header = {"to": "To", "cc": "Cc", "reply_to": "Reply-To"}[field]
        (parsed_address,) = result[header].addresses
        assert (parsed_address.display_name, parsed_address.addr_spec) == (display_name, addr_spec)
    (sender,) = parsed(make(from_email=address))["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (display_name, addr_spec)


def test_a_display_name_with_a_comma_stays_one_address() -> None:
    result = parsed(make(to=['"Doe, John" <john@example.com>', '"Roe, Jane" <jane@example.com>']))

    assert [a.display_name for a in result["To"].addresses] == ["Doe, John", "Roe, Jane"]


def test_a_long_non_ascii_display_name_is_split_into_encoded_words() -> None:
    name = "Jörg Müller-Lüdenscheidt von und zu Großherzogtum Ölbach-Überlingen"
    data = make(to=[f"{name} <jorg@example.com>"]).serialize()

    lines = header_lines(data, "To")
    assert all(len(line) <= 78 for line in lines)
    raw = b" ".join(line.strip() for line in lines)[len(b"To: ") :].decode("ascii")
    # Decoded per RFC 2047 (which drops the space between adjacent encoded words; some
    # Python versions' address parser keeps it: python/cpython#128110).
    assert str(make_header(decode_header(raw))) == f"{name} <jorg@example.com>"


def test_domains_are_idna_encoded_in_headers_and_envelope() -> None:
    message = make(from_email="Jörg <jorg@bücher.de>", to=["user@例え.jp"], cc=["x@ÉCOLE.fr"])

    result = parsed(message)

    assert result["From"].addresses[0].addr_spec == "jorg@xn--bcher-kva.de"
    assert result["To"].addresses[0].addr_spec == "user@xn--r8jz45g.jp"
    assert result["Cc"].addresses[0].addr_spec == "x@xn--cole-9oa.fr"
    assert message.envelope_from() == "jorg@xn--bcher-kva.de"
    assert message.envelope_recipients() == ["user@xn--r8jz45g.jp", "x@xn--cole-9oa.fr"]


@pytest.mark.parametrize(
    ("field", "header"),
    [("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("reply_to", "Reply-To")],
)
def test_a_non_ascii_local_part_is_refused_naming_the_address(field: str, header: str) -> None:
    message = make(**{field: ["jörg@example.com"]})

    with pytest.raises(InvalidAddressError, match=f"'jörg@example.com' in {header}.*not ASCII"):
        message.message()
    with pytest.raises(ValueError, match=r"jörg@example\.com"):
        message.serialize()


def test_a_non_ascii_local_part_in_from_email_is_refused() -> None:
    message = make(from_email="Jörg <jörg@example.com>")

    with pytest.raises(InvalidAddressError, match=r"in From.*not ASCII"):
        message.serialize()
    with pytest.raises(InvalidAddressError, match=r"jörg@example\.com"):
        message.envelope_from()


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "@example.com",
        "user@",
        "a@b@example.com",
        "Name <user@example.com",
        "a@example.com, b@example.com",
        "two words@example.com",
        "dots..twice@example.com",
        "user@bad..domain",
        "user@" + "a" * 64 + ".com",  # an IDNA label longer than 63
        "x" * 250 + "@example.com",  # longer than 254 characters
    ],
)
def test_malformed_addresses_are_refused_naming_field_and_address(address: str) -> None:
    message = make(to=["ok@example.com", address])

    with pytest.raises(InvalidAddressError, match="in To") as caught:
        message.message()
    assert repr(address) in str(caught.value)
    with pytest.raises(InvalidAddressError):
        message.serialize()
    with pytest.raises(InvalidAddressError):
        message.envelope_recipients()


def test_a_quoted_local_part_is_kept_quoted() -> None:
    message = make(to=['"john doe"@example.com'])

    assert message.envelope_recipients() == ['"john doe"@example.com']
    assert parsed(message)["To"].addresses[0].username == "john doe"


def test_a_domain_literal_is_kept() -> None:
    message = make(to=["Admin <admin@[192.0.2.1]>"])

    assert message.envelope_recipients() == ["admin@[192.0.2.1]"]


def test_headerregistry_address_objects_are_accepted() -> None:
    message = make(to=[Address("Jörg", "jorg", "bücher.de")])

    assert parsed(message)["To"].addresses[0].display_name == "Jörg"
    assert message.envelope_recipients() == ["jorg@xn--bcher-kva.de"]


def test_envelope_recipients_are_bare_addresses_in_order_without_duplicates() -> None:
    message = make(
        to=["A <a@example.com>", ""],
        cc=["b@example.com", "Again <a@example.com>"],
        bcc=["c@example.com"],
    )

    assert message.envelope_recipients() == ["a@example.com", "b@example.com", "c@example.com"]


def test_envelope_follows_recipients_when_a_subclass_adds_some() -> None:
    class WithAudit(EmailMessage):
        def recipients(self) -> list[str]:
            return [*super().recipients(), "audit@example.com"]

    message = WithAudit("Hi", "Body", "from@example.com", ["to@example.com"])

    assert message.envelope_recipients() == ["to@example.com", "audit@example.com"]


def test_comments_are_dropped_from_addresses() -> None:
    message = make(to=["user@example.com (the user)"])

    assert parsed(message)["To"].addresses[0].addr_spec == "user@example.com"
    assert message.envelope_recipients() == ["user@example.com"]


_HEADERS = [("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("reply_to", "Reply-To")]


@pytest.mark.parametrize(("field", "header"), _HEADERS)
@pytest.mark.parametrize("entries", [[None], ["a@example.com", None]], ids=["alone", "second"])
def test_none_in_a_recipient_list_is_a_type_error_naming_the_field(
    field: str, header: str, entries: list[str | None]
) -> None:
    connection = mailcore.get_connection("locmem")
    values: dict[str, object] = {"to": ["to@example.com"], field: entries}
    message = make(connection=connection, **values)

    expected = (
        f"{header}: an address must be a str or an email.headerregistry.Address, not NoneType"
    )
    with pytest.raises(TypeError, match=f"^{expected}"):
        message.send()
    with pytest.raises(TypeError, match=f"^{expected}"):
        message.serialize()
    if field != "reply_to":
        with pytest.raises(TypeError, match=f"^{expected}"):
            message.recipients()
        with pytest.raises(TypeError, match=f"^{expected}"):
            message.envelope_recipients()
        assert message.result is None  # send() refused before any backend saw it
    assert getattr(mailcore, "outbox", []) == []


def test_send_mail_with_none_in_the_recipient_list_is_a_type_error() -> None:
    connection = mailcore.get_connection("locmem")

    with pytest.raises(TypeError, match=r"^To: .*not NoneType"):
        mailcore.send_mail("Hi", "Body", "from@example.com", [None], connection=connection)  # type: ignore[list-item]
    assert getattr(mailcore, "outbox", []) == []


def test_only_empty_strings_are_dropped_from_recipient_lists() -> None:
    message = make(to=["", "a@example.com"], cc=[""], bcc=["", "b@example.com"], reply_to=[""])

    assert message.recipients() == ["a@example.com", "b@example.com"]
    assert message.envelope_recipients() == ["a@example.com", "b@example.com"]
    result = parsed(message)
    assert result["To"] == "a@example.com"
    assert "Cc" not in result and "Reply-To" not in result
    assert make(to=[""]).send() == 0


@pytest.mark.parametrize(("field", "header"), _HEADERS[:3])
def test_envelope_errors_name_the_field_the_address_came_from(field: str, header: str) -> None:
    message = make(**{field: ["ok@example.com", "not-an-address"]})

    with pytest.raises(InvalidAddressError) as caught:
        message.envelope_recipients()
    assert str(caught.value) == (
        f"invalid address 'not-an-address' in {header}: it is not a valid address"
    )


def test_a_long_non_ascii_display_name_reads_back_exactly() -> None:
    name = "Tó Example very long" * 4
    data = make(to=[f"{name} <to@example.com>"]).serialize()

    # Plain words keep the encoded words apart: every reader keeps the space between an
    # encoded word and a plain word, whereas Python before CPython gh-128110 read one
    # between two adjacent encoded words ("...longT ó Example...").
    assert header_lines(data, "To") == [
        b"To: =?utf-8?b?VMOz?= Example very =?utf-8?q?longT=C3=B3?= Example very",
        b" =?utf-8?q?longT=C3=B3?= Example very =?utf-8?q?longT=C3=B3?= Example very",
        b" long <to@example.com>",
    ]
    assert parse(data)["To"].addresses[0].display_name == name
    raw = b" ".join(line.strip() for line in header_lines(data, "To"))[4:].decode("ascii")
    assert str(make_header(decode_header(raw))) == f"{name} <to@example.com>"


def _rfc2047_display_name(data: bytes, header: str) -> str:
    """The display name of ``header`` read as RFC 2047 says: the whitespace between two
    adjacent encoded words dropped (Python's parser before gh-128110 keeps it)."""
    raw = b" ".join(line.strip() for line in header_lines(data, header))
    value = re.sub(rb"(\?=)\s+(?==\?)", rb"\1", raw.split(b":", 1)[1].strip())
    found = email.policy.default.header_factory(header, value.decode("ascii"))
    return str(found.addresses[0].display_name)


@pytest.mark.parametrize(
    "name",
    [
        ("Zoë Ünal " * 10).strip(),
        "Ωμέγα άλφα " * 8,
        "Жёлтый синий " * 6,
        "Zoë 😀" * 20,
        " ".join(["Ünïcödé"] * 12),
        "Tó Example  two spaces",
        "Tab\there ó",
        "Zoë  Ünal",
        "x\t\tó y",
        " ó",
        "ó ",
    ],
)
def test_display_names_of_non_ascii_words_and_blanks_read_back_exactly(name: str) -> None:
    data = make(subject=name, to=[Address(display_name=name, addr_spec="to@example.com")])
    serialized = data.serialize()

    assert parse(serialized)["To"].addresses[0].display_name == name  # Python 3.11 on
    assert _rfc2047_display_name(serialized, "To") == name  # RFC 2047 section 6.2
    assert not parse(serialized)["To"].defects
    assert str(parse(serialized)["Subject"]) == name


def test_a_long_run_of_non_ascii_words_is_split_at_a_space_kept_by_every_reader() -> None:
    name = ("Zoë Ünal " * 10).strip()
    data = make(to=[Address(name, "to", "example.com")]).serialize()

    assert header_lines(data, "To") == [
        b"To: =?utf-8?b?Wm/DqyDDnG5hbCBab8OrIMOcbmFsIFpvw6sgw5xuYWwgWm/Dqw==?=",
        b' ""=?utf-8?b?w5xuYWwgWm/DqyDDnG5hbCBab8OrIMOcbmFsIFpvw6sgw5xuYWwgWm/Dqw==?=',
        b' ""=?utf-8?b?w5xuYWwgWm/DqyDDnG5hbCBab8OrIMOcbmFs?= <to@example.com>',
    ]


def test_blanks_next_to_encoded_words_go_in_quoted_strings() -> None:
    data = make(to=[Address("Tó Example  two spaces", "to", "example.com")]).serialize()
    assert header_lines(data, "To") == [
        b'To: =?utf-8?b?VMOz?= "Example  two spaces" <to@example.com>'
    ]
    data = make(to=[Address("Tab\there ó", "to", "example.com")]).serialize()
    assert header_lines(data, "To") == [b'To: "Tab\there "=?utf-8?b?w7M=?= <to@example.com>']


@pytest.mark.parametrize(
    ("address", "name"),
    [
        ('"=?utf-8?q?evil?=" <a@x.com>', "=?utf-8?q?evil?="),
        ('"a \\"=?x?= b" <a@x.com>', 'a "=?x?= b'),
        (
            '"=?utf-8?q?=0D=0ABcc:_evil@example.com?=" <a@x.com>',
            "=?utf-8?q?=0D=0ABcc:_evil@example.com?=",
        ),
    ],
)
def test_a_quoted_display_name_holding_an_encoded_word_look_alike_is_kept_as_text(
    address: str, name: str
) -> None:
    data = make(to=[address]).serialize()

    assert b"=?x?=" not in header_lines(data, "To")[0]  # encoded: no reader decodes it
    found = parse(data)["To"]
    assert [(a.display_name, a.addr_spec) for a in found.addresses] == [(name, "a@x.com")]
    assert not found.defects
    assert "Bcc" not in parse(data)
