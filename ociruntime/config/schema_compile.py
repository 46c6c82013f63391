"""Compile the OCI JSON schemas in spec/ into ociruntime/config/schema_tables.py, read by schema.py.

Run `python -m ociruntime.config.schema_compile` after changing spec/ (tests/unit/test_schema.py fails
while the tables are stale). The tables are plain tuples, so importing them is one unmarshal of a .pyc
instead of reading and decoding a dozen JSON files on every `pyoci create`.

Semantics follow jsonschema's Draft4Validator (the reference schema.py defers to for messages):
`$ref` replaces its sibling keywords (draft 4), `integer` excludes floats and bools, `pattern` is
`re.search` (unanchored, `$` also matches before a final newline). A keyword this compiler does not know
is an error here, never silently ignored: the fast validator would otherwise accept what jsonschema rejects.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

# Operations of a compiled node: (mask, ops), ops a tuple of (OP, args...). Keep in sync with schema.py.
PROPS, REQ, ITEMS, TUPLE, PATTERN, ENUM, RANGE, ANY, ALL, ONE, NOT, LEN, ADDPROPS, PATPROPS, BROKEN = range(15)

# Type bits (schema.py maps exact Python types to them); "number" is integer|float.
TYPE_BITS = {"object": 1, "array": 2, "string": 4, "integer": 8, "number": 8 | 16, "boolean": 32, "null": 64}

# Keywords with no effect on validity (Draft4Validator without a format checker ignores "format").
_IGNORED = {"description", "title", "default", "$schema", "definitions", "format"}
_PATTERN_SPECIAL = set(".^$*+?{}[]\\|()")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}


def compile_pattern(pattern: str) -> tuple | str:
    """A regex of the shape ^?(atom quantifier?)*$? as (anchored_start, anchored_end, atoms), for schema.py's
    re-free matcher; any other regex is returned unchanged and schema.py hands it to `re`.

    An atom is (negated, ranges, min, max|None): it matches a character c when
    (any lo <= c <= hi) != negated. '.' is the negated set {'\\n'}, as in `re` without DOTALL.
    """
    s, i, n = pattern, 0, len(pattern)
    start = s.startswith("^")
    if start:
        i = 1
    end = n > i and s.endswith("$") and not s.endswith("\\$")
    if end:
        n -= 1
    atoms: list = []
    while i < n:
        c = s[i]
        if c == ".":
            atom, i = [True, (("\n", "\n"),)], i + 1
        elif c == "[":
            parsed = _parse_class(s, i + 1, n)
            if parsed is None:
                return pattern
            atom, i = parsed
        elif c == "\\":
            if i + 1 >= n:
                return pattern
            e = s[i + 1]
            if e in _ESCAPES:
                e = _ESCAPES[e]
            elif e not in _PATTERN_SPECIAL and e not in "/-":
                return pattern  # \d \w \s \b \A \Z, backreferences...: leave them to re
            atom, i = [False, ((e, e),)], i + 2
        elif c in _PATTERN_SPECIAL:
            return pattern  # groups, alternation, anchors in the middle, a quantifier without an atom
        else:
            atom, i = [False, ((c, c),)], i + 1
        lo, hi, i = _parse_quantifier(s, i, n)
        if lo is None:
            return pattern
        atoms.append((atom[0], atom[1], lo, hi))
    return (start, end, tuple(atoms))


def _parse_class(s: str, i: int, n: int) -> tuple | None:
    negated = i < n and s[i] == "^"
    if negated:
        i += 1
    if i < n and s[i] == "]":
        return None  # a leading ']' is literal in re; rare enough to leave to re
    items: list[tuple[str, bool]] = []  # (char, is an unescaped '-')
    while i < n and s[i] != "]":
        c = s[i]
        if c == "[" or s.startswith(("--", "&&", "~~", "||"), i):
            return None  # possible future set syntax (re warns): leave to re
        if c == "\\":
            e = s[i + 1] if i + 1 < n else ""
            if e in _ESCAPES:
                c = _ESCAPES[e]
            elif e and (e in _PATTERN_SPECIAL or e in "/-"):
                c = e
            else:
                return None  # \d, \w, \s, octal and friends: leave to re
            items.append((c, False))
            i += 2
        else:
            items.append((c, c == "-"))
            i += 1
    if i >= n:
        return None
    # An unescaped '-' between two items makes a range; first or last it is literal, as in re.
    ranges: list[tuple[str, str]] = []
    k = 0
    while k < len(items):
        if k + 2 < len(items) and items[k + 1][1]:
            lo, hi = items[k][0], items[k + 2][0]
            if lo > hi:
                return None  # re.error "bad character range": let re raise it
            ranges.append((lo, hi))
            k += 3
        else:
            ranges.append((items[k][0], items[k][0]))
            k += 1
    return [negated, tuple(ranges)], i + 1


def _parse_quantifier(s: str, i: int, n: int) -> tuple:
    if i >= n:
        return 1, 1, i
    c = s[i]
    if c in "*+?":
        lo, hi, i = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c] + (i + 1,)
    elif c == "{":
        close = s.find("}", i, n)
        if close < 0:
            return None, None, i
        body = s[i + 1:close]
        a, comma, b = body.partition(",")
        if not a.isdigit() or not a.isascii() or (b and not (b.isdigit() and b.isascii())):
            return None, None, i
        lo = int(a)
        hi = (int(b) if b else None) if comma else lo
        if (hi is not None and hi < lo) or lo > 1000 or (hi or 0) > 1000:
            return None, None, i  # reversed (re.error) or big enough to blow up the matcher's states
        i = close + 1
    else:
        return 1, 1, i
    if i < n and s[i] in "*+?{":
        return None, None, i  # lazy, possessive or stacked quantifiers: leave to re
    return lo, hi, i


class Compiler:
    """Turns schema nodes, reached from the root schemas through $ref, into the NODES table."""

    def __init__(self, files: dict[str, object]) -> None:
        self.files = files
        self.nodes: list = []
        self.index: dict[tuple[str, str], int] = {}
        self.dedup: dict[tuple, int] = {}
        self.origins: list[str] = []  # where each node was first seen, for the tables' comments
        self.building: set[tuple[str, str]] = set()
        self.patterns: list = []
        self.pattern_index: dict[str, int] = {}

    def root(self, name: str) -> int:
        return self.node(name, "")

    def node(self, file: str, pointer: str) -> int:
        """The node for the schema at file#pointer, following $ref chains (draft 4: siblings ignored)."""
        seen: list[tuple[str, str]] = []
        while True:
            key = (file, pointer)
            if key in self.index:
                return self._remember(seen, self.index[key])
            if key in self.building or key in seen:
                raise ValueError(f"{file}#{pointer}: recursive schemas are not supported by schema.py")
            seen.append(key)
            schema = self._lookup(file, pointer)
            if not isinstance(schema, dict):
                raise ValueError(f"{file}#{pointer}: a schema must be an object in draft 4")
            ref = schema.get("$ref")
            if ref is None:
                break
            target = self._resolve(file, ref)
            if target is None:
                # jsonschema raises (referencing.exceptions.InvalidAnchor...) when it reaches this schema.
                broken = (0, ((BROKEN, f"{file}: $ref {ref!r}"),))
                return self._remember(seen, self._intern(broken, f"{file}#{pointer}"))
            file, pointer = target
        self.building.add(key)
        built = self._build(file, pointer, schema)
        self.building.discard(key)
        return self._remember(seen, self._intern(built, f"{file}#{pointer}"))

    def _intern(self, node: tuple, origin: str) -> int:
        """Identical nodes ({"type": "string"} is everywhere) share one entry."""
        n = self.dedup.get(node)
        if n is None:
            n = self.dedup[node] = len(self.nodes)
            self.nodes.append(node)
            self.origins.append(origin)
        return n

    def _remember(self, keys: list, n: int) -> int:
        for k in keys:
            self.index[k] = n
        return n

    def _lookup(self, file: str, pointer: str) -> object:
        if file not in self.files:
            raise ValueError(f"$ref to {file}: no such schema file in spec/")
        doc = self.files[file]
        if pointer:
            for part in pointer[1:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(doc, list):
                    doc = doc[int(part)]
                elif isinstance(doc, dict) and part in doc:
                    doc = doc[part]
                else:
                    raise ValueError(f"{file}#{pointer}: no such JSON pointer")
        return doc

    def _resolve(self, file: str, ref: str) -> tuple[str, str] | None:
        uri, _, fragment = ref.partition("#")
        if "/" in uri or ":" in uri:
            raise ValueError(f"{file}: $ref {ref!r}: only sibling files of spec/ are supported")
        if fragment and not fragment.startswith("/"):
            return None  # a plain-name anchor; draft 4 has none without "id", so referencing fails on it
        from urllib.parse import unquote
        return (uri or file, unquote(fragment))

    def _build(self, file: str, pointer: str, schema: dict) -> tuple:
        where = f"{file}#{pointer}"
        mask = 0
        ops: list[tuple] = []
        for key in schema:
            if key not in _KNOWN:
                raise ValueError(f"{where}: keyword {key!r} is not supported by schema.py; teach it first")
        if "id" in schema:
            raise ValueError(f"{where}: 'id' changes $ref resolution; not supported")
        if "type" in schema:
            types = schema["type"]
            for t in [types] if isinstance(types, str) else types:
                mask |= TYPE_BITS[t]  # KeyError: jsonschema raises UnknownType too
        if "enum" in schema:
            values = schema["enum"]
            if not all(isinstance(v, str) for v in values):
                raise ValueError(f"{where}: only string enums are supported")
            ops.append((ENUM, tuple(values)))
        if "pattern" in schema:
            ops.append((PATTERN, self._pattern(schema["pattern"])))
        if "minimum" in schema or "maximum" in schema:
            ops.append((RANGE, schema.get("minimum"), bool(schema.get("exclusiveMinimum", False)),
                        schema.get("maximum"), bool(schema.get("exclusiveMaximum", False))))
        for kw, kind in (("minItems", 2), ("maxItems", 2), ("minLength", 4), ("maxLength", 4)):
            if kw in schema:
                lo, hi = (schema[kw], None) if kw.startswith("min") else (0, schema[kw])
                ops.append((LEN, kind, lo, hi))
        if "required" in schema:
            ops.append((REQ, tuple(schema["required"])))
        props = schema.get("properties", {})
        if props:
            ops.append((PROPS, tuple((name, self.node(file, f"{pointer}/properties/{_esc(name)}"))
                                     for name in props)))
        pats = schema.get("patternProperties", {})
        if pats:
            ops.append((PATPROPS, tuple((self._pattern(p), self.node(file, f"{pointer}/patternProperties/{_esc(p)}"))
                                        for p in pats)))
        if "additionalProperties" in schema:
            ap = schema["additionalProperties"]
            if isinstance(ap, dict):
                target = self.node(file, f"{pointer}/additionalProperties")
            elif ap is False:
                target = -1
            else:
                target = None  # True: allows everything
            if target is not None:
                # jsonschema tests extra keys against "|".join(patterns): compile exactly that regex.
                ops.append((ADDPROPS, tuple(props), (self._pattern("|".join(pats)),) if pats else (), target))
        if "items" in schema:
            items = schema["items"]
            if isinstance(items, dict):
                ops.append((ITEMS, self.node(file, f"{pointer}/items")))
            else:
                ops.append((TUPLE, tuple(self.node(file, f"{pointer}/items/{k}") for k in range(len(items)))))
        for kw, op in (("allOf", ALL), ("anyOf", ANY), ("oneOf", ONE)):
            if kw in schema:
                ops.append((op, tuple(self.node(file, f"{pointer}/{kw}/{k}") for k in range(len(schema[kw])))))
        if "not" in schema:
            ops.append((NOT, self.node(file, f"{pointer}/not")))
        return (mask, tuple(ops))

    def _pattern(self, pattern: str) -> int:
        if pattern not in self.pattern_index:
            self.pattern_index[pattern] = len(self.patterns)
            self.patterns.append(compile_pattern(pattern))
        return self.pattern_index[pattern]


_KNOWN = _IGNORED | {"$ref", "id", "type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
                     "exclusiveMaximum", "minItems", "maxItems", "minLength", "maxLength", "required",
                     "properties", "patternProperties", "additionalProperties", "items", "allOf", "anyOf",
                     "oneOf", "not"}

ROOTS = ("config-schema.json", "state-schema.json", "features-schema.json")


def _esc(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def default_spec_dir() -> str:
    from .schema import spec_dir
    return spec_dir()


def load_files(spec: str) -> tuple[dict[str, object], str]:
    """Every top-level *.json of spec/, and a digest of their bytes (names included) for the header."""
    files, digest = {}, hashlib.sha256()
    for name in sorted(os.listdir(spec)):
        if name.endswith(".json"):
            with open(os.path.join(spec, name), "rb") as f:
                data = f.read()
            digest.update(name.encode() + b"\0" + data + b"\0")
            files[name] = json.loads(data)
    return files, digest.hexdigest()


def render(spec: str) -> str:
    files, digest = load_files(spec)
    c = Compiler(files)
    roots = {name: c.root(name) for name in ROOTS}
    lines = [
        '"""GENERATED by `python -m ociruntime.config.schema_compile` from spec/: do not edit.',
        "",
        "The OCI runtime-spec JSON schemas as tables for schema.py; see schema_compile.py for the format.",
        '"""',
        "",
        f"SPEC_SHA256 = {digest!r}",
        f"ROOTS = {roots!r}",
        "PATTERNS = (",
        *(f"    {p!r},  # {src!r}" for p, src in zip(c.patterns, c.pattern_index)),
        ")",
        "NODES = (",
        *(f"    {n!r},  # {k}: {c.origins[k]}" for k, n in enumerate(c.nodes)),
        ")",
        "",
    ]
    return "\n".join(lines)


def tables_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema_tables.py")


def main(argv: list[str]) -> int:
    """Write schema_tables.py; with --check only report (exit 1) whether it is stale."""
    text = render(default_spec_dir())
    path = tables_path()
    try:
        with open(path, encoding="utf-8") as f:
            current = f.read()
    except FileNotFoundError:
        current = None
    if "--check" in argv:
        if current != text:
            print(f"{path} is stale: run python -m ociruntime.config.schema_compile", file=sys.stderr)
            return 1
        return 0
    if current != text:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
