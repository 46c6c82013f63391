"""ociruntime.config.schema against its reference, jsonschema's Draft4Validator and best_match.

The reference here is built independently of schema.py (the schema itself at the root of the
validator, not schema.py's {"$ref": name} wrapper), and every differential test compares both the
verdict of the fast path alone and the message validate() produces.
"""

from __future__ import annotations

import contextlib
import copy
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT4

from ociruntime.config import schema, schema_compile
from ociruntime.errors import ConfigError

SPEC = schema.spec_dir()
SCHEMAS = {"config": "config-schema.json", "state": "state-schema.json", "features": "features-schema.json"}
VECTORS = sorted(glob.glob(os.path.join(SPEC, "test", "*", "*", "*.json")))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_spec() -> dict[str, object]:
    files = {}
    for name in sorted(os.listdir(SPEC)):
        if name.endswith(".json"):
            with open(os.path.join(SPEC, name)) as f:
                files[name] = json.load(f)
    return files


def _reference(files: dict[str, object]) -> dict[str, jsonschema.Draft4Validator]:
    registry = Registry().with_resources((name, DRAFT4.create_resource(doc)) for name, doc in files.items())
    return {name: jsonschema.Draft4Validator(doc, registry=registry) for name, doc in files.items()}


FILES = _load_spec()
REFERENCE = _reference(FILES)


def dotted(path: object) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def expected(doc: object, name: str, what: str = "config.json") -> tuple[str, str | None]:
    """('ok', None), ('error', the one-line message), or ('broken', None) when jsonschema itself fails."""
    try:
        error = best_match(REFERENCE[name].iter_errors(doc))
    except Unresolvable:
        return "broken", None
    if error is None:
        return "ok", None
    path = dotted(error.absolute_path)
    return "error", (f"{what}: {path}: {error.message}" if path else f"{what}: {error.message}")


def actual(doc: object, name: str, what: str = "config.json") -> tuple[str, str | None]:
    try:
        schema.validate(doc, name, what)
    except ConfigError as e:
        if "the OCI schema is broken here" in str(e):
            return "broken", None
        return "error", str(e)
    return "ok", None


def assert_same(doc: object, name: str) -> None:
    want = expected(doc, name)
    assert actual(doc, name) == want
    fast = schema._fast(doc, name)
    # For JSON-typed documents the fast path decides alone, except where jsonschema breaks.
    assert fast == (None if want[0] == "broken" else want[0] == "ok")


# --- the spec's test vectors ---

def _kind(path: str) -> tuple[str, str]:
    parts = path.split(os.sep)
    return parts[-3], parts[-2]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: "/".join(p.split(os.sep)[-3:]))
def test_vectors(path: str) -> None:
    kind, verdict = _kind(path)
    with open(path, "rb") as f:
        data = f.read()
    if verdict == "good":
        doc = schema.parse_json(data, kind)
        schema.validate(doc, SCHEMAS[kind], kind)
        assert schema._fast(doc, SCHEMAS[kind]) is True
        return
    if "invalid-json" in path:
        with pytest.raises(ConfigError, match=rf"^{kind}: invalid JSON: "):
            schema.parse_json(data, kind)
        return
    doc = schema.parse_json(data, kind)
    with pytest.raises(ConfigError) as e:
        schema.validate(doc, SCHEMAS[kind], kind)
    assert ("error", str(e.value)) == expected(doc, SCHEMAS[kind], kind)
    assert "\n" not in str(e.value)


def test_every_kind_has_good_and_bad_vectors() -> None:
    seen = {_kind(p) for p in VECTORS}
    assert seen == {(k, v) for k in SCHEMAS for v in ("good", "bad")}


# --- exact messages ---

