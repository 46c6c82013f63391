"""Cgroups: the one interface the lifecycle uses, for v1, v2 and hybrid hosts.

    for_container(id, cgroupsPath, resources, systemd=False, root="/sys/fs/cgroup") -> Manager
        resolve the layout (detected at run time) and the container's directories; creates nothing
    reopen(desc) -> Manager            from the JSON-able dict Manager.describe() returned
    is_frozen(desc) -> bool            one small file read: `state` uses it to say "paused"
    container_mounts(desc, cgroupns)   how to fill a config.json mount of type "cgroup"

    Manager.create()                   mkdir + resources (+ devices); on failure removes what it made
           .add(pid)                   join every hierarchy (hybrid: the v1 ones and unified)
           .apply(resources)           `update` (devices excepted)
           .freeze() .thaw() .is_frozen()
           .pids() -> [host pids]      .kill(sig)      .stats() -> runc's stats JSON
           .destroy()                  rmdir the container's leaf cgroups, waiting briefly
           .describe() -> dict         kept in state.json

Modules: paths (layout, cgroupsPath), resources (pure plans), devices (rules, eBPF program),
bpf (bpf(2) via ctypes), manager (the executor), stats (events). This module is imported on
the hot path (state, kill, delete): it imports only os.
"""

from __future__ import annotations

import os


def is_frozen(desc: dict) -> bool:
    """Paused? desc["freeze"] is the file deciding it: v1 freezer.state or v2 cgroup.freeze."""
    f = desc.get("freeze")
    if not f:
        return False
    try:
        with open(f, "rb") as fh:
            v = fh.read(16)
    except OSError:
        return False
    if f.endswith("freezer.state"):
        return v.startswith((b"FROZEN", b"FREEZING"))
    return v.startswith(b"1")


def for_container(container_id: str, cgroups_path: str | None, resources: dict | None,
                  systemd: bool = False, root: str = "/sys/fs/cgroup", _proc_cgroup: str = "/proc/self/cgroup"):
    from . import paths
    from .manager import Manager

    d = paths.resolve(container_id, cgroups_path, systemd, root, _proc_cgroup)
    d["id"] = container_id
    uctl: list[str] = []
    if d["umount"]:
        try:
            with open(os.path.join(d["umount"], "cgroup.controllers")) as f:
                uctl = f.read().split()
        except OSError:
            pass
    d["uctl"] = uctl
    # The file that says "paused": the v1 freezer when there is one, else cgroup2's cgroup.freeze.
    fz = None
    for name, opts in d["v1opts"].items():
        if "freezer" in opts.split(","):
            fz = os.path.join(d["v1"][name], "freezer.state")
    if fz is None and d["unified"]:
        fz = os.path.join(d["unified"], "cgroup.freeze")
    d["freeze"] = fz
    return Manager(d, dict(resources or {}), owned=False)


def reopen(desc: dict):
    from .manager import Manager

    return Manager(desc)


def container_mounts(desc: dict, cgroupns: bool) -> list[dict]:
    """The steps that populate a `cgroup` mount (usually /sys/fs/cgroup) in the container.

    Each step is a dict; `target` and `link` are relative to the mount's destination ("" is
    the destination itself), and are to be run in order in the container's mount namespace:
      {"op": "mount", "fstype": F, "source": S, "options": DATA, "target": T}
            mount(S, T, F, nosuid|nodev|noexec [+ the config mount's flags], DATA)
      {"op": "bind", "source": HOSTPATH, "target": T}    recursive bind of a host directory
      {"op": "symlink", "target": NAME, "link": L}       symlink(NAME, L): "cpu" -> "cpu,cpuacct"
    The executor adds the config mount's ro/nosuid/... and remounts the tmpfs read-only at the
    end when the mount is "ro" (runc does the same).

    As runc's mountCgroupV1/V2 (libcontainer/rootfs_linux.go):
      v1, hybrid  a tmpfs (mode=755), then one entry per hierarchy named like on the host: with
                  a cgroup namespace a fresh `cgroup` mount of that hierarchy (its root is then the
                  container's cgroup), without one a bind of the container's own directory; a
                  symlink per controller of a co-mounted hierarchy. Hybrid also gets "unified"
                  (runc leaves it out; systemd in a container wants it, as lxc and nspawn provide).
      v2          with a cgroup namespace a fresh cgroup2 mount; without one a bind of the
                  container's cgroup directory (runc mounts cgroup2 anyway, which shows the
                  host's whole tree: a bind shows only the container's own).
    """
    if not desc:
        return []
    if desc.get("mode") == "v2":
        if cgroupns:
            return [{"op": "mount", "fstype": "cgroup2", "source": "cgroup2", "options": "", "target": ""}]
        return [{"op": "bind", "source": desc["unified"], "target": ""}]
    steps: list[dict] = [{"op": "mount", "fstype": "tmpfs", "source": "tmpfs", "options": "mode=755", "target": ""}]
    links: list[dict] = []
    for name, path in sorted((desc.get("v1") or {}).items()):
        opts = (desc.get("v1opts") or {}).get(name, name)
        if cgroupns:
            steps.append({"op": "mount", "fstype": "cgroup", "source": "cgroup", "options": opts, "target": name})
        else:
            steps.append({"op": "bind", "source": path, "target": name})
        if "," in name:
            links += [{"op": "symlink", "target": name, "link": c} for c in name.split(",")]
    if desc.get("unified"):
        if cgroupns:
            steps.append({"op": "mount", "fstype": "cgroup2", "source": "cgroup2", "options": "", "target": "unified"})
        else:
            steps.append({"op": "bind", "source": desc["unified"], "target": "unified"})
    return steps + links


def __getattr__(name: str):
    if name == "Manager":
        from .manager import Manager

        return Manager
    raise AttributeError(name)
