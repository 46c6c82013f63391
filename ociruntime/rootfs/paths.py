"""maskedPaths, readonlyPaths and a read-only root, applied after pivot_root.

Masks are bound from the container's own /dev/null, opened O_NOFOLLOW and checked to be the
1:3 character device first: if it were a symlink planted by the image or a racing container,
the bind would expose whatever it points to (CVE-2025-31133 class).
"""

from __future__ import annotations

import os
import stat

from ..errors import SetupError
from ..syscalls import consts as C
from . import safepath


def _open(sc, root_fd: int, path: str) -> int | None:
    try:
        return safepath.open_in_root(sc, root_fd, path)
    except FileNotFoundError:
        return None


def _dev_null() -> int:
    fd = os.open("/dev/null", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise SetupError("/dev/null in the container is not the null device: refusing to mask with it")
    return fd


def mask(sc, root_fd: int, paths: tuple[str, ...]) -> None:
    if not paths:
        return
    null = _dev_null()
    try:
        for i, p in enumerate(paths):
            try:
                _mask_one(sc, root_fd, p, null)
            except OSError as e:
                raise _named("maskedPaths", i, p, e) from None
    finally:
        os.close(null)


def _named(field: str, i: int, path: str, e: OSError) -> SetupError:
    # e.g. a magic link (/proc/self/root) that openat2 refuses to follow: say which entry.
    return SetupError(f"linux.{field}[{i}]: {path}: {os.strerror(e.errno).lower() if e.errno else e}")


def _mask_one(sc, root_fd: int, p: str, null: int) -> None:
    fd = _open(sc, root_fd, p)
    if fd is None:
        return
    try:
        target = safepath.fd_path(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            sc.mount("tmpfs", target, "tmpfs", C.MS_RDONLY, None)
        else:
            sc.mount(safepath.fd_path(null), target, None, C.MS_BIND, None)
    finally:
        os.close(fd)


def readonly(sc, root_fd: int, paths: tuple[str, ...]) -> None:
    for i, p in enumerate(paths):
        try:
            _readonly_one(sc, root_fd, p)
        except OSError as e:
            raise _named("readonlyPaths", i, p, e) from None


def _readonly_one(sc, root_fd: int, p: str) -> None:
    fd = _open(sc, root_fd, p)
    if fd is None:
        return
    try:
        sc.mount(safepath.fd_path(fd), safepath.fd_path(fd), None, C.MS_BIND | C.MS_REC, None)
    finally:
        os.close(fd)
    fd = _open(sc, root_fd, p)
    if fd is None:
        return
    try:
        flags = _kept(safepath.fd_path(fd))
        sc.mount(None, safepath.fd_path(fd), None,
                 C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | C.MS_REC | flags, None)
    finally:
        os.close(fd)


def readonly_root(sc) -> None:
    sc.mount(None, "/", None, C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | _kept("/"), None)


def _kept(path: str) -> int:
    f = os.statvfs(path).f_flag
    return ((C.MS_NOSUID if f & 2 else 0) | (C.MS_NODEV if f & 4 else 0) | (C.MS_NOEXEC if f & 8 else 0))
