"""/dev in the container: the default devices runc creates, linux.devices, and the /dev links."""

from __future__ import annotations

import os
import stat

from ..syscalls import consts as C
from . import safepath

# (name, major, minor): runc's AllowedDevices that are created as nodes.
DEFAULT = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("tty", 5, 0), ("urandom", 1, 9), ("random", 1, 8))
LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
         ("stderr", "/proc/self/fd/2"))
_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _mknod(dev_fd: int, name: str, kind: int, perm: int, major: int, minor: int,
           uid: int | None, gid: int | None, replace: bool = True) -> None:
    try:
        os.mknod(name, kind | perm, os.makedev(major, minor), dir_fd=dev_fd)
    except FileExistsError:
        st = os.stat(name, dir_fd=dev_fd, follow_symlinks=False)
        same = stat.S_IFMT(st.st_mode) == kind and (kind == stat.S_IFIFO or st.st_rdev == os.makedev(major, minor))
        if not same and not replace:
            # config-linux.md: a file at `path` that does not match the requested device is an error.
            raise FileExistsError(17, "exists and is not the requested device", name)
        # Replace whatever was there (a default node, or a symlink planted by the image).
        os.unlink(name, dir_fd=dev_fd)
        os.mknod(name, kind | perm, os.makedev(major, minor), dir_fd=dev_fd)
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev_fd)
    try:
        os.chmod(safepath.fd_path(fd), perm)   # mknod's mode is filtered by the umask
        if uid is not None or gid is not None:
            os.chown(safepath.fd_path(fd), -1 if uid is None else uid, -1 if gid is None else gid)
    finally:
        os.close(fd)


def _bind_from_host(sc, dev_fd: int, name: str, host_path: str) -> None:
    """In a user namespace mknod is not allowed: bind the host's node instead (as runc does)."""
    try:
        os.unlink(name, dir_fd=dev_fd)
    except FileNotFoundError:
        pass
    fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o000, dir_fd=dev_fd)
    os.close(fd)
    target = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev_fd)
    try:
        sc.mount(host_path, safepath.fd_path(target), None, C.MS_BIND, None)
    finally:
        os.close(target)


def create(sc, root_fd: int, devices, userns: bool = False) -> None:
    """Create the default devices, then linux.devices (which may override them), and the links."""
    dev_fd = safepath.mkdir_all(sc, root_fd, "/dev")
    try:
        dfd = os.open(safepath.fd_path(dev_fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(dev_fd)
    try:
        for name, major, minor in DEFAULT:
            if userns:
                _bind_from_host(sc, dfd, name, "/dev/" + name)
            else:
                _mknod(dfd, name, stat.S_IFCHR, 0o666, major, minor, 0, 0)
        for i, d in enumerate(devices):
            rel = d.path[len("/dev/"):]
            if "/" in rel:
                sub = safepath.mkdir_all(sc, root_fd, "/dev/" + rel.rpartition("/")[0])
                parent = os.open(safepath.fd_path(sub), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                os.close(sub)
            else:
                parent = os.dup(dfd)
            try:
                perm = 0o666 if d.file_mode is None else d.file_mode & 0o7777
                if userns:
                    _bind_from_host(sc, parent, rel.rpartition("/")[2], d.path)
                else:
                    # A default node may be overridden; anything else already there is an error.
                    replace = rel in {n for n, _, _ in DEFAULT}
                    try:
                        _mknod(parent, rel.rpartition("/")[2], _TYPES[d.type], perm, d.major, d.minor, d.uid,
                               d.gid, replace=replace)
                    except FileExistsError:
                        raise FileExistsError(17, f"linux.devices[{i}]: {d.path} exists and is not the requested "
                                                  "device") from None
            finally:
                os.close(parent)
        for name, target in LINKS + (("ptmx", "pts/ptmx"),):
            try:
                os.symlink(target, name, dir_fd=dfd)
            except FileExistsError:
                pass
        if os.path.exists("/proc/kcore"):
            try:
                os.symlink("/proc/kcore", "core", dir_fd=dfd)
            except FileExistsError:
                pass
    finally:
        os.close(dfd)
