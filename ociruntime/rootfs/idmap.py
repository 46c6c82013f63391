"""Idmapped mounts (mount options idmap/ridmap, per-mount uidMappings/gidMappings).

MOUNT_ATTR_IDMAP needs privilege over the filesystem's user namespace (the host's), which the
container's init lacks once it is in a user namespace. So, as runc does, the runtime builds
each idmapped mount before forking: a detached clone of the source (open_tree), idmapped with
a user namespace that has the wanted mappings, kept as an fd that init moves into place.
The kernel reads the mapping as "on-disk id containerID appears as hostID".
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..syscalls import consts as C


def wanted(m) -> bool:
    return bool(m.uid_mappings or m.gid_mappings or "idmap" in m.options or "ridmap" in m.options)


def _userns_fd(uid_maps, gid_maps) -> int:
    """A user namespace with these mappings, held by an fd; its only process is gone."""
    from ..namespaces import write_id_maps
    from ..syscalls.linux import SYSCALLS as sc

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            sc.unshare(C.CLONE_NEWUSER)
            os.write(w, b"1")
            os.close(w)
            while True:
                import signal

                signal.pause()
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.read(r, 1)
        write_id_maps(pid, uid_maps, gid_maps)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(r)
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def prepare(spec) -> dict[int, int]:
    """In the runtime, before forking: {mount index: fd of a detached idmapped mount}."""
    from ..syscalls.linux import SYSCALLS as sc
    from .mounts import bind_source

    out: dict[int, int] = {}
    try:
        for i, m in enumerate(spec.mounts):
            if not wanted(m):
                continue
            uid_maps, gid_maps = m.uid_mappings, m.gid_mappings
            if not uid_maps and not gid_maps:
                if spec.linux.namespace("user") is None:
                    raise ConfigError(f"config.json: mounts[{i}].options: idmap without mappings needs the "
                                      "container's user namespace mappings (linux.uidMappings)")
                uid_maps, gid_maps = spec.linux.uid_mappings, spec.linux.gid_mappings
            if not uid_maps or not gid_maps:
                raise ConfigError(f"config.json: mounts[{i}]: an idmapped mount needs both uidMappings and gidMappings")
            if m.type not in ("bind", "") and "bind" not in m.options and "rbind" not in m.options:
                raise ConfigError(f"config.json: mounts[{i}].type: only bind mounts can be idmapped")
            recursive = "ridmap" in m.options   # runc: idmap (or bare mappings) maps the top mount only
            source = bind_source(m, spec.bundle, i)
            flags = C.OPEN_TREE_CLONE | C.OPEN_TREE_CLOEXEC | (C.AT_RECURSIVE if "rbind" in m.options else 0)
            tree = sc.open_tree(-100, source, flags)
            try:
                userns = _userns_fd(uid_maps, gid_maps)
                try:
                    sc.mount_setattr(tree, "", C.AT_EMPTY_PATH | (C.AT_RECURSIVE if recursive else 0),
                                     C.MOUNT_ATTR_IDMAP, 0, 0, userns)
                finally:
                    os.close(userns)
            except OSError as e:
                os.close(tree)
                raise ConfigError(f"config.json: mounts[{i}]: cannot idmap {source}: {os.strerror(e.errno).lower()}") from None
            out[i] = tree
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out
