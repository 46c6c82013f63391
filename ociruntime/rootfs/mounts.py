"""config.json `mounts`: option strings -> mount(2) flags and data, and performing one mount.

The table is runc's (libcontainer/specconv). Options the kernel takes as filesystem data
("mode=755", "size=64k", "newinstance") pass through in `data`.
"""

from __future__ import annotations

import os
import stat

from ..errors import ConfigError, Unsupported
from ..syscalls import consts as C
from . import safepath

# option -> (clear?, flag)
FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, C.MS_SYNCHRONOUS), "atime": (True, C.MS_NOATIME), "bind": (False, C.MS_BIND),
    "defaults": (False, 0), "dev": (True, C.MS_NODEV), "diratime": (True, C.MS_NODIRATIME),
    "dirsync": (False, C.MS_DIRSYNC), "exec": (True, C.MS_NOEXEC), "iversion": (False, 1 << 23),
    "lazytime": (False, C.MS_LAZYTIME), "loud": (True, C.MS_SILENT), "mand": (False, C.MS_MANDLOCK),
    "noatime": (False, C.MS_NOATIME), "nodev": (False, C.MS_NODEV), "nodiratime": (False, C.MS_NODIRATIME),
    "noexec": (False, C.MS_NOEXEC), "noiversion": (True, 1 << 23), "nolazytime": (True, C.MS_LAZYTIME),
    "nomand": (True, C.MS_MANDLOCK), "norelatime": (True, C.MS_RELATIME), "nostrictatime": (True, C.MS_STRICTATIME),
    "nosuid": (False, C.MS_NOSUID), "nosymfollow": (False, C.MS_NOSYMFOLLOW), "rbind": (False, C.MS_BIND | C.MS_REC),
    "relatime": (False, C.MS_RELATIME), "remount": (False, C.MS_REMOUNT), "ro": (False, C.MS_RDONLY),
    "rw": (True, C.MS_RDONLY), "silent": (False, C.MS_SILENT), "strictatime": (False, C.MS_STRICTATIME),
    "suid": (True, C.MS_NOSUID), "sync": (False, C.MS_SYNCHRONOUS),
}
PROPAGATION = {
    "private": C.MS_PRIVATE, "rprivate": C.MS_PRIVATE | C.MS_REC, "shared": C.MS_SHARED,
    "rshared": C.MS_SHARED | C.MS_REC, "slave": C.MS_SLAVE, "rslave": C.MS_SLAVE | C.MS_REC,
    "unbindable": C.MS_UNBINDABLE, "runbindable": C.MS_UNBINDABLE | C.MS_REC,
}
# Recursive mount attributes (mount_setattr(2) with AT_RECURSIVE): option -> (set, clear)
RECURSIVE = {
    "rro": (C.MOUNT_ATTR_RDONLY, 0), "rrw": (0, C.MOUNT_ATTR_RDONLY),
    "rnosuid": (C.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, C.MOUNT_ATTR_NOSUID),
    "rnodev": (C.MOUNT_ATTR_NODEV, 0), "rdev": (0, C.MOUNT_ATTR_NODEV),
    "rnoexec": (C.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, C.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (C.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, C.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (C.MOUNT_ATTR_RELATIME, C.MOUNT_ATTR__ATIME), "rnorelatime": (0, C.MOUNT_ATTR__ATIME),
    "rnoatime": (C.MOUNT_ATTR_NOATIME, C.MOUNT_ATTR__ATIME), "ratime": (0, C.MOUNT_ATTR__ATIME),
    "rstrictatime": (C.MOUNT_ATTR_STRICTATIME, C.MOUNT_ATTR__ATIME), "rnostrictatime": (0, C.MOUNT_ATTR__ATIME),
    "rnosymfollow": (C.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, C.MOUNT_ATTR_NOSYMFOLLOW),
}
NOT_YET = ("tmpcopyup", "idmap", "ridmap")


class Plan:
    """What one config mount asks of the kernel."""

    __slots__ = ("flags", "propagation", "data", "rec_set", "rec_clr")

    def __init__(self) -> None:
        self.flags = 0
        self.propagation: list[int] = []
        self.data: list[str] = []
        self.rec_set = 0
        self.rec_clr = 0

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & C.MS_BIND)


def parse_options(options: tuple[str, ...], where: str = "mounts[].options") -> Plan:
    p = Plan()
    for o in options:
        if o in FLAGS:
            clear, flag = FLAGS[o]
            p.flags = p.flags & ~flag if clear else p.flags | flag
        elif o in PROPAGATION:
            p.propagation.append(PROPAGATION[o])
        elif o in RECURSIVE:
            s, c = RECURSIVE[o]
            p.rec_set, p.rec_clr = (p.rec_set | s) & ~c, (p.rec_clr | c) & ~s
        elif o in NOT_YET:
            raise Unsupported(f"config.json: {where}: option {o!r} is not supported by pyoci yet")
        else:
            p.data.append(o)
    return p


def _source_is_dir(source: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(source).st_mode)
    except OSError:
        return True


def mount_one(sc, root_fd: int, m, bundle: str, index: int) -> None:
    """Perform config mount `m` (before pivot_root; the destination resolved inside the rootfs)."""
    plan = parse_options(m.options, f"mounts[{index}].options")
    fstype = m.type or ("bind" if plan.is_bind else "")
    if fstype == "bind":
        plan.flags |= C.MS_BIND
    source = m.source
    if plan.is_bind:
        if not os.path.isabs(source):
            source = os.path.join(bundle, source)  # runc: relative bind sources are bundle-relative
        if not os.path.exists(source):
            raise ConfigError(f"config.json: mounts[{index}].source: {source}: no such file or directory")
    if fstype == "cgroup":
        raise AssertionError("cgroup mounts are performed by rootfs.mount_cgroup")
    target_fd = safepath.mount_target(sc, root_fd, m.destination, want_dir=not plan.is_bind or _source_is_dir(source))
    try:
        target = safepath.fd_path(target_fd)
        data = ",".join(plan.data) or None
        if plan.is_bind:
            sc.mount(source, target, None, plan.flags & (C.MS_BIND | C.MS_REC), None)
            # A bind mount ignores other flags: they take effect only through a remount.
            extra = plan.flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)
            if extra:
                # Reopen: the fd still names the directory *under* the new mount.
                os.close(target_fd)
                target_fd = safepath.open_in_root(sc, root_fd, m.destination)
                target = safepath.fd_path(target_fd)
                sc.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | extra | _locked_flags(target), None)
        else:
            _mount_fs(sc, m.source or fstype, target, fstype, plan.flags, data, m.destination, root_fd)
        if plan.propagation or plan.rec_set or plan.rec_clr:
            os.close(target_fd)
            target_fd = safepath.open_in_root(sc, root_fd, m.destination)
            target = safepath.fd_path(target_fd)
            for prop in plan.propagation:
                sc.mount(None, target, None, prop, None)
            if plan.rec_set or plan.rec_clr:
                sc.mount_setattr(target_fd, "", C.AT_EMPTY_PATH | C.AT_RECURSIVE, plan.rec_set, plan.rec_clr)
    finally:
        os.close(target_fd)


def _mount_fs(sc, source: str, target: str, fstype: str, flags: int, data: str | None,
              destination: str, root_fd: int) -> None:
    try:
        sc.mount(source, target, fstype, flags, data)
    except PermissionError:
        if fstype != "sysfs":
            raise
        # sysfs cannot be mounted when the container shares the host's network namespace
        # (it is owned by another user/net namespace); runc falls back to a bind of /sys.
        sc.mount("/sys", target, None, C.MS_BIND | C.MS_REC, None)
        sc.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | C.MS_REC | (flags & ~C.MS_REMOUNT) | C.MS_RDONLY, None)


def _locked_flags(path: str) -> int:
    """Flags a bind remount must keep or the kernel refuses it (nosuid, nodev... of the source)."""
    st = os.statvfs(path)
    out = 0
    for bit, flag in ((1, C.MS_RDONLY), (2, C.MS_NOSUID), (4, C.MS_NODEV), (8, C.MS_NOEXEC),
                      (1024, C.MS_NOATIME), (2048, C.MS_NODIRATIME), (4096, C.MS_RELATIME)):
        if st.f_flag & bit:
            out |= flag
    # ro is ours to decide, not the source's
    return out & ~C.MS_RDONLY
