"""P0's side of container creation: fork stage 1, answer its requests, and clean up on failure.

Fork, not clone or re-exec: the children inherit the parsed config in memory, so there is no
init pipe to serialise it through, and CPython's after-fork bookkeeping stays correct. The
runtime stays single-threaded, as unshare(CLONE_NEWUSER) and setns(mnt) require.
"""

from __future__ import annotations

import os

from .. import log
from ..errors import InitError, PyociError, oserror_text
from ..syscalls import consts as C
from . import protocol
from .channel import Channel


def _child_main(ch: Channel, role: str, body) -> None:
    """Run body() in a forked child; report any failure over the channel; never return."""
    code = 0
    try:
        body()
    except BaseException as e:  # noqa: BLE001 - everything must reach the parent as one line
        code = 1
        try:
            if isinstance(e, OSError):
                msg = oserror_text(e) if e.filename else (e.strerror or str(e))
            else:
                msg = str(e) or type(e).__name__
            if log.min_level <= 10:
                import traceback

                ch.send(protocol.LOG, level="debug", msg=f"{role}: " + traceback.format_exc())
            if ch.wfd >= 0:
                ch.send(protocol.ERROR, msg=msg, errno=getattr(e, "errno", 0) or 0,
                        hook=type(e).__name__ == "HookError")
            else:
                # After `ready` the runtime is gone (e.g. a startContainer hook failed after
                # `start`): the container's stderr is the only place left to say why.
                os.write(2, f"pyoci: {msg}\n".encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def stage1(ch: Channel, spec, entry: "CgroupEntry | None", init_args) -> None:
    """P1: join the cgroup, enter or create namespaces, fork init into them, report its pid."""
    from .. import namespaces
    from ..syscalls.linux import SYSCALLS as sc
    from . import init

    sc.set_name("pyoci:[1:STAGE1]")
    # Joining before unsharing the cgroup namespace makes the container's cgroup its root.
    if entry is not None:
        entry.join_rest()
    lx = spec.linux
    # runc's nsexec order: join every namespace given by path (user first), then create the
    # user namespace, then the others, which it then owns.
    namespaces.join(sc, lx.namespaces)
    userns = lx.namespace("user")
    if userns is not None:
        if not userns.path:
            sc.unshare(C.CLONE_NEWUSER)
            ch.send(protocol.IDMAP_PLEASE)
            ch.expect(protocol.IDMAP_DONE)
        # Become root of the user namespace (uid/gid 0 must be mapped).
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    sc.unshare(namespaces.new_flags(lx.namespaces, exclude=("user",)))
    if lx.time_offsets and lx.namespace("time") and not lx.namespace("time").path:
        namespaces.write_time_offsets(lx.time_offsets)
    pid = os.fork()
    if pid == 0:
        _child_main(ch, "init", lambda: init.run(init_args))
    ch.send(protocol.PID, pid=pid)


def spawn(spec, container_id: str, manager, init_kw: dict, on_pid, on_hooks,
          child_close: tuple[int, ...] = (), on_seccomp_fd=None) -> int:
    """Start stage 1 and init; return init's host pid once init reports `ready`.

    on_pid(pid) is called as soon as init exists (so the state file can record it before
    anything else can fail); on_hooks() runs prestart/createRuntime hooks when init asks;
    on_seccomp_fd(pid, fd) forwards init's seccomp notify fd (its number in init) to the listener.
    child_close: the runtime's fds the children must not keep (the state dir lock: a flock
    held by a long-lived init would block every later command on this container).
    """
    from .init import InitArgs
    from ..syscalls.linux import SYSCALLS

    ch = Channel()
    args = InitArgs(spec=spec, channel=ch, container_id=container_id, sc=SYSCALLS, **init_kw)
    entry = CgroupEntry(manager.describe()) if manager is not None else None
    try:
        p1 = entry.fork() if entry is not None else os.fork()
        if p1 == 0:
            for fd in child_close:
                os.close(fd)
            ch.child_side()
            _child_main(ch, "stage1", lambda: stage1(ch, spec, entry, args))
    finally:
        if entry is not None:
            entry.close()
    ch.parent_side()
    pid = 0
    try:
        held: list[dict] = []
        while True:
            msg = held.pop(0) if held and pid else ch.recv()
            if msg is None:
                raise InitError("container init exited during setup")
            t = msg.get("type")
            if not pid and t in (protocol.READY, protocol.HOOKS_PLEASE, protocol.SECCOMP_FD):
                # Stage 1 and init share the pipe: on a loaded machine init can get this far
                # before stage 1 (forked first) has sent init's pid. Hold it until we know the pid.
                held.append(msg)
                continue
            if t == protocol.LOG:
                log.emit(msg.get("level", "info"), msg.get("msg", ""))
            elif t == protocol.ERROR:
                err = InitError(msg.get("msg", "unknown error"), msg.get("errno", 0))
                err.hook = bool(msg.get("hook"))
                raise err
            elif t == protocol.IDMAP_PLEASE:
                from .. import namespaces

                namespaces.write_id_maps(p1, spec.linux.uid_mappings, spec.linux.gid_mappings)
                ch.send(protocol.IDMAP_DONE)
            elif t == protocol.PID:
                pid = int(msg["pid"])
                _reap(p1)
                on_pid(pid)
            elif t == protocol.SECCOMP_FD:
                on_seccomp_fd(pid, int(msg["fd"]))
                ch.send(protocol.SECCOMP_DONE)
            elif t == protocol.HOOKS_PLEASE:
                on_hooks(pid)
                ch.send(protocol.HOOKS_DONE)
            elif t == protocol.READY:
                break
            else:
                raise InitError(f"protocol error: unexpected {t!r}")
    except BaseException:
        # Stage 1 may be blocked waiting for our answer: it must not outlive the failure.
        try:
            os.kill(p1, 9)
        except ProcessLookupError:
            pass
        raise
    finally:
        _reap(p1)
    ch.close()
    return pid


class CgroupEntry:
    """How stage 1 gets into the container's cgroups without the kernel's global lock.

    Moving a running process (writing its pid to cgroup.procs) takes cgroup_threadgroup_rwsem
    for writing: an RCU grace period, 4-17 ms of every create here (runc pays it too). Instead
    stage 1 is born in the cgroup2 directory (clone3 CLONE_INTO_CGROUP) and moves itself, a
    single thread, into each v1 hierarchy through its `tasks` file, which does not take it.
    The files are opened by the runtime before the fork, as `exec` does (process/execcg.py)."""

    def __init__(self, desc: dict) -> None:
        from .execcg import cgroup_plan, open_cgroup_file

        plan = cgroup_plan(desc, {})
        self.v1 = [open_cgroup_file(d, "tasks") for d in plan.v1]
        self.unified_dir = plan.unified
        self.unified_fd = (os.open(plan.unified, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                           if plan.unified else -1)
        self.born_inside = False

    def fork(self) -> int:
        from .execcg import clone_into_cgroup

        if self.unified_fd >= 0:
            try:
                pid = clone_into_cgroup(self.unified_fd)
                self.born_inside = True
                return pid
            except OSError:
                pass   # clone3 or CLONE_INTO_CGROUP refused (Linux < 5.7): fork and move below
        return os.fork()

    def join_rest(self) -> None:
        """In stage 1."""
        from .execcg import join_cgroup, open_cgroup_file

        for path, fd in self.v1:
            join_cgroup(path, fd)
        self.v1 = []
        if self.unified_dir and not self.born_inside:
            join_cgroup(*open_cgroup_file(self.unified_dir, "cgroup.procs"))
        # No host directory fd may reach the container's init (CVE-2024-21626 class).
        self.close()

    def close(self) -> None:
        for _, fd in self.v1:
            os.close(fd)
        self.v1 = []
        if self.unified_fd >= 0:
            os.close(self.unified_fd)
            self.unified_fd = -1


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_and_wait(pid: int, timeout: float = 5.0) -> None:
    """SIGKILL pid (not necessarily our child) and wait until it is gone."""
    import select

    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    try:
        try:
            import _signal

            _signal.pidfd_send_signal(pidfd, 9)  # SIGKILL
        except ProcessLookupError:
            return
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def subreaper(sc) -> None:
    sc.prctl(C.PR_SET_CHILD_SUBREAPER, 1)


__all__ = ["spawn", "kill_and_wait", "subreaper", "PyociError"]
