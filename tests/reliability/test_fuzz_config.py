"""config.json, fuzzed (hypothesis): every case ends in a working container or a one-line error.

Three layers:
- in process, thousands of mutated documents through `load_document` (parse, schema, semantic
  checks): only PyociError may come out, never another exception (the CLI would print
  "internal error");
- end to end, mutated configs through `pyoci create` / `start` / `delete --force`: no traceback,
  a refused create prints one line and leaves nothing, a created container is deleted without a
  trace (state dir, mount, cgroup, process);
- the semantic errors the issue names, each with its JSON path in the message.

The fuzzer is sandboxed (`_sandbox`) so a random config cannot hurt this machine: it never joins
an existing namespace, never moves a network device, never runs a hook, never binds a host path
outside the test's temp dir, never uses a rootfs outside it, never runs a busybox applet but a
harmless few, and puts every cgroup at a path ending in the test's tag.
Runs are derandomized (the same examples every run) and bounded: see MAX_* below.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.helpers import (
    assert_no_crash,
    assert_one_line_error,
    crashed,
    pyoci,
)

MAX_IN_PROCESS = 1500
MAX_END_TO_END = 220
MAX_TARGETED = 240
MAX_BYTES = 60

SETTINGS = {"deadline": None, "derandomize": True, "database": None, "print_blob": True,
                "suppress_health_check": list(HealthCheck)}

# --- values -------------------------------------------------------------------------------

EDGE_INTS = [0, -1, 1, 7, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64,
             -2**31, -2**63, -2**64, 10**30]
EDGE_FLOATS = [0.5, -0.0, 1e308, -1e308, float("inf"), float("nan"), 1.0]
WEIRD_STRINGS = ["", " ", ".", "..", "../..", "/..", "/../../../../etc", "../../../../../../tmp", "/", "//",
                 "relative/path", "/abs/path", "a/../../b", "/dev/../etc/passwd", "/proc/self/fd/0",
                 "/proc/self/root", "x" * 5000, "ü/日本語/\u202e", "\x00", "x\x00y", "/tmp\x00/../etc",
                 "\ud800", "\n", "a\nb", "%s%n%x", "$HOME", "~root", "C:\\Windows", "CAP_SYS_ADMIN",
                 "RLIMIT_NOFILE", "/dev/null", "/sys/fs/cgroup", "rootfs", "proc", "tmpfs", "-1", "1e9",
                 "true", "bind", "rbind,ro"]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(), st.sampled_from(EDGE_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WEIRD_STRINGS), st.text(max_size=40),
)
json_value = st.recursive(json_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)), max_leaves=12)


def _base(rootfs: str = "rootfs") -> dict:
    from ociruntime.specgen import default_spec

    cfg = default_spec(args=["true"], terminal=False)
    cfg["root"] = {"path": rootfs, "readonly": False}
    return cfg


def _locations(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _locations(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _locations(v, prefix + (i,))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


@st.composite
def mutated(draw, base: dict) -> dict:
    """A copy of `base` with 1-4 random edits: a node replaced by any JSON value (wrong type,
    huge number, unicode, NaN), a key or element deleted, an extra key or element added, a string
    replaced by a path-like oddity, a number by an edge value."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        locs = list(_locations(doc))
        path = draw(st.sampled_from(locs))
        node = _get(doc, path)
        op = draw(st.sampled_from(["replace", "delete", "extra", "string", "number"]))
        if op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "extra" and isinstance(node, (dict, list)):
            v = draw(json_value)
            if isinstance(node, dict):
                node[draw(st.text(max_size=12))] = v
            else:
                node.append(v)
        elif (op in ("string", "extra") and isinstance(node, str)) or (op == "string" and path and node is None):
            # Same type, odd value: these mostly pass the schema and reach the runtime.
            doc = _set(doc, path, draw(st.sampled_from(WEIRD_STRINGS) | st.text(max_size=30)))
        elif op == "number" and isinstance(node, (int, bool)) or (op == "number" and not path):
            doc = _set(doc, path, draw(st.sampled_from(EDGE_INTS) | st.integers()))
        elif op in ("string", "number") and isinstance(node, (dict, list)) and node:
            # Descend: pick a leaf below and give it an odd value of its own type.
            leaves = [q for q in _locations(node) if not isinstance(_get(node, q), (dict, list))]
            if leaves:
                q = path + draw(st.sampled_from(leaves))
                leaf = _get(doc, q)
                if isinstance(leaf, str):
                    doc = _set(doc, q, draw(st.sampled_from(WEIRD_STRINGS) | st.text(max_size=30)))
                elif isinstance(leaf, (int, float)):
                    doc = _set(doc, q, draw(st.sampled_from(EDGE_INTS) | st.integers()))
        else:
            doc = _set(doc, path, draw(json_value))
    return doc


