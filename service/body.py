"""Reading a JSON request body within limits, with clear 4xx errors."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request

from certq.errors import (
    BodyTooLarge,
    InvalidRequest,
    UnsupportedMediaType,
    ValidationFailed,
)


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the body of {declared} bytes exceeds {max_bytes} bytes")

    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _why_unparseable(raw: bytes, error: Exception) -> Exception:
    # orjson refuses lone surrogates and deep nesting outright; the standard
    # parser tells those apart from broken syntax so they get a 422.
    try:
        json.loads(raw)
    except RecursionError:
        return ValidationFailed("the JSON nests too deeply")
    except ValueError:
        return InvalidRequest(f"the body is not valid JSON: {error}")
    return ValidationFailed("the body holds a lone surrogate (invalid Unicode text)")


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed body, or a RequestError saying what is wrong with it."""
    if not _is_json_media_type(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)"
        )

    raw = await _read_limited(request, max_bytes)
    if not raw.strip():
        raise InvalidRequest("the body is empty; a JSON object is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _why_unparseable(raw, error) from None


def find_unstorable(
    value: Any, max_depth: int, path: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """Problems no store can hold: NUL, lone surrogates, nesting past `max_depth`."""
    if len(path) > max_depth:
        return [{"loc": list(path), "msg": f"nesting deeper than {max_depth} levels"}]
    if isinstance(value, str):
        return _text_problems(value, path)
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found += _text_problems(key, (*path, key))
            found += find_unstorable(item, max_depth, (*path, key))
        return found
    if isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in find_unstorable(item, max_depth, (*path, i))
        ]
    return []


def _text_problems(text: str, path: tuple[Any, ...]) -> list[dict[str, Any]]:
    if "\x00" in text:
        return [
            {
                "loc": list(path),
                "msg": "text holds U+0000 (NUL), which cannot be stored",
            }
        ]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return [{"loc": list(path), "msg": "text holds a lone surrogate"}]
    return []
