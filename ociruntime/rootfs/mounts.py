"""config.json `mounts`: option strings -> mount(2) flags and data, and performing one mount.

The table is runc's (libcontainer/specconv). Options the kernel takes as filesystem data
("mode=755", "size=64k", "newinstance") pass through in `data`.
"""

from __future__ import annotations

import os
import stat

from ..errors import ConfigError, SetupError
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
# Handled by mount_one itself rather than as mount(2) flags or data.
EXTENSIONS = ("tmpcopyup", "idmap", "ridmap")


class Plan:
    """What one config mount asks of the kernel."""

    __slots__ = ("flags", "propagation", "data", "rec_set", "rec_clr", "extensions")

    def __init__(self) -> None:
        self.extensions: set[str] = set()
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
        elif o in EXTENSIONS:
            p.extensions.add(o)
        else:
            p.data.append(o)
    return p


def _source_is_dir(source: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(source).st_mode)
    except OSError:
        return True


def mount_one(sc, root_fd: int, m, bundle: str, index: int, idmapped_fd: int | None = None) -> None:
    """Perform config mount `m` (before pivot_root; the destination resolved inside the rootfs).
    idmapped_fd: a detached, already idmapped copy of the source (see idmap.py) to move in place."""
    plan = parse_options(m.options, f"mounts[{index}].options")
    fstype = m.type or ("bind" if plan.is_bind else "")
    if fstype == "bind":
        plan.flags |= C.MS_BIND
    source = bind_source(m, bundle, index) if plan.is_bind else m.source
    if fstype == "cgroup":
        raise AssertionError("cgroup mounts are performed by rootfs.mount_cgroup")
    if fstype in ("proc", "sysfs"):
        _check_ordinary_dir(sc, root_fd, m.destination, fstype, index)
    target_fd = safepath.mount_target(sc, root_fd, m.destination, want_dir=not plan.is_bind or _source_is_dir(source))
    below_fd = -1
    try:
        if fstype != "proc":
            _check_not_procfs(sc, target_fd, m.destination, index)
        target = safepath.fd_path(target_fd)
        data = ",".join(plan.data) or None
        if idmapped_fd is not None:
            # move_mount does not follow /proc/self/fd magic links: name the target by its fd.
            sc.move_mount(idmapped_fd, "", target_fd, "", C.MOVE_MOUNT_F_EMPTY_PATH | C.MOVE_MOUNT_T_EMPTY_PATH)
            target_fd = _reopen(sc, root_fd, m.destination, target_fd)
            extra = plan.flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)
            if extra:
                target = safepath.fd_path(target_fd)
                sc.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | extra | _locked_flags(target), None)
        elif plan.is_bind:
            sc.mount(source, target, None, plan.flags & (C.MS_BIND | C.MS_REC), None)
            # A bind mount ignores other flags: they take effect only through a remount.
            extra = plan.flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)
            if extra:
                target_fd = _reopen(sc, root_fd, m.destination, target_fd)
                target = safepath.fd_path(target_fd)
                sc.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | extra | _locked_flags(target), None)
        else:
            if "tmpcopyup" in plan.extensions and fstype == "tmpfs":
                # Keep a handle on what the tmpfs is about to cover, to copy it up afterwards.
                below_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            _mount_fs(sc, m.source or fstype, target, fstype, plan.flags & ~C.MS_RDONLY if below_fd >= 0 else plan.flags,
                      data, m.destination, root_fd)
            if below_fd >= 0:
                target_fd = _reopen(sc, root_fd, m.destination, target_fd)
                top = os.open(safepath.fd_path(target_fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    copy_tree(below_fd, top)
                finally:
                    os.close(top)
                if plan.flags & C.MS_RDONLY:
                    sc.mount(None, safepath.fd_path(target_fd), None, C.MS_REMOUNT | plan.flags, data)
        if plan.rec_set or plan.rec_clr:
            target_fd = _reopen(sc, root_fd, m.destination, target_fd)
            sc.mount_setattr(target_fd, "", C.AT_EMPTY_PATH | C.AT_RECURSIVE, plan.rec_set, plan.rec_clr)
    finally:
        os.close(target_fd)
        if below_fd >= 0:
            os.close(below_fd)


# runc's checkProcMount allow-list: files lxcfs emulates. Nothing else may be mounted over procfs:
# the runtime and the kernel write there (oom_score_adj, LSM attributes, sysctls), and a bind of a
# host file (or of another procfs file) would redirect those writes (CVE-2025-52881 class).
PROC_ALLOWED = frozenset(("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                          "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                          "/proc/sys/kernel/ns_last_pid"))


def _check_not_procfs(sc, target_fd: int, destination: str, index: int) -> None:
    # Judged on the resolved target, so a symlink in the rootfs pointing into /proc is caught too.
    if sc.fstatfs_type(target_fd) == C.PROC_SUPER_MAGIC and os.path.normpath(destination) not in PROC_ALLOWED:
        raise SetupError(f"mounts[{index}]: {destination!r} cannot be mounted because it is inside /proc")


def _check_ordinary_dir(sc, root_fd: int, destination: str, fstype: str, index: int) -> None:
    """runc: proc and sysfs go on an ordinary directory, never through a symlink (a /proc that is
    a link could later be pointed at fake files by whoever shares the rootfs)."""
    parent, _, name = destination.strip("/").rpartition("/")
    if not name:
        return
    try:
        pfd = safepath.open_in_root(sc, root_fd, parent)
    except FileNotFoundError:
        return
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    finally:
        os.close(pfd)
    if not stat.S_ISDIR(st.st_mode):
        raise SetupError(f"mounts[{index}]: filesystem {fstype!r} must be mounted on ordinary directory "
                         f"({destination} is not one)")


def bind_source(m, bundle: str, index: int) -> str:
    source = m.source
    if not os.path.isabs(source):
        source = os.path.join(bundle, source)  # runc: relative bind sources are bundle-relative
    if not os.path.exists(source):
        raise ConfigError(f"config.json: mounts[{index}].source: {source}: no such file or directory")
    return source


def _reopen(sc, root_fd: int, destination: str, old_fd: int) -> int:
    """An O_PATH fd names the directory it was opened on: after mounting over it, reopen the
    path to reach the new mount."""
    os.close(old_fd)
    return safepath.open_in_root(sc, root_fd, destination)


def copy_tree(src_dir: int, dst_dir: int) -> None:
    """tmpcopyup: copy what the tmpfs covers (files, dirs, symlinks; owners and modes) into it."""
    for entry in os.scandir(src_dir):
        st = entry.stat(follow_symlinks=False)
        name = entry.name
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dst_dir)
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_dir)
            try:
                copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
            d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                        dir_fd=dst_dir)
            try:
                while os.sendfile(d, s, None, 1 << 20):
                    pass
            finally:
                os.close(s)
                os.close(d)
        else:
            continue  # devices, fifos and sockets are not copied up (runc copies only these three)
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst_dir)
    top = os.fstat(src_dir)
    os.fchown(dst_dir, top.st_uid, top.st_gid)
    os.fchmod(dst_dir, stat.S_IMODE(top.st_mode))


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


def apply_propagation(sc, root_fd: int, mounts) -> None:
    """After pivot_root: the propagation options of each mount (pivot_root's clean-up of the old
    root turns the whole tree slave, so setting them earlier would not stick)."""
    for i, m in enumerate(mounts):
        plan = parse_options(m.options, f"mounts[{i}].options")
        if not plan.propagation:
            continue
        fd = safepath.open_in_root(sc, root_fd, m.destination)
        try:
            for prop in plan.propagation:
                sc.mount(None, safepath.fd_path(fd), None, prop, None)
        finally:
            os.close(fd)
