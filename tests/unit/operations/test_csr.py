"""certificate.issue from a CSR: its signature algorithm, SANs and common name."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from actors.operations.certificate_issue import IssueParams, issue
from tests.unit.operations import malformed
from tests.unit.operations.fake_context import FakeContext
from tests.unit.operations.refusal import refused

# Made by `openssl req -new -sha1 -key <P-256 key> -subj /CN=sha1.example`;
# `openssl req -verify` says OK. cryptography no longer signs with SHA-1.
SHA1_SIGNED_CSR = """\
-----BEGIN CERTIFICATE REQUEST-----
MIHQMHkCAQAwFzEVMBMGA1UEAwwMc2hhMS5leGFtcGxlMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEMPjLtpmIAM1BF6ApbgWBwj3d4U5podJ4ERS3KsDkzXNhUPgs
Pb877/bsDWi+ncrGDi+nde/ai2pCLlTkrJtpY6AAMAkGByqGSM49BAEDSAAwRQIg
Ux3xWWujlNwOL+4jkiC+J37N8PSvwnDQ0hbtK4lnIuUCIQDti7vFPsbJ9+Ta+HIb
ztg/S7qpOoT4p84+HOdR/aG9xg==
-----END CERTIFICATE REQUEST-----
"""
# DER of the AlgorithmIdentifier OID sha256WithRSAEncryption, and of others
# to relabel it with; the algorithm is refused before the signature is read.
SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
MD5_WITH_RSA = bytes.fromhex("06092a864886f70d010104")
UNKNOWN_WITH_RSA = bytes.fromhex("06092a864886f70d01017f")

_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _csr(
    common_name: str = "csr.example",
    sans: list[x509.GeneralName] | None = None,
    *,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = _EC_KEY,
) -> x509.CertificateSigningRequest:
    # Unvalidated, so that a test may build a name cryptography would refuse.
    attribute = x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([attribute])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)

    return builder.sign(key, hashes.SHA256())


def _pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _relabelled(old: bytes, new: bytes) -> str:
    der = _csr(key=rsa.generate_private_key(65537, 2048)).public_bytes(
        serialization.Encoding.DER
    )

    return _pem(x509.load_der_x509_csr(der.replace(old, new)))


def _refused(**params: Any) -> str:
    return refused(IssueParams, issue, **params)


def test_sha1_signed_csr_is_refused_for_its_hash() -> None:
    """A SHA-1 CSR is refused naming its algorithm and hash.

    Regression: a valid SHA-1 CSR was refused as "does not verify against
    its own key".
    """
    reason = _refused(csr=SHA1_SIGNED_CSR)

    assert "ecdsa-with-SHA1, whose hash sha1" in reason


def test_md5_signed_csr_is_refused_for_its_hash() -> None:
    """MD5 is refused by name like SHA-1, before its signature is checked."""
    reason = _refused(csr=_relabelled(SHA256_WITH_RSA, MD5_WITH_RSA))

    assert "md5WithRSAEncryption, whose hash md5" in reason


def test_csr_signed_with_an_unknown_algorithm_is_refused_naming_it() -> None:
    """An algorithm certq cannot check is named by its OID."""
    reason = _refused(csr=_relabelled(SHA256_WITH_RSA, UNKNOWN_WITH_RSA))

    assert "1.2.840.113549.1.1.127, which certq cannot check" in reason


def test_ed25519_csr_without_a_signature_hash_is_issued() -> None:
    """EdDSA signs without a separate hash; that is no weak hash."""
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=ed.example"))
        .sign(key, None)
    )

    entry = issue(FakeContext(), IssueParams(csr=_pem(csr)))

    assert entry["dns_names"] == ["ed.example"]


@pytest.mark.parametrize(
    ("san", "shown"),
    [
        (x509.IPAddress(ipaddress.ip_address("10.0.0.1")), "IP:10.0.0.1"),
        (x509.IPAddress(ipaddress.ip_address("2001:db8::1")), "IP:2001:db8::1"),
        (x509.RFC822Name("ops@csr.example"), "email:ops@csr.example"),
        (x509.UniformResourceIdentifier("https://csr.example/"), "URI:https://"),
        (x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")), "RID:1.2.3.4"),
        (x509.DirectoryName(x509.Name.from_rfc4514_string("CN=d")), "dirName:CN=d"),
        (x509.OtherName(x509.ObjectIdentifier("1.2.3.5"), b"\x05\x00"), "otherName"),
    ],
)
def test_csr_with_a_non_dns_san_is_refused_naming_it(
    san: x509.GeneralName, shown: str
) -> None:
    """Regression: IP and email SANs were silently left out of the certificate."""
    csr = _csr(sans=[x509.DNSName("csr.example"), san])

    reason = _refused(csr=_pem(csr))

    assert f"holds {shown}" in reason

    assert "only DNS names can be certified" in reason


def test_csr_non_dns_sans_are_refused_even_when_params_give_the_dns_names() -> None:
    """Names in params replace the CSR's DNS names, never drop its other ones."""
    csr = _csr(sans=[x509.IPAddress(ipaddress.ip_address("10.0.0.1"))])
    reason = _refused(csr=_pem(csr), dns_names=["csr.example"])

    assert "IP:10.0.0.1" in reason


def test_csr_refusal_shows_three_sans_and_counts_the_rest() -> None:
    """A CSR of many refused SANs gives a message of bounded length."""
    ips = [x509.IPAddress(ipaddress.ip_address(f"10.0.0.{i}")) for i in range(1, 6)]

    reason = _refused(csr=_pem(_csr(sans=list(ips))))

    assert "10.0.0.3 and 2 more, but" in reason


