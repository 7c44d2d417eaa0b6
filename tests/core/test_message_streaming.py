"""Streaming a message: ``iter_serialized()`` chunks, and the stream backends that use them."""

from __future__ import annotations

import base64
import copy
import io
import os
from pathlib import Path

import pytest

from mailcore import BadHeaderError, EmailMultiAlternatives
from mailcore.stream import SEPARATOR
from mailcore_console import ConsoleBackend
from mailcore_file import FileBackend
from tests.support.parsed import parse

FIXED = {"Date": "Tue, 05 Mar 2024 14:03:09 +0000", "Message-ID": "<1@example.com>"}
BIG = os.urandom(300_000)  # 300 kB of attachment: several chunks at chunk_size=64 KiB


def make(body: str = "Hello\n") -> EmailMultiAlternatives:
    return EmailMultiAlternatives(
        "Report", body, "from@example.com", ["to@example.com"], headers=dict(FIXED)
    )


def with_big_attachment() -> EmailMultiAlternatives:
    message = make("Grüße, the file is attached.\n")
    message.attach_alternative("<p>Grüße</p>", "text/html")
    message.attach("data.bin", BIG, "application/octet-stream")
    message.attach("notes.txt", "line\n" * 30_000)
    return message


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
@pytest.mark.parametrize("chunk_size", [1, 100, 4096, 65536])
def test_the_chunks_join_to_the_same_bytes_as_to_bytes(linesep: str, chunk_size: int) -> None:
    wire = with_big_attachment().iter_serialized(linesep, chunk_size=chunk_size)

    data = b"".join(wire)

    assert data == wire.to_bytes()
    assert len(wire) == len(data)
    assert wire.isascii() is False  # "Grüße" goes as 8bit UTF-8
    assert b"".join(wire) == data, "iterating again gives the same bytes"


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_streamed_bytes_parse_to_the_same_message_as_serialize(linesep: str) -> None:
    message = with_big_attachment()

    streamed = parse(b"".join(message.iter_serialized(linesep, chunk_size=1000)))
    whole = parse(message.serialize(linesep))

    assert [p.get_content_type() for p in streamed.walk()] == [
        p.get_content_type() for p in whole.walk()
    ]
    streamed_data, streamed_text = (p.get_content() for p in streamed.iter_attachments())
    whole_data, whole_text = (p.get_content() for p in whole.iter_attachments())
    assert streamed_data == whole_data == BIG
    assert streamed_text == whole_text
    assert streamed_text.replace("\r\n", "\n") == "line\n" * 30_000
    assert streamed.defects == []


def test_a_large_attachment_comes_in_chunks_of_whole_base64_lines() -> None:
    message = make()
    message.attach("data.bin", BIG, "application/octet-stream")

    chunks = list(message.iter_serialized("\r\n", chunk_size=10_000))

    body_chunks = chunks[1:-1]  # headers and text before, closing boundary after
    assert len(body_chunks) == 41  # 300,000 bytes in steps of 7,467 (131 lines of 57)
    assert all(len(chunk) <= 10_300 for chunk in body_chunks)
    assert all(chunk.endswith(b"\r\n") for chunk in body_chunks[:-1])
    lines = b"".join(body_chunks).split(b"\r\n")
    assert {len(line) for line in lines[:-1]} == {76}
    assert base64.b64decode(b"".join(lines)) == BIG


def test_a_small_message_is_one_chunk() -> None:
    message = make()
    message.attach("small.bin", b"\x00\x01\x02" * 100, "application/octet-stream")

    assert len(list(message.iter_serialized())) == 1


def test_a_7bit_message_says_it_is_ascii() -> None:
    message = make("plain ASCII\n")
    message.attach("data.bin", BIG, "application/octet-stream")

    assert message.iter_serialized().isascii() is True
    assert message.iter_serialized(allow_8bit=False).isascii() is True
    assert make("Grüße\n").iter_serialized(allow_8bit=False).isascii() is True


def test_errors_are_raised_before_any_chunk_exists() -> None:
    message = make()
    message.subject = "Hi\nBcc: victim@example.com"
    with pytest.raises(BadHeaderError):
        message.iter_serialized()


def test_linesep_and_chunk_size_are_checked() -> None:
    with pytest.raises(ValueError, match="linesep"):
        make().iter_serialized("\r")
    with pytest.raises(ValueError, match="chunk_size"):
        make().iter_serialized(chunk_size=0)


def test_attach_file_content_goes_to_the_file_backend_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(BIG)
    message = make("Grüße\n")
    message.attach_file(source)

    with FileBackend(file_path=tmp_path / "mail") as backend:
        backend.send_messages([message])

    (written,) = backend.written
    data = written.read_bytes()
    assert data.endswith(b"\n" + SEPARATOR.encode() + b"\n")
    parsed = parse(data.removesuffix(SEPARATOR.encode() + b"\n"))
    assert parsed.get_body(("plain",)).get_content() == "Grüße\n"  # type: ignore[union-attr]
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "upload.bin"
    assert attachment.get_content() == BIG


def test_the_console_decodes_characters_split_between_chunks() -> None:
    body = ("é" * 499 + "\n") * 100  # 99,900 bytes of UTF-8 sent as 8bit
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send_messages([make(body)])

    text = stream.getvalue()
    assert body in text
    assert "\ufffd" not in text
    assert text.endswith("\n" + SEPARATOR + "\n")


def test_the_console_adds_a_line_break_when_the_body_has_none() -> None:
    stream = io.StringIO()

    ConsoleBackend(stream=stream).send_messages([make("no line break at the end")])

    assert stream.getvalue().endswith("no line break at the end\n" + SEPARATOR + "\n")


def test_a_deep_copy_streams_the_same_content() -> None:
    message = with_big_attachment()
    clone = copy.deepcopy(message)  # what the locmem backend keeps

    streamed = parse(b"".join(clone.iter_serialized(chunk_size=4096)))

    assert next(p.get_content() for p in streamed.iter_attachments()) == BIG
