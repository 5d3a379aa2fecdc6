"""The names certq certifies: common names and DNS names, checked before signing.

Each check returns why a value is refused, or None, so that params models
turn it into a 422 and the CSR path into a PermanentError with one message.
The limits are the ones cryptography enforces when it builds the certificate,
so a value that passes here cannot fail at signing time.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_DNS_NAMES = 100
#: cryptography counts a common name in UTF-8 bytes, not in characters.
MAX_COMMON_NAME_BYTES = 64

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# WHATWG URL parsers read a host whose last label is a number as IPv4
# ("10.1", "0x7f.1"), so such a name never reaches DNS.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_MAX_DNS_NAME_LENGTH = 253
# Characters that break a name across lines or cannot be encoded: controls,
# lone surrogates, and line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def common_name_problem(value: str) -> str | None:
    """Why `value` cannot be a certificate's common name, or None when it can."""
    refused = next(
        (c for c in value if unicodedata.category(c) in _REFUSED_CATEGORIES), None
    )
    if refused is not None:
        return (
            f"common name {value!r} holds U+{ord(refused):04X}, "
            "a control or line-break character"
        )
    if not value.strip():
        return f"common name {value!r} is blank"

    size_bytes = len(value.encode())
    if size_bytes > MAX_COMMON_NAME_BYTES:
        return (
            f"common name {value!r} is {size_bytes} bytes in UTF-8; "
            f"the limit is {MAX_COMMON_NAME_BYTES}"
        )

    return None


def dns_name_problem(value: str, *, allow_wildcard: bool) -> str | None:
    """Why `value` is not a valid DNS host name, or None when it is."""
    labels = value.split(".")
    if allow_wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]

    if len(value) > _MAX_DNS_NAME_LENGTH:
        return f"DNS name {value!r} is longer than {_MAX_DNS_NAME_LENGTH} characters"
    if is_ip_address(value) or _NUMERIC_LABEL.fullmatch(labels[-1]):
        return f"{value!r} is an IP address or ends in a number, so not a DNS name"
    if not all(_LABEL.fullmatch(label) for label in labels):
        return (
            f"{value!r} is not a DNS name: labels are 1-63 letters, digits or "
            "hyphens, not starting or ending with a hyphen"
        )

    return None


def is_ip_address(value: str) -> bool:
    """Whether `value` is an IPv4 or IPv6 address literal."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False

    return True


def first_duplicate(names: list[str]) -> str | None:
    """The first name that occurs a second time in `names`, or None."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)

    return None


def _check_common_name(value: str) -> str:
    problem = common_name_problem(value)
    if problem:
        raise ValueError(problem)

    return value


def _check_dns_name(value: str) -> str:
    problem = dns_name_problem(value, allow_wildcard=True)
    if problem:
        raise ValueError(problem)

    return value.lower()


def _check_no_duplicates(names: list[str]) -> list[str]:
    duplicate = first_duplicate(names)
    if duplicate is not None:
        raise ValueError(f"dns_names holds {duplicate!r} more than once")

    return names


CommonName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_COMMON_NAME_BYTES,
        description=(
            f"1-{MAX_COMMON_NAME_BYTES} bytes in UTF-8, not blank, "
            "without control characters"
        ),
    ),
    AfterValidator(_check_common_name),
]
DnsName = Annotated[str, AfterValidator(_check_dns_name)]
DnsNames = Annotated[
    list[DnsName],
    Field(
        max_length=MAX_DNS_NAMES,
        description=(
            "host names for the subjectAltName: labels of letters, digits and "
            "hyphens, optionally led by a '*.' wildcard label, no IP addresses; "
            "lower-cased, and a name given twice (in any case) is refused"
        ),
    ),
    AfterValidator(_check_no_duplicates),
]
