"""Process attributes beyond user and capabilities: LSM exec labels, I/O priority, scheduler, NUMA
memory policy, personality, CPU affinity, and linux.sysctl.

When each is applied (runc's standard_init_linux.go order, and why):
- apply_sysctl(): in init after pivot_root, while init is root with every capability. It writes
  through a private, never-attached clone of the container's /proc mount, so it works whether or
  not `readonlyPaths` has already made /proc/sys read-only (runc writes sysctls just before it
  applies readonlyPaths; this module does not depend on being called there).
- apply_privileged(): in init (and in exec's child) as root with the full capability set, before
  finalize.become_user drops privileges and loads seccomp: the AppArmor/SELinux exec labels,
  ioPriority, scheduler (runc: before finalizeNamespace, since SCHED_FIFO, a negative nice and
  IOPRIO_CLASS_RT need CAP_SYS_NICE/CAP_SYS_ADMIN), memoryPolicy and personality (before seccomp,
  which may filter them), and the CPU affinity.
- apply_before_exec(): right before execve. Runs apply_privileged() if nobody has yet, so the
  attributes are never silently skipped; late, unprivileged settings may then fail with EPERM.

check(spec, err) holds the create-time rules, so a bad value fails `create` with the JSON path
named and nothing started. Import cost: os, errors and the ctypes syscall layer init has anyway.
"""

from __future__ import annotations

import os

from .errors import SetupError, Unsupported
from .syscalls import consts as C
from .syscalls.linux import SYSCALLS as _sc

# --- parsing (pure; tests/unit/test_procattrs.py) ---------------------------------------------

MAX_CPUS = 8192        # NR_CPUS ceiling on x86_64 and arm64
MAX_NUMNODES = 1024    # 1 << CONFIG_NODES_SHIFT at its largest


