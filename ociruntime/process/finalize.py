"""The last steps before execve, shared by a container's init and by `exec`: resolving args[0],
closing leaked fds, and becoming the configured user with the configured capabilities.

The order is runc's finalizeNamespace: seccomp early if it needs CAP_SYS_ADMIN, cwd as root
first, bounding set, keep-caps across setuid, cwd again as the user, then the capability sets.
"""

from __future__ import annotations

import os

from .. import capabilities, identity
from ..syscalls import consts as C


def _runtime_exe() -> tuple[int, int] | None:
    try:
        st = os.stat("/proc/self/exe")
    except OSError:
        return None
    return st.st_dev, st.st_ino


# The runtime's own interpreter, identified at import: in the runtime, before init or exec's
# child enter the container.
RUNTIME_EXE = _runtime_exe()


def _mount_ids() -> set[str] | None:
    try:
        with open("/proc/self/mountinfo") as f:
            return {line.split(" ", 1)[0] for line in f}
    except OSError:
        return None


def _mount_id(fd: int) -> str | None:
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            return next((line.split()[1] for line in f if line.startswith("mnt_id:")), None)
    except OSError:
        return None


def _interpreter(path: str) -> str | None:
    """The #! interpreter of a script, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if (os.fstat(fd).st_mode & 0o170000) != 0o100000:
            return None
        head = os.read(fd, 256)
    finally:
        os.close(fd)
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    return os.fsdecode(words[0]) if words else None


def check_executable(path: str, args0: str) -> None:
    """Refuse a file the container reaches only through a /proc magic link: the runtime's own
    interpreter (/proc/self/exe while we are Python, CVE-2019-5736) or a host file behind an
    inherited fd (/proc/self/fd/N, CVE-2024-21626). Its process would hold a host binary as
    /proc/self/exe, to overwrite once nothing runs it. The test: the file's mount is one of the
    container's (mountinfo lists only those); without a /proc to ask, at least not our own
    interpreter. A script's #! interpreter is checked the same way, as the kernel would run it."""
    mounts = _mount_ids()
    for _ in range(5):   # the kernel follows at most 4 levels of #!
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return       # execve will say why
        try:
            if mounts is not None:
                outside = _mount_id(fd) not in mounts
            else:
                st = os.fstat(fd)
                outside = (st.st_dev, st.st_ino) == RUNTIME_EXE
        finally:
            os.close(fd)
        if outside:
            raise OSError(13, f'exec: "{args0}": permission denied ({path} is not a file of the container)')
        path = _interpreter(path)
        if path is None:
            return


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
        check_executable(args0, args0)
        return args0
    path = next((e[5:] for e in env if e.startswith("PATH=")), "")
    for d in path.split(":"):
        cand = os.path.join(d or ".", args0)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000 and st.st_mode & 0o111:
            check_executable(cand, args0)
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
