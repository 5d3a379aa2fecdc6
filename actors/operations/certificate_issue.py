"""certificate.issue: one certificate from the service CA, for a new key or a CSR.

From a CSR, only its key, common name and DNS SANs are used; a CSR with any
other SAN (IP, email, URI, ...) is refused, since certq issues DNS SANs only.
"""

from __future__ import annotations

from typing import Any, Self

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.operation import OperationContext, operation
from actors.operations.csr import (
    accepted_key,
    checked_dns_names,
    csr_common_name,
    csr_dns_names,
    load_csr,
)
from actors.operations.issuance import (
    KeyType,
    Passphrase,
    Subject,
    ValidityDays,
    certify,
    generate_key,
    issued_entry,
)
from actors.operations.names import CommonName, DnsNames
from certq.errors import PermanentError


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
    csr = load_csr(csr_pem)
    public_key = accepted_key(csr)
    subject = _subject_for_csr(csr, params)

    ctx.progress(1, "signing", 2)
    certificate = certify(ctx.ca, public_key, subject, params.validity_days)
    entry = issued_entry(ctx.ca, certificate, None, None)

    ctx.progress(2, "done", 2)
    return entry


def _subject_for_csr(
    csr: x509.CertificateSigningRequest, params: IssueParams
) -> Subject:
    # Names in params win; the CSR fills only what params leave out. Its
    # non-DNS SANs are refused even so: certifying without them would drop
    # names the key holder asked for, unseen.
    csr_names = csr_dns_names(csr)
    common_name = params.common_name or csr_common_name(csr)
    if params.dns_names is not None:
        return Subject(common_name=common_name, dns_names=params.dns_names)

    return Subject(common_name=common_name, dns_names=checked_dns_names(csr_names))
