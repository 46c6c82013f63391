"""Load: many lifecycles at once on one --root, and commands racing on one id.

- 50 create/start/wait/delete cycles at once (50 threads, one pyoci process per step), while a
  watcher parses every state.json it can find and runs `pyoci list` in a loop: every step
  exits 0, no state file is ever partial, no id is listed twice, and the root ends empty;
- 50 containers held at once: created in parallel, all listed exactly once, started in parallel,
  deleted in parallel;
- the lock: a `kill` and a `delete --force` fired together at one id, parallel creates of one id,
  parallel starts of one container, parallel deletes: only the outcomes the lock allows.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.reliability.helpers import assert_no_crash, assert_one_line_error, pyoci

CYCLES = 50
HELD = 50
RACES = int(os.environ.get("PYOCI_RELIABILITY_RACES", "20"))


class Watcher(threading.Thread):
    """Reads the state root as fast as it can: each state.json must parse and name its dir;
    `pyoci list` must parse and never list an id twice."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.reads = self.lists = 0
        self.seen: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            for name in (os.listdir(self.root) if self.root.is_dir() else ()):
                try:
                    data = (self.root / name / "state.json").read_bytes()
                except (FileNotFoundError, NotADirectoryError):
                    continue
                self.reads += 1
                try:
                    st = json.loads(data)
                    if st["id"] != name:
                        self.errors.append(f"{name}/state.json names {st['id']!r}")
                    self.seen.add(name)
                except ValueError as e:
                    self.errors.append(f"{name}/state.json: {e}: {data[:80]!r}")
            r = pyoci(self.root, "list", "--format", "json")
            self.lists += 1
            if r.rc != 0:
                self.errors.append(f"list: {r!r}")
                continue
            ids = [c["id"] for c in json.loads(r.out or b"[]") or []]
            if len(ids) != len(set(ids)):
                self.errors.append(f"list shows an id twice: {sorted(ids)}")

    def finish(self) -> None:
        self.stop.set()
        self.join(30)


def _cycle(runtime, b: Path, cid: str, tag: str) -> list[str]:
    """create, start, wait for the exit, delete; return what went wrong."""
    bad = []
    r = pyoci(runtime.root, "create", "--bundle", str(b), cid, tag=tag, timeout=120)
    if r.rc != 0:
        return [f"create {cid}: {r!r}"]
    st = pyoci(runtime.root, "state", cid, tag=tag)
    if st.rc != 0 or json.loads(st.out)["status"] != "created" or json.loads(st.out)["id"] != cid:
        bad.append(f"state after create {cid}: {st!r}")
    r = pyoci(runtime.root, "start", cid, tag=tag, timeout=120)
    if r.rc != 0:
        bad.append(f"start {cid}: {r!r}")
    deadline = time.monotonic() + 60
    while True:
        st = pyoci(runtime.root, "state", cid, tag=tag)
        if st.rc == 0 and json.loads(st.out)["status"] == "stopped":
            break
        if time.monotonic() > deadline:
            bad.append(f"{cid} never stopped: {st!r}")
            break
        time.sleep(0.05)
    r = pyoci(runtime.root, "delete", cid, tag=tag, timeout=120)
    if r.rc != 0:
        bad.append(f"delete {cid}: {r!r}")
    r = pyoci(runtime.root, "state", cid, tag=tag)
    if r.rc != 1 or b"container does not exist" not in r.err:
        bad.append(f"state after delete {cid}: {r!r}")
    return bad


def test_parallel_lifecycles_on_one_root(runtime, bundle, audit, tag, figures):
    from bundles.busybox import make_bundle, shared_rootfs

    b = make_bundle(Path(runtime.tmp) / "b", ["sh", "-c", "echo $$ > /dev/null"], rootfs=shared_rootfs())
    ids = [runtime.new_id("ld") for _ in range(CYCLES)]
    watcher = Watcher(Path(runtime.root))
    watcher.start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=CYCLES) as pool:
            results = list(pool.map(lambda cid: _cycle(runtime, b, cid, tag), ids))
    finally:
        watcher.finish()
    figures["cycles"] = CYCLES
    figures["parallel_seconds"] = round(time.monotonic() - t0, 1)
    figures["state_reads"] = watcher.reads
    figures["list_calls"] = watcher.lists
    bad = [e for r in results for e in r]
    assert not bad, bad[:5]
    assert not watcher.errors, watcher.errors[:5]
    assert watcher.reads > 0 and watcher.lists > 0
    figures["ids_seen_by_watcher"] = len(watcher.seen)
    assert not audit.settle(set(ids))


