"""The registered operations; importing this package registers every one."""

from actors.operations import (
    certificate_audit,
    certificate_bulk,
    certificate_issue,
    certificate_verify,
    diagnostic,
)

__all__ = [
    "certificate_audit",
    "certificate_bulk",
    "certificate_issue",
    "certificate_verify",
    "diagnostic",
]
