"""Bundles for the conformance cases: a busybox rootfs and a small, explicit base config.

The rootfs comes from the project's `bundles.busybox.make_rootfs` when that module exists, and
otherwise from the private fallback below (Debian's busybox-static, no network). The config is
the suite's own: every case starts from `base_config()` and changes only the fields it tests, so
a failure points at that field and not at some default the bundle builder chose.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"
# The base config declares 1.1.0, the newest version every runtime here accepts (crun 1.8.1 rejects
# 1.2.0 and later with "unknown version specified"); `config-ociversion` checks 1.3.0 on its own.
SPEC_VERSION = "1.1.0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_BASE = {
    "ociVersion": SPEC_VERSION,
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["true"],
        "env": ["PATH=" + DEFAULT_PATH, "HOME=/root"],
        "cwd": "/",
        "capabilities": {s: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for s in ("bounding", "effective", "permitted")},
    },
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "conformance",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
    },
}


def base_config(args: list[str] | tuple[str, ...] = ("true",)) -> dict:
    """A fresh copy of the base config running `args` (busybox applets are on PATH)."""
    cfg = copy.deepcopy(_BASE)
    cfg["process"]["args"] = list(args)
    return cfg


_applets: list[str] = []


def _private_make_rootfs(dest: str) -> None:
    """Fallback rootfs: busybox-static, its applet links, /etc/passwd and /etc/group."""
    if not _applets:
        out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout
        _applets.extend(line for line in out.split() if line)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var", "run"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    target = os.path.join(dest, "bin", "busybox")
    shutil.copy2(BUSYBOX, target)
    for path in _applets:
        link = os.path.join(dest, path)
        if path != "bin/busybox" and not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnobody:x:65534:\n")


def make_rootfs(dest: str) -> None:
    """Build a busybox rootfs at `dest`, with the project's builder when it has landed."""
    try:
        from bundles.busybox import make_rootfs as project_make_rootfs  # type: ignore
    except ImportError:
        project_make_rootfs = None
    os.makedirs(dest, exist_ok=True)
    if project_make_rootfs is not None:
        project_make_rootfs(dest)
    else:
        _private_make_rootfs(dest)
    os.chmod(dest, 0o755)  # a user namespace maps root to an unprivileged host uid: it must traverse
