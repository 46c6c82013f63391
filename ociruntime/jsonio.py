"""JSON for the hot path, through CPython's C accelerator `_json` directly.

`import json` pulls in `re` (and `enum`): about 5 ms on this machine, paid by every `state`,
`start`, `kill` and `delete` for a state file of a few hundred bytes. The C scanner and
encoder behind the json module need no `re`; this module drives them with the same settings
json.loads()/json.dumps() use, and falls back to the json module only to word an error.
"""

from __future__ import annotations

import _json


class _Context:
    # The attributes _json.make_scanner reads from a JSONDecoder: the defaults of json.loads.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)
_WS = " \t\n\r"   # json.decoder.WHITESPACE


def loads(data: bytes | str) -> object:
    """Exactly json.loads(data): the C scanner on plain UTF-8 input, and the json module itself for
    anything else (other encodings, a BOM, invalid input), which then decides and words the error."""
    try:
        if type(data) is bytes:
            # json.detect_encoding: a BOM or a NUL in the first bytes means another encoding.
            if data[:1] in (b"\xef", b"\xfe", b"\xff") or b"\0" in data[:4]:
                raise ValueError("not plain UTF-8")
            s = data.decode("utf-8", "surrogatepass")
        elif type(data) is str:
            s = data
        else:
            raise TypeError("bytes or str")
        obj, end = _scan(s, len(s) - len(s.lstrip(_WS)))
        if not s[end:].strip(_WS):
            return obj
    except Exception:  # noqa: BLE001 - any doubt: json.loads decides
        pass
    import json

    return json.loads(data)


def dumps(obj: object, indent: int | None = None) -> str:
    """json.dumps(obj); with indent, the layout of json.dumps(indent=...)."""
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
