"""The default config.json: exactly what `runc spec` (runc 1.1.5) writes, with our spec version.

runc builds it in libcontainer/specconv/example.go (Example, then ToRootless for --rootless);
the keys below are in runc's output order so that `pyoci spec` is byte-identical to `runc spec`
apart from "ociVersion". Plain data built fresh on every call (callers mutate it), no imports
beyond `os`: `pyoci spec` and the test bundle builder both use it.
"""

from __future__ import annotations

import os

from . import SPEC_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec(*, rootless: bool = False, args: list[str] | None = None, terminal: bool = True) -> dict:
    """Return a new config dict like `runc spec` (or `runc spec --rootless`) produces.

    `args` replaces process.args (default ["sh"]); `terminal` sets process.terminal.
    """
    spec = {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": 0, "gid": 0},
            "args": list(args) if args is not None else ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            # No "inheritable": runc dropped it from the example in 1.1 (an inheritable set lets
            # file capabilities of an exec'd binary regain what was dropped, CVE-2022-29162).
            "capabilities": {
                "bounding": list(_CAPS),
                "effective": list(_CAPS),
                "permitted": list(_CAPS),
                "ambient": list(_CAPS),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                           {"type": "mount"}],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        _to_rootless(spec)
    return spec


def _to_rootless(spec: dict) -> None:
    """runc's specconv.ToRootless: a user namespace mapping only the caller, no network namespace
    (an unprivileged user cannot configure one), /sys bind-mounted (sysfs cannot be mounted
    without owning the network namespace), no uid=/gid= mount options (unmapped ids), no
    cgroup resources (no delegation assumed)."""
    linux = spec["linux"]
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    del linux["resources"]
    mounts = []
    for m in spec["mounts"]:
        if m["destination"].rstrip("/") == "/sys":
            m = {"destination": "/sys", "type": "none", "source": "/sys",
                 "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
        elif "options" in m:
            m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
        mounts.append(m)
    spec["mounts"] = mounts
    # runc's output order puts the mappings first in "linux".
    spec["linux"] = {"uidMappings": linux.pop("uidMappings"), "gidMappings": linux.pop("gidMappings"),
                     **linux}


def dumps(spec: dict) -> str:
    """Serialise like runc's json.MarshalIndent(spec, "", "\\t"): tab indent, no final newline."""
    import json

    return json.dumps(spec, indent="\t", ensure_ascii=False)
