"""The conformance suite (conformance/) against pyoci, and proof that its cases can fail.

`test_pyoci_conformance` runs `python3 -m conformance --runtime pyoci` and fails if any MUST case
fails. `test_case_detects` runs single cases against runc wrapped by a "liar" that breaks one
thing (drops a config field, changes a signal, lies in `state`): each case that passes against
plain runc must fail against the liar, or it is a case that cannot fail.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNC = shutil.which("runc")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs real containers")


def suite(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def failures(tap: str) -> list[str]:
    """The `not ok` lines of a TAP run, each with its first diagnostic."""
    out, lines = [], tap.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("not ok"):
            diag = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("#") else ""
            out.append(f"{line}  {diag}")
    return out


@needs_root
def test_pyoci_conformance():
    p = suite("--runtime", "pyoci")
    must = [f for f in failures(p.stdout) if "[MUST]" in f]
    assert p.returncode == 0 and not must, "MUST cases failing:\n" + "\n".join(must) + "\n" + p.stderr[-2000:]


def test_cases_are_well_formed():
    """Every case names a spec file, a section, a level and quotes a requirement."""
    p = suite("--list")
    assert p.returncode == 0, p.stderr
    names = [ln for ln in p.stdout.splitlines() if not ln.startswith("\t")]
    quotes = [ln for ln in p.stdout.splitlines() if ln.startswith("\t")]
    assert len(names) >= 100 and len(names) == len(quotes)
    for n, q in zip(names, quotes):
        assert re.match(r"^[A-Za-z0-9-]+\t(runtime|config|config-linux|runtime-linux)\.md/[^:]+: .+ \[(MUST|SHOULD)\]$", n), n
        assert re.search(r"MUST|SHOULD|REQUIRED|should", q) or "(runtime.md" in q, f"{n}: quote has no requirement: {q}"


# name: (case id, kind, code). Kinds: config (exec'd on the bundle's config `c` at create/run),
# argv (exec'd on `args`), exit0 (the given command always exits 0), state (exec'd on `st`).
MUTATIONS = {
    "no-hostname": ("hostname", "config", 'c.pop("hostname", None)'),
    "short-args": ("process-args", "config", 'c["process"]["args"] = c["process"]["args"][:-1]'),
    "drop-env": ("process-env", "config", 'c["process"]["env"] = [e for e in c["process"]["env"] if not e.startswith("CF_")]'),
    "cwd-root": ("process-cwd", "config", 'c["process"]["cwd"] = "/"'),
    "user-root": ("process-user", "config", 'c["process"]["user"] = {"uid": 0, "gid": 0}'),
    "no-groups": ("process-additional-gids", "config", 'c["process"]["user"].pop("additionalGids", None)'),
    "no-umask": ("process-umask", "config", 'c["process"]["user"].pop("umask", None)'),
    "no-rlimits": ("process-rlimits", "config", 'c["process"].pop("rlimits", None)'),
    "bounding-short": ("caps-bounding", "config", 'c["process"]["capabilities"]["bounding"].pop()'),
    "inheritable-short": ("caps-inheritable", "config", 'c["process"]["capabilities"]["inheritable"].pop()'),
    "no-ambient": ("caps-effective-permitted-ambient", "config", 'c["process"]["capabilities"]["ambient"] = []'),
    "no-nnp": ("process-no-new-privileges", "config", 'c["process"].pop("noNewPrivileges", None)'),
    "no-oom": ("process-oom-score-adj", "config", 'c["process"].pop("oomScoreAdj", None)'),
    "root-rw": ("root-readonly", "config", 'c["root"]["readonly"] = False'),
    "mounts-reversed": ("mounts-order", "config", 'c["mounts"][-2:] = c["mounts"][-1:-3:-1]'),
    "tmpfs-no-flags": ("mounts-tmpfs-options", "config", 'c["mounts"][-1]["options"] = ["size=1m"]'),
    "bind-rw": ("mounts-bind-ro", "config", 'c["mounts"][-1]["options"] = ["bind"]'),
    "no-masked": ("masked-paths", "config", 'c["linux"].pop("maskedPaths", None)'),
    "no-readonly": ("readonly-paths", "config", 'c["linux"].pop("readonlyPaths", None)'),
    "no-uts-ns": ("ns-new-uts", "config", ('c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] '
                                           'if n["type"] != "uts"]; c.pop("hostname", None)')),
    "no-ns-path": ("ns-join-network", "config", '[n.pop("path", None) for n in c["linux"]["namespaces"]]'),
    "other-map": ("user-mappings", "config", 'c["linux"]["uidMappings"][0]["hostID"] = 200000'),
    "no-devices": ("devices-char", "config", 'c["linux"].pop("devices", None)'),
    "deny-only": ("devices-cgroup-allow", "config", 'c["linux"]["resources"]["devices"] = c["linux"]["resources"]["devices"][:1]'),
    "no-sysctl": ("sysctl", "config", 'c["linux"].pop("sysctl", None)'),
    "no-seccomp": ("seccomp-errno", "config", 'c["linux"].pop("seccomp", None)'),
    "no-errnoret": ("seccomp-errnoret", "config", 'c["linux"]["seccomp"]["syscalls"][0].pop("errnoRet")'),
    "cgroup-moved": ("cgroups-path", "config", 'c["linux"]["cgroupsPath"] += "-moved"'),
    "no-memory": ("cgroups-memory", "config", 'c["linux"]["resources"].pop("memory")'),
    "no-pids": ("cgroups-pids", "config", 'c["linux"]["resources"].pop("pids")'),
    "no-cpu": ("cgroups-cpu", "config", 'c["linux"]["resources"].pop("cpu")'),
    "no-createRuntime": ("hooks-create", "config", 'c["hooks"].pop("createRuntime")'),
    "hooks-reversed": ("hooks-listed-order", "config", 'c["hooks"]["createRuntime"].reverse()'),
    "no-annotations": ("state-annotations", "config", 'c.pop("annotations", None)'),
    "wrong-signal": ("kill-running", "argv", 'args[-1] = "USR2" if cmd == "kill" and args[-1] == "USR1" else args[-1]'),
    "delete-forced": ("delete-running", "argv", 'cmd == "delete" and args.insert(args.index("delete") + 1, "--force")'),
    "start-lies": ("start-running", "exit0", "start"),
    "create-lies": ("create-duplicate", "exit0", "create"),
    "state-lies-missing": ("state-unknown", "exit0", "state"),
    "status-wrong": ("state-running", "state", 'st["status"] = {"running": "paused"}.get(st["status"], st["status"])'),
    "id-wrong": ("state-id", "state", 'st["id"] += "x"'),
    "bundle-relative": ("state-bundle", "state", 'st["bundle"] = "relbundle"'),
}

LIAR = '''#!{python}
"""runc, but wrong in one way (CF_MUTATION): for tests/test_conformance.py only."""
import json, os, subprocess, sys
RUNC = {runc!r}
kind, _, code = os.environ.get("CF_MUTATION", "").partition(":")
args = sys.argv[1:]
cmd = next((a for a in args if a in ("create", "run", "start", "state", "kill", "delete")), "")
if kind == "config" and cmd in ("create", "run"):
    path = os.path.join(args[args.index("--bundle") + 1], "config.json")
    with open(path) as f:
        c = json.load(f)
    exec(code, {{"c": c}})
    with open(path, "w") as f:
        json.dump(c, f)
elif kind == "argv":
    exec(code, {{"args": args, "cmd": cmd}})
if kind == "exit0" and cmd == code:
    subprocess.call([RUNC, *args])
    sys.exit(0)
if kind == "state" and cmd == "state":
    p = subprocess.run([RUNC, *args], stdout=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(p.returncode)
    st = json.loads(p.stdout)
    exec(code, {{"st": st}})
    print(json.dumps(st))
    sys.exit(0)
os.execv(RUNC, [RUNC, *args])
'''


@pytest.fixture(scope="module")
def runc_passes() -> set[str]:
    """Ids of the cases plain runc passes (a mutation is only evidence where it would pass)."""
    p = suite("--runtime", "runc")
    names = {ln.split("\t")[1]: ln.split("\t")[0] for ln in suite("--list").stdout.splitlines()
             if not ln.startswith("\t")}
    passed = set()
    for line in p.stdout.splitlines():
        m = re.match(r"^ok \d+ - (.*)$", line)
        if m and "# SKIP" not in line and m.group(1) in names:
            passed.add(names[m.group(1)])
    return passed


@pytest.fixture(scope="module")
def liar(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("liar") / "runc-liar"
    path.write_text(LIAR.format(python=sys.executable, runc=RUNC))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.chmod(path.parent, 0o755)
    return str(path)


@needs_root
@pytest.mark.skipif(RUNC is None, reason="runc is not installed")
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_case_detects(name: str, runc_passes: set[str], liar: str):
    case_id, kind, code = MUTATIONS[name]
    if case_id not in runc_passes:
        pytest.skip(f"{case_id} does not pass against plain runc here, so a mutation proves nothing")
    p = suite("--runtime", liar, "--filter", case_id, env={"CF_MUTATION": f"{kind}:{code}"}, timeout=120)
    assert "1..1" in p.stdout, p.stdout + p.stderr
    assert "not ok 1 " in p.stdout, f"{case_id} still passes against runc mutated by {name!r}:\n{p.stdout}"