def _config(**extra: object) -> dict:
    doc = {"ociVersion": "1.3.0", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": ["sh"]}}
    doc.update(extra)
    return doc


MOUNTS = [{"destination": "/proc", "type": "proc"}, {"destination": "/dev"}, {"destination": 5}]
NAMESPACES = "['mount', 'pid', 'network', 'uts', 'ipc', 'user', 'cgroup', 'time']"


@pytest.mark.parametrize("doc, message", [
    (_config(mounts=MOUNTS), "config.json: mounts[2].destination: 5 is not of type 'string'"),
    ({"root": {"path": "rootfs"}}, "config.json: 'ociVersion' is a required property"),
    ([], "config.json: [] is not of type 'object'"),
    (_config(linux={"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]}}),
     "config.json: linux.seccomp.syscalls[0].names: [] should be non-empty"),
    (_config(windows={"layerFolders": []}), "config.json: windows.layerFolders: [] should be non-empty"),
    (_config(process={"cwd": "/", "user": {"uid": 2**32}}),
     "config.json: process.user.uid: 4294967296 is greater than the maximum of 4294967295"),
    (_config(process={"cwd": "/", "user": {"gid": -1}}),
     "config.json: process.user.gid: -1 is less than the minimum of 0"),
    (_config(process={"cwd": "/", "user": {"uid": True}}), "config.json: process.user.uid: True is not of type 'integer'"),
    (_config(process={"cwd": "/", "oomScoreAdj": 1.0}), "config.json: process.oomScoreAdj: 1.0 is not of type 'integer'"),
    (_config(process={"cwd": "/", "rlimits": [{"type": "rlimit_nofile", "soft": 1, "hard": 1}]}),
     "config.json: process.rlimits[0].type: 'rlimit_nofile' does not match '^RLIMIT_[A-Z]+$'"),
    (_config(process={"args": ["sh"]}), "config.json: process: 'cwd' is a required property"),
    (_config(linux={"namespaces": [{"type": "pid"}, {"type": "bogus"}]}),
     f"config.json: linux.namespaces[1].type: 'bogus' is not one of {NAMESPACES}"),
    (_config(annotations={"a.b": 1}), "config.json: annotations.a.b: 1 is not of type 'string'"),
    (_config(linux={"netDevices": {"eth0": {"name": None}}}), "config.json: linux.netDevices.eth0.name: None is not of type 'string'"),
])
def test_messages(doc: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        schema.validate(doc)
    assert str(e.value) == message
    assert ("error", message) == expected(doc, "config-schema.json")


@pytest.mark.parametrize("doc", [
    # process.args must be non-empty by runtime-spec's prose, not by its schema: config/validate.py checks it.
    _config(process={"cwd": "/", "args": []}),
    # re.search's '$' also matches before a final newline, so jsonschema accepts these.
    _config(process={"cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE\n", "soft": 1, "hard": 1}]}),
    _config(linux={"devices": [{"type": "c\n", "path": "/dev/x"}]}),
    # 'personality' has "type": "object" beside its $ref: draft 4 ignores the sibling.
    _config(linux={"personality": {"domain": "LINUX"}}),
    _config(vm={"kernel": {"path": "k"}, "hwConfig": {"irqs": []}}),
    _config(annotations={"\n": 5}),  # ".{1,}" does not match a lone newline: the value is unchecked
    _config(process={"cwd": "/", "user": {"uid": 2**32 - 1, "gid": 0}}),
    _config(linux={"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"}]}}),
])
def test_accepted(doc: object) -> None:
    schema.validate(doc)
    assert schema._fast(doc, "config-schema.json") is True
    assert expected(doc, "config-schema.json") == ("ok", None)