# --- keeping the fuzzer off the host ------------------------------------------------------------

# Busybox applets a fuzzed process.args may name: harmless whatever their arguments.
_SAFE_APPLETS = {"true", "false", "echo", "sh", "sleep", "id", "ls", "cat", "pwd"}


def _inside(path: str, scope: Path) -> bool:
    # A C string ends at the first NUL: judge what the kernel would see.
    path = path.split("\0")[0]
    try:
        return os.path.realpath(path).startswith(str(scope) + "/")
    except ValueError:     # a lone surrogate: not encodable, never reaches the kernel
        return True


def _exists(path: str) -> bool:
    try:
        return os.path.lexists(path)
    except ValueError:
        return False


def _sandbox(doc, bundle: Path, scope: Path, tag: str):
    """Make a fuzzed document safe to run as root on this machine without making it less odd."""
    from bundles.busybox import applet_links

    if not isinstance(doc, dict):
        return doc
    doc.pop("hooks", None)
    lx = doc.get("linux")
    if isinstance(lx, dict):
        lx.pop("netDevices", None)
        lx.pop("sysctl", None)          # host sysctls are fuzzed separately, with their current values
        nss = lx.get("namespaces")
        if isinstance(nss, list):
            for ns in nss:
                if isinstance(ns, dict) and "path" in ns:
                    # Never an existing namespace: joining the host's mount namespace would mount there.
                    p = ns["path"]
                    if isinstance(p, str) and p and _exists(p):
                        ns["path"] = str(scope / "no-such-ns")
        cg = lx.get("cgroupsPath")
        if isinstance(cg, str):
            forms = [tag, "/" + tag, "../" + tag, tag + "/..", "./" + tag, tag + "//", ":" + tag,
                     "/../" + tag, "system.slice:pyoci:" + tag]
            lx["cgroupsPath"] = forms[len(cg) % len(forms)]
        sec = lx.get("seccomp")
        if isinstance(sec, dict) and "listenerPath" in sec:
            sec["listenerPath"] = str(scope / "no-listener")
    root = doc.get("root")
    if isinstance(root, dict) and isinstance(root.get("path"), str):
        p = root["path"]
        if not _inside(os.path.join(bundle, p), scope):
            root["path"] = "rootfs"
    mounts = doc.get("mounts")
    if isinstance(mounts, list):
        for m in mounts:
            if isinstance(m, dict) and isinstance(m.get("source"), str):
                s = m["source"]
                if not _inside(os.path.join(bundle, s), scope):
                    m["source"] = str(scope / "bindsrc")
    proc = doc.get("process")
    if isinstance(proc, dict) and isinstance(proc.get("args"), list) and proc["args"]:
        a0 = proc["args"][0]
        if isinstance(a0, str):
            name = a0.rpartition("/")[2]
            applets = {p.rpartition("/")[2] for p, _ in applet_links()} | {"busybox"}
            if name in applets and name not in _SAFE_APPLETS:
                proc["args"][0] = "true"
            if name == "sh":
                proc["args"] = [a0, "-c", "exit 0"]
            elif name == "busybox":
                proc["args"] = [a0, "true"]
    return doc


# --- running one case -----------------------------------------------------------------------------

