"""certificate.issue: one certificate from the service CA, for a new key or a CSR.

From a CSR, only its key, common name and DNS SANs are used; a CSR with any
other SAN (IP, email, URI, ...) is refused, since certq issues DNS SANs only.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from actors.operation import OperationContext, operation
from actors.operations.csr import read_csr
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
from actors.operations.x509_input import refused_at_submission
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

    @field_validator("csr")
    @classmethod
    def _certifiable(cls, csr: str | None, info: ValidationInfo) -> str | None:
        # Only once the names it depends on are valid; if they are not,
        # their own errors say so.
        names_valid = "common_name" in info.data and "dns_names" in info.data
        if csr is not None and names_valid:
            with refused_at_submission():
                read_csr(csr, info.data["common_name"], info.data["dns_names"])

        return csr

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
    public_key, subject = read_csr(csr_pem, params.common_name, params.dns_names)

    ctx.progress(1, "signing", 2)
    certificate = certify(ctx.ca, public_key, subject, params.validity_days)
    entry = issued_entry(ctx.ca, certificate, None, None)

    ctx.progress(2, "done", 2)
    return entry
