"""Parse JSON and validate it against the OCI runtime-spec schemas (config.json, state, features).

`create` pays for this on every container, so the success path imports neither json (json.decoder
pulls in `re`: ~8 ms here) nor jsonschema (~100 ms): it decodes with the C scanner `_json` that
json.loads itself uses, and checks the document against schema_tables.py (the schemas of spec/
compiled by schema_compile.py) with a small draft-4 interpreter and a re-free matcher for the
schemas' regexes. Only a document the fast path does not accept reaches json or jsonschema, which
then decide and word the error: their verdict is the reference, so a fast-path miss costs time,
never a wrong answer.
"""

from __future__ import annotations

import os

from ..errors import ConfigError, PyociError

# Operation codes of schema_tables.NODES; schema_compile.py defines them.
PROPS, REQ, ITEMS, TUPLE, PATTERN, ENUM, RANGE, ANY, ALL, ONE, NOT, LEN, ADDPROPS, PATPROPS, BROKEN = range(15)

# Exact JSON types -> type bits of the tables ("number" = int|float). Anything else, subclasses
# included, is left to jsonschema (it uses isinstance), so the fast path never guesses.
_TBITS = {dict: 1, list: 2, str: 4, int: 8, float: 16, bool: 32, type(None): 64}

_NODES: tuple = ()
_PATTERNS: tuple = ()
_ROOTS: dict[str, int] = {}


def spec_dir() -> str:
    """The directory of the schema files: ociruntime/spec/ when installed, the repo's spec/ in a checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(package, "spec"), os.path.join(os.path.dirname(package), "spec")):
        if os.path.isfile(os.path.join(candidate, "config-schema.json")):
            return candidate
    raise PyociError(f"OCI schemas not found in {package}/spec or its source checkout: broken installation")


def parse_json(data: bytes | str, what: str = "config.json") -> object:
    """json.loads(data), or ConfigError naming `what` with json's message (line and column)."""
    from .. import jsonio

    try:
        return jsonio.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise ConfigError(f"{what}: invalid JSON: {e}") from None


def validate(doc: object, schema: str = "config-schema.json", what: str = "config.json") -> None:
    """Check doc against spec/<schema>; ConfigError `{what}: {path}: {message}` with jsonschema's best_match."""
    if not _fast(doc, schema):
        _check_with_jsonschema(doc, schema, what)


def _fast(doc: object, schema: str) -> bool | None:
    """The fast path's verdict: True valid, False invalid, None when it cannot tell."""
    if not _NODES:
        _load_tables()
    try:
        root = _ROOTS[schema]
    except KeyError:
        raise ValueError(f"unknown schema {schema!r}: one of {sorted(_ROOTS)}") from None
    try:
        return _ok(doc, root)
    except _Unsure:
        return None


def _load_tables() -> None:
    global _NODES, _PATTERNS, _ROOTS
    from . import schema_tables as t

    _NODES, _PATTERNS, _ROOTS = t.NODES, t.PATTERNS, t.ROOTS


class _Unsure(Exception):
    """The fast path cannot decide (a non-JSON type, a $ref jsonschema fails on): ask jsonschema."""


def _ok(x: object, n: int) -> bool:
    """Whether x is valid under node n, with Draft4Validator's semantics; stops at the first error."""
    b = _TBITS.get(type(x))
    if b is None:
        raise _Unsure
    mask, ops = _NODES[n]
    if mask and not b & mask:
        return False
    for op in ops:
        k = op[0]
        if k == PROPS:
            if b == 1:
                for name, sub in op[1]:
                    if name in x and not _ok(x[name], sub):
                        return False
        elif k == REQ:
            if b == 1:
                for name in op[1]:
                    if name not in x:
                        return False
        elif k == ITEMS:
            if b == 2:
                sub = op[1]
                for item in x:
                    if not _ok(item, sub):
                        return False
        elif k == RANGE:
            if b & 24:
                lo, hi = op[1], op[3]
                if lo is not None and (x <= lo if op[2] else x < lo):
                    return False
                if hi is not None and (x >= hi if op[4] else x > hi):
                    return False
        elif k == ENUM:
            if b != 4 or x not in op[1]:  # string enums only (compiler-checked): equal() is plain ==
                return False
        elif k == PATTERN:
            if b == 4 and not _search(op[1], x):
                return False
        elif k == PATPROPS:
            if b == 1:
                for p, sub in op[1]:
                    for key, value in x.items():
                        if type(key) is not str:
                            raise _Unsure
                        if _search(p, key) and not _ok(value, sub):
                            return False
        elif k == ADDPROPS:
            if b == 1:
                known, pats, target = op[1], op[2], op[3]
                for key in x:
                    if key in known:
                        continue
                    if type(key) is not str:
                        raise _Unsure
                    if pats and _search(pats[0], key):  # one pattern: jsonschema joins them with '|'
                        continue
                    if target < 0 or not _ok(x[key], target):
                        return False
        elif k == LEN:
            if b == op[1]:
                size = len(x)
                if size < op[2] or (op[3] is not None and size > op[3]):
                    return False
        elif k == TUPLE:
            if b == 2:
                for item, sub in zip(x, op[1]):
                    if not _ok(item, sub):
                        return False
        elif k == ANY:
            for sub in op[1]:
                if _ok(x, sub):
                    break
            else:
                return False
        elif k == ALL:
            for sub in op[1]:
                if not _ok(x, sub):
                    return False
        elif k == ONE:
            if sum(1 for sub in op[1] if _ok(x, sub)) != 1:
                return False
        elif k == NOT:
            if _ok(x, op[1]):
                return False
        else:  # BROKEN: jsonschema raises when it gets here
            raise _Unsure
    return True


