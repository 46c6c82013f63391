"""Where a container's cgroups go: the host's layout (v1, v2 or hybrid) and linux.cgroupsPath.

Used at `create` only. Layout detection looks at the tree under `root` (so a fake tree in a
test directory works the same as /sys/fs/cgroup):
  v2      root/cgroup.controllers exists (root is a cgroup2 mount)
  hybrid  v1 hierarchies root/<name>/ plus a cgroup2 mount at root/unified (this machine)
  v1      v1 hierarchies only
A v1 hierarchy is a directory (or symlink, "cpu" -> "cpu,cpuacct") of root holding
cgroup.procs; its name gives its mount options ("systemd" is the named hierarchy
name=systemd), as runc's mountCgroupV1 assumes too.

cgroupsPath, as runc's specconv + fs/paths.go + fs2/defaultpath.go:
  "/a/b"      absolute: root/<hierarchy>/a/b in every hierarchy
  "a/b"       relative: under the runtime's own cgroup of each hierarchy (/proc/self/cgroup);
              on pure v2 under the *parent* of our own cgroup (it usually has processes, so
              no controllers can be enabled below it: runc does the same)
  absent      "<container id>", relative
  slice:prefix:name with --systemd-cgroup: this host has no systemd, so pyoci maps it onto
              cgroupfs exactly where systemd would put the unit: /<expanded slice>/<prefix>-<name>.scope
              (runc's ExpandSlice; "" slice = system.slice; absent path = system.slice:pyoci:<id>).
Every path is cleaned like runc's CleanPath: ".." cannot climb out of the hierarchy.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

V1, V2, HYBRID = "v1", "v2", "hybrid"


def clean_path(p: str) -> str:
    """runc's utils.CleanPath: normalise; a relative path stays relative but loses leading '..'."""
    if not p:
        return ""
    p = os.path.normpath(p)
    if not p.startswith("/"):
        p = os.path.relpath(os.path.normpath("/" + p), "/")
    return os.path.normpath(p)


def expand_slice(slice_: str) -> str:
    """systemd's slice name -> cgroup path: "a-b.slice" -> "/a.slice/a-b.slice" (runc ExpandSlice)."""
    suffix = ".slice"
    if len(slice_) < len(suffix) or not slice_.endswith(suffix) or "/" in slice_:
        raise ConfigError(f"linux.cgroupsPath: invalid slice name: {slice_}")
    name = slice_[:-len(suffix)]
    if name == "-":
        return "/"
    path, prefix = "", ""
    for comp in name.split("-"):
        if not comp:
            raise ConfigError(f"linux.cgroupsPath: invalid slice name: {slice_}")
        path += "/" + prefix + comp + suffix
        prefix += comp + "-"
    return path


def systemd_path(cgroups_path: str | None, container_id: str) -> str:
    """The cgroupfs path systemd would give `slice:prefix:name` (absolute)."""
    if not cgroups_path:
        parent, prefix, name = "", "pyoci", container_id
    else:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise ConfigError('linux.cgroupsPath: expected cgroupsPath to be of format "slice:prefix:name" '
                              f"for systemd cgroups, got {cgroups_path!r} instead")
        parent, prefix, name = parts
    if not name or "/" in name:
        raise ConfigError(f"linux.cgroupsPath: invalid unit name {name!r}")
    base = expand_slice(parent or "system.slice")
    unit = name if name.endswith(".slice") else (f"{prefix}-{name}.scope" if prefix else f"{name}.scope")
    return os.path.join(base, unit)


def inner_path(container_id: str, cgroups_path: str | None, systemd: bool) -> str:
    """The cgroupsPath as pyoci uses it: absolute ("/x") or relative ("x")."""
    if systemd:
        return systemd_path(cgroups_path, container_id)
    p = clean_path(cgroups_path or "")
    return p or container_id


def _own_cgroups(proc_file: str) -> dict:
    """/proc/self/cgroup as {frozenset(controllers) or "": path}."""
    own: dict = {}
    try:
        with open(proc_file) as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                own[frozenset(ctrls.split(",")) if ctrls else ""] = path
    except FileNotFoundError:
        pass
    return own


def v1_hierarchies(root: str) -> dict[str, str]:
    """{directory name under root: mount options} for each v1 hierarchy, symlinks folded."""
    out: dict[str, str] = {}
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        if name == "unified":
            continue
        full = os.path.join(root, name)
        if os.path.islink(full):
            continue  # "cpu" -> "cpu,cpuacct": the target is listed under its own name
        if os.path.isfile(os.path.join(full, "cgroup.procs")):
            out[name] = "name=systemd" if name == "systemd" else name
    return out


def detect(root: str) -> tuple[str, dict[str, str], str | None]:
    """(mode, v1 hierarchies {dir name: options}, unified mount point or None)."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return V2, {}, root
    v1 = v1_hierarchies(root)
    uni = os.path.join(root, "unified")
    if os.path.exists(os.path.join(uni, "cgroup.controllers")):
        return (HYBRID if v1 else V2), v1, uni
    if not v1:
        raise ConfigError(f"no cgroup hierarchy found under {root}")
    return V1, v1, None


def resolve(container_id: str, cgroups_path: str | None, systemd: bool, root: str,
            proc_cgroup: str = "/proc/self/cgroup") -> dict:
    """The layout and the container's leaf directory in every hierarchy (nothing is created)."""
    mode, v1, uni = detect(root)
    inner = inner_path(container_id, cgroups_path, systemd)
    own = _own_cgroups(proc_cgroup) if not inner.startswith("/") else {}
    paths: dict[str, str] = {}
    for name, opts in v1.items():
        base = os.path.join(root, name)
        if inner.startswith("/"):
            paths[name] = os.path.normpath(base + inner)
        else:
            mine = own.get(frozenset(opts.split(",")), "/")
            paths[name] = os.path.normpath(os.path.join(base + mine, inner))
    unified = None
    if uni is not None:
        if inner.startswith("/"):
            unified = os.path.normpath(uni + inner)
        else:
            mine = own.get("", "/")
            if mode == V2:
                # Our own cgroup most likely holds processes: go one up (runc fs2/defaultpath.go).
                mine = os.path.dirname(mine)
            unified = os.path.normpath(os.path.join(uni + mine, inner))
    return {"mode": mode, "root": root, "path": inner, "v1": paths, "v1opts": dict(v1),
            "unified": unified, "umount": uni}
