"""DKIM signing (the ``dkim`` option and setting): signatures that dkimpy verifies, keys
checked when the mailer is built, the private key never shown, memory bounded.

Messages go through the file backend and are read back from its session file: the
signature covers the bytes as written (``\\n`` line ends; a verifier reads them as CRLF).
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import dkim
import pytest

import mailcore
from mailcore import ConfigurationError, EmailMessage, get_connection
from mailcore.stream import SEPARATOR
from tests.support.dkim_keys import DOMAIN, SELECTOR, DKIMKey, make_key

MiB = 1024 * 1024
ALGORITHMS = ["rsa-sha256", "ed25519-sha256"]


@pytest.fixture(scope="module", params=ALGORITHMS)
def key(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DKIMKey:
    return make_key(request.param, tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DKIMKey]:
    directory = tmp_path_factory.mktemp("other-keys")
    return {algorithm: make_key(algorithm, directory) for algorithm in ALGORITHMS}


def written(backend: mailcore.BaseEmailBackend) -> list[bytes]:
    """The messages of the file backend's last session file, as written."""
    raw = Path(backend.written[-1]).read_bytes()  # type: ignore[attr-defined]
    return raw.split((SEPARATOR + "\n").encode())[:-1]


def message(**kwargs: object) -> EmailMessage:
    return EmailMessage(
        **{
            "subject": "Your order  ships today",
            "body": "Hello Ana,\n\nyour parcel is on its way.  Tracking: 12345\n\n\n",
            "from_email": "shop@example.com",
            "to": ["ana@example.org"],
            **kwargs,
        }  # type: ignore[arg-type]
    )


def test_a_signed_message_verifies_and_a_changed_one_does_not(key: DKIMKey, tmp_path: Path) -> None:
    backend = get_connection("file", file_path=str(tmp_path), dkim=key.options)
    sent = message(cc=["Björn <bjorn@example.net>"])
    sent.attach("report.csv", "a,b\n1,2\n", "text/csv")
    assert backend.send_messages([sent]) == 1

    (raw,) = written(backend)
    assert raw.startswith(b"DKIM-Signature: v=1; a=" + key.algorithm.encode())
    assert f"d={DOMAIN};".encode() in raw and f"s={SELECTOR};".encode() in raw
    assert key.verify(raw)
    assert not key.verify(raw.replace(b"Tracking: 12345", b"Tracking: 99999"))
    assert not key.verify(raw.replace(b"Subject: Your order", b"Subject: Our order"))


def test_the_chosen_headers_are_signed(key: DKIMKey, tmp_path: Path) -> None:
    options = {**key.options, "headers": ["From", "Subject"]}
    backend = get_connection("file", file_path=str(tmp_path), dkim=options)
    backend.send_messages([message()])
    (raw,) = written(backend)
    # From once more than the message has it: a From added later breaks the signature
    assert b"h=from : subject : from;" in b" ".join(raw.split())  # unfolded
    assert key.verify(raw)
    assert not key.verify(raw.replace(b"\nFrom: ", b"\nFrom: eve@example.net\nFrom: ", 1))
    # To is not signed: changing it keeps the signature valid
    assert key.verify(raw.replace(b"To: ana@example.org", b"To: eve@example.org"))


def test_the_dkim_setting_signs_for_every_mailer_without_its_own(
    other_keys: dict[str, DKIMKey], tmp_path: Path
) -> None:
    rsa, ed25519 = other_keys["rsa-sha256"], other_keys["ed25519-sha256"]
    mailcore.configure(
        dkim=rsa.options,
        mailers={
            "plain": {"backend": "file", "file_path": str(tmp_path / "a")},
            "own": {"backend": "file", "file_path": str(tmp_path / "b"), "dkim": ed25519.options},
        },
    )
    for alias, signer in [("plain", rsa), ("own", ed25519)]:
        backend = get_connection(using=alias)
        backend.send_messages([message()])
        (raw,) = written(backend)
        assert signer.verify(raw), alias
        assert f"a={signer.algorithm};".encode() in raw


def test_a_dkim_table_in_mailcore_toml(other_keys: dict[str, DKIMKey], tmp_path: Path) -> None:
    rsa = other_keys["rsa-sha256"]
    Path("mailcore.toml").write_text(
        f'backend = "file"\n\n[file]\nfile_path = "{tmp_path}"\n\n'
        f'[dkim]\ndomain = "{DOMAIN}"\nselector = "{SELECTOR}"\n'
        f'private_key_file = "{rsa.path}"\n'
    )
    mailcore.configure()
    backend = get_connection()
    backend.send_messages([message()])
    assert rsa.verify(written(backend)[0])