def parse_list(text: str, limit: int) -> tuple[int, ...]:
    """A kernel cpulist/nodelist ("0-3,7", spaces allowed as the schema does) as sorted numbers.
    Raises ValueError naming the bad part."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo.strip())
            b = int(hi.strip()) if sep else a
        except ValueError:
            raise ValueError(f"{part!r} is not a number or a range like 0-3") from None
        if a > b:
            raise ValueError(f"range {part!r} is backwards")
        if b >= limit:
            raise ValueError(f"{b} is out of range (the kernel allows 0-{limit - 1})")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


def sysctl_path(key: str) -> str:
    """The path under /proc/sys for a sysctl name, as sysctl(8) reads it: dots separate levels
    and a '/' in a dotted name stands for a literal dot ("net.ipv4.conf.eth0/100.rp_filter");
    a name whose first separator is '/' is already a path. Raises ValueError for names that
    would leave /proc/sys."""
    first = min((i for i in (key.find("."), key.find("/")) if i >= 0), default=-1)
    path = key if first >= 0 and key[first] == "/" else key.translate(_SWAP_DOT_SLASH)
    parts = path.split("/")
    if "\0" in key or any(p in ("", ".", "..") for p in parts):
        raise ValueError("is not a valid sysctl name")
    return path


_SWAP_DOT_SLASH = str.maketrans("./", "/.")

# kernel.* sysctls that live in the IPC namespace (ipc/ipc_sysctl.c), as runc's validator lists them.
_IPC_SYSCTLS = frozenset(("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"))


def sysctl_namespace(key: str) -> str | None:
    """Which namespace makes a sysctl private to the container: "ipc", "network", "uts", "user";
    "hostname" for kernel.hostname (it has its own field); None if it is global to the host."""
    dotted = sysctl_path(key).replace("/", ".")   # classification only: "eth0.100" ambiguity is harmless
    if dotted in _IPC_SYSCTLS or dotted.startswith("fs.mqueue."):
        return "ipc"
    if dotted.startswith("net."):
        return "network"
    if dotted == "kernel.domainname":
        return "uts"
    if dotted == "kernel.hostname":
        return "hostname"
    if dotted.startswith("user."):
        return "user"       # user.max_* are per user namespace (kernel/ucount.c)
    return None


def sched_args(s: dict) -> dict:
    """process.scheduler as sched_setattr(2) keyword arguments."""
    flags = 0
    for f in s.get("flags") or ():
        flags |= C.SCHED_FLAGS[f]
    return dict(policy=C.SCHED_POLICIES[s["policy"]], flags=flags, nice=s.get("nice", 0),
                priority=s.get("priority", 0), runtime=s.get("runtime", 0), deadline=s.get("deadline", 0),
                period=s.get("period", 0))


def ioprio_value(io: dict) -> int:
    """process.ioPriority as the ioprio_set(2) value: class << 13 | level."""
    return (C.IOPRIO_CLASSES[io["class"]] << C.IOPRIO_CLASS_SHIFT) | io.get("priority", 0)


def mempolicy_args(mp: dict) -> tuple[int, tuple[int, ...]]:
    """linux.memoryPolicy as (mode | flags, nodes) for set_mempolicy(2)."""
    mode = C.MPOL_MODES[mp["mode"]]
    for f in mp.get("flags") or ():
        mode |= C.MPOL_FLAGS[f]
    return mode, parse_list(mp.get("nodes") or "", MAX_NUMNODES)


# --- create-time checks -----------------------------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def apparmor_enabled() -> bool:
    # runc's apparmor.IsEnabled: securityfs shows the module and the module says it is on.
    return os.path.isdir("/sys/kernel/security/apparmor") and \
        (_read("/sys/module/apparmor/parameters/enabled") or "").startswith("Y")


def selinux_enabled() -> bool:
    # go-selinux GetEnabled: selinuxfs is mounted and our context is not the bare "kernel".
    mountinfo = _read("/proc/self/mountinfo") or ""
    if " - selinuxfs " not in mountinfo:
        return False
    current = (_read("/proc/thread-self/attr/current") or "").rstrip("\0")
    return current not in ("", "kernel")


def resctrl_mounted() -> bool:
    return " - resctrl " in (_read("/proc/self/mountinfo") or "")


def _same_netns(path: str) -> bool:
    a, b = os.stat("/proc/self/ns/net"), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check(spec, err) -> None:
    """Raise err(json_path, message) (a ConfigError) for the first bad value among the fields
    this module applies; Unsupported for what this host or pyoci cannot do."""
    p, lx = spec.process, spec.linux
    ns = {n.type: n for n in lx.namespaces}

    if p.apparmor_profile and not apparmor_enabled():
        # runc and crun both fail here (runc when writing /proc/self/attr/exec): say it at create.
        raise err("process.apparmorProfile",
                  f"AppArmor is not enabled on this host, cannot apply profile {p.apparmor_profile!r}")
    if p.selinux_label and not selinux_enabled():
        raise err("process.selinuxLabel", "selinux label is specified in config, but selinux is disabled "
                  "or not supported")    # runc's validator, word for word
    if lx.mount_label:
        if not selinux_enabled():
            # runc passes context="..." to its mounts and the kernel refuses it (EINVAL).
            raise err("linux.mountLabel", f"SELinux is disabled or not supported, cannot label mounts "
                      f"with {lx.mount_label!r}")
        raise Unsupported("config.json: linux.mountLabel: SELinux mount labels (context= on every mount) "
                          "are not supported by pyoci yet")

    if p.scheduler is not None:
        _check_scheduler(p.scheduler, err)
    if p.io_priority is not None:
        prio = p.io_priority.get("priority", 0)
        if not 0 <= prio <= 7:
            raise err("process.ioPriority.priority", f"{prio} is out of range (0 highest to 7 lowest)")
    if p.exec_cpu_affinity is not None:
        for k in ("initial", "final"):
            try:
                parse_list(p.exec_cpu_affinity.get(k) or "", MAX_CPUS)
            except ValueError as e:
                raise err(f"process.execCPUAffinity.{k}", str(e)) from None

    if lx.sysctl:
        for key in lx.sysctl:
            _check_sysctl(key, ns, err)
    if lx.memory_policy is not None:
        _check_mempolicy(lx.memory_policy, err)
    if lx.personality is not None:
        if "domain" not in lx.personality:
            raise err("linux.personality.domain", "is required (LINUX or LINUX32)")
        if lx.personality.get("flags"):
            # runc logs and ignores them; pyoci never ignores a field.
            raise err("linux.personality.flags", f"{lx.personality['flags']!r}: the runtime-spec defines no "
                      "personality flags")
    if lx.intel_rdt is not None:
        clos = lx.intel_rdt.get("closID", "")
        if clos in (".", "..") or "/" in clos:
            raise err("linux.intelRdt.closID", f"{clos!r} is not a valid resctrl group name")
        if not resctrl_mounted():
            raise err("linux.intelRdt", "Intel RDT is not supported or enabled on this host "
                      "(no resctrl filesystem mounted)")
        raise Unsupported("config.json: linux.intelRdt: not supported by pyoci yet")


def _check_scheduler(s: dict, err) -> None:
    policy = s["policy"]
    if policy == "SCHED_ISO":
        raise err("process.scheduler.policy", "SCHED_ISO is reserved but not implemented by Linux")
    nice, prio = s.get("nice", 0), s.get("priority", 0)
    if not -20 <= nice <= 19:
        raise err("process.scheduler.nice", f"{nice} is out of range (-20 to 19)")
    if policy in ("SCHED_FIFO", "SCHED_RR"):
        if not 1 <= prio <= 99:
            raise err("process.scheduler.priority", f"{policy} needs a priority from 1 to 99, not {prio}")
    elif prio:
        raise err("process.scheduler.priority", "can only be specified for SCHED_FIFO or SCHED_RR")
    rt, dl, period = s.get("runtime", 0), s.get("deadline", 0), s.get("period", 0)
    if policy != "SCHED_DEADLINE":
        if rt or dl or period:
            raise err("process.scheduler", "runtime, deadline and period can only be specified for "
                      "SCHED_DEADLINE")
    else:
        # kernel/sched/deadline.c __checkparam_dl, in nanoseconds.
        if rt < 1024:
            raise err("process.scheduler.runtime", f"{rt} ns is below the kernel's minimum of 1024 ns")
        if not rt <= dl < 1 << 63:
            raise err("process.scheduler.deadline", f"{dl} ns must be at least runtime ({rt} ns)")
        if period and period < dl:
            raise err("process.scheduler.period", f"{period} ns must be at least deadline ({dl} ns)")
        lo = int(_read("/proc/sys/kernel/sched_deadline_period_min_us") or 100) * 1000
        hi = int(_read("/proc/sys/kernel/sched_deadline_period_max_us") or 4194304) * 1000
        if not lo <= (period or dl) <= hi:
            raise err("process.scheduler.period" if period else "process.scheduler.deadline",
                      f"{period or dl} ns is outside the kernel's period limits ({lo} to {hi} ns)")
    for i, f in enumerate(s.get("flags") or ()):
        if f.startswith("SCHED_FLAG_UTIL_CLAMP") and not os.path.exists("/proc/sys/kernel/sched_util_clamp_max"):
            raise err(f"process.scheduler.flags[{i}]", f"{f} needs a kernel built with CONFIG_UCLAMP_TASK")


def _check_sysctl(key: str, ns: dict, err) -> None:
    path = f'linux.sysctl["{key}"]'
    try:
        where = sysctl_namespace(key)
    except ValueError as e:
        raise err(path, str(e)) from None
    if where == "network":
        net = ns.get("network")
        if net is None or (net.path and _same_netns(net.path)):
            raise err(path, "not allowed in the host's network namespace")
    elif where == "hostname":
        if "uts" in ns:
            raise err(path, "conflicts with the OCI \"hostname\" field: set that instead")
        raise err(path, "is not in a separate kernel namespace (it would change the host)")
    elif where is not None and where not in ns:
        raise err(path, f"not allowed without a private {where.upper()} namespace (it would change the host)")
    elif where is None:
        # runc's words: everything else in /proc/sys is global to the host.
        raise err(path, "is not in a separate kernel namespace (it would change the host)")


def _check_mempolicy(mp: dict, err) -> None:
    mode = mp.get("mode")
    if mode is None:
        raise err("linux.memoryPolicy.mode", "is required")
    flags = list(mp.get("flags") or ())
    try:
        nodes = parse_list(mp.get("nodes") or "", MAX_NUMNODES)
    except ValueError as e:
        raise err("linux.memoryPolicy.nodes", str(e)) from None
    static, relative = "MPOL_F_STATIC_NODES" in flags, "MPOL_F_RELATIVE_NODES" in flags
    if static and relative:
        raise err("linux.memoryPolicy.flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES are mutually exclusive")
    if "MPOL_F_NUMA_BALANCING" in flags and mode not in ("MPOL_BIND", "MPOL_PREFERRED_MANY"):
        raise err("linux.memoryPolicy.flags", f"MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY, "
                  f"not {mode}")
    if mode in ("MPOL_DEFAULT", "MPOL_LOCAL"):
        if nodes:
            raise err("linux.memoryPolicy.nodes", f"{mode} takes no nodes")
        if flags:
            raise err("linux.memoryPolicy.flags", f"{mode} takes no flags")
        return
    if not nodes:
        if mode != "MPOL_PREFERRED":
            raise err("linux.memoryPolicy.nodes", f"{mode} needs at least one node")
        if static or relative:
            raise err("linux.memoryPolicy.flags", "MPOL_PREFERRED without nodes (local allocation) takes no "
                      "MPOL_F_STATIC_NODES or MPOL_F_RELATIVE_NODES")
        return
    if not relative:
        # The kernel drops nodes without memory and fails only if none is left (EINVAL at start):
        # catch that here. Relative nodes are remapped onto the allowed ones, so any number works.
        have = _read("/sys/devices/system/node/has_memory") or _read("/sys/devices/system/node/online")
        if have is not None:
            usable = set(parse_list(have, MAX_NUMNODES))
            if not usable.intersection(nodes):
                raise err("linux.memoryPolicy.nodes", f"{mp.get('nodes')!r}: no such NUMA node with memory on "
                          f"this host (nodes with memory: {have})")


# --- applying, in the container --------------------------------------------------------------

_applied = False


def apply_sysctl(sysctl: dict | None) -> None:
    """In init, after pivot_root, as root: write linux.sysctl under the container's /proc/sys.

    The writes go through OPEN_TREE_CLONE of the container's /proc: a private copy of that one
    procfs mount without its submounts, so a read-only /proc/sys bind (readonlyPaths) or a masked
    path on top does not block them, and nothing in the container's mount table changes. Values
    land in the namespaces of the writer (init), which are the container's."""
    if not sysctl:
        return
    try:
        proc_fd = _sc.open_tree(-100, "/proc", C.OPEN_TREE_CLONE | C.OPEN_TREE_CLOEXEC)   # AT_FDCWD
    except OSError:
        # Older kernel, or /proc has locked submounts: the mount itself, as runc does.
        proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _sc.fstatfs_type(proc_fd) != C.PROC_SUPER_MAGIC:
            raise SetupError("linux.sysctl: /proc in the container is not a procfs mount (add a proc mount)")
        for key, value in sysctl.items():
            rel = sysctl_path(key)
            try:
                fd = _sc.openat2(proc_fd, "sys/" + rel, os.O_WRONLY, C.RESOLVE_BENEATH | C.RESOLVE_NO_SYMLINKS
                                 | C.RESOLVE_NO_MAGICLINKS)
                try:
                    os.write(fd, value.encode())
                finally:
                    os.close(fd)
            except OSError as e:
                raise SetupError(f'linux.sysctl["{key}"]: writing {value!r} to /proc/sys/{rel}: '
                                 f"{os.strerror(e.errno).lower()}") from None
    finally:
        os.close(proc_fd)


