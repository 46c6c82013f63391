"""JSON for the hot path, through CPython's C accelerator `_json` directly.

`import json` pulls in `re` (and `enum`): about 5 ms on this machine, paid by every `state`,
`start`, `kill` and `delete` for a state file of a few hundred bytes. The C scanner and
encoder behind the json module need no `re`; this module drives them with the same settings
json.loads()/json.dumps() use, and falls back to the json module only to word an error.
"""

from __future__ import annotations

import _json


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


class _Context:
    # The attributes _json.make_scanner reads from a JSONDecoder.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constants)
    memo: dict = {}


_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False)
_WS = " \t\n\r"


def loads(data: bytes | str) -> object:
    """json.loads for UTF-8 input; raises ValueError (json.JSONDecodeError) with line and column."""
    s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    if s.startswith("\ufeff"):
        s = s[1:]
    i = len(s) - len(s.lstrip(_WS))
    try:
        obj, end = _scan(s, i)
    except StopIteration:
        end = -1
    else:
        if not s[end:].strip(_WS):
            return obj
    import json  # only to produce the json module's own error message

    return json.loads(s)


def dumps(obj: object, indent: int | None = None) -> str:
    """json.dumps(obj) (ASCII, no NaN); with indent, the layout of json.dumps(indent=...)."""
    if indent is None:
        return "".join(_encode(obj, 0))
    return _pretty(obj, indent, 0)


def _pretty(obj: object, indent: int, level: int) -> str:
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(obj, dict) and obj:
        items = (f"{inner}{_json.encode_basestring_ascii(str(k))}: {_pretty(v, indent, level + 1)}"
                 for k, v in obj.items())
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)) and obj:
        return "[\n" + ",\n".join(inner + _pretty(v, indent, level + 1) for v in obj) + "\n" + pad + "]"
    return dumps(obj)