def test_a_key_that_cannot_be_read_fails_when_the_mailer_is_built(tmp_path: Path) -> None:
    options = {"domain": DOMAIN, "selector": SELECTOR, "private_key_file": "/nonexistent/k.pem"}
    with pytest.raises(ConfigurationError) as caught:
        get_connection("file", file_path=str(tmp_path), dkim=options)
    assert str(caught.value) == (
        "dkim: private_key_file '/nonexistent/k.pem': cannot be read: No such file or directory"
    )


@pytest.mark.parametrize(
    ("algorithm", "key_of", "problem"),
    [
        ("ed25519-sha256", "rsa-sha256", "is not an ed25519 key (an RSA key?)"),
        ("rsa-sha256", "ed25519-sha256", "is an ed25519 key, but algorithm is rsa-sha256"),
    ],
)
def test_a_key_of_the_other_algorithm_fails_when_the_mailer_is_built(
    other_keys: dict[str, DKIMKey], tmp_path: Path, algorithm: str, key_of: str, problem: str
) -> None:
    options = {**other_keys[key_of].options, "algorithm": algorithm}
    with pytest.raises(ConfigurationError, match="dkim: private_key_file") as caught:
        get_connection("file", file_path=str(tmp_path), dkim=options)
    assert problem in str(caught.value)


def test_a_broken_private_key_fails_without_showing_it(tmp_path: Path) -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----"
    options = {"domain": DOMAIN, "selector": SELECTOR, "private_key": secret}
    with pytest.raises(ConfigurationError) as caught:
        get_connection("file", file_path=str(tmp_path), dkim=options)
    assert str(caught.value) == (
        "dkim: private_key: is not an RSA private key (PKCS#1 or PKCS#8; found PRIVATE KEY)"
    )
    assert "c2VjcmV0" not in str(caught.value)