class Case:
    """One test's bundle and state root; run() feeds it one document."""

    def __init__(self, runtime, audit, tag: str, figures) -> None:
        self.rt, self.audit, self.tag, self.figures = runtime, audit, tag, figures
        self.scope = Path(runtime.tmp)
        self.bundle = self.scope / "fz"
        self.bundle.mkdir(exist_ok=True)
        (self.scope / "bindsrc").mkdir(exist_ok=True)
        self.dirty = True

    def fresh_rootfs(self) -> None:
        from bundles.busybox import make_rootfs

        r = self.bundle / "rootfs"
        if r.exists():
            shutil.rmtree(r)
        make_rootfs(r)
        self.dirty = False

    def run(self, doc=None, raw: bytes | None = None) -> None:
        if self.dirty:
            self.fresh_rootfs()
        if raw is None:
            doc = _sandbox(doc, self.bundle, self.scope, self.tag)
            try:
                raw = json.dumps(doc).encode("utf-8", "surrogatepass")
            except (TypeError, ValueError):
                raw = json.dumps(doc, ensure_ascii=True).encode()
        (self.bundle / "config.json").write_bytes(raw)
        cid = self.rt.new_id("fz")
        self.figures.add("inputs")
        r = pyoci(self.rt.root, "create", "--bundle", str(self.bundle), cid, tag=self.tag, timeout=60)
        if r.rc == 0:
            self.figures.add("created")
            self.dirty = True
            assert_no_crash(r)
            s = pyoci(self.rt.root, "start", cid, tag=self.tag)
            assert_no_crash(s)
            self.figures.add("started" if s.rc == 0 else "start_refused")
            d = pyoci(self.rt.root, "delete", "--force", cid, tag=self.tag)
            assert d.rc == 0 and not crashed(d), d
        else:
            assert_one_line_error(r)
            self.figures.add("refused")
            if os.environ.get("PYOCI_RELIABILITY_VERBOSE"):
                print("REFUSED", r.text.strip()[:150])
            if not r.text.startswith("config.json:"):
                self.dirty = True   # got as far as the rootfs
        leaks = self.audit.settle({cid})
        assert not leaks, f"{cid} left {leaks}; create said {r!r}"


@pytest.fixture
def case(runtime, audit, tag, figures):
    return Case(runtime, audit, tag, figures)


# --- in process -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain_bundle(tmp_path_factory):
    from bundles.busybox import make_rootfs

    b = tmp_path_factory.mktemp("inproc")
    make_rootfs(b / "rootfs")
    return b


def _load(data: bytes, bundle: Path) -> None:
    from ociruntime.config import load_document
    from ociruntime.errors import PyociError

    try:
        load_document(data, str(bundle))
    except PyociError as e:
        msg = str(e)
        assert msg and "\n" not in msg, repr(msg)


@settings(max_examples=MAX_IN_PROCESS, **SETTINGS)
@given(data=st.data())
def test_load_document_raises_only_pyoci_errors(plain_bundle, data):
    doc = data.draw(mutated(_base()))
    try:
        raw = json.dumps(doc).encode("utf-8", "surrogatepass")
    except ValueError:
        raw = json.dumps(doc, ensure_ascii=True).encode()
    _load(raw, plain_bundle)


RAW_CASES = [b"", b" ", b"null", b"[]", b"{}", b'"x"', b"0", b"{", b'{"ociVersion": "1.3.0",',
             b"\xef\xbb\xbf{}", b"\xff\xfe{}", b"\x00" * 16, b"{\"a\": 1, \"a\": 2}",
             b"[" * 100000 + b"]" * 100000, b'{"x":' * 50000 + b"1" + b"}" * 50000,
             b'{"ociVersion": NaN}', b'{"ociVersion": Infinity}', b"\xc3\x28", b'{"\\ud800": 1}']


@pytest.mark.parametrize("raw", RAW_CASES, ids=range(len(RAW_CASES)))
def test_load_document_raw_bytes(plain_bundle, raw):
    _load(raw, plain_bundle)


