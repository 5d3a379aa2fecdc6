"""certificate.issue: params, each key type, key handling and CSRs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from actors.operations.certificate_issue import IssueParams, issue
from actors.operations.issuance import KEY_DISCARDED, KeyType, describe_key
from tests.unit.operations.fake_context import FakeContext


def _certificate(entry: dict[str, Any]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(entry["certificate_pem"].encode())


def _sans(certificate: x509.Certificate) -> list[str]:
    extension = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return extension.value.get_values_for_type(x509.DNSName)


def _csr_pem(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    common_name: str,
    dns_names: list[str],
) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns_names:
        sans = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names])
        builder = builder.add_extension(sans, critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_params_require_common_name_without_csr() -> None:
    """Without a CSR there is nothing to take a name from, so CN is required."""

    with pytest.raises(ValidationError, match="common_name is required"):
        IssueParams.model_validate({"dns_names": ["a.example"]})


def test_params_reject_unknown_fields() -> None:
    """A misspelt field is refused rather than silently ignored."""

    with pytest.raises(ValidationError, match="extra"):
        IssueParams.model_validate({"common_name": "a", "validty_days": 5})


@pytest.mark.parametrize(
    "bad",
    [
        {"dns_names": ["bad_name.example"]},
        {"dns_names": ["-lead.example"]},
        {"dns_names": ["a.*.example"]},
        {"dns_names": [f"n{i}.example" for i in range(101)]},
        {"validity_days": 826},
        {"validity_days": 0},
        {"key_type": "dsa1024"},
        {"key_passphrase": "short"},
        {"common_name": "x" * 65},
    ],
)
def test_params_reject_values_out_of_range(bad: dict[str, Any]) -> None:
    """Names, validity, key type, passphrase and CN are all bounded."""
    params = {"common_name": "a.example", **bad}

    with pytest.raises(ValidationError):
        IssueParams.model_validate(params)


def test_params_reject_passphrase_with_csr() -> None:
    """A CSR keeps its key with the client, so a passphrase has no use."""
    csr = _csr_pem(ec.generate_private_key(ec.SECP256R1()), "a.example", [])

    with pytest.raises(ValidationError, match="key_passphrase"):
        IssueParams(csr=csr, key_passphrase="long enough passphrase")


def test_issued_certificate_verifies_against_ca_and_carries_sans() -> None:
    """The certificate is signed by the CA and names exactly the SANs asked."""
    ctx = FakeContext()
    params = IssueParams(
        common_name="shop.example",
        dns_names=["shop.example", "*.shop.example"],
        validity_days=30,
    )

    entry = issue(ctx, params)

    certificate = _certificate(entry)
    certificate.verify_directly_issued_by(ctx.ca.certificate)
    assert _sans(certificate) == ["shop.example", "*.shop.example"]
    assert entry["dns_names"] == ["shop.example", "*.shop.example"]
    assert entry["subject"] == "CN=shop.example"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days == 30


def test_entry_fields_describe_the_issued_certificate() -> None:
    """Serial, fingerprint, validity and chain all match the certificate."""
    ctx = FakeContext()

    entry = issue(ctx, IssueParams(common_name="a.example"))

    certificate = _certificate(entry)
    assert entry["serial"] == format(certificate.serial_number, "x")
    assert entry["fingerprint_sha256"] == certificate.fingerprint(hashes.SHA256()).hex()
    assert entry["not_after"] == certificate.not_valid_after_utc.isoformat()
    assert entry["not_before"].endswith("+00:00")
    assert entry["chain_pem"] == (
        entry["certificate_pem"] + ctx.ca.certificate_pem.decode()
    )


@pytest.mark.parametrize(
    ("key_type", "label"),
    [
        ("rsa2048", "rsa 2048"),
        ("rsa3072", "rsa 3072"),
        ("rsa4096", "rsa 4096"),
        ("ec-p256", "ec secp256r1"),
        ("ec-p384", "ec secp384r1"),
        ("ed25519", "ed25519"),
    ],
)
def test_each_key_type_yields_a_key_of_that_type(key_type: KeyType, label: str) -> None:
    """Every key type is generated with its algorithm and size, and certified."""
    ctx = FakeContext()
    params = IssueParams(
        common_name="k.example", key_type=key_type, key_passphrase="passphrase!"
    )

    entry = issue(ctx, params)

    certificate = _certificate(entry)
    public_key = certificate.public_key()
    certificate.verify_directly_issued_by(ctx.ca.certificate)
    assert describe_key(public_key) == label
    key = serialization.load_pem_private_key(
        entry["private_key_pem"].encode(), b"passphrase!"
    )
    assert key.public_key() == public_key


def test_generated_key_without_passphrase_is_discarded() -> None:
    """A key never leaves the worker unencrypted: without a passphrase, no key."""

    entry = issue(FakeContext(), IssueParams(common_name="a.example"))

    assert "private_key_pem" not in entry
    assert entry["private_key"] == KEY_DISCARDED


def test_generated_key_with_passphrase_is_returned_encrypted() -> None:
    """The returned key is encrypted PKCS#8 that only the passphrase opens."""
    params = IssueParams(common_name="a.example", key_passphrase="s3cret-phrase")

    entry = issue(FakeContext(), params)

    pem = entry["private_key_pem"].encode()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, None)
    serialization.load_pem_private_key(pem, b"s3cret-phrase")


def test_common_name_that_is_a_dns_name_becomes_the_san() -> None:
    """Clients match SANs only, so a DNS-like CN is copied when none are given."""

    entry = issue(FakeContext(), IssueParams(common_name="solo.example"))

    assert _sans(_certificate(entry)) == ["solo.example"]


