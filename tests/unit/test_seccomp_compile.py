"""ociruntime.seccomp in the runtime: profile checks, compilation with the real libseccomp,
flags, the cache and `features`. Nothing is loaded into the kernel here (see
tests/integration/test_seccomp_load.py); no root needed."""

from __future__ import annotations

import copy
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ociruntime import log
from ociruntime import seccomp as sc
from ociruntime.errors import ConfigError
from ociruntime.seccomp import names as N

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "seccomp"

pytestmark = pytest.mark.skipif(sc.libseccomp_version() is None, reason="libseccomp.so.2 not installed")


def podman() -> dict:
    return json.loads((DATA / "podman-default.json").read_text())


def allow(**kw) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", **kw}


def insns(f) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("=HBBI", f.bpf, i) for i in range(0, len(f.bpf), 8)]


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "log.json"
    log.configure(str(path), "json")
    yield path
    log.configure(None)


# --- bad profiles: one ConfigError line naming the field -------------------------------------

N1 = {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}
BAD = [
    ([], "linux.seccomp: must be an object"),
    ({}, "linux.seccomp.defaultAction: is required"),
    ({"defaultAction": "SCMP_ACT_FOO"}, "linux.seccomp.defaultAction: unknown action 'SCMP_ACT_FOO'"),
    (allow(defaultErrnoRet=1), "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "linux.seccomp.defaultErrnoRet: must be an integer from 0 to 65535"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}, "linux.seccomp.defaultErrnoRet: must be an integer"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": True}, "linux.seccomp.defaultErrnoRet: must be an integer"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"),
    ({"defaultAction": ["SCMP_ACT_ALLOW"]}, "linux.seccomp.defaultAction: unknown action ['SCMP_ACT_ALLOW']"),
    (allow(listenerPath=0), "linux.seccomp.listenerPath: must be a string"),
    (allow(flags=[["SECCOMP_FILTER_FLAG_LOG"]]), "linux.seccomp.flags[0]: unknown flag"),
    (allow(architectures=[{}]), "linux.seccomp.architectures[0]: architecture {} is unknown"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": {}}]}]),
     "linux.seccomp.syscalls[0].args[0].op: unknown operator {}"),
    (allow(architectures="SCMP_ARCH_X86"), "linux.seccomp.architectures: must be an array"),
    (allow(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]), "linux.seccomp.architectures[1]: architecture 'SCMP_ARCH_VAX' is unknown"),
    (allow(flags=["SECCOMP_FILTER_FLAG_FOO"]), "linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_FOO'"),
    (allow(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY"),
    (allow(listenerMetadata="m"), "linux.seccomp.listenerMetadata: must not be set without listenerPath"),
    (allow(listenerPath=7), "linux.seccomp.listenerPath: must be a string"),
    (allow(syscalls={}), "linux.seccomp.syscalls: must be an array"),
    (allow(syscalls=[N1, "getcwd"]), "linux.seccomp.syscalls[1]: must be an object"),
    (allow(syscalls=[{"action": "SCMP_ACT_ERRNO"}]), "linux.seccomp.syscalls[0].names: must name at least one syscall"),
    (allow(syscalls=[{"names": [], "action": "SCMP_ACT_ERRNO"}]), "linux.seccomp.syscalls[0].names: must name at least one syscall"),
    (allow(syscalls=[N1, {"names": ["mkdir", ""], "action": "SCMP_ACT_ERRNO"}]), "linux.seccomp.syscalls[1].names[1]: must be a syscall name, not ''"),
    (allow(syscalls=[{"names": [83], "action": "SCMP_ACT_ERRNO"}]), "linux.seccomp.syscalls[0].names[0]: must be a syscall name, not 83"),
    (allow(syscalls=[{"names": ["getcwd"]}]), "linux.seccomp.syscalls[0].action: is required"),
    (allow(syscalls=[N1, N1, N1, {"names": ["getcwd"], "action": "SCMP_ACT_DENY"}]), "linux.seccomp.syscalls[3].action: unknown action 'SCMP_ACT_DENY'"),
    (allow(syscalls=[{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 5}]), "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_KILL"),
    (allow(syscalls=[{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": "EPERM"}]), "linux.seccomp.syscalls[0].errnoRet: must be an integer"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": {}}]), "linux.seccomp.syscalls[0].args: must be an array"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1}]}]), "linux.seccomp.syscalls[0].args[0]: op is required"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]),
     "linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_FOO'"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]),
     "linux.seccomp.syscalls[0].args[0].value: must be an integer from 0 to 18446744073709551615"),
    (allow(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "valueTwo": 1 << 64, "op": "SCMP_CMP_MASKED_EQ"}]}]),
     "linux.seccomp.syscalls[0].args[0].valueTwo: must be an integer"),
    (allow(syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]), "linux.seccomp.listenerPath: is required when a rule uses SCMP_ACT_NOTIFY"),
    (allow(listenerPath="/x", syscalls=[{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]),
     "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for write"),
]