def apply_privileged(spec, proc, exec_process: bool = False) -> None:
    """As root with every capability, before finalize.become_user and before seccomp: LSM exec
    labels, CPU affinity, ioPriority, scheduler, memoryPolicy, personality. Once per process.

    exec_process: True in `exec`'s child, where execCPUAffinity.final applies (the child has
    joined the container's cgroup by now; `initial` is set_initial_affinity's, before that)."""
    global _applied
    if _applied:
        return
    _applied = True
    _apply_lsm(proc)
    _apply_affinity(spec, proc, exec_process)
    if proc.io_priority is not None:
        try:
            _sc.ioprio_set(C.IOPRIO_WHO_PROCESS, 0, ioprio_value(proc.io_priority))
        except OSError as e:
            raise SetupError(f"process.ioPriority: ioprio_set({proc.io_priority['class']}, "
                             f"{proc.io_priority.get('priority', 0)}): {os.strerror(e.errno).lower()}") from None
    if proc.scheduler is not None:
        _apply_scheduler(proc.scheduler, spec)
    lx = spec.linux
    if lx.memory_policy is not None:
        mode, nodes = mempolicy_args(lx.memory_policy)
        try:
            _sc.set_mempolicy(mode, nodes)
        except OSError as e:
            raise SetupError(f"linux.memoryPolicy: set_mempolicy({lx.memory_policy['mode']}, nodes "
                             f"{lx.memory_policy.get('nodes', '')!r}): {os.strerror(e.errno).lower()}") from None
    if lx.personality is not None:
        try:
            _sc.personality(C.PERSONALITY_DOMAINS[lx.personality["domain"]])
        except OSError as e:
            raise SetupError(f"linux.personality: {lx.personality['domain']}: "
                             f"{os.strerror(e.errno).lower()}") from None


