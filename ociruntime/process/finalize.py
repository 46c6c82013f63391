"""The last steps before execve, shared by a container's init and by `exec`: resolving args[0],
closing leaked fds, and becoming the configured user with the configured capabilities.

The order is runc's finalizeNamespace: seccomp early if it needs CAP_SYS_ADMIN, cwd as root
first, bounding set, keep-caps across setuid, cwd again as the user, then the capability sets.
"""

from __future__ import annotations

import os

from .. import capabilities, identity
from ..syscalls import consts as C


def lookup(args0: str, env: tuple[str, ...]) -> str:
    """args[0] resolved as Go's exec.LookPath does in runc, with the same error wording:
    podman maps "not found"/"no such file" to exit 127 and "permission denied" to 126."""
    if "/" in args0:
        try:
            st = os.stat(args0)
        except OSError as e:
            raise OSError(e.errno, f'exec: "{args0}": stat {args0}: {os.strerror(e.errno).lower()}') from None
        if (st.st_mode & 0o170000) == 0o040000 or not st.st_mode & 0o111:
            raise OSError(13, f'exec: "{args0}": permission denied')
        return args0
    path = next((e[5:] for e in env if e.startswith("PATH=")), "")
    for d in path.split(":"):
        cand = os.path.join(d or ".", args0)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000 and st.st_mode & 0o111:
            return cand
    raise OSError(2, f'exec: "{args0}": executable file not found in $PATH')


def mark_cloexec_from(first: int, sc) -> None:
    # Anything the caller left open without O_CLOEXEC (conmon's sync pipes, the shim's socket)
    # must not reach the container.
    try:
        sc.close_range(first, 0xFFFFFFFF, C.CLOSE_RANGE_CLOEXEC)
    except OSError:
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass


def become_user(sc, proc, seccomp=None, on_listener=None) -> None:
    """Bounding set, user, cwd, the capability sets, no_new_privs, and seccomp: runc's order.

    Without noNewPrivileges, loading a filter needs CAP_SYS_ADMIN, so it happens first; with it,
    as late as we can while the runtime still listens (a SCMP_ACT_NOTIFY listener fd must be
    handed over): right after no_new_privs. on_listener(fd) does that hand-over.
    """
    caps = capabilities
    c = proc.capabilities
    if seccomp is not None and not proc.no_new_privileges:
        load_seccomp(seccomp, on_listener)
    # First try cwd as root: a directory the runtime can reach but the user cannot still works.
    cwd_done = chdir(proc.cwd, create=True)
    if c is not None:
        caps.drop_bounding(sc, caps.mask(c.bounding))
    sc.prctl(C.PR_SET_KEEPCAPS, 1)
    identity.switch_user(proc.user)
    # A uid change resets dumpability to fs.suid_dumpable, which may be 1: we are still the host's
    # python until execve, so say it again (CVE-2019-5736).
    sc.prctl(C.PR_SET_DUMPABLE, 0)
    if not cwd_done:
        chdir(proc.cwd, create=False)
    sc.prctl(C.PR_SET_KEEPCAPS, 0)
    if c is not None:
        caps.apply_sets(sc, caps.mask(c.effective), caps.mask(c.permitted), caps.mask(c.inheritable),
                        caps.mask(c.ambient))
    else:
        caps.apply_sets(sc, 0, 0, 0, 0)
    if proc.no_new_privileges:
        sc.prctl(C.PR_SET_NO_NEW_PRIVS, 1)
        if seccomp is not None:
            load_seccomp(seccomp, on_listener)


def load_seccomp(seccomp, on_listener) -> None:
    fd = seccomp.load()
    if fd is not None:
        if on_listener is None:
            raise OSError(22, "seccomp: SCMP_ACT_NOTIFY needs a listener, and nobody is listening")
        on_listener(fd)
        # The container must not hold its own notify fd: it could answer its own notifications.
        os.close(fd)


def chdir(cwd: str, create: bool) -> bool:
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        if not create:
            raise
        os.makedirs(cwd, 0o755, exist_ok=True)
        os.chdir(cwd)
    except PermissionError:
        if create:
            return False
        raise
    # CVE-2024-21626: a leaked host directory fd used as cwd shows up as "(unreachable)".
    if not os.getcwd().startswith("/"):
        raise OSError(1, f"current working directory {cwd} is outside of the container's root")
    return True