def test_csr_with_a_san_cryptography_cannot_read_is_refused() -> None:
    """A SAN type cryptography cannot read fails for good.

    Regression: an x400Address SAN raised UnsupportedGeneralNameType, which
    was retried.
    """
    good = _csr(sans=[x509.DNSName(malformed.PLACEHOLDER_DNS_NAME)])
    der = malformed.resigned_der(good, _EC_KEY, malformed.DNS_SAN, malformed.X400_SAN)
    csr = x509.load_der_x509_csr(der)

    reason = _refused(csr=_pem(csr))

    assert "csr extensions cannot be read" in reason


@pytest.mark.parametrize(
    ("dns_names", "reason"),
    [
        (["csr.example", "10.0.0.1"], "'10.0.0.1' is an IP address"),
        (["csr.example", "bad_name.example"], "'bad_name.example' is not a DNS name"),
        (["csr.example", "CSR.example"], "'csr.example' more than once"),
        ([f"n{i}.example" for i in range(101)], "101 DNS names; the limit is 100"),
    ],
)
def test_csr_dns_sans_are_held_to_the_params_rules(
    dns_names: list[str], reason: str
) -> None:
    """IP literals, bad labels, duplicates and too many names are refused."""
    csr = _csr(sans=[x509.DNSName(name) for name in dns_names])

    refusal = _refused(csr=_pem(csr))

    assert reason in refusal


def test_csr_dns_sans_are_issued_lower_cased() -> None:
    """A CSR's names are normalised as names given in params are."""
    csr = _csr(sans=[x509.DNSName("CSR.Example"), x509.DNSName("*.CSR.Example")])

    entry = issue(FakeContext(), IssueParams(csr=_pem(csr)))

    assert entry["dns_names"] == ["csr.example", "*.csr.example"]


@pytest.mark.filterwarnings("ignore:Attribute's length")
def test_csr_common_name_over_64_utf8_bytes_is_refused() -> None:
    """A CSR's common name is measured in UTF-8 bytes too.

    Regression: 64 "é" passed the CSR's 64-character check, then failed at
    signing with a retryable ValueError.
    """
    csr = _csr("é" * 64)

    reason = _refused(csr=_pem(csr))

    assert "128 bytes in UTF-8; the limit is 64" in reason


@pytest.mark.parametrize(
    ("common_name", "reason"), [("a\nb", "U+000A"), (" ", "blank")]
)
def test_csr_common_name_is_held_to_the_params_rules(
    common_name: str, reason: str
) -> None:
    """A CSR's common name may not be blank nor hold control characters."""
    csr = _csr(common_name)

    refusal = _refused(csr=_pem(csr))

    assert re.search(f"csr common name .* {re.escape(reason)}", refusal)


@pytest.mark.filterwarnings("ignore:Attribute's length")
def test_params_common_name_replaces_an_unusable_csr_one() -> None:
    """When params name the subject, the CSR's common name is not used."""
    csr = _csr("é" * 64, [x509.DNSName("csr.example")])
    params = IssueParams(csr=_pem(csr), common_name="params.example")

    entry = issue(FakeContext(), params)

    assert entry["subject"] == "CN=params.example"


def test_csr_subject_cryptography_cannot_read_is_refused() -> None:
    """Regression: a common name encoded as a BIT STRING raised a TypeError."""
    good = _csr(malformed.PLACEHOLDER_CN)
    der = malformed.resigned_der(
        good, _EC_KEY, malformed.UTF8_CN, malformed.BIT_STRING_CN
    )
    csr = x509.load_der_x509_csr(der)

    reason = _refused(csr=_pem(csr))

    assert "csr subject cannot be read" in reason


def test_tampered_csr_is_refused_for_its_signature() -> None:
    """A CSR whose signature no longer matches its content is refused."""
    der = _csr("genuine.example").public_bytes(serialization.Encoding.DER)
    tampered = x509.load_der_x509_csr(der.replace(b"genuine", b"forgery"))

    assert "signature does not verify" in _refused(csr=_pem(tampered))


def test_csr_with_a_weak_rsa_key_is_refused_naming_it() -> None:
    csr = _csr("weak.example", key=rsa.generate_private_key(65537, 1024))

    assert "rsa 1024" in _refused(csr=_pem(csr))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("garbage", "exactly one PEM block; it holds 0"),
        ("", "exactly one PEM block; it holds 0"),
        ("-----BEGIN CERTIFICATE REQUEST-----", "its PEM framing cannot be read"),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nMIIBAAAA\n"
            "-----END CERTIFICATE REQUEST-----\n",
            "its contents are not valid DER",
        ),
    ],
    ids=["no-pem", "empty", "no-end-line", "not-der"],
)
def test_unreadable_csr_is_refused_without_parser_internals(
    text: str, reason: str
) -> None:
    """Regression: such CSRs were accepted, then failed at run time with
    cryptography's parser state (`ParseError { kind: ShortData ... }`)."""
    refusal = _refused(csr=text)

    assert reason in refusal
    assert "ParseError" not in refusal
    assert "cryptography.io" not in refusal


def test_two_csrs_in_one_csr_field_are_refused() -> None:
    """Regression: the first was issued and the second silently ignored."""
    two = _pem(_csr("one.example")) + _pem(_csr("two.example"))

    assert "exactly one PEM block; it holds 2" in _refused(csr=two)