def test_fifty_containers_held_at_once(runtime, bundle, audit, tag, figures):
    from bundles.busybox import make_bundle, shared_rootfs

    b = make_bundle(Path(runtime.tmp) / "b", ["sleep", "300"], rootfs=shared_rootfs())
    ids = [runtime.new_id("hd") for _ in range(HELD)]

    def each(fn):
        with ThreadPoolExecutor(max_workers=HELD) as pool:
            return list(pool.map(fn, ids))

    t0 = time.monotonic()
    rs = each(lambda cid: pyoci(runtime.root, "create", "--bundle", str(b), cid, tag=tag, timeout=120))
    assert all(r.rc == 0 for r in rs), [r for r in rs if r.rc][:3]
    listed = json.loads(pyoci(runtime.root, "list", "--format", "json").out)
    assert sorted(c["id"] for c in listed) == sorted(ids)
    assert {c["status"] for c in listed} == {"created"}
    pids = [c["pid"] for c in listed]
    assert len(set(pids)) == HELD and all(p > 0 for p in pids)
    rs = each(lambda cid: pyoci(runtime.root, "start", cid, tag=tag, timeout=120))
    assert all(r.rc == 0 for r in rs), [r for r in rs if r.rc][:3]
    listed = json.loads(pyoci(runtime.root, "list", "--format", "json").out)
    assert sorted(c["id"] for c in listed) == sorted(ids)
    assert {c["status"] for c in listed} == {"running"}
    rs = each(lambda cid: pyoci(runtime.root, "delete", "--force", cid, tag=tag, timeout=120))
    assert all(r.rc == 0 for r in rs), [r for r in rs if r.rc][:3]
    figures["held"] = HELD
    figures["held_seconds"] = round(time.monotonic() - t0, 1)
    assert pyoci(runtime.root, "list", "-q").out.strip() == b""
    assert not audit.settle(set(ids))