@pytest.mark.parametrize("profile,message", BAD, ids=[m.split(":")[1].strip() + f"-{i}" for i, (_, m) in enumerate(BAD)])
def test_bad_profile_names_the_field(profile, message):
    with pytest.raises(ConfigError) as e:
        sc.prepare(profile)
    text = str(e.value)
    assert text.startswith("config.json: " + message.split(":")[0] + ":"), text
    assert message in text
    assert "\n" not in text


def test_error_wording_is_exact():
    p = allow(syscalls=[N1, N1, N1, {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO",
                                     "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUALS"}]}])
    with pytest.raises(ConfigError, match=r"^config\.json: linux\.seccomp\.syscalls\[3\]\.args\[0\]\.op: "
                                          r"unknown operator 'SCMP_CMP_EQUALS'$"):
        sc.prepare(p)


def test_arch_unknown_to_this_libseccomp():
    from ociruntime.seccomp import libseccomp as S

    missing = [a for a in N.ARCHS if not S.arch_token(N.libseccomp_arch(a))]
    if not missing:
        pytest.skip("this libseccomp knows every architecture of the spec")
    with pytest.raises(ConfigError, match=rf"architectures\[0\]: architecture '{missing[0]}' is not supported "
                                          rf"by libseccomp {sc.libseccomp_version()}"):
        sc.prepare(allow(architectures=[missing[0]]))


# --- what runc does with odd but valid profiles ----------------------------------------------

def test_unknown_syscall_is_a_warning_naming_the_field(log_file):
    p = allow(syscalls=[N1, {"names": ["mkdir", "fooo", "chmod"], "action": "SCMP_ACT_ERRNO"}])
    f = sc.prepare(p)
    records = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert [r["level"] for r in records] == ["warning"]
    assert records[0]["msg"] == ('config.json: linux.seccomp: ignoring syscalls unknown to libseccomp '
                                 f'{sc.libseccomp_version()}: linux.seccomp.syscalls[1].names[1] "fooo"')
    # The known names of the same rule are still filtered: same program as without the typo.
    p["syscalls"][1]["names"].remove("fooo")
    assert sc.prepare(p).bpf == f.bpf


