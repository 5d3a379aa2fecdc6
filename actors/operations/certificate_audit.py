"""certificate.audit: findings for every certificate of a PEM bundle.

Each BEGIN CERTIFICATE block is parsed on its own, so one malformed entry
becomes a `parse_error` finding instead of failing the whole audit. The
checkpoint state is `{"next_index", "checked_at", "entries"}`; a resumed run
keeps the first run's check time so every entry is judged at the same instant.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter
from typing import Any, Literal, Self, get_args

import certifi
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from actors.operation import JsonValue, OperationContext, operation
from actors.operations.issuance import describe_key
from actors.operations.x509_input import PARSE_ERRORS, oid_name, parse_failure
from certq.errors import PermanentError

Finding = Literal[
    "expired",
    "expiring_soon",
    "not_yet_valid",
    "weak_key",
    "weak_signature",
    "not_a_ca",
    "parse_error",
]
FINDING_KINDS: tuple[Finding, ...] = get_args(Finding)
MIN_CERTIFICATES_PER_CHECKPOINT = 20

_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
_BEGIN_PATTERN = re.compile(re.escape(_BEGIN))
_MIN_RSA_BITS = 2048
_MIN_EC_BITS = 256


class AuditParams(BaseModel):
    """Params of certificate.audit: a PEM bundle or a named source, not both."""

    model_config = ConfigDict(extra="forbid")

    pem_bundle: str | None = Field(default=None, max_length=5 * 1024 * 1024)
    source: Literal["mozilla"] | None = None
    expiring_within_days: int = Field(default=30, ge=0, le=3650)

    @field_validator("pem_bundle")
    @classmethod
    def _holds_an_entry(cls, pem_bundle: str | None) -> str | None:
        # Entries that do not parse are findings; a bundle without a single
        # entry is a mistake.
        if pem_bundle is not None and _BEGIN not in pem_bundle:
            raise ValueError(f"pem_bundle holds no {_BEGIN} line")

        return pem_bundle

    @model_validator(mode="after")
    def _exactly_one_input(self) -> Self:
        if (self.pem_bundle is None) == (self.source is None):
            raise ValueError("give exactly one of pem_bundle or source")

        return self


class _AuditState(BaseModel):
    next_index: int
    checked_at: AwareDatetime
    entries: list[dict[str, Any]]


def _size(params: AuditParams) -> float:
    return float(_bundle_text(params).count(_BEGIN))


@operation(
    "certificate.audit",
    params=AuditParams,
    description="Audit each certificate of a PEM bundle or the Mozilla roots.",
    time_limit_seconds=600,
    typical_seconds=0.002,
    max_retries=3,
    size=_size,
)
def audit(ctx: OperationContext, params: AuditParams) -> dict[str, Any]:
    """Audit every certificate block; return one entry each and the totals."""
    blocks = split_certificate_blocks(_bundle_text(params))
    total = len(blocks)
    checked_at, entries = _resumed(ctx.resume_state, total)
    last_checkpoint = len(entries)
    for index in range(len(entries), total):
        entries.append(
            audit_block(index, blocks[index], checked_at, params.expiring_within_days)
        )
        done = index + 1
        if _checkpoint_due(done, last_checkpoint) and done < total:
            ctx.progress(done, f"audited {done} certificates", total)
            state = {
                "next_index": done,
                "checked_at": checked_at.isoformat(),
                "entries": list(entries),
            }
            ctx.checkpoint(state)
            last_checkpoint = done

    ctx.progress(total, f"audited {total} certificates", total)
    return {
        "checked_at": checked_at.isoformat(),
        "certificates": entries,
        "totals": _totals(entries),
    }


def _checkpoint_due(done: int, last_checkpoint: int) -> bool:
    # Every state holds all entries so far; widening the gap with the count
    # keeps total checkpoint bytes near linear on bundles of thousands.
    gap = max(MIN_CERTIFICATES_PER_CHECKPOINT, done // 5)

    return done - last_checkpoint >= gap


def split_certificate_blocks(text: str) -> list[str]:
    """One text block per BEGIN CERTIFICATE marker, well-formed or not."""
    starts = [match.start() for match in _BEGIN_PATTERN.finditer(text)]
    blocks = []
    for start, next_start in itertools.pairwise([*starts, len(text)]):
        segment = text[start:next_start]
        # A block missing its END marker stays whole so it fails to parse.
        end = segment.find(_END)
        blocks.append(segment if end < 0 else segment[: end + len(_END)])

    return blocks


def audit_block(
    index: int, block: str, checked_at: dt.datetime, expiring_within_days: int
) -> dict[str, Any]:
    """The audit entry of one PEM block; a parse failure is a finding."""
    try:
        certificate = x509.load_pem_x509_certificate(block.encode())
        return _describe(index, certificate, checked_at, expiring_within_days)
    except PARSE_ERRORS as exc:
        # cryptography parses lazily, so a bad field may only fail when read.
        return _parse_error_entry(index, exc)


def _describe(
    index: int,
    certificate: x509.Certificate,
    checked_at: dt.datetime,
    expiring_within_days: int,
) -> dict[str, Any]:
    expiring_within = dt.timedelta(days=expiring_within_days)
    findings = [
        *_validity_findings(certificate, checked_at, expiring_within),
        *_strength_findings(certificate),
    ]
    if not _is_ca(certificate):
        findings.append("not_a_ca")

    return {
        "index": index,
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "key": describe_key(certificate.public_key()),
        "signature_algorithm": oid_name(certificate.signature_algorithm_oid),
        "fingerprint_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "findings": findings,
        "error": None,
    }


def _parse_error_entry(index: int, exc: Exception) -> dict[str, Any]:
    fields = (
        "subject",
        "issuer",
        "serial",
        "not_before",
        "not_after",
        "key",
        "signature_algorithm",
        "fingerprint_sha256",
    )
    entry: dict[str, Any] = {"index": index, **dict.fromkeys(fields)}
    entry["findings"] = ["parse_error"]
    entry["error"] = f"certificate {index} could not be parsed: {parse_failure(exc)}"

    return entry


def _validity_findings(
    certificate: x509.Certificate,
    checked_at: dt.datetime,
    expiring_within: dt.timedelta,
) -> list[Finding]:
    not_after = certificate.not_valid_after_utc
    if certificate.not_valid_before_utc > checked_at:
        return ["not_yet_valid"]
    if not_after < checked_at:
        return ["expired"]
    if not_after < checked_at + expiring_within:
        return ["expiring_soon"]

    return []


def _strength_findings(certificate: x509.Certificate) -> list[Finding]:
    findings: list[Finding] = []
    if _is_weak_key(certificate.public_key()):
        findings.append("weak_key")
    if _has_weak_signature(certificate):
        findings.append("weak_signature")

    return findings


def _is_weak_key(key: CertificatePublicKeyTypes) -> bool:
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        return key.key_size < _MIN_RSA_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size < _MIN_EC_BITS

    return False


def _has_weak_signature(certificate: x509.Certificate) -> bool:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        # A hash cryptography does not know is not SHA-1 or MD5, which it does.
        return False

    return isinstance(algorithm, hashes.SHA1 | hashes.MD5)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        )
    except x509.ExtensionNotFound:
        return False

    return constraints.value.ca


def _totals(entries: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(kind for entry in entries for kind in entry["findings"])

    return {
        "certificates": len(entries),
        "with_findings": sum(1 for entry in entries if entry["findings"]),
        "findings_by_kind": {kind: counts[kind] for kind in FINDING_KINDS},
    }


def _resumed(state: JsonValue, total: int) -> tuple[dt.datetime, list[dict[str, Any]]]:
    if state is None:
        return dt.datetime.now(dt.UTC), []

    try:
        saved = _AuditState.model_validate(state)
    except ValidationError as exc:
        raise PermanentError(
            f"audit checkpoint is unreadable: {exc.error_count()} errors"
        ) from exc
    if saved.next_index != len(saved.entries) or saved.next_index > total:
        raise PermanentError(
            f"audit checkpoint holds {len(saved.entries)} entries at index "
            f"{saved.next_index} for {total} certificates"
        )

    return saved.checked_at, saved.entries


def _bundle_text(params: AuditParams) -> str:
    if params.pem_bundle is not None:
        return params.pem_bundle

    # certifi ships Mozilla's root store as package data, read, not opened.
    return certifi.contents()
