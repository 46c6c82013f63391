"""Snippets of docs/clients.md that the suite runs, so the documentation cannot drift.

A snippet is the fenced block right after an HTML comment `<!-- compat:NAME -->`. Tests replace
only the documented binary path (by the runtime under test) and image name (by the local image).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
DOC_BINARY = "/usr/local/bin/pyoci"
DOC_IMAGE = "docker.io/library/busybox:latest"

_BLOCK = re.compile(r"^<!--\s*compat:(\S+)\s*-->[ \t]*\n(`{3,})[^\n]*\n(.*?)^\2[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def snippets() -> dict[str, str]:
    found: dict[str, str] = {}
    for m in _BLOCK.finditer(DOC.read_text()):
        assert m.group(1) not in found, f"{DOC}: snippet compat:{m.group(1)} appears twice"
        found[m.group(1)] = m.group(3)
    return found


def snippet(name: str) -> str:
    text = snippets().get(name)
    assert text is not None, f"{DOC} has no <!-- compat:{name} --> block"
    return text


def substituted(name: str, binary: str, image: str | None = None) -> str:
    """The snippet with the documented binary (and image) replaced; each must occur in it."""
    text = snippet(name)
    assert DOC_BINARY in text or image is not None, f"compat:{name} does not name {DOC_BINARY}"
    text = text.replace(DOC_BINARY, binary)
    if image is not None:
        assert DOC_IMAGE in text, f"compat:{name} does not use {DOC_IMAGE}"
        text = text.replace(DOC_IMAGE, image)
    return text


def toml_snippet(name: str, binary: str) -> dict:
    return tomllib.loads(substituted(name, binary))


def merge(base: dict, extra: dict) -> dict:
    """Deep-merge two TOML documents; a key set in both must have the same value."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            assert key not in out or out[key] == value, f"TOML key {key!r} set twice"
            out[key] = value
    return out


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def toml_dumps(doc: dict, prefix: tuple[str, ...] = ()) -> str:
    """Enough TOML for config files: scalars and lists first, then one [table] per dict."""
    lines = [f"{_key(k)} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    out = ""
    if prefix and lines:
        out += "[" + ".".join(_key(p) for p in prefix) + "]\n"
    if lines:
        out += "\n".join(lines) + "\n\n"
    for k, v in doc.items():
        if isinstance(v, dict):
            out += toml_dumps(v, prefix + (k,))
    return out
