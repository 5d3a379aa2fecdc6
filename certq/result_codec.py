"""How results are stored: JSON, zlib-compressed past a size threshold.

A stored value starting with zlib's header byte 0x78 ('x') is compressed; JSON
text can never start with 'x', so no extra marker is needed.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

_ZLIB_HEADER = 0x78


def encode_result(value: Any, compress_above_bytes: int) -> tuple[bytes, int]:
    """Return the stored bytes and the size of the plain JSON."""
    plain = orjson.dumps(value)
    if len(plain) <= compress_above_bytes:
        return plain, len(plain)

    return zlib.compress(plain, level=6), len(plain)


def decode_result(stored: bytes) -> bytes:
    """The plain JSON bytes of a stored result."""
    if stored[:1] == bytes([_ZLIB_HEADER]):
        return zlib.decompress(stored)

    return stored
