"""Certificates and CSRs with one field cryptography cannot read, validly signed.

cryptography will not build such fields, so a test builds a good one with a
placeholder and swaps the placeholder's bytes for bad ones of equal length,
then signs again so that only the swapped field is wrong.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certq.ca import CAPrivateKey

#: A common name to build with; `BIT_STRING_CN` is the same name as a BIT
#: STRING, a type cryptography refuses for a common name when it reads it.
PLACEHOLDER_CN = "\x00AAA"
UTF8_CN = bytes.fromhex("0603550403") + b"\x0c\x04" + PLACEHOLDER_CN.encode()
BIT_STRING_CN = bytes.fromhex("0603550403") + b"\x03\x04" + PLACEHOLDER_CN.encode()

#: A DNS SAN to build with, and an x400Address SAN of the same length.
PLACEHOLDER_DNS_NAME = "aaaa"
DNS_SAN = b"\x82\x04" + PLACEHOLDER_DNS_NAME.encode()
X400_SAN = bytes.fromhex("a30430020500")


def resigned_der(
    signed: x509.Certificate | x509.CertificateSigningRequest,
    key: CAPrivateKey,
    old: bytes,
    new: bytes,
) -> bytes:
    """The DER of `signed` with `old` bytes swapped for `new`, signed by `key`."""
    if isinstance(signed, x509.Certificate):
        tbs = signed.tbs_certificate_bytes
    else:
        tbs = signed.tbs_certrequest_bytes
    changed = tbs.replace(old, new)
    assert changed != tbs, "the placeholder bytes are not in the signed part"

    # The DER lengths around it stay valid only for a signature of equal
    # length; an ECDSA signature's length varies by a byte or two.
    signature = _sign(key, changed)
    while len(signature) != len(signed.signature):
        signature = _sign(key, changed)
    der = signed.public_bytes(serialization.Encoding.DER)

    return der.replace(tbs, changed).replace(signed.signature, signature)


def _sign(key: CAPrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    return key.sign(data, ec.ECDSA(hashes.SHA256()))
