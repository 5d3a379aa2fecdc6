"""clean_text: text any store can hold (JSONB refuses NUL and lone surrogates)."""

from __future__ import annotations

import orjson
import pytest

from certq.text import clean_text

REPLACEMENT = "\ufffd"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii",
        "certificates 🔐✅ and 👩🏽‍💻",
        "שלום عليكم",
        "e\u0301 a\u0308 Z\u0335\u0321",
        "tab\tnewline\n\u200d\u2028",
        "a literal ? and a literal \ufffd",
    ],
    ids=["empty", "ascii", "emoji", "rtl", "combining", "controls", "marks"],
)
def test_valid_text_is_returned_unchanged(text: str) -> None:
    """Text a store can already hold is not touched."""

    cleaned = clean_text(text)

    assert cleaned == text


def test_nul_is_replaced_by_the_replacement_character() -> None:
    """U+0000 becomes U+FFFD; the text around it is kept."""

    cleaned = clean_text("before\x00after\x00")

    assert cleaned == f"before{REPLACEMENT}after{REPLACEMENT}"


@pytest.mark.parametrize(
    "text",
    ["high \ud800 alone", "low \udfff alone", "\udc80", "reversed \ude00\ud83d"],
    ids=["high", "low", "escaped-byte", "reversed-pair"],
)
def test_lone_surrogates_leave_text_that_encodes_as_utf8(text: str) -> None:
    """After cleaning, strict UTF-8 and JSON encoding both succeed."""

    cleaned = clean_text(text)

    assert cleaned.encode("utf-8")
    assert orjson.loads(orjson.dumps(cleaned)) == cleaned
    assert not any("\ud800" <= char <= "\udfff" for char in cleaned)


def test_lone_surrogate_is_replaced_like_nul_by_the_replacement_character() -> None:
    """A lone surrogate becomes U+FFFD, not an ASCII '?' that reads as real text.

    Regression: `encode(errors="replace")` substitutes '?', so an error
    message 'bad \\ud800 name' was stored as 'bad ? name', indistinguishable
    from a real question mark, while NUL became U+FFFD.
    """

    cleaned = clean_text("bad \ud800 name")

    assert cleaned == f"bad {REPLACEMENT} name"


def test_cleaning_twice_changes_nothing_more() -> None:
    """clean_text is idempotent, so cleaning at several layers is harmless."""
    once = clean_text("a\x00b\ud800c 🔐")

    twice = clean_text(once)

    assert twice == once
