"""P2, the container's init: the recipe that turns a forked runtime into the user's process.

Runs inside the new namespaces (stage1 forked it there). Linear on purpose: read it top to
bottom and you have the order runc follows. Every failure is sent to the runtime as
`error{msg}` by spawn.child_main, which wraps this function.
"""

from __future__ import annotations

import os

# Everything init uses after pivot_root is imported here, up front: once the container's root
# is "/", the runtime's own files are out of reach and a lazy import would fail.
import fcntl  # noqa: F401  (console ioctls)
import struct  # noqa: F401
import termios  # noqa: F401

from .. import capabilities, console, hooks as hookrun, identity, limits, rootfs
from ..syscalls import consts as C
from . import execfifo, protocol, signals


class InitArgs:
    """What init needs from the runtime; inherited across fork, never serialised."""

    __slots__ = ("spec", "channel", "fifo_fd", "console_fd", "cgroup", "no_pivot", "preserve_fds",
                 "seccomp", "container_id", "sc")

    def __init__(self, **kw: object) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


def _lookup(args0: str, env: tuple[str, ...]) -> str:
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


def _bring_up_loopback() -> None:
    """`ip link set lo up` without importing pyroute2 (~190 ms): one SIOCSIFFLAGS ioctl."""
    import fcntl
    import struct
    import _socket

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]   # SIOCGIFFLAGS
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP
    finally:
        s.close()


def _mark_cloexec_from(first: int, sc) -> None:
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


def log_debug() -> bool:
    from .. import log

    return log.min_level <= 10


def run(a: InitArgs) -> None:
    sc, spec, ch = a.sc, a.spec, a.channel
    proc = spec.process
    sc.set_name("pyoci:[2:INIT]")
    # While we are a Python process inside the container, /proc/self/exe is the host's
    # interpreter: make it unreachable to the container (CVE-2019-5736 class).
    sc.prctl(C.PR_SET_DUMPABLE, 0)
    os.setsid()

    if spec.hooks.start_container or log_debug():
        import subprocess  # noqa: F401  (startContainer hooks run after pivot_root)
        import traceback  # noqa: F401
    rootfs.prepare(sc, spec, a.cgroup)
    if spec.linux.namespace("network") and not spec.linux.namespace("network").path:
        _bring_up_loopback()

    hooks = spec.hooks
    if hooks.prestart or hooks.create_runtime:
        ch.send(protocol.HOOKS_PLEASE)
        ch.expect(protocol.HOOKS_DONE)
    if hooks.create_container:
        hookrun.run("createContainer", hooks.create_container,
                    hookrun.state_dict(a.container_id, "creating", 0, spec.bundle, spec.annotations))

    rootfs.switch(sc, spec, a.no_pivot)
    if proc.terminal:
        console.setup_in_container(a.console_fd, proc.console_size)
        os.close(a.console_fd)
    rootfs.finalize(sc, spec)
    if spec.hostname:
        sc.sethostname(spec.hostname)
    if spec.domainname:
        sc.setdomainname(spec.domainname)

    env = proc.env
    if not any(e.startswith("HOME=") for e in env):
        env = env + (f"HOME={identity.home_of(proc.user.uid)}",)
    path = _lookup(proc.args[0], env)

    if proc.oom_score_adj is not None:
        limits.set_oom_score_adj(proc.oom_score_adj)
    limits.apply_rlimits(proc.rlimits)

    first_closed = 3 + (a.preserve_fds or 0)
    _mark_cloexec_from(first_closed, sc)
    for fd in range(3, first_closed):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass

    _become_user(sc, proc, a.seccomp)

    ch.send(protocol.READY)
    ch.close()
    execfifo.wait(a.fifo_fd)

    if hooks.start_container:
        hookrun.run("startContainer", hooks.start_container,
                    hookrun.state_dict(a.container_id, "running", os.getpid(), spec.bundle, spec.annotations))
    signals.reset_for_exec()
    if a.seccomp is not None and proc.no_new_privileges:
        a.seccomp.load()
    os.execve(path, list(proc.args), dict(e.split("=", 1) for e in env))


def _become_user(sc, proc, seccomp) -> None:
    """Bounding set, user, cwd, then the capability sets: runc's finalizeNamespace order."""
    caps = capabilities
    c = proc.capabilities
    if seccomp is not None and not proc.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before dropping.
        seccomp.load()
    # First try cwd as root: a directory the runtime can reach but the user cannot still works.
    cwd_done = _chdir(proc.cwd, create=True)
    if c is not None:
        caps.drop_bounding(sc, caps.mask(c.bounding))
    sc.prctl(C.PR_SET_KEEPCAPS, 1)
    identity.switch_user(proc.user)
    if not cwd_done:
        _chdir(proc.cwd, create=False)
    sc.prctl(C.PR_SET_KEEPCAPS, 0)
    if c is not None:
        caps.apply_sets(sc, caps.mask(c.effective), caps.mask(c.permitted), caps.mask(c.inheritable),
                        caps.mask(c.ambient))
    else:
        caps.apply_sets(sc, 0, 0, 0, 0)
    if proc.no_new_privileges:
        sc.prctl(C.PR_SET_NO_NEW_PRIVS, 1)


def _chdir(cwd: str, create: bool) -> bool:
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