def apply_before_exec(spec, proc, exec_process: bool = False) -> None:
    """Right before execve: whatever apply_privileged() has not done yet (it is idempotent)."""
    apply_privileged(spec, proc, exec_process)


def _apply_lsm(proc) -> None:
    # Both labels take effect at the next execve, like aa_change_onexec and setexeccon.
    if proc.apparmor_profile:
        base = "/proc/thread-self/attr/"
        attr = base + "apparmor/exec" if os.path.exists(base + "apparmor/exec") else base + "exec"
        _write_attr(attr, "exec " + proc.apparmor_profile, "process.apparmorProfile")
    if proc.selinux_label:
        _write_attr("/proc/thread-self/attr/exec", proc.selinux_label, "process.selinuxLabel")


def _write_attr(path: str, value: str, field: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            # The container's /proc may have been covered by a bind mount: write to procfs or
            # nowhere (CVE-2025-52565 class).
            if _sc.fstatfs_type(fd) != C.PROC_SUPER_MAGIC:
                raise OSError(18, f"{path} is not on procfs")
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise SetupError(f"{field}: writing {path}: {(e.strerror or os.strerror(e.errno)).lower()}") from None


def exec_affinity(spec, proc) -> dict:
    """execCPUAffinity for an exec'd process: its own, else config.json's (runc does the same)."""
    return proc.exec_cpu_affinity or (spec.process.exec_cpu_affinity if spec.process else None) or {}


def set_initial_affinity(spec, proc) -> None:
    """For `exec`, in its child before it joins the container's cgroup: execCPUAffinity.initial."""
    cpus = parse_list(exec_affinity(spec, proc).get("initial") or "", MAX_CPUS)
    if cpus:
        _setaffinity(cpus, "process.execCPUAffinity.initial")


def _apply_affinity(spec, proc, exec_process: bool) -> None:
    # execCPUAffinity "is not applicable to the container's init process" (config.md). Any
    # process without a `final` gets every CPU its cgroup allows, as runc does since 1.2: the
    # affinity the runtime itself was started with (taskset, systemd CPUAffinity=) must not leak
    # into the container. The kernel intersects the mask with the cpuset.
    final = parse_list(exec_affinity(spec, proc).get("final") or "", MAX_CPUS) if exec_process else ()
    if final:
        _setaffinity(final, "process.execCPUAffinity.final")
        return
    possible = _read("/sys/devices/system/cpu/possible")
    try:
        n = parse_list(possible, MAX_CPUS)[-1] + 1 if possible else MAX_CPUS
    except (ValueError, IndexError):
        n = MAX_CPUS
    try:
        os.sched_setaffinity(0, range(n))
    except OSError:
        pass   # best effort, like runc's tryResetCPUAffinity: never fail a container over it


def _setaffinity(cpus: tuple[int, ...], field: str) -> None:
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as e:
        raise SetupError(f"{field}: sched_setaffinity({','.join(map(str, cpus))}): "
                         f"{os.strerror(e.errno).lower()}") from None


def _apply_scheduler(s: dict, spec) -> None:
    try:
        _sc.sched_setattr(0, **sched_args(s))
    except OSError as e:
        reason = os.strerror(e.errno).lower()
        cpus = ((spec.linux.resources or {}).get("cpu") or {}).get("cpus")
        if e.errno == 1 and s["policy"] == "SCHED_DEADLINE" and cpus:
            # The kernel admits SCHED_DEADLINE only on a whole root domain (runc says the same).
            reason += " (SCHED_DEADLINE cannot be used together with linux.resources.cpu.cpus)"
        elif e.errno == 1 and s["policy"] in ("SCHED_FIFO", "SCHED_RR"):
            # CONFIG_RT_GROUP_SCHED: a cgroup without an rt_runtime budget admits no RT task.
            reason += " (with real-time group scheduling the container's cgroup needs " \
                      "linux.resources.cpu.realtimeRuntime)"
        raise SetupError(f"process.scheduler: sched_setattr({s['policy']}): {reason}") from None