def test_state_and_features_messages() -> None:
    with pytest.raises(ConfigError, match=r"^state: status: 'paused' is not one of \['creating', 'created', 'running', 'stopped'\]$"):
        schema.validate({"ociVersion": "1.3.0", "id": "x", "status": "paused", "bundle": "/b"}, "state-schema.json", "state")
    with pytest.raises(ConfigError, match=r"^features: linux.capabilities\[0\]: 'SYS_ADMIN' does not match '\^CAP_\[A-Z_\]\+\$'$"):
        schema.validate({"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"capabilities": ["SYS_ADMIN"]}},
                        "features-schema.json", "features")
    with pytest.raises(ValueError, match="unknown schema"):
        schema.validate({}, "nope.json")


def test_broken_upstream_ref_is_rejected_with_its_path() -> None:
    # defs.json's ArrayOfUint32 refers to "#definitions/uint32" (no slash): jsonschema raises on any item.
    doc = _config(vm={"kernel": {"path": "k"}, "hwConfig": {"irqs": [1]}})
    with pytest.raises(Unresolvable):
        best_match(REFERENCE["config-schema.json"].iter_errors(doc))
    with pytest.raises(ConfigError, match=r"^config.json: vm.hwConfig.irqs\[0\]: cannot be checked, .*#definitions/uint32"):
        schema.validate(doc)
    doc["ociVersion"] = 1  # an earlier error does not hide it: jsonschema would still raise
    with pytest.raises(ConfigError, match=r"^config.json: vm.hwConfig.irqs\[0\]: cannot be checked"):
        schema.validate(doc)


def test_non_json_types_are_left_to_jsonschema() -> None:
    class Text(str):
        pass

    doc = _config(hostname=Text("h"))
    assert schema._fast(doc, "config-schema.json") is None
    schema.validate(doc)  # jsonschema: a str subclass is a string
    doc = _config(mounts=({"destination": "/x"},))
    assert schema._fast(doc, "config-schema.json") is None
    with pytest.raises(ConfigError, match=r"^config.json: mounts: \(\{'destination': '/x'\},\) is not of type 'array'$"):
        schema.validate(doc)


# --- differential: mutated good documents, fast path and messages against jsonschema ---

def _good(kind: str) -> list[object]:
    docs = []
    for path in VECTORS:
        if _kind(path) == (kind, "good"):
            with open(path, "rb") as f:
                docs.append(json.loads(f.read()))
    return docs


GOOD = {kind: _good(kind) for kind in SCHEMAS}


def _harvest() -> tuple[list[str], list[str]]:
    """Property names and enum values of the compiled schemas: mutations then reach deep checks."""
    names, values = set(), set()
    for _, ops in schema_compile_nodes():
        for op in ops:
            if op[0] == schema.PROPS:
                names.update(name for name, _ in op[1])
            elif op[0] == schema.ENUM:
                values.update(op[1])
    return sorted(names), sorted(values)


def schema_compile_nodes() -> tuple:
    from ociruntime.config import schema_tables
    return schema_tables.NODES


NAMES, ENUMS = _harvest()
# Properties whose schema has an enum, a pattern or a range: near misses there hit those checks.
CONSTRAINED = {name for _, ops in schema_compile_nodes() for op in ops if op[0] == schema.PROPS
               for name, sub in op[1] if any(o[0] in (schema.ENUM, schema.PATTERN, schema.RANGE)
                                             for o in schema_compile_nodes()[sub][1])}
TRICKY = [None, True, False, 0, 1, -1, 7, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
          -2**31 - 1, -2**63, -2**63 - 1, 10**30, 1.0, 0.5, -0.0, 1e300, float("inf"), float("nan"),
          "", "x", "\n", "ünï©ode ✓", "\udcff", "RLIMIT_NOFILE", "RLIMIT_NOFILE\n", "RLIMIT_", "RLIMIT_nofile",
          "c", "b\n", "cb", "u ", "64KB", "1GB\n", "01MB", "2MB", "MB:", "MB:0=70\n", "MB:0=70\nL3", "0-3, 5", "0-3\n",
          "CAP_SYS_ADMIN", "CAP_", "CAP_x", [], {}, [""], [1], {"": ""}, {"x": 1}, ["RLIMIT_CPU"]]
SCALARS = st.one_of(st.sampled_from(TRICKY), st.sampled_from(ENUMS), st.integers(), st.text(max_size=8),
                    st.floats(allow_nan=True))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=4)), inner, max_size=3)), max_leaves=6)