@settings(max_examples=MAX_IN_PROCESS // 3, **SETTINGS)
@given(cut=st.integers(0, 4000), junk=st.binary(max_size=8))
def test_load_document_truncated_and_spliced(plain_bundle, cut, junk):
    raw = json.dumps(_base()).encode()
    cut = min(cut, len(raw))
    _load(raw[:cut] + junk + raw[cut:][: len(junk)], plain_bundle)


# --- end to end ---------------------------------------------------------------------------------

@settings(max_examples=MAX_END_TO_END, **SETTINGS)
@given(data=st.data())
def test_fuzzed_config_end_to_end(case, data):
    case.run(data.draw(mutated(_base())))


@settings(max_examples=MAX_BYTES, **SETTINGS)
@given(raw=st.one_of(st.sampled_from(RAW_CASES[:14]), st.binary(max_size=200)))
def test_fuzzed_bytes_end_to_end(case, raw):
    case.run(raw=raw)


# Targeted: the fields a runtime turns into paths, ids and limits, with odd but often schema-valid
# values, so that most cases get past the schema and reach the rootfs and init.
PATHISH = st.one_of(st.sampled_from(WEIRD_STRINGS), st.text(max_size=30),
                    st.lists(st.sampled_from(["..", ".", "", "a", "dev", "proc", "ü", "sys", "etc", "x y"]),
                             min_size=1, max_size=6).map("/".join),
                    st.lists(st.sampled_from(["..", ".", "", "a", "dev", "proc", "tmp"]),
                             min_size=1, max_size=6).map(lambda p: "/" + "/".join(p)))
NUMBER = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-2**65, 2**65))
CAP = st.one_of(st.sampled_from(["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_NOPE", "cap_chown", "CAP_", "", "CAP_99"]),
                st.text(max_size=20))


def _edit(field: str):
    """A strategy of functions editing one named field of the base config."""
    def mount(dest=None, typ=None, opts=None, src=None):
        def f(c):
            m = {"destination": dest if dest is not None else "/mnt", "type": typ or "tmpfs",
                 "source": src or "tmpfs"}
            if opts is not None:
                m["options"] = opts
            c["mounts"].append(m)
        return f

    def put(path, value):
        def f(c):
            _set(c, path, value)
        return f

    if field == "mount.destination":
        return PATHISH.map(lambda d: mount(dest=d))
    if field == "mount.options":
        return st.lists(st.sampled_from(["ro", "rw", "bind", "rbind", "nosuid", "remount", "mode=777",
                                         "size=1k", "size=-1", "rro", "idmap", "tmpcopyup", "nosymfollow",
                                         "private", "shared", "bogus", "uid=99999999999", ""]) | st.text(max_size=10),
                        max_size=5).map(lambda o: mount(opts=o))
    if field == "mount.bind":
        return st.tuples(PATHISH, st.sampled_from(["bindsrc", "no-such-src", "../bindsrc", "", "rootfs/etc/passwd",
                                                   "config.json"])).map(
            lambda t: mount(dest=t[0], typ="bind", src=t[1], opts=["rbind"]))
    if field == "mount.type":
        return st.sampled_from(["proc", "sysfs", "devpts", "mqueue", "tmpfs", "bind", "", "nope", "cgroup",
                                "cgroup2", "overlay", "none"]).map(lambda t: mount(dest="/mnt", typ=t))
    if field == "cwd":
        return PATHISH.map(lambda v: put(("process", "cwd"), v))
    if field == "root.path":
        return PATHISH.map(lambda v: put(("root", "path"), v))
    if field == "masked":
        return st.lists(PATHISH, max_size=3).map(lambda v: put(("linux", "maskedPaths"), v))
    if field == "readonly":
        return st.lists(PATHISH, max_size=3).map(lambda v: put(("linux", "readonlyPaths"), v))
    if field == "device":
        return st.tuples(PATHISH, st.sampled_from(["c", "b", "u", "p", "x", ""]), NUMBER, NUMBER).map(
            lambda t: put(("linux", "devices"), [{"path": t[0], "type": t[1], "major": t[2], "minor": t[3]}]))
    if field == "cgroupsPath":
        return PATHISH.map(lambda v: put(("linux", "cgroupsPath"), v))
    if field == "hostname":
        return st.one_of(st.sampled_from(WEIRD_STRINGS), st.text(max_size=80)).map(lambda v: put(("hostname",), v))
    if field == "rlimit":
        return st.tuples(st.sampled_from(["RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_NOPE", "RLIMIT_",
                                          "nofile"]), NUMBER, NUMBER).map(
            lambda t: put(("process", "rlimits"), [{"type": t[0], "soft": t[1], "hard": t[2]}]))
    if field == "caps":
        return st.tuples(st.sampled_from(["bounding", "effective", "permitted", "inheritable", "ambient"]),
                         st.lists(CAP, max_size=3)).map(lambda t: put(("process", "capabilities", t[0]), t[1]))
    if field == "user":
        return st.tuples(NUMBER, NUMBER, st.lists(NUMBER, max_size=3)).map(
            lambda t: put(("process", "user"), {"uid": t[0], "gid": t[1], "additionalGids": t[2]}))
    if field == "mappings":
        return st.tuples(st.booleans(), NUMBER, NUMBER, NUMBER).map(lambda t: _mappings(*t))
    if field == "env":
        return st.lists(st.sampled_from(["PATH=", "PATH=/nope", "=", "A", "A=b=c", "\x00=1", "PATH=/bin:/bin"]) |
                        st.text(max_size=20), max_size=4).map(lambda v: put(("process", "env"), v))
    if field == "args":
        return st.lists(st.sampled_from(["true", "/bin/true", "nope", "", "/etc/passwd", "/", "/bin",
                                         "./true", "../bin/true", "/proc/self/exe", "/dev/null"]) | st.text(max_size=12),
                        min_size=0, max_size=3).map(lambda v: put(("process", "args"), v))
    if field == "oom":
        return NUMBER.map(lambda v: put(("process", "oomScoreAdj"), v))
    if field == "namespaces":
        return st.lists(st.sampled_from(["pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time", "nope"]),
                        max_size=8).map(lambda v: put(("linux", "namespaces"), [{"type": t} for t in v]))
    if field == "resources":
        return st.tuples(st.sampled_from(["memory", "pids", "cpu"]), NUMBER).map(lambda t: put(
            ("linux", "resources", t[0]),
            {"memory": {"limit": t[1]}, "pids": {"limit": t[1]}, "cpu": {"shares": t[1], "quota": t[1]}}[t[0]]))
    raise KeyError(field)


