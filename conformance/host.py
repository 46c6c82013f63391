"""Facts about the host the suite runs on: cgroup layout, capability numbers, mountinfo parsing.

The suite only reads these; it never changes the host (see `hybrid_v2_controllers` for the one
set-up step some runtimes need and that the suite reports instead of doing).
"""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"

# capabilities(7) numbers, linux/capability.h order.
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]


def cap_mask(names: list[str]) -> int:
    mask = 0
    for n in names:
        mask |= 1 << CAPS.index(n)
    return mask


def cap_names(mask: int) -> list[str]:
    return [n for i, n in enumerate(CAPS) if mask >> i & 1] + \
        [f"cap_{i}" for i in range(len(CAPS), 64) if mask >> i & 1]


def proc_status(text: str) -> dict[str, str]:
    """Parse /proc/<pid>/status text into {field: value}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


class Mount:
    __slots__ = ("fstype", "mount_id", "optional", "opts", "parent", "root", "source", "super", "target")

    def __init__(self, line: str) -> None:
        pre, _, post = line.partition(" - ")
        f = pre.split()
        self.mount_id, self.parent, self.root, self.target = f[0], f[1], f[3], _unescape(f[4])
        self.opts = set(f[5].split(","))
        self.optional = f[6:]
        p = post.split()
        self.fstype, self.source = p[0], p[1] if len(p) > 1 else ""
        self.super = set(p[2].split(",")) if len(p) > 2 else set()

    def propagation(self) -> set[str]:
        return {o.split(":")[0] for o in self.optional}


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mountinfo(text: str) -> list[Mount]:
    return [Mount(line) for line in text.splitlines() if line.strip()]


def find_mount(mounts: list[Mount], target: str) -> Mount | None:
    """The topmost mount at `target` (the last one listed wins, as in the kernel's view)."""
    found = None
    for m in mounts:
        if m.target == target:
            found = m
    return found


def cgroup_mode() -> str:
    """'unified' (cgroup v2 only), 'hybrid' (v1 controllers + /sys/fs/cgroup/unified) or 'legacy'."""
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return "unified"
    if os.path.exists(os.path.join(CGROUP_ROOT, "unified", "cgroup.controllers")):
        return "hybrid"
    return "legacy"


def hybrid_v2_controllers() -> list[str]:
    """Controllers bound to the v2 hierarchy of a hybrid host (crun refuses to run with any)."""
    if cgroup_mode() != "hybrid":
        return []
    try:
        with open(os.path.join(CGROUP_ROOT, "unified", "cgroup.controllers")) as f:
            return f.read().split()
    except OSError:
        return []


def proc_cgroups(pid: int) -> dict[str, str]:
    """{controller or '' for v2: path} from /proc/<pid>/cgroup."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls.startswith("name="):
                continue
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    return out


def cgroup_file(pid: int, controller: str, v1_name: str, v2_name: str) -> tuple[str, str]:
    """Path of a resource file of `pid`'s cgroup and the name used ('v1'/'v2' decides the value format)."""
    groups = proc_cgroups(pid)
    mode = cgroup_mode()
    if mode != "unified" and controller in groups:
        return os.path.join(CGROUP_ROOT, controller, groups[controller].lstrip("/"), v1_name), "v1"
    base = os.path.join(CGROUP_ROOT, "unified") if mode == "hybrid" else CGROUP_ROOT
    return os.path.join(base, groups.get("", "/").lstrip("/"), v2_name), "v2"


def ns_inode(pid: int | str, ns: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def cgroup_dirs(name: str) -> list[str]:
    """Where a cgroupsPath of `/name` lands in every hierarchy of this host."""
    if cgroup_mode() == "unified":
        return [os.path.join(CGROUP_ROOT, name)]
    return [os.path.join(CGROUP_ROOT, c, name) for c in sorted(os.listdir(CGROUP_ROOT))
            if os.path.isdir(os.path.join(CGROUP_ROOT, c)) and not os.path.islink(os.path.join(CGROUP_ROOT, c))]
