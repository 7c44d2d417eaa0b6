"""International domains: IDNA 2008 with the UTS #46 mapping, one encoder for the headers,
the envelope and the Message-ID, checked against a real SMTP server's RCPT TO."""

from __future__ import annotations

from email.headerregistry import Address

import pytest

from mailcore import EmailMessage, InvalidAddressError
from mailcore_smtp import SMTPBackend
from tests.support.parsed import parse, parsed
from tests.support.smtp_servers import RecordingSMTPServer

# (domain as given, as IDNA 2008 + UTS #46 writes it). IDNA 2003 (Python's "idna"
# codec) gave strasse.de, fass.de and xn--0xahb.gr: other domains than the ones meant.
DOMAINS = [
    ("straße.de", "xn--strae-oqa.de"),
    ("faß.de", "xn--fa-hia.de"),
    ("σος.gr", "xn--0xagb.gr"),  # the final sigma is kept
    ("Bücher.DE", "xn--bcher-kva.de"),  # UTS #46 maps to lower case
    ("例え。jp", "xn--r8jz45g.jp"),  # and an ideographic full stop to "."
    ("\u0915\u094d\u200d.in", "xn--11b6iy14e.in"),  # a ZWJ after a virama: CONTEXTJ allows it
]


def message(to: str, **kwargs: object) -> EmailMessage:
    return EmailMessage("Hi", "Body", "from@example.com", [to], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("domain", "wire"), DOMAINS)
def test_domains_are_encoded_with_idna_2008_in_headers_and_envelope(domain: str, wire: str) -> None:
    sent = message(f"User <user@{domain}>", cc=[Address("", "cc", domain)])

    received = parsed(sent)

    assert received["To"].addresses[0].addr_spec == f"user@{wire}"
    assert received["Cc"].addresses[0].addr_spec == f"cc@{wire}"
    assert sent.envelope_recipients() == [f"user@{wire}", f"cc@{wire}"]


def test_the_smtp_server_receives_the_idna_2008_addresses() -> None:
    sent = EmailMessage(
        "Hi",
        "Body",
        "Jörg <jorg@straße.de>",
        ["user@straße.de", "Fass <f@faß.de>"],
        bcc=["b@σος.gr"],
    )

    with RecordingSMTPServer() as server:
        assert SMTPBackend(**server.backend_options()).send_messages([sent]) == 1

    (received,) = server.messages
    assert received.mail_from == "jorg@xn--strae-oqa.de"
    assert received.rcpt_tos == ["user@xn--strae-oqa.de", "f@xn--fa-hia.de", "b@xn--0xagb.gr"]
    headers = received.parsed()
    assert headers["From"].addresses[0].addr_spec == "jorg@xn--strae-oqa.de"
    assert [a.addr_spec for a in headers["To"].addresses] == [
        "user@xn--strae-oqa.de",
        "f@xn--fa-hia.de",
    ]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("user@a\u200db.de", "Joiner U+200D not allowed"),  # a ZWJ without its context
        ("user@☃.net", "U+2603"),  # a symbol IDNA 2003 accepted (xn--n3h.net)
        ("user@ab--cd.例え.jp", "hyphens in 3rd and 4th position"),
    ],
)
def test_a_domain_idna_2008_refuses_is_an_invalid_address_naming_it(
    address: str, reason: str
) -> None:
    for field, header in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("reply_to", "Reply-To")):
        sent = EmailMessage("Hi", "Body", "from@example.com", **{field: [address]})

        with pytest.raises(InvalidAddressError) as caught:
            sent.serialize()
        text = str(caught.value)
        assert f"invalid address {address!r} in {header}: " in text
        assert "refused by IDNA 2008" in text
        assert reason in text
    with pytest.raises(InvalidAddressError) as caught:
        message(address).envelope_recipients()
    assert f"{address!r} in To: " in str(caught.value) and reason in str(caught.value)
    with pytest.raises(InvalidAddressError) as caught:
        EmailMessage("Hi", "Body", address, ["to@example.com"]).envelope_from()
    assert f"{address!r} in From: " in str(caught.value) and reason in str(caught.value)


def test_the_smtp_server_receives_nothing_for_a_refused_domain() -> None:
    with RecordingSMTPServer() as server:
        backend = SMTPBackend(**server.backend_options())
        with pytest.raises(InvalidAddressError, match="in To"):
            backend.send_messages([message("user@☃.net")])

    assert server.messages == []


def test_the_message_id_domain_uses_the_same_encoder() -> None:
    sent = message("to@example.com")

    assert parse(sent.serialize(msgid_domain="straße.de"))["Message-ID"].endswith(
        "@xn--strae-oqa.de>"
    )
    with pytest.raises(ValueError, match=r"'☃\.net' is refused by IDNA 2008"):
        sent.serialize(msgid_domain="☃.net")


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("xn--zz.com", "has an A-label 'xn--zz' refused by IDNA 2008"),
        ("-x.com", "has a label starting or ending with '-'"),
        ("x-.com", "has a label starting or ending with '-'"),
        ("ab--c.com", "has a label with '--' in third and fourth place ('ab--c')"),
        ("XN--ZZ.com", "has an A-label 'XN--ZZ' refused by IDNA 2008"),
    ],
)
def test_an_invalid_ascii_domain_is_refused_by_the_same_encoder(domain: str, reason: str) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        message(f"u@{domain}").envelope_recipients()

    assert str(caught.value).startswith(f"invalid address 'u@{domain}' in To: its domain ")
    assert reason in str(caught.value)


def test_an_invalid_ascii_domain_never_reaches_rcpt_to() -> None:
    with RecordingSMTPServer() as server:
        backend = SMTPBackend(**server.backend_options())
        with pytest.raises(InvalidAddressError, match="'xn--zz' refused by IDNA 2008"):
            backend.send_messages([message("u@xn--zz.com")])

    assert server.messages == []


@pytest.mark.parametrize(
    "domain",
    [
        "localhost",
        "mail",
        "[127.0.0.1]",
        "[IPv6:::1]",
        "a_b.example.com",
        "xn--strae-oqa.de",
        "XN--STRAE-OQA.DE",
        "a--b.example.com",
        "0.example",
    ],
)
def test_ascii_domains_that_are_host_names_or_literals_are_accepted(domain: str) -> None:
    assert message(f"u@{domain}").envelope_recipients() == [f"u@{domain}"]
