"""Reading a client's CSR for certificate.issue: signature, key and names.

`read_csr` runs twice: when the params are validated, so that a CSR certq
would refuse is a 422 at submission, and again when the task runs, where a
refusal is a PermanentError naming what was refused. Only DNS names are
certified (`certq.ca.issue_certificate` writes DNS SANs only); a CSR that
asks for an IP, email, URI or any other SAN is refused rather than issued
without it.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

from actors.operations.issuance import Subject, describe_key
from actors.operations.names import (
    MAX_DNS_NAMES,
    common_name_problem,
    dns_name_problem,
    first_duplicate,
)
from actors.operations.x509_input import (
    PARSE_ERRORS,
    oid_name,
    parse_failure,
    refused_if_unreadable,
)
from certq.errors import PermanentError

_ACCEPTED_CURVES = {"secp256r1", "secp384r1", "secp521r1"}
_MIN_RSA_BITS = 2048
_WEAK_HASHES = (hashes.MD5, hashes.SHA1)
_SHOWN_SANS = 3
_SAN_LABELS: dict[type[x509.GeneralName], str] = {
    x509.IPAddress: "IP",
    x509.RFC822Name: "email",
    x509.UniformResourceIdentifier: "URI",
    x509.DirectoryName: "dirName",
    x509.RegisteredID: "RID",
    x509.OtherName: "otherName",
}


def read_csr(
    csr_pem: str, common_name: str | None, dns_names: list[str] | None
) -> tuple[CertificatePublicKeyTypes, Subject]:
    """The key to certify and the subject, from the CSR and the params' names.

    Names in params win; the CSR fills only what params leave out. Its
    non-DNS SANs are refused even so: certifying without them would drop
    names the key holder asked for, unseen.
    """
    csr = load_csr(csr_pem)
    public_key = accepted_key(csr)
    csr_names = csr_dns_names(csr)
    name = common_name or csr_common_name(csr)
    if dns_names is None:
        dns_names = checked_dns_names(csr_names)

    return public_key, Subject(common_name=name, dns_names=dns_names)


def load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    """The CSR in `csr_pem`, once its signature algorithm and signature pass."""
    blocks = csr_pem.count("-----BEGIN ")
    if blocks != 1:
        raise PermanentError(f"csr must hold exactly one PEM block; it holds {blocks}")
    with refused_if_unreadable("csr is not a readable PEM CSR"):
        csr = x509.load_pem_x509_csr(csr_pem.encode())

    _check_signature_algorithm(csr)
    with refused_if_unreadable("csr signature cannot be checked"):
        signature_valid = csr.is_signature_valid
    if not signature_valid:
        raise PermanentError("csr signature does not verify against its own key")

    return csr


def accepted_key(csr: x509.CertificateSigningRequest) -> CertificatePublicKeyTypes:
    """The CSR's public key if it is a kind and size certq certifies."""
    with refused_if_unreadable("csr public key is not supported"):
        key = csr.public_key()

    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in (
        _ACCEPTED_CURVES
    ):
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key

    raise PermanentError(
        f"csr key {describe_key(key)} is not accepted; use RSA of at least "
        f"{_MIN_RSA_BITS} bits, EC P-256/P-384/P-521 or Ed25519"
    )


def csr_common_name(csr: x509.CertificateSigningRequest) -> str:
    """The CSR subject's first common name, checked as a params one would be."""
    with refused_if_unreadable("csr subject cannot be read"):
        attributes = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        raise PermanentError("csr has no common name and params give none")

    common_name = attributes[0].value
    if not isinstance(common_name, str):
        raise PermanentError(f"csr common name {common_name!r} is not text")
    problem = common_name_problem(common_name)
    if problem:
        raise PermanentError(f"csr {problem}")

    return common_name


def csr_dns_names(csr: x509.CertificateSigningRequest) -> list[str]:
    """The CSR's DNS SANs as given; any SAN of another type is refused."""
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except PARSE_ERRORS as exc:
        raise PermanentError(
            f"csr extensions cannot be read: {parse_failure(exc)}"
        ) from exc

    others = [name for name in sans.value if not isinstance(name, x509.DNSName)]
    if others:
        raise PermanentError(
            f"csr subjectAltName holds {_describe_sans(others)}, but only DNS "
            "names can be certified"
        )

    return sans.value.get_values_for_type(x509.DNSName)


def checked_dns_names(names: list[str]) -> list[str]:
    """The CSR's DNS names lower-cased, if each is valid and given once."""
    if len(names) > MAX_DNS_NAMES:
        raise PermanentError(
            f"csr subjectAltName holds {len(names)} DNS names; the limit is "
            f"{MAX_DNS_NAMES}"
        )
    for name in names:
        problem = dns_name_problem(name, allow_wildcard=True)
        if problem:
            raise PermanentError(f"csr subjectAltName {problem}")

    lowered = [name.lower() for name in names]
    duplicate = first_duplicate(lowered)
    if duplicate is not None:
        raise PermanentError(f"csr subjectAltName holds {duplicate!r} more than once")

    return lowered


def _check_signature_algorithm(csr: x509.CertificateSigningRequest) -> None:
    # The hash decides first: cryptography reports a SHA-1 signature as
    # invalid, which would blame the wrong thing.
    algorithm = oid_name(csr.signature_algorithm_oid)
    try:
        hash_algorithm = csr.signature_hash_algorithm
    except PARSE_ERRORS as exc:
        raise PermanentError(
            f"csr is signed with {algorithm}, which certq cannot check"
        ) from exc

    if isinstance(hash_algorithm, _WEAK_HASHES):
        raise PermanentError(
            f"csr is signed with {algorithm}, whose hash {hash_algorithm.name} is "
            "too weak; sign it with SHA-256 or stronger"
        )


def _describe_sans(names: list[x509.GeneralName]) -> str:
    shown = ", ".join(_san_text(name) for name in names[:_SHOWN_SANS])
    hidden = len(names) - _SHOWN_SANS

    return f"{shown} and {hidden} more" if hidden > 0 else shown


def _san_text(name: x509.GeneralName) -> str:
    label = _SAN_LABELS.get(type(name), type(name).__name__)

    return f"{label}:{_san_value(name)}"


def _san_value(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    if isinstance(name, x509.RegisteredID):
        return name.value.dotted_string
    if isinstance(name, x509.OtherName):
        return name.type_id.dotted_string

    return str(name.value)