KEYS = st.one_of(st.sampled_from(NAMES), st.sampled_from(["", "\n", "a.b", "x"]), st.text(max_size=6))


def _slots(x: object, out: list) -> list:
    """Every (container, key) of x, depth first."""
    if isinstance(x, (dict, list)):
        for k in list(x) if isinstance(x, dict) else range(len(x)):
            out.append((x, k))
            _slots(x[k], out)
    return out


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> object:
    richest = max(GOOD[kind], key=lambda d: len(json.dumps(d)))  # spec-example: half of the time
    doc = copy.deepcopy(draw(st.one_of(st.just(richest), st.sampled_from(GOOD[kind]))))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(doc, [])
        leaves = [(h, k) for h, k in slots if not isinstance(h[k], (dict, list))]
        op = draw(st.sampled_from(["replace", "nudge", "nudge", "retype", "delete", "add"]))
        if op == "add" or not slots:
            holder = draw(st.sampled_from([doc] + [h[k] for h, k in slots if isinstance(h[k], (dict, list))]))
            if isinstance(holder, dict):
                holder[draw(KEYS)] = copy.deepcopy(draw(VALUES))
            else:
                holder.append(copy.deepcopy(draw(VALUES)))
        elif op == "nudge" and leaves:  # same JSON type, another value: reaches enum, pattern and range checks
            holder, key = draw(st.sampled_from(leaves))
            same = [v for v in TRICKY + ENUMS if type(v) is type(holder[key])] or TRICKY
            holder[key] = draw(st.one_of(st.sampled_from(same), st.sampled_from(TRICKY).map(copy.deepcopy)))
        else:
            holder, key = draw(st.sampled_from(slots))
            if op == "delete":
                del holder[key]
            elif op == "retype":
                v = holder[key]
                holder[key] = draw(st.sampled_from([[v], {"k": v}, str(v), len(str(v)), v is None]))
            else:  # deepcopy: TRICKY's lists and dicts must not be shared, mutations would change them
                holder[key] = copy.deepcopy(draw(VALUES))
    return doc


@st.composite
def nudged(draw: st.DrawFn, kind: str) -> object:
    """One leaf of a good document replaced by a near miss of the same JSON type."""
    doc = copy.deepcopy(draw(st.sampled_from(GOOD[kind])))
    leaves = [(h, k) for h, k in _slots(doc, []) if not isinstance(h[k], (dict, list))]
    picky = [(h, k) for h, k in leaves if k in CONSTRAINED] or leaves
    holder, key = draw(st.one_of(st.sampled_from(picky), st.sampled_from(leaves)))
    v = holder[key]
    same = [w for w in TRICKY if type(w) is type(v)] or TRICKY
    if isinstance(v, str):
        near = [v + "\n", v + "\n\n", v.lower(), v.upper(), v[:-1], v + "X", "\n" + v, v.replace("_", "")]
        choices = st.one_of(st.sampled_from(near), st.sampled_from(ENUMS), st.sampled_from(same))
    elif type(v) is int:
        choices = st.one_of(st.sampled_from([v + 1, v - 1, -v, v * 2**32]), st.sampled_from(same))
    else:
        choices = st.sampled_from(same)
    holder[key] = copy.deepcopy(draw(choices))
    return doc


@settings(FAST, max_examples=200)
@given(nudged("config"))
def test_differential_config_near_misses(doc: object) -> None:
    assert_same(doc, "config-schema.json")


@settings(FAST, max_examples=200)
@given(mutated("config"))
def test_differential_config(doc: object) -> None:
    assert_same(doc, "config-schema.json")


@settings(FAST, max_examples=60)
@given(st.one_of(mutated("state"), mutated("features")))
def test_differential_state_and_features(doc: object) -> None:
    name = "state-schema.json" if "status" in doc or "bundle" in doc or "id" in doc else "features-schema.json"
    assert_same(doc, name)


