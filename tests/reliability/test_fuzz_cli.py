"""The command line, fuzzed (hypothesis): no argv crashes pyoci or leaves anything behind.

Every argv ends in exit 0 or in one error line with a non-zero exit: never a traceback or an
"internal error". A refused create/run leaves no state dir; at the end, after `delete --force`
of every id used, nothing is left (state, cgroups, processes).

The vocabulary keeps the fuzzer inside the test's temp dir: --root, --log, --pid-file, bundles
and sockets are all under it (an empty --root would mean /run/pyoci, the machine's real one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.helpers import (
    Audit,
    assert_no_crash,
    assert_one_line_error,
    pyoci,
)

MAX_ARGV = 320

SETTINGS = {"deadline": None, "derandomize": True, "database": None, "print_blob": True,
                "suppress_health_check": list(HealthCheck)}



def _landed(name: str) -> bool:
    """Commands whose handler module exists in this tree (`exec` and `features` are in the command
    table before their modules land: until then they are left out rather than reported)."""
    import importlib.util

    from ociruntime.cli.table import COMMANDS as TABLE

    cmd = TABLE.get(name)
    return cmd is None or importlib.util.find_spec("ociruntime.cli." + cmd.handler.partition(":")[0]) is not None


COMMANDS = [c for c in ["create", "start", "state", "kill", "delete", "run", "exec", "list", "ps", "pause",
                        "resume", "update", "events", "features", "spec", "checkpoint", "restore", "help", "nope",
                        "", "-", "--", "CREATE", "stat"] if _landed(c)]
EXISTING = ["c1", "c2", "c3"]          # made (created / running) by the test before fuzzing
IDS = EXISTING + ["missing", "..", ".", "../c1", "c1/..", "a/b", "/abs", "", " ", "-", "x" * 1025, "x" * 1024,
                  "ü", "a\nb", "a b", "c1 ", "C1", "+", "_", "...", "-c1", "--", "id;rm -rf /", "$(id)"]
SIGNALS = ["KILL", "SIGKILL", "9", "0", "-1", "65", "99999999999", "SIGNOPE", "kill", "sigterm", "", "TERM",
           "SIGRTMIN+3", "RTMIN", "SIGRTMAX-1", "HUP", "-9", "9x", "STOP", "CONT", "USR1"]
INTS = ["0", "1", "-1", "3", "99999999999", "x", "", "1e3", "0x10", " 2"]


def _vocab(tmp: Path) -> dict:
    paths = [str(tmp / "file"), str(tmp / "dir"), str(tmp / "nope" / "deeper"), "relative", "",
             str(tmp / "dir") + "/../file", str(tmp / "fifo")]
    return {
        "globals": [["--debug"], ["--log", str(tmp / "log.txt")], ["--log", str(tmp / "dir")],
                    ["--log", "/dev/stderr"], ["--log-format", "json"], ["--log-format", "text"],
                    ["--log-format", "xml"], ["--log-format", ""], ["--log-format=json"], ["--systemd-cgroup"],
                    ["--rootless", "true"], ["--rootless", "false"], ["--rootless", "maybe"], ["--rootless=auto"],
                    ["--criu", "x"], ["--root", str(tmp / "root2")], ["--root", str(tmp / "file")],
                    ["--root=" + str(tmp / "root2")], ["--version"], ["-v"], ["--help"], ["-h"], ["--nope"],
                    ["-root", str(tmp / "root2")], ["--debug=false"], ["--debug=maybe"]],
        "options": [["--bundle", str(tmp / "btrue")], ["-b", str(tmp / "bsleep")], ["-b" + str(tmp / "btrue")],
                    ["--bundle=" + str(tmp / "btrue")], ["--bundle", str(tmp / "nope")],
                    ["--bundle", str(tmp / "file")], ["--bundle", str(tmp / "btrue") + "/../btrue"],
                    ["--bundle", ""], ["--pid-file", str(tmp / "pid")], ["--pid-file", str(tmp / "dir")],
                    ["--pid-file", str(tmp / "nope" / "pid")], ["--console-socket", str(tmp / "file")],
                    ["--console-socket", str(tmp / "nope")], ["--console-socket", str(tmp / "fifo")],
                    ["--no-pivot"], ["--no-new-keyring"], ["--preserve-fds"], ["--preserve-fds", "99999999999"],
                    ["--preserve-fds=1"], ["--force"], ["-f"], ["--all"],
                    ["-a"], ["--detach"], ["-d"], ["--keep"], ["--format", "json"], ["--format", "yaml"],
                    ["-q"], ["--stats"], ["--interval", "1s"], ["--interval", "bogus"], ["--tty"], ["-t"],
                    ["--cwd", "/"], ["--env", "A=B"], ["--user", "0:0"], ["--process", str(tmp / "file")],
                    ["--"], ["--resources", str(tmp / "file")], ["--memory", "x"], ["--pids-limit", "10"],
                    ["--cpu-share", "-5"], ["--rootless"], ["--nope"], ["-z"], ["--force=maybe"]],
        "values": IDS + SIGNALS + INTS + paths,
    }


@st.composite
def argv(draw, vocab: dict) -> list[str]:
    out: list[str] = []
    for g in draw(st.lists(st.sampled_from(vocab["globals"]), max_size=2)):
        out += g
    out.append(draw(st.sampled_from(COMMANDS) | st.text(max_size=8).filter(_landed)))
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["option", "option", "id", "id", "value", "int", "text"]))
        if kind == "option":
            out += draw(st.sampled_from(vocab["options"]))
        elif kind == "id":
            out.append(draw(st.sampled_from(IDS)))
        elif kind == "int":
            out.append(draw(st.sampled_from(INTS)))
        elif kind == "value":
            out.append(draw(st.sampled_from(vocab["values"])))
        else:
            out.append(draw(st.text(max_size=12)).replace("\0", ""))
    if "events" in out and "--stats" not in out:
        out.append("--stats")      # `events` without --stats streams until killed
    return out


@pytest.fixture
def cli_env(runtime, bundle, tag, audit):
    """Bundles, files and three containers for the fuzzer to poke at; at teardown every id any
    command may have created is force-deleted, and then nothing may be left."""
    from bundles.busybox import make_bundle, shared_rootfs

    tmp = Path(runtime.tmp)
    make_bundle(tmp / "btrue", ["true"], rootfs=shared_rootfs())
    make_bundle(tmp / "bsleep", ["sleep", "30"], rootfs=shared_rootfs())
    (tmp / "file").write_text("not a socket, not a dir\n")
    (tmp / "dir").mkdir()
    os.mkfifo(tmp / "fifo")
    work = tmp / "work"
    work.mkdir()
    for cid in EXISTING:
        runtime.ids.add(cid)
        r = pyoci(runtime.root, "create", "-b", str(tmp / "bsleep"), cid, tag=tag)
        assert r.rc == 0, r
    assert pyoci(runtime.root, "start", "c2", tag=tag).rc == 0
    yield tmp, work
    root2 = tmp / "root2"
    for root in (Path(runtime.root), root2):
        for cid in (os.listdir(root) if root.is_dir() else ()):
            runtime.ids.add(cid)
            assert pyoci(root, "delete", "--force", "--", cid).rc == 0
    assert not Audit(root2, tmp, tag).state_dirs()
    assert not audit.settle(runtime.ids)


def _run_in(cwd: Path, root, args, tag):
    old = os.getcwd()
    os.chdir(cwd)     # `spec` and a default `--bundle .` act on the current directory
    try:
        return pyoci(root, *args, tag=tag, timeout=60)
    finally:
        os.chdir(old)


@settings(max_examples=MAX_ARGV, **SETTINGS)
@given(data=st.data())
def test_fuzzed_argv(runtime, cli_env, tag, figures, data):
    tmp, work = cli_env
    args = data.draw(argv(_vocab(tmp)))
    roots = [Path(runtime.root), tmp / "root2"]
    before = {r: set(os.listdir(r)) if r.is_dir() else set() for r in roots}
    r = _run_in(work, runtime.root, args, tag)
    figures.add("argv")
    assert_no_crash(r)
    if r.rc != 0:
        figures.add("refused")
        if not any(a.startswith("--debug") and a != "--debug=false" for a in args):
            assert_one_line_error(r)
    else:
        figures.add("accepted")
    for root in roots:
        new = (set(os.listdir(root)) if root.is_dir() else set()) - before[root]
        # Only a command that succeeded may have left a container behind (create, run -d, run --keep).
        assert not new or r.rc == 0, f"state dirs {new} appeared in {root} although {r!r} failed"
        runtime.ids.update(new)


def test_huge_preserve_fds_is_refused_at_once(runtime, bundle, audit, tag):
    """--preserve-fds is a count of fds init keeps open one by one: 10**11 used to spin init for
    hours while create waited (found by the fuzzer)."""
    b = bundle(["true"])
    cid = runtime.new_id()
    r = pyoci(runtime.root, "create", "--preserve-fds", "99999999999", "--bundle", str(b), cid, tag=tag, timeout=30)
    assert_one_line_error(r)
    assert "--preserve-fds" in r.text and r.seconds < 5, r
    assert not audit.settle({cid})
