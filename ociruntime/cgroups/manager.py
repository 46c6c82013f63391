"""The cgroup manager: one class for v1, v2 and hybrid hosts, driven by the describe() dict.

A manager knows the container's leaf directory in every v1 hierarchy (`v1`: {mount dir name:
path}, with `v1opts` giving each hierarchy's controllers) and/or in the cgroup2 hierarchy
(`unified`). On a hybrid host it uses both, as runc does: processes join every v1 hierarchy
*and* the unified one, each resource group goes to the side that holds its controller (hugetlb
may sit on either), SIGKILL goes through unified's cgroup.kill, pause through the v1 freezer.
Imported by kill/delete/update/pause/ps/events (reopen) and create (for_container): stdlib os only.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import PyociError, SetupError
from . import is_frozen

_SIGKILL = 9


def write_file(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read_file(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode()


def _procs(d: str) -> list[int]:
    """Pids in d's cgroup.procs and in every sub-cgroup (runc GetAllPids walks the tree)."""
    out: list[int] = []
    for top, dirs, files in os.walk(d):
        if "cgroup.procs" in files:
            try:
                out += [int(x) for x in read_file(os.path.join(top, "cgroup.procs")).split()]
            except FileNotFoundError:   # removed under us
                pass
    return out


class Manager:
    __slots__ = ("d", "resources", "writer", "_created", "owned")

    def __init__(self, desc: dict, resources: dict | None = None, writer=None, owned: bool = True) -> None:
        self.d = desc
        # A manager from for_container() owns its cgroups only once create() has checked them:
        # a refused create (the cgroup is another container's) must not let the caller's cleanup
        # kill, thaw or remove what is in there. reopen()ed managers belong to their container.
        self.owned = owned
        self.resources = resources if resources is not None else dict(desc.get("resources") or {})
        # The executor's only way to change a cgroup: a test may pass a recording one.
        self.writer = writer or write_file
        self._created: list[str] = []

    # --- where things are -----------------------------------------------------------------
    def v1_controllers(self) -> dict[str, str]:
        """{controller: leaf dir} over the v1 hierarchies ("cpu" and "cpuacct" may share one)."""
        out: dict[str, str] = {}
        for name, path in (self.d.get("v1") or {}).items():
            for c in (self.d.get("v1opts") or {}).get(name, name).split(","):
                out[c] = path
        return out

    def dirs(self) -> list[str]:
        """Every leaf directory of the container, one per hierarchy."""
        seen = list(dict.fromkeys((self.d.get("v1") or {}).values()))
        if self.d.get("unified"):
            seen.append(self.d["unified"])
        return seen

    def _procs_dir(self) -> str | None:
        if self.d.get("unified"):
            return self.d["unified"]
        ctl = self.v1_controllers()
        for c in ("freezer", "devices", "pids", "memory"):
            if c in ctl:
                return ctl[c]
        return next(iter(ctl.values()), None)

    def describe(self) -> dict:
        d = dict(self.d)
        # Devices are applied once at create (update never changes them, as in runc), so the
        # state file does not need to carry the rule list.
        d["resources"] = {k: v for k, v in (self.resources or {}).items() if k != "devices"}
        return d

    # --- create / destroy -------------------------------------------------------------------
    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.dirs())

    def create(self) -> None:
        if self.exists():
            # runc 1.2 (libcontainer/create.go): an existing cgroup is reused only when empty.
            n = len(self.pids())
            if n:
                raise PyociError(f"container's cgroup is not empty: {n} process(es) found")
            if self.is_frozen():
                raise PyociError("container's cgroup unexpectedly frozen")
        # Plan first: a config error must not leave anything behind, not even a directory.
        steps = self.plan(self.resources, devices=True)
        self.owned = True
        try:
            root = self.d["root"]
            for name, path in (self.d.get("v1") or {}).items():
                self._mkdirs(os.path.join(root, name), path, v2=False)
            if self.d.get("unified"):
                # Pure v2 enables every controller down the path, as runc does. On a hybrid host
                # only those the resources write to on the v2 side: the v1 controllers are the
                # container's, and enabling one on the host's cgroup2 root pins it there (crun
                # then refuses the host, and it can no longer be moved to a v1 mount).
                wanted = None if self.d.get("mode") == "v2" else {
                    step[1][0] for step in steps if step[0] and step[0].startswith(self.d["unified"])}
                self._mkdirs(self.d["umount"], self.d["unified"], v2=True, wanted=wanted)
            cs = self.v1_controllers().get("cpuset")
            if cs:
                self._cpuset_fill(cs)
            self._execute(steps)
        except BaseException as e:
            self._undo()
            if isinstance(e, OSError):
                raise SetupError(f"creating cgroup: {e.filename or ''}: {(e.strerror or str(e)).lower()}") from e
            raise

    def _mkdirs(self, top: str, leaf: str, v2: bool, wanted: set[str] | None = None) -> None:
        rel = os.path.relpath(leaf, top)
        cur = top
        for comp in ([] if rel == "." else rel.split("/")):
            if v2 and (wanted is None or wanted):
                self._enable_controllers(cur, wanted)
            cur = os.path.join(cur, comp)
            try:
                os.mkdir(cur, 0o755)
                self._created.append(cur)
            except FileExistsError:
                pass

    def _enable_controllers(self, d: str, wanted: set[str] | None = None) -> None:
        """Enable for d's children every controller d has (runc fs2 CreateCgroupPath). A cgroup
        holding processes refuses (no internal processes): then the limits themselves fail, clearly."""
        try:
            ctrls = read_file(os.path.join(d, "cgroup.controllers")).split()
            have = set(read_file(os.path.join(d, "cgroup.subtree_control")).split())
        except OSError:
            return
        want = [c for c in ctrls if c not in have and (wanted is None or c in wanted)]
        if not want:
            return
        done = want
        try:
            self.writer(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in want))
        except OSError:
            done = []
            for c in want:
                try:
                    self.writer(os.path.join(d, "cgroup.subtree_control"), "+" + c)
                    done.append(c)
                except OSError:
                    pass
        # Remembered (in state.json) so that destroy() can hand the host back as it found it
        # (a controller left enabled on a hybrid host's cgroup2 root can never move to v1 again).
        self.d.setdefault("enabled", []).extend([d, c] for c in done)

    def _cpuset_fill(self, leaf: str) -> None:
        """A new v1 cpuset cgroup starts with empty cpus/mems and refuses tasks: copy the parent's
        down every level (runc cpuset ensureParent; cgroup.clone_children is usually 0)."""
        top = None
        for name, path in (self.d.get("v1") or {}).items():
            if path == leaf:
                top = os.path.join(self.d["root"], name)
        if top is None:
            return
        cur = top
        rel = os.path.relpath(leaf, top)
        for comp in ([] if rel == "." else rel.split("/")):
            parent, cur = cur, os.path.join(cur, comp)
            for f in ("cpuset.cpus", "cpuset.mems"):
                if not read_file(os.path.join(cur, f)).strip():
                    self.writer(os.path.join(cur, f), read_file(os.path.join(parent, f)).strip())

    def _undo(self) -> None:
        for d in reversed(self._created):
            try:
                os.rmdir(d)
            except OSError:
                pass
        self._created = []

    def destroy(self) -> None:
        """Remove the container's leaf cgroups (and sub-cgroups it made), retrying while its last
        processes leave (runc RemovePaths). Parents, even ones create() made, stay: they may be shared."""
        import time

        if not self.owned:
            return
        left = [p for p in self.dirs() if os.path.isdir(p)]
        delay = 0.01
        deadline = time.monotonic() + 2.0
        while left:
            for p in list(left):
                _rmtree(p)
                if not os.path.isdir(p):
                    left.remove(p)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        for d, c in reversed(self.d.get("enabled") or []):
            try:   # EBUSY while another cgroup below d still uses c: then it stays, rightly
                self.writer(os.path.join(d, "cgroup.subtree_control"), "-" + c)
            except OSError:
                pass
        if left:
            raise SetupError(f"cannot remove cgroup {left[0]}: device or resource busy "
                             f"({len(_procs(left[0]))} process(es) left)")

    # --- processes ----------------------------------------------------------------------------
    def add(self, pid: int) -> None:
        """Move pid into every hierarchy (called in the container's stage-1 child)."""
        for d in self.dirs():
            try:
                self.writer(os.path.join(d, "cgroup.procs"), str(pid))
            except OSError as e:
                raise SetupError(f"joining cgroup {d}: {os.strerror(e.errno).lower()}") from e

    def pids(self) -> list[int]:
        d = self._procs_dir()
        return _procs(d) if d and os.path.isdir(d) else []

    def kill(self, sig: int) -> None:
        if not self.owned:
            return
        frozen = self.is_frozen()
        uni = self.d.get("unified")
        if sig == _SIGKILL and uni and os.path.exists(os.path.join(uni, "cgroup.kill")):
            # cgroup.kill (5.14+) kills every process, forks racing included.
            self.writer(os.path.join(uni, "cgroup.kill"), "1")
            if frozen:
                self.thaw()   # v1-frozen tasks only die once thawed
            return
        # Without cgroup.kill: freeze so nothing forks between listing and signalling (runc).
        can_freeze = bool(self.d.get("freeze"))
        if can_freeze and not frozen:
            try:
                self.freeze()
            except PyociError as e:
                log.warning(f"kill: {e}")
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            # A paused container stays paused (the signal arrives on resume); SIGKILL must land now.
            if can_freeze and (not frozen or sig == _SIGKILL):
                self.thaw()

    # --- freezer ------------------------------------------------------------------------------
    def is_frozen(self) -> bool:
        return is_frozen(self.d)

    def freeze(self) -> None:
        f = self.d.get("freeze")
        if not self.owned:
            return
        if not f:
            raise PyociError("cannot toggle freezer: cgroups not configured for container")
        import time

        if f.endswith("freezer.state"):
            # v1 can sit in FREEZING while tasks keep forking: retry, thawing now and then (runc fs/freezer.go).
            for i in range(1000):
                if i % 50 == 49:
                    self.writer(f, "THAWED")
                    time.sleep(0.01)
                self.writer(f, "FROZEN")
                st = read_file(f).strip()
                if st == "FROZEN":
                    return
                if st != "FREEZING":
                    raise SetupError(f"unexpected freezer state {st} while freezing {f}")
            self.writer(f, "THAWED")
            raise SetupError(f"unable to freeze {os.path.dirname(f)}")
        self.writer(f, "1")
        events = os.path.join(os.path.dirname(f), "cgroup.events")
        for _ in range(100):   # runc waits up to 1 s for "frozen 1"
            for line in read_file(events).splitlines():
                if line == "frozen 1":
                    return
            time.sleep(0.01)
        self.writer(f, "0")
        raise SetupError(f"timeout of 1s reached waiting for {os.path.dirname(f)} to freeze")

    def thaw(self) -> None:
        f = self.d.get("freeze")
        if not self.owned:
            return
        if not f:
            raise PyociError("cannot toggle freezer: cgroups not configured for container")
        self.writer(f, "THAWED" if f.endswith("freezer.state") else "0")

    # --- resources ------------------------------------------------------------------------
    def apply(self, resources: dict) -> None:
        """`update`: write what `resources` sets (devices excepted), merged into what we keep."""
        r = dict(resources or {})
        r.pop("devices", None)
        cpu, old = dict(r.get("cpu") or {}), self.resources.get("cpu") or {}
        # v2's cpu.max holds quota *and* period: keep the other one (runc update does the same).
        if cpu.get("quota") and not cpu.get("period") and old.get("period"):
            cpu["period"] = old["period"]
        elif cpu.get("period") and not cpu.get("quota") and old.get("quota"):
            cpu["quota"] = old["quota"]
        if cpu:
            r["cpu"] = cpu
        mem = r.get("memory") or {}
        if mem.get("checkBeforeUpdate") and mem.get("limit", 0) > 0:
            from . import apply

            apply.check_memory(self, int(mem["limit"]))
        self._apply(r, devices=False)
        merged = dict(self.resources)
        for k, v in r.items():
            merged[k] = {**merged[k], **v} if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
        self.resources = merged

    def plan(self, r: dict | None, devices: bool) -> list[tuple[str | None, tuple]]:
        from . import apply

        return apply.route(self, r, devices)

    def _apply(self, r: dict | None, devices: bool) -> None:
        self._execute(self.plan(r, devices))

    def _execute(self, steps: list[tuple[str | None, tuple]]) -> None:
        from . import apply

        apply.execute(self, steps)

    def stats(self) -> dict:
        from . import stats

        return stats.collect(self)


def _rmtree(p: str) -> None:
    try:
        os.rmdir(p)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    try:
        subs = [e.path for e in os.scandir(p) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for s in subs:
        _rmtree(s)
    try:
        os.rmdir(p)
    except OSError:
        pass