# --- the keywords the OCI schemas do not use yet, on a schema of our own ---

SYNTH = {
    "root.json": {
        "type": "object",
        "required": ["one"],
        "properties": {
            "one": {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
            "not": {"not": {"type": "string"}},
            "closed": {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
            "pp": {"patternProperties": {"^x": {"type": "integer"}, "y$": {"type": "string"}},
                   "additionalProperties": {"type": "boolean"}},
            "pp1": {"patternProperties": {"^[a-c]{2}": {"enum": ["q"]}}, "additionalProperties": False},
            "tuple": {"items": [{"type": "string"}, {"type": "number"}]},
            "len": {"type": ["string", "array"], "minLength": 2, "maxLength": 3, "minItems": 1, "maxItems": 2},
            "excl": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1.5, "exclusiveMaximum": True},
            "anyall": {"anyOf": [{"type": "null"}, {"allOf": [{"type": "string"}, {"pattern": "^a+b?$"}]}]},
            "ref": {"$ref": "other.json#/definitions/thing", "type": "string"},
            "raw": {"type": "string", "pattern": "(ab|cd)\\d"},
            "num": {"type": "number"},
            "null": {"type": "null"},
        },
    },
    "other.json": {"definitions": {"thing": {"type": "integer", "maximum": 3}}},
}
SYNTH_REF = _reference(SYNTH)["root.json"]
SYNTH_NAMES = list(SYNTH["root.json"]["properties"]) + ["a", "xa", "ay", "ab", "bcd", "zz"]
SYNTH_VALUES = st.recursive(
    st.one_of(st.sampled_from([None, True, False, 0, 1, -1, 3, 4, 0.0, 1e-9, 1.5, 1.4, -0.5, "", "a", "ab", "abc",
                               "abcd", "aab", "aab\n", "b", "q", "ab1", "xcd9", "1"]), st.integers(), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(SYNTH_NAMES), st.text(max_size=3)), inner, max_size=4)),
    max_leaves=8)


SYNTH_COMPILED = schema_compile.Compiler(SYNTH)
SYNTH_ROOT = SYNTH_COMPILED.root("root.json")


@contextlib.contextmanager
def synth_tables() -> object:
    """schema.py running on the compiled SYNTH schema instead of the OCI tables."""
    schema._fast({}, "config-schema.json")  # load the real tables first, then shadow them
    saved = schema._NODES, schema._PATTERNS, schema._ROOTS
    schema._NODES, schema._PATTERNS = tuple(SYNTH_COMPILED.nodes), tuple(SYNTH_COMPILED.patterns)
    schema._ROOTS = {"root.json": SYNTH_ROOT}
    try:
        yield
    finally:
        schema._NODES, schema._PATTERNS, schema._ROOTS = saved


@settings(FAST, max_examples=300)
@given(doc=st.dictionaries(st.sampled_from(SYNTH_NAMES), SYNTH_VALUES, max_size=5))
def test_differential_other_keywords(doc: dict) -> None:
    with synth_tables():
        fast = schema._fast(doc, "root.json")
    assert fast == SYNTH_REF.is_valid(doc)


