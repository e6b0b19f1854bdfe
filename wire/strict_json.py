"""JSON as the contract reads and writes it: strict in, compact out.

Strict where lenient JSON would let two peers read one text differently:
duplicate keys, ``NaN``/``Infinity``, lone surrogates and nesting deeper than
:data:`MAX_DEPTH` are refused (:func:`decode_json` raises ValueError with a
reason a client can act on). Out, :data:`to_json` writes compact UTF-8 JSON
with one C encoder built once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    """Text the strict parser refuses; the message says why."""


def _no_constants(name: str) -> Any:
    raise InvalidJson(f"{name} is not allowed in JSON")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise InvalidJson("duplicate keys in an object")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_no_constants)


def _check(value: Any, depth: int) -> None:
    """Refuse nesting past MAX_DEPTH and strings holding a lone surrogate."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise InvalidJson("a string holds a lone surrogate")
    elif isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise InvalidJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                raise InvalidJson("a key holds a lone surrogate")
            _check(item, depth + 1)


def decode_json(text: str) -> Any:
    """Parse one frame's JSON strictly; raise ValueError with a reason a client can act on."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise InvalidJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"not valid JSON: {exc.msg} at position {exc.pos}") from None
    _check(value, 1)
    return value


def _unencodable(obj: object) -> Any:
    raise TypeError(f"{type(obj).__name__} values cannot go into a frame: convert them to JSON types first")


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON, UTF-8 as is, no NaN: the same text as ``json.dumps`` with those options.

    ``json.dumps`` with options builds a new encoder (and its C scanner) per
    call, which cost more than the encoding of a chat frame itself; this
    builds the C encoder once. Without the C accelerator, a reused
    ``JSONEncoder`` gives the same output.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    c_encode = make(None, _unencodable, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda obj: "".join(c_encode(obj, 0))


to_json = _json_encoder()
