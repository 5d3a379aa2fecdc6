"""Reading X.509 data that clients send: what parsing it may raise, and names.

cryptography parses certificates and CSRs lazily, so a malformed field fails
only when it is read, and not always with a ValueError. Operations catch
exactly `PARSE_ERRORS` where they read client data, and nothing broader
(`refused_if_unreadable`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from certq.errors import PermanentError

#: What cryptography raises for a field it cannot read. TypeError comes from a
#: name attribute of an ASN.1 type its OID does not allow (a BIT STRING common
#: name); UnsupportedGeneralNameType from an x400Address or ediPartyName.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.UnsupportedGeneralNameType,
)


def parse_failure(exc: Exception) -> str:
    """Why client X.509 data could not be read, without the parser's internals.

    cryptography's messages name a FAQ page or print its ASN.1 parser's state
    (`ParseError { kind: ShortData { needed: 254 } }`); a client can act on
    neither.
    """
    text = str(exc)
    if text.startswith("Unable to load PEM"):
        return "its PEM framing cannot be read (BEGIN and END lines, base64)"
    if text.startswith("error parsing asn1"):
        return "its contents are not valid DER"

    return text.split(". ")[0][:200]


@contextlib.contextmanager
def refused_if_unreadable(what: str) -> Iterator[None]:
    """Turn a parse failure in the block into a PermanentError `<what>: <why>`."""
    try:
        yield
    except PARSE_ERRORS as exc:
        raise PermanentError(f"{what}: {parse_failure(exc)}") from exc


@contextlib.contextmanager
def refused_at_submission() -> Iterator[None]:
    """In a params validator: a PermanentError the run would raise becomes
    the field's validation error, so the request is a 422 instead of a task
    that fails when it runs."""
    try:
        yield
    except PermanentError as refused:
        raise ValueError(str(refused)) from None


def read_names_and_extensions(certificate: x509.Certificate) -> None:
    """Parse the subject, issuer and extensions; raise one of PARSE_ERRORS if bad."""
    _ = certificate.subject, certificate.issuer, certificate.extensions


def oid_name(oid: x509.ObjectIdentifier) -> str:
    """The registered name of `oid`, or its dotted form when it has none."""
    # cryptography exposes an OID's registered name only as `_name`.
    name = oid._name

    return oid.dotted_string if name == "Unknown OID" else name
