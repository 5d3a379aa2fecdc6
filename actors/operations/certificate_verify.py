"""certificate.verify_chain: does a leaf chain to trusted roots, for a hostname?

Verification follows the Web PKI rules of `cryptography.x509.verification`.
A chain that fails them is a normal result (`valid: false` and the reason);
only input that cannot be read as certificates is an error.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Annotated, Any, Self

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from actors.operation import OperationContext, operation
from actors.operations.certificate_audit import split_certificate_blocks
from actors.operations.names import dns_name_problem, is_ip_address
from actors.operations.x509_input import (
    PARSE_ERRORS,
    read_names_and_extensions,
    refused_at_submission,
    refused_if_unreadable,
)
from certq.errors import PermanentError

_BEGIN = "-----BEGIN CERTIFICATE-----"
_TLS_USAGES = {
    ExtendedKeyUsageOID.SERVER_AUTH,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}


def _in_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(
            f"at {value.isoformat()} falls outside years 1-9999 once converted to UTC"
        ) from None


CheckTime = Annotated[
    AwareDatetime,
    AfterValidator(_in_utc),
    Field(description="when to judge validity; converted to UTC; default now"),
]


class VerifyParams(BaseModel):
    """Params of certificate.verify_chain; trust_roots is "mozilla" or PEM."""

    model_config = ConfigDict(extra="forbid")

    leaf_pem: str = Field(max_length=64 * 1024)
    intermediates_pem: str | None = Field(default=None, max_length=1024 * 1024)
    hostname: str | None = Field(default=None, min_length=1, max_length=253)
    trust_roots: str = Field(default="mozilla", max_length=5 * 1024 * 1024)
    at: CheckTime | None = None

    @field_validator("leaf_pem", "intermediates_pem", "trust_roots")
    @classmethod
    def _readable_certificates(
        cls, pem: str | None, info: ValidationInfo
    ) -> str | None:
        # Read once here, so that input the run could not read is a 422 at
        # submission, not a failed task; the run reads it again.
        with refused_at_submission():
            _read_field(info.field_name, pem)

        return pem

    @model_validator(mode="after")
    def _readable_names(self) -> Self:
        if self.hostname is not None and not is_ip_address(self.hostname):
            problem = dns_name_problem(self.hostname, allow_wildcard=False)
            if problem:
                raise ValueError(f"hostname {problem}")

        return self


def _read_field(name: str | None, pem: str | None) -> None:
    if name == "leaf_pem" and pem is not None:
        _load_leaf(pem)
    elif name == "intermediates_pem":
        _load_intermediates(pem)
    elif name == "trust_roots" and pem not in (None, "mozilla"):
        _trust_roots(pem)


@operation(
    "certificate.verify_chain",
    params=VerifyParams,
    description="Verify a leaf certificate's chain to trusted roots, by Web PKI.",
    time_limit_seconds=60,
    typical_seconds=0.05,
    max_retries=3,
)
def verify_chain(ctx: OperationContext, params: VerifyParams) -> dict[str, Any]:
    """Build and check the path; return whether it is valid, the path, why not."""
    ctx.progress(0, "loading certificates", 2)
    leaf = _load_leaf(params.leaf_pem)
    intermediates = _load_intermediates(params.intermediates_pem)
    roots = _trust_roots(params.trust_roots)
    checked_at = params.at or dt.datetime.now(dt.UTC)

    ctx.progress(1, "verifying", 2)
    builder = PolicyBuilder().store(Store(roots)).time(checked_at)
    try:
        chain = _verify(builder, params.hostname, leaf, intermediates)
    except VerificationError as exc:
        ctx.progress(2, "done: not valid", 2)
        return _result(checked_at, [], str(exc))

    ctx.progress(2, "done: valid", 2)
    return _result(checked_at, chain, None)


def _verify(
    builder: PolicyBuilder,
    hostname: str | None,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
) -> list[x509.Certificate]:
    if hostname is not None:
        verifier = builder.build_server_verifier(_subject(hostname))
        return verifier.verify(leaf, intermediates)

    # Without a hostname there is no server identity to check, and the
    # client verifier alone would demand clientAuth, which most server
    # certificates lack; accept either TLS usage instead.
    leaf_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _require_tls_usage
    )
    client = builder.extension_policies(
        ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=leaf_policy
    ).build_client_verifier()

    return client.verify(leaf, intermediates).chain


def _require_tls_usage(
    policy: Policy,
    certificate: x509.Certificate,
    usage: x509.ExtendedKeyUsage | None,
) -> None:
    if usage is not None and not _TLS_USAGES.intersection(usage):
        raise ValueError("leaf extendedKeyUsage allows neither TLS server nor client")


def _result(
    checked_at: dt.datetime, chain: list[x509.Certificate], reason: str | None
) -> dict[str, Any]:
    path = [
        {
            "subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "fingerprint_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        }
        for certificate in chain
    ]

    return {
        "valid": reason is None,
        "path": path,
        "reason": reason,
        "checked_at": checked_at.isoformat(),
    }


def _subject(hostname: str) -> x509.verification.Subject:
    if is_ip_address(hostname):
        return x509.IPAddress(ipaddress.ip_address(hostname))

    return x509.DNSName(hostname)


def _load_leaf(pem: str) -> x509.Certificate:
    certificates = _load_certificates(pem, "leaf_pem")
    if len(certificates) != 1:
        raise PermanentError(
            f"leaf_pem holds {len(certificates)} certificates; put all but "
            "the leaf in intermediates_pem"
        )

    return certificates[0]


def _trust_roots(trust_roots: str) -> list[x509.Certificate]:
    if trust_roots == "mozilla":
        return _mozilla_roots()
    if _BEGIN not in trust_roots:
        raise PermanentError('trust_roots must be "mozilla" or PEM certificates')

    return _load_certificates(trust_roots, "trust_roots")


def _mozilla_roots() -> list[x509.Certificate]:
    # certifi ships Mozilla's root store as package data, read, not opened.
    # Roots load one by one: cryptography is deprecating some old encodings
    # (several roots have serial 0), and one unreadable root must not make
    # every verification fail; it could anchor no path anyway.
    roots = []
    for block in split_certificate_blocks(certifi.contents()):
        try:
            root = x509.load_pem_x509_certificate(block.encode())
            read_names_and_extensions(root)
        except PARSE_ERRORS:
            continue
        roots.append(root)

    return roots


def _load_intermediates(pem: str | None) -> list[x509.Certificate]:
    if pem is None or not pem.strip():
        return []

    return _load_certificates(pem, "intermediates_pem")


def _load_certificates(pem: str, what: str) -> list[x509.Certificate]:
    with refused_if_unreadable(f"{what} does not hold readable PEM certificates"):
        certificates = x509.load_pem_x509_certificates(pem.encode())

    # Read now what verification and the result read later, so that a field
    # cryptography cannot parse fails here, once, naming the certificate.
    for index, certificate in enumerate(certificates):
        with refused_if_unreadable(
            f"{what} certificate {index} has a name or extension that cannot be read"
        ):
            read_names_and_extensions(certificate)

    return certificates