def test_csr_key_and_names_are_honoured() -> None:
    """With a CSR, its key and its names are certified; no key is returned."""
    key = ec.generate_private_key(ec.SECP384R1())
    csr = _csr_pem(key, "csr.example", ["csr.example", "www.csr.example"])

    entry = issue(FakeContext(), IssueParams(csr=csr))

    certificate = _certificate(entry)
    assert certificate.public_key() == key.public_key()
    assert entry["subject"] == "CN=csr.example"
    assert _sans(certificate) == ["csr.example", "www.csr.example"]
    assert "private_key_pem" not in entry
    assert "private_key" not in entry


def test_params_names_override_csr_names() -> None:
    """Names given in params replace those in the CSR."""
    key = rsa.generate_private_key(65537, 2048)
    csr = _csr_pem(key, "csr.example", ["csr.example"])
    params = IssueParams(
        csr=csr, common_name="override.example", dns_names=["override.example"]
    )

    entry = issue(FakeContext(), params)

    assert entry["subject"] == "CN=override.example"
    assert entry["dns_names"] == ["override.example"]


def test_progress_ends_with_done() -> None:
    """Progress walks through generation and signing and ends on done."""
    ctx = FakeContext()

    issue(ctx, IssueParams(common_name="a.example"))

    assert [message for _, message, _ in ctx.progress_calls] == [
        "generating ec-p256 key",
        "signing",
        "done",
    ]
    assert ctx.progress_calls[-1][0] == ctx.progress_calls[-1][2] == 2


def test_params_refuse_common_name_over_64_utf8_bytes() -> None:
    """The common name is measured in UTF-8 bytes, as cryptography does.

    Regression: 64 "é" passed the 64-character limit, then cryptography
    refused the 128 bytes at signing, a ValueError retried four times.
    """
    params = {"common_name": "é" * 64}

    with pytest.raises(ValidationError, match="128 bytes in UTF-8; the limit is 64"):
        IssueParams.model_validate(params)


def test_common_name_of_64_utf8_bytes_is_issued() -> None:
    """The byte limit is cryptography's own, so a name at the limit signs."""
    params = IssueParams.model_validate({"common_name": "é" * 32})

    entry = issue(FakeContext(), params)

    common_names = _certificate(entry).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    assert [attribute.value for attribute in common_names] == ["é" * 32]


@pytest.mark.parametrize(
    ("common_name", "reason"),
    [(" ", "blank"), ("\t\n", "U+0009"), ("a\nb", "U+000A"), ("a\x1bb", "U+001B")],
)
def test_params_refuse_blank_or_control_character_common_names(
    common_name: str, reason: str
) -> None:
    """Regression: a blank name and one holding a newline were issued as given."""
    params = {"common_name": common_name}

    with pytest.raises(ValidationError, match=re.escape(reason)):
        IssueParams.model_validate(params)


@pytest.mark.parametrize("name", ["10.0.0.1", "192.168.1", "::1", "a b.example"])
def test_params_refuse_dns_names_that_are_not_host_names(name: str) -> None:
    """Regression: "10.0.0.1" was accepted and issued as a DNS SAN."""
    params = {"common_name": "a.example", "dns_names": ["a.example", name]}

    with pytest.raises(ValidationError, match="DNS name"):
        IssueParams.model_validate(params)


@pytest.mark.parametrize(
    "dns_names", [["x.test", "x.test"], ["x.test", "y.test", "X.Test"]]
)
def test_params_refuse_a_dns_name_given_twice(dns_names: list[str]) -> None:
    """Regression: duplicates became duplicate SANs (DNS:x.test, DNS:x.test)."""
    params = {"common_name": "x.test", "dns_names": dns_names}

    with pytest.raises(ValidationError, match=re.escape("'x.test' more than once")):
        IssueParams.model_validate(params)


def test_dns_names_and_a_copied_common_name_are_issued_lower_cased() -> None:
    """DNS names are case-insensitive; certq writes them in lower case."""
    named = IssueParams.model_validate(
        {"common_name": "Shop.Example", "dns_names": ["Shop.Example", "*.Shop.Test"]}
    )
    copied = IssueParams.model_validate({"common_name": "Solo.Example"})

    named_entry = issue(FakeContext(), named)
    copied_entry = issue(FakeContext(), copied)

    assert _sans(_certificate(named_entry)) == ["shop.example", "*.shop.test"]
    assert _sans(_certificate(copied_entry)) == ["solo.example"]
    assert copied_entry["subject"] == "CN=Solo.Example"


@pytest.mark.parametrize(
    ("passphrase", "size"),
    [("a" * 1024, "at most 1023 characters"), ("é" * 600, "1200")],
)
def test_params_refuse_passphrase_over_1023_utf8_bytes(
    passphrase: str, size: str
) -> None:
    """The passphrase is bounded by the 1023 bytes key encryption accepts.

    Regression: a 1024-character passphrase was accepted, then key
    encryption raised a ValueError on every attempt.
    """
    params = {"common_name": "a.example", "key_passphrase": passphrase}

    with pytest.raises(ValidationError, match=size) as caught:
        IssueParams.model_validate(params)

    assert passphrase not in str(caught.value.errors()[0]["msg"])


def test_passphrase_of_1023_bytes_encrypts_the_key() -> None:
    """The longest passphrase the params accept is one cryptography takes."""
    passphrase = "é" * 511 + "a"
    params = IssueParams.model_validate(
        {"common_name": "a.example", "key_passphrase": passphrase}
    )

    entry = issue(FakeContext(), params)

    key = serialization.load_pem_private_key(
        entry["private_key_pem"].encode(), passphrase.encode()
    )
    assert key.public_key() == _certificate(entry).public_key()
