"""The container's root filesystem, in the container's new mount namespace.

prepare()  before pivot_root: propagation, the rootfs bind, config mounts in order, /dev
switch()   pivot_root (or MS_MOVE + chroot with --no-pivot)
finalize() after it: masked and read-only paths, a read-only root, rootfsPropagation
"""

from __future__ import annotations

import os

from ..errors import SetupError
from ..syscalls import consts as C
from . import devices, mounts, paths, pivot, safepath

_ROOT_PROPAGATION = {"private": C.MS_PRIVATE, "rprivate": C.MS_PRIVATE | C.MS_REC,
                     "slave": C.MS_SLAVE, "rslave": C.MS_SLAVE | C.MS_REC,
                     "shared": C.MS_SHARED, "rshared": C.MS_SHARED | C.MS_REC,
                     "unbindable": C.MS_UNBINDABLE, "runbindable": C.MS_UNBINDABLE | C.MS_REC}


def _fail(what: str, e: OSError) -> SetupError:
    reason = e.strerror or (os.strerror(e.errno) if e.errno else str(e))
    return SetupError(f"{what}: {reason[:1].lower()}{reason[1:]}")


def prepare(sc, spec, cgroup_desc: dict | None = None, idmapped: dict | None = None) -> None:
    rootfs = spec.root.path
    # Before anything else: nothing we mount may propagate back to the host (a shared "/"
    # would otherwise leak proc/sys/dev mounts onto it).
    sc.mount(None, "/", None, C.MS_REC | C.MS_PRIVATE, None)
    # pivot_root needs the new root to be a mount point.
    try:
        sc.mount(rootfs, rootfs, None, C.MS_BIND | C.MS_REC, None)
    except PermissionError as e:
        if spec.linux.namespace("user") is None:
            raise
        raise SetupError(f"bind-mounting the rootfs {rootfs}: {os.strerror(e.errno).lower()} (in a user "
                         "namespace every directory on the way must be searchable by the mapped root)") from e
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, m in enumerate(spec.mounts):
            try:
                if m.type == "cgroup":
                    mount_cgroup(sc, root_fd, m, cgroup_desc, spec.linux.namespace("cgroup") is not None)
                else:
                    mounts.mount_one(sc, root_fd, m, spec.bundle, i, (idmapped or {}).get(i))
            except OSError as e:
                raise _fail(f"mounting {m.source or m.type!r} to rootfs at {m.destination!r} (mounts[{i}])", e) from e
        try:
            old = os.umask(0)
            try:
                devices.create(sc, root_fd, spec.linux.devices, userns=spec.linux.namespace("user") is not None)
            finally:
                os.umask(old)
        except OSError as e:
            raise _fail(f"creating devices in {rootfs}/dev", e) from e
    finally:
        os.close(root_fd)


def mount_cgroup(sc, root_fd: int, m, desc: dict | None, cgroupns: bool) -> None:
    """Populate a `cgroup` mount with the steps cgroups.container_mounts() plans."""
    from .. import cgroups

    base_fd = safepath.mount_target(sc, root_fd, m.destination, want_dir=True)
    os.close(base_fd)
    plan = mounts.parse_options(m.options)
    ro = plan.flags & C.MS_RDONLY
    for step in cgroups.container_mounts(desc or {}, cgroupns):
        rel = (m.destination.rstrip("/") + "/" + step.get("target", "")).rstrip("/") or "/"
        op = step["op"]
        if op == "symlink":
            link = m.destination.rstrip("/") + "/" + step["link"]
            parent = safepath.mkdir_all(sc, root_fd, link.rpartition("/")[0])
            try:
                pfd = os.open(safepath.fd_path(parent), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.symlink(step["target"], link.rpartition("/")[2], dir_fd=pfd)
                except FileExistsError:
                    pass
                finally:
                    os.close(pfd)
            finally:
                os.close(parent)
            continue
        fd = safepath.mkdir_all(sc, root_fd, rel)
        try:
            target = safepath.fd_path(fd)
            flags = (plan.flags & (C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC | C.MS_RELATIME))
            if op == "bind":
                sc.mount(step["source"], target, None, C.MS_BIND | C.MS_REC, None)
                # The fd names the directory under the new mount: reopen to reach the mount.
                os.close(fd)
                fd = safepath.open_in_root(sc, root_fd, rel)
                sc.mount(None, safepath.fd_path(fd), None, C.MS_BIND | C.MS_REMOUNT | flags | ro, None)
            else:
                # tmpfs holding the hierarchies stays writable until they are mounted on it.
                fl = flags | (ro if step["fstype"] != "tmpfs" else 0)
                sc.mount(step.get("source", step["fstype"]), target, step["fstype"], fl, step.get("options") or None)
        finally:
            os.close(fd)
    if ro:
        fd = safepath.open_in_root(sc, root_fd, m.destination)
        try:
            sc.mount(None, safepath.fd_path(fd), None,
                     C.MS_BIND | C.MS_REMOUNT | C.MS_RDONLY | (plan.flags & (C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC)), None)
        except OSError:
            pass
        finally:
            os.close(fd)


def switch(sc, spec, no_pivot: bool) -> None:
    try:
        if no_pivot:
            pivot.move_and_chroot(sc, spec.root.path)
        else:
            pivot.pivot(sc, spec.root.path)
    except OSError as e:
        raise _fail("pivot_root" if not no_pivot else "chroot", e) from e


def finalize(sc, spec) -> None:
    root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        prop = spec.linux.rootfs_propagation
        if prop:
            sc.mount(None, "/", None, _ROOT_PROPAGATION[prop], None)
        mounts.apply_propagation(sc, root_fd, spec.mounts)
        paths.readonly(sc, root_fd, spec.linux.readonly_paths)
        paths.mask(sc, root_fd, spec.linux.masked_paths)
    except OSError as e:
        raise _fail("masking or read-only paths", e) from e
    finally:
        os.close(root_fd)
    if spec.root.readonly:
        try:
            paths.readonly_root(sc)
        except OSError as e:
            raise _fail("remounting / read-only", e) from e
