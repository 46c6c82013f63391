"""Resolving container paths inside the rootfs, never outside it.

A rootfs is untrusted: `/dev` in it may be a symlink to `/` of the host (CVE-2021-30465 class).
openat2(RESOLVE_IN_ROOT) makes the kernel resolve every component, symlinks included, as if
the rootfs were `/`. We then act on the opened fd through /proc/self/fd/N, so nothing can swap
a component between our check and our use.
"""

from __future__ import annotations

import os
import stat

from ..syscalls import consts as C

O_PATH = getattr(os, "O_PATH", 0o10000000)


def open_in_root(sc, root_fd: int, path: str, flags: int = O_PATH) -> int:
    return sc.openat2(root_fd, path.lstrip("/") or ".", flags, C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS)


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def mkdir_all(sc, root_fd: int, path: str, mode: int = 0o755, _links: int = 0) -> int:
    """Create `path` (a directory) inside the root and return an O_PATH fd to it.

    Like runc's securejoin.MkdirAll: a dangling symlink on the way is followed, inside the root,
    and its target created there; nothing is ever created outside the rootfs."""
    if _links > 40:
        raise OSError(40, f"too many levels of symbolic links creating {path}", path)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    for n, part in enumerate(parts):
        prefix = "/".join(parts[:n + 1])
        try:
            os.close(open_in_root(sc, root_fd, prefix))
            continue
        except FileNotFoundError:
            pass
        parent = open_in_root(sc, root_fd, "/".join(parts[:n]), os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                target = os.readlink(part, dir_fd=parent)
            except OSError:
                target = None
            if target is not None:
                rest = "/".join(parts[n + 1:])
                base = target if target.startswith("/") else "/".join(parts[:n]) + "/" + target
                return mkdir_all(sc, root_fd, base + "/" + rest, mode, _links + 1)
            try:
                os.mkdir(part, mode, dir_fd=parent)
            except FileExistsError:
                pass
        finally:
            os.close(parent)
    return open_in_root(sc, root_fd, path, O_PATH | os.O_DIRECTORY)


def _reopen_dir(fd: int) -> int:
    # os.mkdir(dir_fd=...) needs a real directory fd, not O_PATH; reopening through the
    # magic link keeps the resolved identity.
    new = os.open(fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    os.dup2(new, fd)
    os.close(new)
    return fd


def create_file(sc, root_fd: int, path: str, mode: int = 0o644) -> int:
    """Create an empty regular file at `path` (parents too) and return an O_PATH fd to it."""
    parent, _, name = path.strip("/").rpartition("/")
    pfd = mkdir_all(sc, root_fd, parent)
    try:
        _reopen_dir(pfd)
        try:
            fd = os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=pfd)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as e:
            # ELOOP: the name is a symlink; opened below through openat2, which keeps it inside.
            if e.errno != 40:
                raise
    finally:
        os.close(pfd)
    return open_in_root(sc, root_fd, path)


def mount_target(sc, root_fd: int, path: str, want_dir: bool) -> int:
    """O_PATH fd of the mount point for `path`, created as a dir or a file when missing."""
    try:
        fd = open_in_root(sc, root_fd, path)
    except FileNotFoundError:
        return mkdir_all(sc, root_fd, path) if want_dir else create_file(sc, root_fd, path)
    st = os.fstat(fd)
    if want_dir and not stat.S_ISDIR(st.st_mode):
        os.close(fd)
        raise NotADirectoryError(20, f"mount destination {path} is not a directory", path)
    return fd
