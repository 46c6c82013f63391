"""Switching the container's root: pivot_root(".", ".") as runc does, or MS_MOVE + chroot for --no-pivot."""

from __future__ import annotations

import os

from ..syscalls import consts as C


def pivot(sc, rootfs: str) -> None:
    os.chdir(rootfs)
    # Stacking the old root on top of the new one avoids needing a writable directory for it
    # in the (possibly read-only) rootfs.
    sc.pivot_root(".", ".")
    # Make the old root a slave first, so that detaching it cannot propagate an unmount
    # back to the host's mounts.
    sc.mount(None, ".", None, C.MS_SLAVE | C.MS_REC, None)
    sc.umount2(".", C.MNT_DETACH)
    os.chdir("/")


def move_and_chroot(sc, rootfs: str) -> None:
    os.chdir(rootfs)
    sc.mount(rootfs, "/", None, C.MS_MOVE, None)
    os.chroot(".")
    os.chdir("/")