def test_the_private_key_is_never_shown(other_keys: dict[str, DKIMKey], tmp_path: Path) -> None:
    pem = other_keys["rsa-sha256"].path.read_text()
    body = pem.splitlines()[1]
    options = {"domain": DOMAIN, "selector": SELECTOR, "private_key": pem}
    backend = get_connection("file", file_path=str(tmp_path), dkim=options)
    assert body not in repr(backend.options)
    assert "dkim='********'" in repr(backend.options)
    assert body not in repr(backend.dkim_signer)
    # an invalid option next to it: the error shows neither the key nor the table
    with pytest.raises(ConfigurationError) as caught:
        get_connection("file", file_path=str(tmp_path), dkim={**options, "selector": "a b"})
    assert "invalid setting 'file.dkim'" in str(caught.value)
    assert body not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"private_key": None, "private_key_file": None}, "set exactly one of private_key_file"),
        ({"headers": ["Subject", "To"]}, "must include 'from'"),
        ({"algorithm": "rsa-sha1"}, "'rsa-sha256' or 'ed25519-sha256'"),
    ],
)
def test_bad_dkim_options_are_named(
    other_keys: dict[str, DKIMKey], tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    options = {**other_keys["rsa-sha256"].options, **change}
    with pytest.raises(ConfigurationError, match="dkim") as caught:
        get_connection("file", file_path=str(tmp_path), dkim=options)
    assert problem in str(caught.value)


def dkim_with(key_file: str | Path, **change: object) -> dict[str, object]:
    return {"domain": DOMAIN, "selector": SELECTOR, "private_key_file": str(key_file), **change}


def refusal(tmp_path: Path, options: dict[str, object]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        get_connection("file", file_path=str(tmp_path / "out"), dkim=options)
    return str(caught.value)


def test_a_key_file_that_is_not_a_regular_file_is_refused_without_reading_it(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "key.pipe"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    for path in ("/dev/zero", fifo, tmp_path):
        assert refusal(tmp_path, dkim_with(path)) == (
            f"dkim: private_key_file {str(path)!r}: is not a regular file (a device, a pipe "
            "or a directory?)"
        )


def test_a_key_file_over_64_kib_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    with big.open("wb") as file:
        file.truncate(200 * MiB)  # sparse: 200 MB long, nothing written
    assert refusal(tmp_path, dkim_with(big)) == (
        f"dkim: private_key_file {str(big)!r}: is 209715200 bytes, more than the 64 KiB a "
        "key file may have (a PEM key is a few KB: is it the right file?)"
    )


def test_an_ec_key_and_a_bare_ed25519_seed_are_named(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_file = tmp_path / "ec.pem"
    ec_file.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for algorithm in ALGORITHMS:
        assert refusal(tmp_path, dkim_with(ec_file, algorithm=algorithm)) == (
            f"dkim: private_key_file {str(ec_file)!r}: is an EC (ECDSA) key; DKIM signs "
            "with RSA or ed25519 keys only"
        )
    seed = tmp_path / "seed.txt"  # what dknewkey writes for ed25519
    seed.write_text("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n")
    assert refusal(tmp_path, dkim_with(seed)) == (
        f"dkim: private_key_file {str(seed)!r}: is an ed25519 key (a bare seed), but "
        "algorithm is rsa-sha256"
    )


DKIM_ERROR = "invalid setting 'file.dkim' (given as an argument): "


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"domain": "a" * 64 + ".com"},
            f"domain: domain '{'a' * 64}.com' has an empty label or one over 63 characters",
        ),
        (
            {"domain": ".".join(["a" * 59] * 5)},
            "domain: domain 'aaaaaaaaaaaaaaaaaaaa'... is 299 characters long; DNS takes at "
            "most 253",
        ),
        ({"domain": "127.0.0.1"}, "domain: domain '127.0.0.1' is an IP address (its last label"),
        ({"domain": "[127.0.0.1]"}, "domain: domain '[127.0.0.1]' is an address literal"),
        (
            {"selector": "mail 2026"},
            "selector: 'mail 2026' is not a selector: dot-separated labels of ASCII letters, "
            "digits, '-' and '_', each of at most 63 characters",
        ),
        ({"selector": "s" * 64}, f"selector: '{'s' * 64}' is not a selector"),
        (
            {"private_key_file": None, "private_key": 12345},
            "private_key: Input should be a valid string",
        ),
    ],
)
def test_each_dkim_key_is_named_in_its_error(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    assert refusal(tmp_path, dkim_with("/unused.pem", **change)).startswith(DKIM_ERROR + problem)


def test_the_key_name_in_dns_must_fit_253_characters(tmp_path: Path) -> None:
    domain = ".".join(["d" * 60] * 4)  # 243 characters: a valid domain
    assert refusal(tmp_path, dkim_with("/unused.pem", domain=domain, selector="s" * 10)) == (
        DKIM_ERROR
        + "dkim: the key's DNS name <selector>._domainkey.<domain> is 265 characters long; DNS "
        "takes at most 253 (shorten the selector)"
    )


def test_text_that_is_not_json_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert refusal(tmp_path, '{"domain": "example.com",') == (  # type: ignore[arg-type]
        DKIM_ERROR + "expected a JSON value (an object, not this text)"
    )
    monkeypatch.setenv("MAILCORE_DKIM", "not json")
    with pytest.raises(ConfigurationError) as caught:
        mailcore.configure()
    assert str(caught.value) == (
        "invalid setting 'dkim' (from environment variable MAILCORE_DKIM): expected a JSON "
        "value (an object, not this text)"
    )


def test_an_international_domain_signs_as_its_a_label(
    other_keys: dict[str, DKIMKey], tmp_path: Path
) -> None:
    rsa = other_keys["rsa-sha256"]
    options = {**rsa.options, "domain": "bücher.example"}
    backend = get_connection("file", file_path=str(tmp_path), dkim=options)
    backend.send_messages([message(from_email="shop@bücher.example")])
    (raw,) = written(backend)
    assert b"d=xn--bcher-kva.example;" in raw

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return (
            rsa.record if name == f"{SELECTOR}._domainkey.xn--bcher-kva.example.".encode() else None
        )

    assert dkim.verify(raw, dnsfunc=dns)


def test_a_from_domain_the_signature_does_not_align_with_is_warned_of_once(
    other_keys: dict[str, DKIMKey], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = {**other_keys["rsa-sha256"].options, "domain": "signer.example"}
    backend = get_connection("file", file_path=str(tmp_path), dkim=options)
    sent = [message(from_email="a@news.signer.example"), message(), message()]
    backend.send_messages(sent)
    warnings = [r.getMessage() for r in caplog.records if r.name == "mailcore.dkim"]
    assert warnings == [
        "DKIM signs as d=signer.example a message From example.com: not the same domain nor a "
        "subdomain, so DMARC receivers do not count the signature as the author's"
    ]


@pytest.mark.timeout(0)
def test_a_50_mib_attachment_is_signed_from_the_stream(
    other_keys: dict[str, DKIMKey], tmp_path: Path
) -> None:
    """Signing reads the body once, chunk by chunk: the peak of what it allocates
    (tracemalloc) stays far below one copy of the attachment (50 MiB)."""
    rsa = other_keys["rsa-sha256"]
    backend = get_connection("file", file_path=str(tmp_path), dkim=rsa.options)
    big = message()
    big.attach("archive.bin", os.urandom(50 * MiB), "application/octet-stream")
    unsigned = backend.prepare_message(big)
    assert len(unsigned) > 67 * MiB  # base64

    tracemalloc.start()
    try:
        signed = backend.sign_message(unsigned)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"signing a 50 MiB attachment: {peak / MiB:.3f} MiB allocated at peak")
    assert peak < 1 * MiB, f"signing allocated {peak / MiB:.2f} MiB at peak"
    assert len(signed) - len(unsigned) < 1024  # the DKIM-Signature field only
    assert rsa.verify(signed.to_bytes())