def _mappings(userns: bool, cid: int, hid: int, size: int):
    def f(c):
        c["linux"]["uidMappings"] = [{"containerID": cid, "hostID": hid, "size": size}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        if userns:
            c["linux"]["namespaces"].append({"type": "user"})
    return f


FIELDS = ["mount.destination", "mount.options", "mount.bind", "mount.type", "cwd", "root.path", "masked",
          "readonly", "device", "cgroupsPath", "hostname", "rlimit", "caps", "user", "mappings", "env", "args",
          "oom", "namespaces", "resources"]


@settings(max_examples=MAX_TARGETED, **SETTINGS)
@given(data=st.data())
def test_targeted_fields_end_to_end(case, data):
    cfg = _base()
    for field in data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        data.draw(_edit(field))(cfg)
    case.run(cfg)


# --- semantic errors, each naming its JSON path ------------------------------------------------------

def _semantic(name: str):
    def user_maps(c):
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    def cap(c):
        c["process"]["capabilities"]["bounding"].append("CAP_TIME_TRAVEL")

    def rlimit(c):
        c["process"]["rlimits"].append({"type": "RLIMIT_COFFEE", "soft": 1, "hard": 1})

    def device(c):
        c["linux"]["devices"] = [{"path": "/etc/evil", "type": "c", "major": 1, "minor": 3}]

    def device_dotdot(c):
        c["linux"]["devices"] = [{"path": "/dev/../etc/evil", "type": "c", "major": 1, "minor": 3}]

    def cgroups(c):
        c["linux"]["cgroupsPath"] = "../../escape"

    def mount_escape(c):
        c["mounts"].append({"destination": "/../../../tmp/escape", "type": "tmpfs", "source": "tmpfs"})

    def mount_relative_escape(c):
        c["mounts"].append({"destination": "../escape", "type": "tmpfs", "source": "tmpfs"})

    def no_rootfs(c):
        c["root"]["path"] = "no-such-rootfs"

    def rootfs_is_file(c):
        c["root"]["path"] = "config.json"

    return {"user_maps": (user_maps, "linux.uidMappings", "user namespace"),
            "cap": (cap, "process.capabilities.bounding[3]", "CAP_TIME_TRAVEL"),
            "rlimit": (rlimit, "process.rlimits[1].type", "RLIMIT_COFFEE"),
            "device": (device, "linux.devices[0].path", "/etc/evil"),
            "device_dotdot": (device_dotdot, "linux.devices[0].path", "/dev/../etc/evil"),
            "cgroups": (cgroups, "linux.cgroupsPath", ".."),
            "mount_escape": (mount_escape, "mounts[7].destination", "escape"),
            "mount_relative_escape": (mount_relative_escape, "mounts[7].destination", "escape"),
            "no_rootfs": (no_rootfs, "root.path", "no-such-rootfs"),
            "rootfs_is_file": (rootfs_is_file, "root.path", "config.json")}[name]


@pytest.mark.parametrize("name", ["user_maps", "cap", "rlimit", "device", "device_dotdot", "cgroups",
                                  "mount_escape", "mount_relative_escape", "no_rootfs", "rootfs_is_file"])
def test_semantic_error_names_the_json_path(runtime, bundle, audit, tag, name):
    edit, json_path, detail = _semantic(name)
    b = bundle(["true"], edit=edit)
    cid = runtime.new_id()
    r = pyoci(runtime.root, "create", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    assert r.text.startswith(f"config.json: {json_path}:"), r
    assert detail in r.text, r
    assert not audit.settle({cid})


def test_host_sysctl_is_refused_and_untouched(runtime, bundle, audit, tag):
    """A sysctl global to the host (kernel.core_pattern) is refused at create; the value we ask
    for is the current one, so even a regression could not change the host."""
    cur = Path("/proc/sys/kernel/core_pattern").read_text().rstrip("\n")
    b = bundle(["true"], edit=lambda c: c["linux"].update(sysctl={"kernel.core_pattern": cur}))
    cid = runtime.new_id()
    r = pyoci(runtime.root, "create", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    assert "linux.sysctl" in r.text
    assert Path("/proc/sys/kernel/core_pattern").read_text().rstrip("\n") == cur
    assert not audit.settle({cid})


@pytest.mark.parametrize("field", ["maskedPaths", "readonlyPaths"])
def test_unmaskable_path_names_its_entry(runtime, bundle, audit, tag, field):
    """A magic link in maskedPaths/readonlyPaths cannot be resolved safely: the error names the
    entry (found by the fuzzer, which used to get "masking or read-only paths: too many levels")."""
    b = bundle(["true"], edit=lambda c: c["linux"][field].append("/proc/self/root"))
    cid = runtime.new_id()
    r = pyoci(runtime.root, "run", "--bundle", str(b), cid, tag=tag)
    assert_one_line_error(r)
    n = len(_base()["linux"][field])
    assert r.text.startswith(f"linux.{field}[{n}]: /proc/self/root:"), r
    assert not audit.settle({cid})


@pytest.mark.parametrize("value", ["\ud800", "\x85", "\u2028", "a\rb", "\x1b[31mred"])
def test_odd_characters_in_an_error_message(runtime, bundle, audit, tag, value):
    """Error messages quote config values: a lone surrogate used to crash the logger with a
    traceback (found by the fuzzer); other odd characters must not break the one line either."""
    b = bundle(["true"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["root"]["path"] = value
    (b / "config.json").write_text(json.dumps(cfg))
    cid = runtime.new_id()
    for extra in ((), ("--log-format", "json", "--log", str(runtime.tmp / "log.json"))):
        r = pyoci(runtime.root, *extra, "create", "--bundle", str(b), cid, tag=tag)
        assert_one_line_error(r)
        assert r.text.startswith("config.json: root.path:"), r
    last = (runtime.tmp / "log.json").read_bytes().rstrip(b"\n").split(b"\n")[-1]
    assert json.loads(last)["msg"].startswith("config.json: root.path:")
    assert not audit.settle({cid})
