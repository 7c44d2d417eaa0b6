"""Subject, body and attachment content: str or bytes (decoded as the message's charset),
a clear TypeError naming the field for anything else (never sent as its str())."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from mailcore import EmailMessage
from tests.support.parsed import parse


def make(subject: Any = "Hi", body: Any = "Body") -> EmailMessage:
    return EmailMessage(subject, body, "from@example.com", ["to@example.com"])


def test_a_bytes_subject_is_decoded_as_the_charset_like_a_bytes_body() -> None:
    data = make(b"subj", "Body").serialize()
    assert parse(data)["Subject"] == "subj"
    assert parse(make("Zo\u00eb".encode(), b"Zo\xc3\xab").serialize())["Subject"] == "Zoë"


def test_a_bytes_subject_not_valid_in_the_charset_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match=r"^subject: the bytes given are not valid utf-8 text"):
        make(b"\xff").serialize()


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        (42, "Body", "subject must be str or bytes, not int (42)"),
        ("Hi", 42, "body must be str or bytes, not int (42)"),
        ("Hi", ["x"], "body must be str or bytes, not list (['x'])"),
    ],
)
def test_other_types_are_refused_naming_the_field(subject: Any, body: Any, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        make(subject, body)
    assert str(caught.value) == message


def test_a_type_set_after_construction_is_refused_when_serialized() -> None:
    message = make()
    message.body = 42
    with pytest.raises(TypeError, match=r"^body must be str or bytes, not int \(42\)$"):
        message.serialize()


def test_attachment_content_of_another_type_is_refused_naming_the_attachment() -> None:
    with pytest.raises(TypeError) as caught:
        make().attach("x.txt", 42, "text/plain")
    assert str(caught.value) == (
        "attachment 'x.txt': content must be str, bytes, an EmailMessage or an "
        "email.message.Message, not int (42)"
    )


def test_memoryview_and_bytearray_are_copied_to_bytes_and_can_be_pickled() -> None:
    message = make("Hi", memoryview(b"hello"))
    message.attach("a.bin", bytearray(b"\x00\x01"), "application/octet-stream")
    assert message.body == b"hello"
    assert message.attachments[0].content == b"\x00\x01"  # type: ignore[union-attr]
    copy = pickle.loads(pickle.dumps(message))
    assert parse(copy.serialize()).get_body().get_content() == "hello"
