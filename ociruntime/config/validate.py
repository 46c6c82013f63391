"""Rules the JSON schema cannot express, most of them runc's. Each error names the JSON path."""

from __future__ import annotations

import os

from ..errors import ConfigError, Unsupported
from .model import Spec

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


def _err(path: str, msg: str) -> ConfigError:
    return ConfigError(f"config.json: {path}: {msg}")


def _escapes(path: str) -> bool:
    """True if a container path climbs above its root lexically ("../../etc")."""
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _check_process(spec: Spec) -> None:
    from ..capabilities import NUMBERS, last_cap, unknown
    from ..limits import RLIMITS

    p = spec.process
    if p is None:
        raise _err("process", "is required to create a container")
    if not p.args:
        raise _err("process.args", "[] should be non-empty")
    if not p.cwd.startswith("/"):
        raise _err("process.cwd", f"{p.cwd!r} is not an absolute path")
    if p.capabilities is not None:
        for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            names = getattr(p.capabilities, s)
            bad = unknown(names)
            if bad:
                # A name no kernel has is a typo: an error (issue 8), where runc only warns.
                raise _err(f"process.capabilities.{s}[{names.index(bad[0])}]", f"unknown capability {bad[0]!r}")
            for n in names:
                if NUMBERS[n] > last_cap():
                    # config.md: a capability that cannot be granted is a warning, not a failure.
                    from .. import log

                    log.warning(f"process.capabilities.{s}: {n} is not supported by this kernel: ignored")
    seen: set[str] = set()
    for i, r in enumerate(p.rlimits):
        if r.type not in RLIMITS:
            raise _err(f"process.rlimits[{i}].type", f"unknown rlimit {r.type!r}")
        if r.type in seen:
            raise _err(f"process.rlimits[{i}].type", f"duplicate rlimit {r.type!r}")
        if r.soft > r.hard:
            raise _err(f"process.rlimits[{i}]", f"soft limit {r.soft} is greater than hard limit {r.hard}")
        seen.add(r.type)
    for i, e in enumerate(p.env):
        if "=" not in e:
            raise _err(f"process.env[{i}]", f"{e!r} is not of the form KEY=value")


def _check_linux(spec: Spec) -> None:
    lx = spec.linux
    seen: set[str] = set()
    for i, ns in enumerate(lx.namespaces):
        if ns.type in seen:
            raise _err(f"linux.namespaces[{i}].type", f"duplicate namespace {ns.type!r}")
        seen.add(ns.type)
        if ns.path and not os.path.exists(ns.path):
            raise _err(f"linux.namespaces[{i}].path", f"{ns.path}: no such file or directory")
    if "mount" not in seen:
        raise _err("linux.namespaces", "a mount namespace is required (pyoci sets up the rootfs in it)")
    if spec.hostname and "uts" not in seen:
        raise _err("hostname", "unable to set hostname without a private UTS namespace")
    if spec.domainname and "uts" not in seen:
        raise _err("domainname", "unable to set domainname without a private UTS namespace")
    if (lx.uid_mappings or lx.gid_mappings) and "user" not in seen:
        raise _err("linux.uidMappings", "user namespace mappings specified, but a user namespace isn't enabled")
    user = lx.namespace("user")
    if user is not None and not user.path:
        if not lx.uid_mappings:
            raise _err("linux.uidMappings", "user namespaces enabled, but no uid mappings found")
        if not lx.gid_mappings:
            raise _err("linux.gidMappings", "user namespaces enabled, but no gid mappings found")
        for field, maps in (("uidMappings", lx.uid_mappings), ("gidMappings", lx.gid_mappings)):
            if not any(m.container_id == 0 for m in maps):
                raise _err(f"linux.{field}", "no mapping for id 0: the container's root would be unmapped")
    if lx.time_offsets and "time" not in seen:
        raise _err("linux.timeOffsets", "time offsets specified, but a time namespace isn't enabled")
    if lx.cgroups_path and ".." in lx.cgroups_path.replace(":", "/").split("/"):
        raise _err("linux.cgroupsPath", f"{lx.cgroups_path!r} must not contain '..'")
    for i, d in enumerate(lx.devices):
        if not d.path.startswith("/dev/") or _escapes(d.path[5:]):
            raise _err(f"linux.devices[{i}].path", f"{d.path!r} is not a path under /dev")
    for field, paths in (("maskedPaths", lx.masked_paths), ("readonlyPaths", lx.readonly_paths)):
        for i, path in enumerate(paths):
            if not path.startswith("/"):
                raise _err(f"linux.{field}[{i}]", f"{path!r} is not an absolute path")


def _check_mounts(spec: Spec) -> None:
    for i, m in enumerate(spec.mounts):
        if _escapes(m.destination):
            raise _err(f"mounts[{i}].destination", f"{m.destination!r} escapes the container's root")
        if not m.destination:
            raise _err(f"mounts[{i}].destination", "must not be empty")


def _check_procattrs(spec: Spec) -> None:
    # LSM labels, scheduler, ioPriority, execCPUAffinity, sysctl, memoryPolicy, personality,
    # intelRdt, netDevices: the rules live next to the code that applies them.
    from .. import network, procattrs

    procattrs.check(spec, _err)
    network.check(spec, _err)


# Fields of config.json pyoci does not apply yet. Saying so at create is the contract:
# a container must never silently run without something its config asked for.
_UNSUPPORTED = (
)


def _check_annotations(spec: Spec) -> None:
    for key in spec.annotations or {}:
        if not key:
            raise _err("annotations", "keys must not be empty")


def check(spec: Spec) -> None:
    if not spec.root.path:
        raise _err("root.path", "is required")
    if not os.path.isdir(spec.root.path):
        raise _err("root.path", f"{spec.root.path}: no such directory")
    _check_process(spec)
    _check_linux(spec)
    _check_mounts(spec)
    _check_annotations(spec)
    _check_procattrs(spec)
    for field, used in _UNSUPPORTED:
        if used(spec):
            raise Unsupported(f"config.json: {field}: not supported by pyoci yet")