def _together(*calls):
    """Run the calls at the same moment (threads released by one barrier); return their results."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(go, calls))


def test_kill_and_delete_race_on_one_id(runtime, bundle, audit, tag, figures):
    from bundles.busybox import make_bundle, shared_rootfs

    b = make_bundle(Path(runtime.tmp) / "b", ["sh", "-c", "sleep 300 & exec sleep 300"], rootfs=shared_rootfs())
    outcomes: dict[str, int] = {}
    for force in [True] * (RACES - RACES // 4) + [False] * (RACES // 4):
        cid = runtime.new_id("kd")
        assert pyoci(runtime.root, "run", "--detach", "--bundle", str(b), cid, tag=tag).rc == 0
        dargs = ("delete", "--force", cid) if force else ("delete", cid)
        k, d = _together(lambda cid=cid: pyoci(runtime.root, "kill", cid, "KILL", tag=tag),
                         lambda dargs=dargs: pyoci(runtime.root, *dargs, tag=tag))
        for r in (k, d):
            assert_no_crash(r)
            if r.rc != 0:
                assert_one_line_error(r)
        # kill: delivered, or the container is already gone or stopped.
        assert k.rc == 0 or any(s in k.text for s in ("container does not exist", "container not running")), k
        if force:
            assert d.rc == 0, d
        else:
            # delete without --force: the container was still running when it looked, or kill won.
            assert d.rc == 0 or "not stopped" in d.text, d
            if d.rc != 0:
                assert pyoci(runtime.root, "delete", "--force", cid, tag=tag).rc == 0
        key = f"kill={'ok' if k.rc == 0 else k.text.strip()} delete{' --force' if force else ''}=" \
              f"{'ok' if d.rc == 0 else 'refused'}"
        outcomes[key] = outcomes.get(key, 0) + 1
        # Never half-deleted: the directory is gone entirely.
        assert not (Path(runtime.root) / cid).exists()
        assert not audit.settle({cid})
    figures["kill_delete_races"] = RACES
    figures.update({f"outcome: {k}": v for k, v in outcomes.items()})


def test_many_commands_racing_a_delete(runtime, bundle, audit, tag, figures):
    """One delete --force against a crowd of kill/state/start/pause on the same id: a command that
    looked the container up just before the delete removed its directory must still answer
    "container does not exist", never crash on the vanished directory."""
    from bundles.busybox import make_bundle, shared_rootfs

    b = make_bundle(Path(runtime.tmp) / "b", ["sleep", "300"], rootfs=shared_rootfs())
    crowd = [("kill", "ID", "KILL"), ("kill", "--all", "ID", "TERM"), ("state", "ID"), ("start", "ID"),
             ("pause", "ID"), ("kill", "ID", "0")] * 2
    for _ in range(RACES // 2):
        cid = runtime.new_id("cr")
        assert pyoci(runtime.root, "run", "--detach", "--bundle", str(b), cid, tag=tag).rc == 0
        calls = [lambda cid=cid: pyoci(runtime.root, "delete", "--force", cid, tag=tag)]
        calls += [lambda a=a, cid=cid: pyoci(runtime.root, *[cid if x == "ID" else x for x in a], tag=tag)
                  for a in crowd]
        rs = _together(*calls)
        assert rs[0].rc == 0, rs[0]
        for r in rs:
            assert_no_crash(r)
            if r.rc != 0:
                assert_one_line_error(r)
        assert not (Path(runtime.root) / cid).exists()
        assert not audit.settle({cid})
        figures.add("crowd_rounds")


def test_parallel_creates_of_one_id(runtime, bundle, audit, tag, figures):
    from bundles.busybox import make_bundle, shared_rootfs

    b = make_bundle(Path(runtime.tmp) / "b", ["sleep", "300"], rootfs=shared_rootfs())
    for _ in range(5):
        cid = runtime.new_id("cc")
        rs = _together(*[lambda cid=cid: pyoci(runtime.root, "create", "--bundle", str(b), cid, tag=tag)] * 6)
        ok = [r for r in rs if r.rc == 0]
        assert len(ok) == 1, rs
        for r in rs:
            if r.rc != 0:
                assert_one_line_error(r)
                assert "already exists" in r.text, r
        assert runtime.state(cid)["status"] == "created"
        assert len(json.loads(pyoci(runtime.root, "list", "--format", "json").out)) == 1
        rs = _together(*[lambda cid=cid: pyoci(runtime.root, "start", cid, tag=tag)] * 4)
        assert sum(r.rc == 0 for r in rs) == 1, rs
        for r in rs:
            if r.rc != 0:
                assert_one_line_error(r)
        rs = _together(*[lambda cid=cid: pyoci(runtime.root, "delete", "--force", cid, tag=tag)] * 4)
        assert all(r.rc == 0 and not r.err for r in rs), rs
        assert not audit.settle({cid})
        figures.add("same_id_rounds")


def test_state_file_is_never_partial_under_rewrites(runtime, figures):
    """The writer side of atomicity: one process rewrites state.json (through ContainerDir.write,
    the code every command uses) as fast as it can while readers parse it."""
    from ociruntime.state import ContainerDir, State

    d = Path(runtime.root) / "w"
    d.mkdir(parents=True)
    cdir = ContainerDir(str(d), "w")
    stop = threading.Event()
    bad: list[str] = []
    reads = [0]

    def reader():
        while not stop.is_set():
            try:
                data = (d / "state.json").read_bytes()
            except FileNotFoundError:
                continue
            reads[0] += 1
            try:
                json.loads(data)
            except ValueError as e:
                bad.append(f"{e}: {data[:60]!r}")

    ts = [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    try:
        for i in range(3000):
            st = State("w", "/b", "/b/rootfs", "now", annotations={"k": "v" * (i % 700)})
            cdir.write(st)
    finally:
        stop.set()
        for t in ts:
            t.join()
    cdir.remove()
    figures["state_rewrites"] = 3000
    figures["state_rewrite_reads"] = reads[0]
    assert not bad, bad[:3]
    assert reads[0] > 100