SYNTH_CASES = [
    {}, {"one": 1}, {"one": -1}, {"one": 0.5}, {"one": "x"}, {"one": True}, {"one": 1, "num": True}, {"one": 1, "num": 1.5},
    {"one": "x", "excl": 0}, {"one": "x", "excl": 1e-9}, {"one": "x", "excl": 1.5}, {"one": "x", "excl": 1.4},
    {"one": "x", "len": ["a"]}, {"one": "x", "len": []}, {"one": "x", "len": [1, 2, 3]}, {"one": "x", "len": "ab"},
    {"one": "x", "len": "abcd"}, {"one": "x", "len": "a"}, {"one": "x", "len": 5},
    {"one": "x", "not": "s"}, {"one": "x", "not": 1}, {"one": "x", "closed": {"a": 1}}, {"one": "x", "closed": {"b": 1}},
    {"one": "x", "closed": {"b": {"one": "x"}}}, {"one": "x", "pp1": {"zz": {"one": "x"}}},
    {"one": "x", "pp": {"xa": 1, "ay": "s", "z": True}}, {"one": "x", "pp": {"xy": 1}}, {"one": "x", "pp": {"z": 1}},
    {"one": "x", "pp1": {"ab": "q"}}, {"one": "x", "pp1": {"ab": "r"}}, {"one": "x", "pp1": {"a": "q"}},
    {"one": "x", "tuple": ["a", 1, None]}, {"one": "x", "tuple": [1]}, {"one": "x", "tuple": ["a", "b"]},
    {"one": "x", "anyall": None}, {"one": "x", "anyall": "aab\n"}, {"one": "x", "anyall": "ba"},
    {"one": "x", "ref": 3}, {"one": "x", "ref": "s"}, {"one": "x", "ref": 4},
    {"one": "x", "raw": "xab1"}, {"one": "x", "raw": "ab"}, {"one": "x", "null": None}, {"one": "x", "null": 0},
]


@pytest.mark.parametrize("doc", SYNTH_CASES, ids=repr)
def test_other_keywords_boundaries(doc: dict) -> None:
    with synth_tables():
        fast = schema._fast(doc, "root.json")
    assert fast == SYNTH_REF.is_valid(doc)


def test_other_keywords_are_compiled() -> None:
    ops = {op[0] for _, node_ops in SYNTH_COMPILED.nodes for op in node_ops}
    assert ops >= {schema.ONE, schema.NOT, schema.ADDPROPS, schema.PATPROPS, schema.TUPLE, schema.LEN, schema.ANY,
                   schema.ALL, schema.RANGE, schema.PATTERN, schema.ENUM}
    assert "(ab|cd)\\d" in SYNTH_COMPILED.patterns  # left to re


def test_compiler_refuses_what_it_does_not_know() -> None:
    for bad in ({"uniqueItems": True}, {"dependencies": {"a": ["b"]}}, {"id": "x.json"}, {"enum": [1]},
                {"properties": {"a": {"$ref": "#/nowhere"}}}):
        with pytest.raises((ValueError, KeyError)):
            schema_compile.Compiler({"s.json": bad}).root("s.json")


# --- the re-free matcher against re.search ---

def _find_patterns(x: object) -> list[str]:
    found = []
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "pattern" and isinstance(v, str):
                found.append(v)
            elif k == "patternProperties" and isinstance(v, dict):
                found.extend(v)
            found.extend(_find_patterns(v))
    elif isinstance(x, list):
        for v in x:
            found.extend(_find_patterns(v))
    return found


SPEC_PATTERNS = sorted({p for f in FILES.values() for p in _find_patterns(f)})
EXTRA_PATTERNS = ["", "^$", "a", "^a*$", "x{2,3}y?", "^x{0,2}$", "[^a-c-]+$", "\\.\\$", "a.c", "^[\\]a]$",
                  "[a-]b", "^\\n?$", "ab*c+d?$", "^[a\\-c]+$", "[+-.]"]


def test_spec_patterns_need_no_re() -> None:
    assert SPEC_PATTERNS  # the schemas do use regexes
    for p in SPEC_PATTERNS:
        assert not isinstance(schema_compile.compile_pattern(p), str), p


@pytest.mark.parametrize("pattern", ["(a|b)", "a|b", "\\d", "\\w+", "a+?", "a{2", "[]a]", "[\\d]", "a$b", "^*",
                                     "[[a]", "x{,2}", "(?i)a", "\\1", "[b-a]"])
def test_unsupported_patterns_are_left_to_re(pattern: str) -> None:
    assert schema_compile.compile_pattern(pattern) == pattern


