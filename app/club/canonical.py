"""The bytes a signature covers: canonical JSON of a document without its ``signature``.

Canonical here means: object keys sorted by code point, no insignificant whitespace, UTF-8,
strings escaped as JSON requires and nothing more. A club export holds integers, strings,
booleans, nulls, arrays and objects only (no floats: cost is integer micro-dollars), so the
form is unambiguous and any JSON library that sorts keys reproduces it.
"""

from __future__ import annotations

from typing import Any

import orjson


def canonical(doc: dict[str, Any]) -> bytes:
    """``doc`` minus ``signature``, as canonical JSON bytes."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