def test_rule_with_the_default_action_is_skipped():
    base = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "syscalls": [{"names": ["getpid", "read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
    same = copy.deepcopy(base)
    same["syscalls"].append({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"})   # ERRNO(EPERM) == default
    assert sc.prepare(same).bpf == sc.prepare(base).bpf
    other = copy.deepcopy(base)
    other["syscalls"].append({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2})
    assert sc.prepare(other).bpf != sc.prepare(base).bpf


def test_errno_ret_is_encoded_and_defaults_to_eperm():
    rets = {k for (_c, _t, _f, k) in insns(sc.prepare(allow(syscalls=[N1]))) if 0x50000 <= k < 0x60000}
    assert rets == {N.SECCOMP_RET_ERRNO | 1}
    f = sc.prepare(allow(syscalls=[{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1234},
                                   {"names": ["mkdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}]))
    ks = {k for (c, _t, _f, k) in insns(f) if c == 0x06}
    assert {N.SECCOMP_RET_ERRNO | 1234, 0x7FF00000 | 7, 0x7FFF0000} <= ks


def test_same_index_twice_becomes_separate_rules_like_runc():
    def arg(i, v):
        return {"index": i, "value": v, "op": "SCMP_CMP_EQ"}

    def prog(args):
        return sc.prepare(allow(syscalls=[{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": args}]))

    # Two indexes: one ANDed rule. The same index twice: runc adds one rule per condition.
    both = prog([arg(0, 1), arg(1, 77)])
    assert prog([arg(1, 77), arg(1, 78)]).bpf == sc.prepare(allow(syscalls=[
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [arg(1, 77)]},
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [arg(1, 78)]}])).bpf
    assert both.bpf != prog([arg(0, 1)]).bpf


# --- flags -------------------------------------------------------------------------------------

def test_flags():
    from ociruntime.seccomp.load import kernel_flag_supported

    nr = sc.prepare(allow()).seccomp_nr
    spec_allow = N.FLAG_SPEC_ALLOW if kernel_flag_supported(nr, N.FLAG_SPEC_ALLOW) else 0
    assert sc.prepare(allow()).flags == spec_allow              # runc's default when "flags" is absent
    assert sc.prepare(allow(flags=None)).flags == spec_allow
    assert sc.prepare(allow(flags=[])).flags == 0               # explicitly none
    assert sc.prepare(allow(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"])).flags == 3
    notify = allow(listenerPath="/run/agent.sock", syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])
    f = sc.prepare(dict(notify, flags=[]))
    assert f.flags == N.FLAG_NEW_LISTENER and f.wants_listener and f.listener_path == "/run/agent.sock"
    assert sc.prepare(dict(notify, flags=["SECCOMP_FILTER_FLAG_TSYNC"])).flags == \
        N.FLAG_TSYNC | N.FLAG_NEW_LISTENER | N.FLAG_TSYNC_ESRCH
    assert sc.prepare(dict(notify, flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])).flags == \
        N.FLAG_WAIT_KILLABLE_RECV | N.FLAG_NEW_LISTENER
    assert not sc.prepare(allow()).wants_listener


# --- programs ----------------------------------------------------------------------------------

def test_program_sizes():
    tiny = sc.prepare(allow(flags=[]))
    assert len(tiny.bpf) % 8 == 0 and 2 <= len(tiny.bpf) // 8 <= 8
    assert insns(tiny)[0] == (0x20, 0, 0, 4)                    # libseccomp starts with "A = arch"
    f = sc.prepare(podman())
    n = len(f.bpf) // 8
    assert len(f.bpf) % 8 == 0 and 500 < n <= 4096, n
    assert sc.prepare(podman()).bpf == f.bpf                   # deterministic (the cache relies on it)


def test_enosys_stub_like_runc():
    deny = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}
    prog = insns(sc.prepare(deny))
    # ld arch; jeq x86_64; ld nr; jset x32 bit; jgt <max named: exit_group>; ret ERRNO(ENOSYS)
    assert prog[0] == (0x20, 0, 0, 4) and prog[1][3] == N.AUDIT_ARCH_X86_64
    assert (0x25, prog[4][1], prog[4][2], 231) == prog[4]
    assert prog[5] == (0x06, 0, 0, N.SECCOMP_RET_ERRNO | 38)
    # No stub for permissive defaults, or when the default already is ENOSYS (podman's profile).
    for d in ({"defaultAction": "SCMP_ACT_LOG"}, {"defaultErrnoRet": 38}):
        p = dict(deny, **d)
        assert insns(sc.prepare(p))[1][3] != 38 and len(sc.prepare(p).bpf) < len(sc.prepare(deny).bpf)


def test_filter_is_plain_picklable_data():
    f = sc.prepare(allow(listenerPath="/a", listenerMetadata="m",
                         syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]))
    g = pickle.loads(pickle.dumps(f))
    assert g == f and (g.bpf, g.flags, g.listener_path, g.listener_metadata) == \
        (f.bpf, f.flags, "/a", "m")
    assert isinstance(sc.Filter, type) and isinstance(f, sc.Filter)


# --- cache ---------------------------------------------------------------------------------------

def test_cache_hit_gives_the_same_filter(tmp_path, log_file):
    cache = tmp_path / "cache"
    p = podman()
    p["syscalls"][1]["names"].append("not_a_syscall")
    first = sc.prepare(p, str(cache))
    entries = os.listdir(cache)
    assert len(entries) == 1 and (cache.stat().st_mode & 0o777) == 0o700
    again = sc.prepare(p, str(cache))
    assert again == first == sc.prepare(p)
    # The warning about unknown names is repeated from the cache.
    msgs = [json.loads(x)["msg"] for x in log_file.read_text().splitlines()]
    assert len(msgs) == 3 and len(set(msgs)) == 1 and "not_a_syscall" in msgs[0]
    # A changed profile is another entry.
    p["defaultErrnoRet"] = 1
    assert sc.prepare(p, str(cache)).bpf != first.bpf and len(os.listdir(cache)) == 2


def test_cache_ignores_corrupt_entries_and_untrusted_dirs(tmp_path):
    cache = tmp_path / "cache"
    p = allow(syscalls=[N1])
    good = sc.prepare(p, str(cache))
    (entry,) = cache.iterdir()
    entry.write_bytes(b"pyoci-seccomp-v1\n\n" + b"\x06\x00\x00\x00\x00\x00\xff\x7f")   # "allow all"
    os.chmod(cache, 0o777)
    assert sc.prepare(p, str(cache)) == good       # world-writable: not trusted
    os.chmod(cache, 0o700)
    entry.write_bytes(b"garbage")
    assert sc.prepare(p, str(cache)) == good       # corrupt: rebuilt


# --- features --------------------------------------------------------------------------------

def _validator():
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    spec = REPO / "spec"
    resources = [(f.name, Resource.from_contents(json.loads(f.read_text()), default_specification=DRAFT4))
                 for f in spec.glob("*.json")]
    schema = json.loads((spec / "features-schema.json").read_text())
    return Draft4Validator(schema, registry=Registry().with_resources(resources))


def test_features_validate_against_the_schema():
    feat = sc.features()
    assert feat["enabled"] is True
    assert set(feat["actions"]) >= {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"}
    assert feat["operators"] == sorted(N.OPERATORS)
    assert "SCMP_ARCH_X86_64" in feat["archs"]
    assert feat["knownFlags"] == list(N.FLAGS) and set(feat["supportedFlags"]) <= set(feat["knownFlags"])
    doc = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"seccomp": feat}}
    v = _validator()
    errors = list(v.iter_errors(doc))
    assert not errors, errors
    # The validator is not vacuous.
    bad = copy.deepcopy(doc)
    bad["linux"]["seccomp"]["actions"].append("SCMP_ACT_FOO")
    assert list(v.iter_errors(bad))
    # Every action and arch reported is accepted by prepare().
    for a in feat["actions"]:
        if a != "SCMP_ACT_NOTIFY":
            sc.prepare({"defaultAction": a, "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]})
    for a in feat["archs"]:
        try:
            sc.prepare(allow(architectures=[a], syscalls=[N1]))
        except ConfigError as e:     # libseccomp cannot mix byte orders in one filter
            assert str(e) == (f"config.json: linux.seccomp.architectures[0]: libseccomp cannot add {a} "
                              f"to a filter for {os.uname().machine}: the byte order differs")
            assert a in ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PPC",
                         "SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
                         "SCMP_ARCH_PARISC64", "SCMP_ARCH_M68K", "SCMP_ARCH_SHEB")
    for flag in feat["supportedFlags"]:
        if flag != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
            sc.prepare(allow(flags=[flag]))


def test_import_is_light():
    # --version and features import the package: no ctypes, no libseccomp until a function runs.
    code = ("import sys, time; t = time.perf_counter(); import ociruntime.seccomp; "
            "dt = time.perf_counter() - t; print('ctypes' in sys.modules, dt)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.split()
    assert out[0] == "False"
    assert float(out[1]) < 0.005, out          # measured ~0.3 ms; generous for a loaded machine


def test_flag_the_kernel_lacks_fails_like_runc(monkeypatch):
    # This kernel has every flag; what an older one answers is simulated at the probe.
    from ociruntime.seccomp import compile as C

    monkeypatch.setattr(C, "kernel_flag_supported", lambda nr, bit: bit != N.FLAG_LOG)
    with pytest.raises(ConfigError, match=r"^config\.json: linux\.seccomp\.flags\[1\]: SECCOMP_FILTER_FLAG_LOG "
                                          r"is not supported by this kernel$"):
        sc.prepare(allow(flags=["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]))
    monkeypatch.setattr(C, "kernel_flag_supported", lambda nr, bit: False)
    assert sc.prepare(allow()).flags == 0       # no default SPEC_ALLOW either
