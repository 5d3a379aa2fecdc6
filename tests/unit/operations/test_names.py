"""Names certq certifies: common names by cryptography's limits, DNS host names."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from actors.operations.names import (
    common_name_problem,
    dns_name_problem,
    first_duplicate,
)


@pytest.mark.parametrize(
    "value", ["a", "Jane Doe", "é" * 32, "x" * 64, "shop.example", "Ünïcödé GmbH"]
)
def test_common_names_within_the_limits_are_accepted_and_buildable(value: str) -> None:
    """What the check accepts, cryptography builds a name attribute from."""

    problem = common_name_problem(value)

    assert problem is None
    x509.NameAttribute(NameOID.COMMON_NAME, value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("é" * 64, "128 bytes in UTF-8; the limit is 64"),
        ("😀" * 17, "68 bytes in UTF-8"),
        (" ", "blank"),
        ("\u00a0\u3000", "blank"),
        ("a\nb", "U+000A"),
        ("a\tb", "U+0009"),
        ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"),
        ("a\u2028b", "U+2028"),
        ("a\ud800b", "U+D800"),
    ],
)
def test_common_names_cryptography_or_readers_cannot_take_are_refused(
    value: str, reason: str
) -> None:
    """Too many UTF-8 bytes, blank, or a control character: each is named."""

    problem = common_name_problem(value)

    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "value",
    [
        "a.example",
        "xn--bcher-kva.example",
        "Mixed.Case.Example",
        "*.wild.example",
        "1.2.3.example",
        "a1.b2.c3",
        "localhost",
        ".".join(["a" * 63] * 3) + "." + "b" * 61,
    ],
)
def test_host_names_are_accepted_and_buildable(value: str) -> None:
    """Letter, digit and hyphen labels, a leading wildcard, up to 253 characters."""

    problem = dns_name_problem(value, allow_wildcard=True)

    assert problem is None
    x509.DNSName(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.0.0.1", "IP address"),
        ("10.1", "IP address"),
        ("0x7f.1", "IP address"),
        ("a.0x1f", "IP address"),
        ("::1", "IP address"),
        ("fe80::1", "IP address"),
        ("a b.example", "not a DNS name"),
        ("a\n.example", "not a DNS name"),
        ("a.example\n", "not a DNS name"),
        ("\u212a.example", "not a DNS name"),
        ("b\u00fccher.example", "not a DNS name"),
        ("*", "not a DNS name"),
        ("a.*.example", "not a DNS name"),
        ("a..example", "not a DNS name"),
        ("example.", "not a DNS name"),
        ("-a.example", "not a DNS name"),
        ("a" * 64 + ".example", "not a DNS name"),
        (".".join(["a" * 63] * 4), "longer than 253"),
    ],
)
def test_non_host_names_are_refused(value: str, reason: str) -> None:
    """IP literals, spaces, controls, non-ASCII and malformed labels are refused.

    Regression: the Kelvin sign matched [a-z] case-insensitively, passed, and
    then failed at signing with a retryable ValueError.
    """

    problem = dns_name_problem(value, allow_wildcard=True)

    assert problem is not None
    assert reason in problem


def test_first_duplicate_is_the_first_name_seen_twice() -> None:
    """Order decides which repeated name is reported."""

    duplicate = first_duplicate(["a", "b", "c", "b", "a"])

    assert duplicate == "b"
    assert first_duplicate(["a", "b"]) is None
