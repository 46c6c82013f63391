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

from .. import console, hooks as hookrun, identity, limits, network, procattrs, rootfs
from ..syscalls import consts as C
from . import execfifo, finalize, protocol, signals


class InitArgs:
    """What init needs from the runtime; inherited across fork, never serialised."""

    __slots__ = ("spec", "channel", "fifo_fd", "status_fd", "console_fd", "cgroup", "no_pivot", "preserve_fds",
                 "seccomp", "container_id", "sc", "idmapped", "no_new_keyring")

    def __init__(self, **kw: object) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


def _new_session_keyring(sc, container_id: str) -> None:
    """A session keyring of the container's own ("_ses.<id>", as runc names it), so the container
    cannot reach the keys of whoever ran the runtime; --no-new-keyring keeps the caller's."""
    try:
        serial = sc.keyctl(C.KEYCTL_JOIN_SESSION_KEYRING, f"_ses.{container_id}".encode())
    except OSError as e:
        if e.errno in (38, 1, 13):   # ENOSYS, EPERM, EACCES: no keyrings here; runc carries on too
            return
        raise
    # runc then makes the keyring searchable by its user: perm |= KEY_USR_SEARCH.
    import ctypes

    buf = ctypes.create_string_buffer(256)
    n = sc.keyctl(C.KEYCTL_DESCRIBE, serial, buf, 256)
    perm = int(buf.raw[:max(n - 1, 0)].split(b";")[3], 16)
    sc.keyctl(C.KEYCTL_SETPERM, serial, perm | 0x080000)


def log_debug() -> bool:
    from .. import log

    return log.min_level <= 10


def run(a: InitArgs) -> None:
    sc, spec, ch = a.sc, a.spec, a.channel
    proc = spec.process
    sc.set_name("pyoci:[2:INIT]")
    # Our pid as the host sees it, for hooks' state: /proc is still the host's here.
    host_pid = int(os.readlink("/proc/self"))
    # While we are a Python process inside the container, /proc/self/exe is the host's
    # interpreter: make it unreachable to the container (CVE-2019-5736 class).
    sc.prctl(C.PR_SET_DUMPABLE, 0)
    os.setsid()
    if proc.oom_score_adj is not None:
        # Now, through the host's /proc: after pivot_root the write would go through the
        # container's /proc, which a bind mount or a swapped directory can redirect (CVE-2025-52881).
        limits.set_oom_score_adj(proc.oom_score_adj)
    if not a.no_new_keyring:
        _new_session_keyring(sc, a.container_id)

    if spec.hooks.start_container or log_debug():
        import subprocess  # noqa: F401  (startContainer hooks run after pivot_root)
        import traceback  # noqa: F401
    rootfs.prepare(sc, spec, a.cgroup, a.idmapped)
    if spec.linux.namespace("network") and not spec.linux.namespace("network").path:
        network.bring_up_loopback()

    hooks = spec.hooks
    if hooks.prestart or hooks.create_runtime:
        ch.send(protocol.HOOKS_PLEASE)
        ch.expect(protocol.HOOKS_DONE)
    if hooks.create_container:
        hookrun.run("createContainer", hooks.create_container,
                    hookrun.state_dict(a.container_id, "creating", host_pid, spec.bundle, spec.annotations))

    rootfs.switch(sc, spec, a.no_pivot)
    if proc.terminal:
        console.setup_in_container(a.console_fd, proc.console_size)
        os.close(a.console_fd)
    rootfs.finalize(sc, spec)
    if spec.hostname:
        sc.sethostname(spec.hostname)
    if spec.domainname:
        sc.setdomainname(spec.domainname)
    procattrs.apply_sysctl(spec.linux.sysctl)

    env = proc.env
    if not any(e.startswith("HOME=") for e in env):
        env = env + (f"HOME={identity.home_of(proc.user.uid)}",)
    path = finalize.lookup(proc.args[0], env)

    limits.apply_rlimits(proc.rlimits)

    first_closed = 3 + (a.preserve_fds or 0)
    finalize.mark_cloexec_from(first_closed, sc)
    for fd in range(3, first_closed):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass

    def hand_over_listener(fd: int) -> None:
        ch.send(protocol.SECCOMP_FD, fd=fd)
        ch.expect(protocol.SECCOMP_DONE)

    # Scheduler, I/O priority, memory policy, personality: some need CAP_SYS_NICE, so before the
    # capabilities are dropped (runc's order).
    procattrs.apply_privileged(spec, proc)
    finalize.become_user(sc, proc, a.seccomp, hand_over_listener)

    ch.send(protocol.READY)
    ch.close()
    execfifo.wait(a.fifo_fd)
    try:
        if hooks.start_container:
            hookrun.run("startContainer", hooks.start_container,
                        hookrun.state_dict(a.container_id, "created", host_pid, spec.bundle, spec.annotations))
        procattrs.apply_before_exec(spec, proc)
        signals.reset_for_exec()
        finalize.check_executable(path, proc.args[0])   # again: the rootfs may have changed since create
        os.execve(path, list(proc.args), dict(e.split("=", 1) for e in env))
    except BaseException as e:
        # `start` is waiting on the status fifo: tell it why the process did not start.
        execfifo.report(a.status_fd, str(e) if not isinstance(e, OSError) else (e.strerror or str(e)))
        raise