def _search(p: int, s: str) -> bool:
    """re.search(pattern, s) is not None, for the tables' compiled patterns, without importing re."""
    return _match(_PATTERNS[p], s)


def _match(prog: tuple | str, s: str) -> bool:
    if type(prog) is str:  # a regex the compiler left to re
        import re

        return re.search(prog, s) is not None
    anchored, at_end, atoms = prog
    last = len(atoms)
    # A Thompson simulation over states (atom, repetitions so far); unbounded counts saturate at
    # the minimum, so the state set stays tiny. Same verdict as re's backtracking for these regexes.
    start = _closure({(0, 0)}, atoms)
    states = start
    size = len(s)
    for pos in range(size + 1):
        if (last, 0) in states:
            # '$' without MULTILINE matches at the end or before a final newline.
            if not at_end or pos == size or (pos == size - 1 and s[pos] == "\n"):
                return True
        if pos == size:
            return False
        ch = s[pos]
        moved = set()
        for i, count in states:
            if i == last:
                continue
            negated, ranges, lo, hi = atoms[i]
            if hi is not None and count >= hi:
                continue
            hit = False
            for a, z in ranges:
                if a <= ch <= z:
                    hit = True
                    break
            if hit != negated:
                moved.add((i, count + 1 if hi is not None or count < lo else count))
        states = _closure(moved, atoms) if moved else moved
        if not anchored:
            states |= start
        elif not states:
            return False
    return False


def _closure(states: set, atoms: tuple) -> set:
    """Add the states reachable without consuming: past an atom once it has its minimum."""
    todo = list(states)
    while todo:
        i, count = todo.pop()
        if i < len(atoms) and count >= atoms[i][2] and (i + 1, 0) not in states:
            states.add((i + 1, 0))
            todo.append((i + 1, 0))
    return states


# --- the reference: jsonschema decides and words every document the fast path did not accept ---

_reference: dict[str, object] = {}


def reference_validator(schema: str) -> object:
    """A jsonschema Draft4Validator for spec/<schema>, $refs resolved among the files of spec_dir()."""
    if schema not in _reference:
        import json

        import jsonschema
        from referencing import Registry
        from referencing.jsonschema import DRAFT4

        directory = spec_dir()
        resources = []
        for name in sorted(os.listdir(directory)):
            if name.endswith(".json"):
                with open(os.path.join(directory, name), "rb") as f:
                    resources.append((name, DRAFT4.create_resource(json.loads(f.read()))))
        registry = Registry().with_resources(resources)
        # {"$ref": name}: the schema's own relative $refs then resolve against its file name.
        # $ref adds nothing to error paths or messages, so best_match picks what it would at the root.
        _reference[schema] = jsonschema.Draft4Validator({"$ref": schema}, registry=registry)
    return _reference[schema]


def _check_with_jsonschema(doc: object, schema: str, what: str) -> None:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        error = best_match(reference_validator(schema).iter_errors(doc))
    except Unresolvable as e:
        # The upstream schema has a $ref jsonschema cannot follow (defs.json's ArrayOfUint32 says
        # "#definitions/uint32"); a document that reaches it is rejected, naming where.
        where = _broken_path(doc, _ROOTS[schema], [])
        prefix = f"{what}: {format_path(where)}" if where else what
        raise ConfigError(f"{prefix}: cannot be checked, the OCI schema is broken here: {e}") from None
    if error is None:
        return
    path = format_path(error.absolute_path)
    raise ConfigError(f"{what}: {path}: {error.message}" if path else f"{what}: {error.message}")


def format_path(path: object) -> str:
    """['mounts', 2, 'destination'] -> 'mounts[2].destination'."""
    out = ""
    for part in path:
        out += f"[{part}]" if type(part) is int else (f".{part}" if out else str(part))
    return out


def _broken_path(x: object, n: int, path: list) -> list | None:
    """Where jsonschema's walk over x meets a BROKEN node: it visits every keyword, property and item, and
    anyOf branches until one is valid (oneOf/not may stop earlier there; only the message depends on it)."""
    b = _TBITS.get(type(x))
    for op in _NODES[n][1]:
        k, found = op[0], None
        if k == BROKEN:
            return path
        if k == PROPS and b == 1:
            found = _first(_broken_path(x[name], sub, path + [name]) for name, sub in op[1] if name in x)
        elif k == ITEMS and b == 2:
            found = _first(_broken_path(item, op[1], path + [i]) for i, item in enumerate(x))
        elif k == TUPLE and b == 2:
            found = _first(_broken_path(item, sub, path + [i]) for i, (item, sub) in enumerate(zip(x, op[1])))
        elif k == PATPROPS and b == 1:
            found = _first(_broken_path(v, sub, path + [key]) for p, sub in op[1]
                           for key, v in x.items() if _search(p, key))
        elif k == ADDPROPS and b == 1 and op[3] >= 0:
            found = _first(_broken_path(x[key], op[3], path + [key]) for key in x
                           if key not in op[1] and not (op[2] and _search(op[2][0], key)))
        elif k == ANY:
            for sub in op[1]:
                found = _broken_path(x, sub, path)
                if found is not None or _ok_or_false(x, sub):
                    break
        elif k in (ALL, ONE, NOT):
            found = _first(_broken_path(x, sub, path) for sub in (op[1] if k != NOT else (op[1],)))
        if found is not None:
            return found
    return None


def _first(results: object) -> list | None:
    return next((r for r in results if r is not None), None)


def _ok_or_false(x: object, n: int) -> bool:
    try:
        return _ok(x, n)
    except _Unsure:
        return False
