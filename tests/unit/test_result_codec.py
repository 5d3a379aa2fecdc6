"""Stored results: plain JSON when small, zlib past the threshold, exact text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from certq.result_codec import decode_result, encode_result

THRESHOLD = 1024

NON_ASCII = {
    "emoji": "certificates 🔐✅ and 👩🏽‍💻",
    "right_to_left": "שלום عليكم",
    "combining": "e\u0301 a\u0308 Z\u0335\u0321",
    "separators": "\u200d\u2028\u2029",
}


def test_small_result_is_stored_as_plain_json() -> None:
    """Below the threshold the stored bytes are the JSON itself."""
    value = {"serial": "0a1b", "ok": True, "count": 3}

    stored, size = encode_result(value, THRESHOLD)

    assert stored == orjson.dumps(value)
    assert size == len(stored)
    assert orjson.loads(decode_result(stored)) == value


def test_large_result_is_compressed_and_round_trips_exactly() -> None:
    """Past the threshold the bytes are zlib; decoding gives the JSON back."""
    value = {"entries": [{"name": f"host{i}.example", "n": i} for i in range(5_000)]}
    plain = orjson.dumps(value)

    stored, size = encode_result(value, THRESHOLD)

    assert stored[:1] == b"x"
    assert len(stored) < len(plain)
    assert size == len(plain)
    assert decode_result(stored) == plain
    assert orjson.loads(decode_result(stored)) == value


def test_compression_starts_just_above_the_threshold() -> None:
    """A result of exactly the threshold stays plain; one byte more compresses."""
    at_threshold = "a" * (THRESHOLD - 2)
    above_threshold = "a" * (THRESHOLD - 1)

    stored_at, size_at = encode_result(at_threshold, THRESHOLD)
    stored_above, size_above = encode_result(above_threshold, THRESHOLD)

    assert size_at == THRESHOLD
    assert stored_at == orjson.dumps(at_threshold)
    assert size_above == THRESHOLD + 1
    assert stored_above[:1] == b"x"
    assert decode_result(stored_above) == orjson.dumps(above_threshold)


@pytest.mark.parametrize("copies", [1, 2_000], ids=["small", "large"])
def test_non_ascii_text_round_trips_byte_for_byte(copies: int) -> None:
    """Emoji, right-to-left, combining marks and separators come back unchanged."""
    value = [NON_ASCII] * copies

    stored, _ = encode_result(value, THRESHOLD)
    decoded = decode_result(stored)

    assert decoded == orjson.dumps(value)
    assert orjson.loads(decoded) == value
    assert "👩🏽‍💻".encode() in decoded, "text is stored as UTF-8, not escaped"


@pytest.mark.parametrize(
    "value",
    [{}, [], "x", "xyz", 0, -1, 1.5, True, False, None, {"x": "x"}],
    ids=repr,
)
def test_plain_json_of_every_kind_is_never_mistaken_for_compressed(
    value: Any,
) -> None:
    """No JSON text starts with 'x' (zlib's first byte), whatever its type."""

    stored, _ = encode_result(value, THRESHOLD)

    assert stored[:1] != b"x"
    assert decode_result(stored) == stored


@pytest.mark.parametrize(
    "value",
    ["lone \ud800 surrogate", 2**64, {1, 2}, object()],
    ids=["lone-surrogate", "int-beyond-64-bits", "set", "object"],
)
def test_values_json_cannot_hold_raise_type_error(value: Any) -> None:
    """The worker turns a TypeError into a ResultNotSerializable failure."""

    with pytest.raises(TypeError):
        encode_result(value, THRESHOLD)