@settings(FAST, max_examples=300)
@given(pattern=st.sampled_from(SPEC_PATTERNS + EXTRA_PATTERNS), data=st.data())
def test_matcher_is_re_search(pattern: str, data: st.DataObject) -> None:
    prog = schema_compile.compile_pattern(pattern)
    assert not isinstance(prog, str)
    alphabet = sorted(set(pattern.replace("\\", "")) | set("abAZz09_ \n-,:B\u00e9"))
    s = data.draw(st.one_of(
        st.text(alphabet=alphabet, max_size=12),
        st.from_regex(pattern).map(lambda m: m[:40]),
        st.from_regex(pattern).flatmap(lambda m: st.sampled_from([m + "\n", m + "\n\n", "\n" + m, m[1:], m + "x"]))))
    assert schema._match(prog, s) == (re.search(pattern, s) is not None)


# --- parse_json against json.loads ---

JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                    max_leaves=8)


@st.composite
def json_inputs(draw: st.DrawFn) -> bytes | str:
    text = json.dumps(draw(JSON), indent=draw(st.sampled_from([None, 0, 2])), ensure_ascii=draw(st.booleans()))
    text = draw(st.sampled_from(["", " ", "\n\t", "\ufeff", "\x0b"])) + text + draw(st.sampled_from(["", " \r\n", "x", "]"]))
    if draw(st.booleans()):
        return text
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"])),
                       "surrogatepass")
    if draw(st.booleans()) and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + draw(st.binary(max_size=2)) + data[i + 1:]
    return data


def _outcome(f: object, data: bytes | str) -> tuple[str, str]:
    try:
        return "ok", repr(f(data))  # repr: 1 != 1.0 != True, nan == nan
    except ConfigError as e:
        return "error", str(e)


def _json_loads(data: bytes | str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"x: invalid JSON: {e}") from None


@settings(FAST, max_examples=400)
@given(st.one_of(json_inputs(), st.binary(max_size=12), st.text(max_size=8)))
def test_parse_json_is_json_loads(data: bytes | str) -> None:
    assert _outcome(lambda d: schema.parse_json(d, "x"), data) == _outcome(_json_loads, data)


def test_parse_json_messages() -> None:
    with pytest.raises(ConfigError, match=r"^config.json: invalid JSON: Expecting ',' delimiter: line 2 column 1 \(char 8\)$"):
        schema.parse_json(b'{"a": 1\n"b": 2}')
    with pytest.raises(ConfigError, match=r"^config.json: invalid JSON: Extra data: line 1 column 4 \(char 3\)$"):
        schema.parse_json(b"{} x")
    with pytest.raises(ConfigError, match=r"^config.json: invalid JSON: 'utf-8' codec can't decode byte 0xff"):
        schema.parse_json(b'{"a": "\xff"}')
    assert schema.parse_json(b'\xef\xbb\xbf {"a": [1, 2.5, NaN]} ') is not None
    assert schema.parse_json("[1]".encode("utf-16")) == [1]


# --- generated tables and the cost of the success path ---

def test_tables_are_up_to_date_with_spec() -> None:
    with open(schema_compile.tables_path(), encoding="utf-8") as f:
        current = f.read()
    assert current == schema_compile.render(SPEC), "run: python -m ociruntime.config.schema_compile"


def test_tables_generation_is_reproducible() -> None:
    code = "import sys; from ociruntime.config import schema_compile as c; sys.stdout.write(c.render(c.default_spec_dir()))"
    outs = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}
    assert len(outs) == 1


def test_success_path_imports_no_json_re_or_jsonschema() -> None:
    example = os.path.join(SPEC, "test", "config", "good", "spec-example.json")
    code = f"""
import sys
import ociruntime.config
before = set(sys.modules)
from ociruntime.config import schema
with open({example!r}, "rb") as f:
    schema.validate(schema.parse_json(f.read()))
print(" ".join(sorted(set(sys.modules) - before)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert set(out) <= {"ociruntime.config.schema", "ociruntime.config.schema_tables", "ociruntime.jsonio", "_json"}, out
