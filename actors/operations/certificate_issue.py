"""certificate.issue: one certificate from the service CA, for a new key or a CSR."""

from __future__ import annotations

from typing import Any, Self

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.operation import OperationContext, operation
from actors.operations.issuance import (
    CommonName,
    DnsNames,
    KeyType,
    Passphrase,
    Subject,
    ValidityDays,
    certify,
    describe_key,
    dns_name_problem,
    generate_key,
    issued_entry,
)
from certq.errors import PermanentError

_ACCEPTED_CURVES = {"secp256r1", "secp384r1", "secp521r1"}
_MIN_RSA_BITS = 2048
_MAX_COMMON_NAME_LENGTH = 64


class IssueParams(BaseModel):
    """Params of certificate.issue; a CSR replaces key_type and key_passphrase."""

    model_config = ConfigDict(extra="forbid")

    common_name: CommonName | None = None
    dns_names: DnsNames | None = None
    key_type: KeyType = "ec-p256"
    validity_days: ValidityDays = 90
    csr: str | None = Field(default=None, max_length=64 * 1024)
    key_passphrase: Passphrase | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _common_name_unless_csr(self) -> Self:
        if self.csr is None and self.common_name is None:
            raise ValueError("common_name is required unless a csr is given")
        # The CSR's key never reaches us, so there would be nothing to encrypt.
        if self.csr is not None and self.key_passphrase is not None:
            raise ValueError(
                "key_passphrase applies only to generated keys, not to a csr"
            )

        return self


@operation(
    "certificate.issue",
    secret_params=frozenset({"key_passphrase"}),
    params=IssueParams,
    description="Issue one certificate from the service CA, for a new key or a CSR.",
    time_limit_seconds=120,
    typical_seconds=0.2,
    max_retries=3,
)
def issue(ctx: OperationContext, params: IssueParams) -> dict[str, Any]:
    """Issue the certificate; return its entry (a generated key only encrypted)."""
    if params.csr is not None:
        return _issue_for_csr(ctx, params.csr, params)

    subject = _subject_from_params(params)
    ctx.progress(0, f"generating {params.key_type} key", 2)
    key = generate_key(params.key_type)

    ctx.progress(1, "signing", 2)
    certificate = certify(ctx.ca, key.public_key(), subject, params.validity_days)
    entry = issued_entry(ctx.ca, certificate, key, params.key_passphrase)

    ctx.progress(2, "done", 2)
    return entry


def _subject_from_params(params: IssueParams) -> Subject:
    if params.common_name is None:
        raise PermanentError("common_name is required unless a csr is given")

    return Subject(common_name=params.common_name, dns_names=params.dns_names or [])


def _issue_for_csr(
    ctx: OperationContext, csr_pem: str, params: IssueParams
) -> dict[str, Any]:
    ctx.progress(0, "checking CSR", 2)
    csr = _load_csr(csr_pem)
    public_key = _accepted_key(csr)
    subject = _subject_for_csr(csr, params)

    ctx.progress(1, "signing", 2)
    certificate = certify(ctx.ca, public_key, subject, params.validity_days)
    entry = issued_entry(ctx.ca, certificate, None, None)

    ctx.progress(2, "done", 2)
    return entry


def _load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        signature_valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PermanentError(f"csr is not a readable PEM CSR: {exc}") from exc

    if not signature_valid:
        raise PermanentError("csr signature does not verify against its own key")

    return csr


def _accepted_key(csr: x509.CertificateSigningRequest) -> CertificatePublicKeyTypes:
    try:
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PermanentError(f"csr public key is not supported: {exc}") from exc

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


def _subject_for_csr(
    csr: x509.CertificateSigningRequest, params: IssueParams
) -> Subject:
    # Names in params win; the CSR fills only what params leave out.
    common_name = params.common_name or _csr_common_name(csr)
    if params.dns_names is not None:
        return Subject(common_name=common_name, dns_names=params.dns_names)

    dns_names = _csr_dns_names(csr)
    for name in dns_names:
        problem = dns_name_problem(name, allow_wildcard=True)
        if problem:
            raise PermanentError(f"csr subjectAltName {problem}")

    return Subject(common_name=common_name, dns_names=dns_names)


def _csr_common_name(csr: x509.CertificateSigningRequest) -> str:
    attributes = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        raise PermanentError("csr has no common name and params give none")

    value = attributes[0].value
    common_name = value.decode() if isinstance(value, bytes) else value
    if not 1 <= len(common_name) <= _MAX_COMMON_NAME_LENGTH:
        raise PermanentError(
            f"csr common name {common_name!r} is not 1-64 characters long"
        )

    return common_name


def _csr_dns_names(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except ValueError as exc:
        raise PermanentError(f"csr extensions are malformed: {exc}") from exc

    return sans.value.get_values_for_type(x509.DNSName)
