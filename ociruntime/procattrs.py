"""Process attributes beyond user and capabilities: sysctl, scheduler, I/O priority, CPU affinity,
memory policy, personality, LSM labels. Each is applied in the container's init (and by exec)
at the point runc applies it; fields not implemented yet are refused at create (config/validate.py).
"""

from __future__ import annotations


def apply_sysctl(sysctl: dict | None) -> None:
    """After pivot_root: write linux.sysctl through the container's /proc/sys."""
    if not sysctl:
        return
    raise NotImplementedError("linux.sysctl")


def apply_before_exec(spec, proc) -> None:
    """Just before execve (and before exec's process runs): scheduler, ioPriority, execCPUAffinity,
    memoryPolicy, personality. proc is the process being started (init's or exec's)."""
    return None
