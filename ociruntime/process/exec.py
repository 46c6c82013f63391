"""`pyoci exec`: one more process in an existing container, the way runc's setns path starts it.

```
P0 pyoci exec (host)                                        P2 "pyoci:[2:EXEC]"
state + config.json copy; merge the process; seccomp; [console socket | socketpair]
non-dumpable; open the cgroup files and /proc/<init>/ns/*;
setns(pid), setns(time) (they apply to children only)
clone3(CLONE_INTO_CGROUP: the cgroup2 dir) ───────────────► write "0" to each v1 `tasks`;
                                                              setns user (then uid 0 in it), ipc, uts,
                                                              net, cgroup, mnt; setsid; keyring; [pty];
                                                              HOME; resolve args[0]; rlimits;
                                                              LSM, sched, affinity; fds;
take + send to listenerPath ◄── seccomp-fd ── / ── seccomp-done ──► user, caps, no_new_privs, seccomp
[paused: return]            ◄── joining ─────────────────────── [--ignore-paused: join the frozen one]
EOF: the channel is O_CLOEXEC ◄────────────────────────────── execve
--pid-file; --detach: exit 0 (the caller's subreaper adopts P2); else relay signals [and the tty],
exit with its status
```
One fork, where runc's nsexec needs two: a pid (or time) namespace set with setns applies to the
caller's future children, so the runtime sets it on itself and forks the process straight into
it; the process joins the other namespaces itself. It stays our child, to wait for in the
foreground. No cgroup.procs write by pid: that takes the kernel's global threadgroup rwsem for
writing, an RCU grace period (10-20 ms on this machine, runc pays it); clone3 puts the process
in its cgroup2 directory at birth and it moves itself into the v1 ones (`tasks`, "0": no global
lock), through fds the runtime opened. Errors from P2 arrive as `error{msg}` and are reported
as runc does: "exec failed: unable to start container process: <msg>".
"""

from __future__ import annotations

import os

# Everything P2 uses is imported here, up front (console and limits in execute(), when they are
# needed): after setns(mnt) the runtime's own files are out of reach and a lazy import would fail.
from .. import identity, jsonio, log, namespaces, procattrs
from ..errors import InitError, PyociError, WrongState
from ..syscalls import consts as C
from ..syscalls.linux import SYSCALLS
from . import execcg, execproc, finalize, protocol, signals
from .channel import Channel
from .execproc import listen_fds  # noqa: F401  (create's socket activation uses it)
from .spawn import _child_main, _reap


class ExecArgs:
    """What P2 needs; inherited across fork, never serialised."""

    __slots__ = ("cg_early", "cg_late", "channel", "console_fd", "container_id", "extra_fds", "init_pid",
                 "listen_fds", "ns_fds", "proc", "sc", "seccomp", "spec", "keyring")

    def __init__(self, **kw: object) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


# --- P0 -----------------------------------------------------------------------------------------

def execute(g: dict, container_id: str, make_process, *, detach: bool = False, pid_file: str | None = None,
            console_socket: str | None = None, preserve_fds: int = 0, cgroup: tuple[str, ...] = (),
            ignore_paused: bool = False) -> int:
    """Run the process make_process(container's raw process dict) -> raw dict describes.
    Returns its exit status in the foreground, 0 with --detach."""
    from ..config.load import build as build_spec
    from ..state import StateStore, derive_status

    cdir = StateStore(g.get("root")).open(container_id)
    state = cdir.read()
    status = derive_status(state, cdir)
    if status == "stopped":
        raise WrongState("cannot exec in a stopped container")
    if status == "paused" and not ignore_paused:
        raise WrongState("cannot exec in a paused container (use --ignore-paused to override)")
    if status == "creating":
        raise WrongState("cannot exec in a container that is still being created")
    try:
        with open(state.config or cdir.file("config.json"), "rb") as f:
            doc = jsonio.loads(f.read())
    except OSError as e:
        raise PyociError(f"the container's config.json copy: {os.strerror(e.errno).lower()}") from None
    spec = build_spec(doc, state.bundle)
    proc = execproc.build(make_process(doc.get("process") or {}))

    if detach and proc.terminal and not console_socket:
        raise PyociError("cannot allocate tty if pyoci will detach without setting console socket")
    if console_socket and (not detach or not proc.terminal):
        raise PyociError("cannot use console socket if pyoci will not detach or allocate tty")
    n_listen = execproc.listen_fds()
    execproc.check_fds(n_listen, preserve_fds)
    if n_listen:
        proc.env = proc.env + (f"LISTEN_FDS={n_listen}",)   # LISTEN_PID: P2 knows its pid
    subs = execcg.parse_cgroup_args(cgroup)
    if subs and not state.cgroup:
        raise PyociError("--cgroup: the container has no cgroup")
    cg = execcg.cgroup_plan(state.cgroup, subs) if state.cgroup else execcg.CgroupPlan([], None, None)
    seccomp = None
    if spec.linux.seccomp is not None:
        from .. import seccomp as sec
        from ..container import SECCOMP_CACHE

        seccomp = sec.prepare(spec.linux.seccomp, cache_dir=SECCOMP_CACHE)
    relay = proc.terminal and not detach
    if relay:
        from . import tty

        # Sized now, so the process starts with the right size (no first-SIGWINCH race).
        size = tty.host_size()
        if size:
            proc.console_size = size

    if proc.rlimits or proc.oom_score_adj is not None:
        from .. import limits  # noqa: F401  (P2's; `resource` is a shared object on disk)
    console_fd = relay_fd = -1
    if proc.terminal:
        from .. import console

        if console_socket:
            console_fd = console.connect(console_socket)
        else:
            relay_fd, console_fd = console.pair()
    if log.min_level <= 10:
        import traceback  # noqa: F401  -- _child_main formats with it inside the container
    try:
        pid = _spawn(ExecArgs(spec=spec, proc=proc, container_id=container_id, init_pid=state.pid,
                              console_fd=console_fd, listen_fds=n_listen, extra_fds=n_listen + preserve_fds,
                              seccomp=seccomp, keyring=not state.extra.get("no_new_keyring")),
                     cg, frozen=status == "paused", hooks_state=(state, spec))
    finally:
        if console_fd >= 0:
            os.close(console_fd)
    if pid_file:
        from ..container import _write_pid_file

        _write_pid_file(pid_file, pid)
    if detach:
        return 0
    master = None
    if relay_fd >= 0:
        from .. import console

        try:
            master = console.receive(relay_fd)
        finally:
            os.close(relay_fd)
    from . import tty

    return tty.supervise(pid, master)


def _spawn(a: ExecArgs, cg: execcg.CgroupPlan, frozen: bool, hooks_state) -> int:
    """Start P2 in the container's pid namespace and cgroup2 directory and see it through to
    execve; return its pid. P2 moves itself into the v1 hierarchies (writing "0" to `tasks` moves
    only the caller and skips the global lock that moving a process by pid takes); in a paused
    container it joins the frozen hierarchy last, once it says it is ready (`joining`)."""
    a.sc = SYSCALLS
    # Before joining anything: our /proc/PID/exe is the host's python, which the container
    # must not reach through /proc (CVE-2019-5736); P2 inherits it.
    a.sc.prctl(C.PR_SET_DUMPABLE, 0)
    a.cg_early, a.cg_late = [], []
    opened: list[int] = []
    try:
        for d in cg.v1:
            path, fd = execcg.open_cgroup_file(d, "tasks")
            opened.append(fd)
            (a.cg_late if frozen and d == cg.freezer else a.cg_early).append((path, fd))
        born_in = -1
        if cg.unified and not (frozen and cg.unified == cg.freezer):
            born_in = os.open(cg.unified, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            opened.append(born_in)
        elif cg.unified:
            path, fd = execcg.open_cgroup_file(cg.unified, "cgroup.procs")
            opened.append(fd)
            a.cg_late.append((path, fd))
        a.ns_fds = _open_namespaces(a.init_pid)
        opened += [fd for _, fd in a.ns_fds]
        ch = a.channel = Channel()
        for t, fd in a.ns_fds:
            if t in ("pid", "time"):
                _setns(a.sc, t, fd)     # for our children only
        pid = -1
        if born_in >= 0:
            try:
                pid = execcg.clone_into_cgroup(born_in)
            except OSError:
                # Before Linux 5.7 (or refused): fork, and P2 joins like the v1 hierarchies.
                path, fd = execcg.open_cgroup_file(cg.unified, "cgroup.procs")
                opened.append(fd)
                a.cg_early.append((path, fd))
        if pid < 0:
            pid = os.fork()
        if pid == 0:
            ch.child_side()
            _child_main(ch, "exec", lambda: _child(a))
    finally:
        for fd in opened:
            os.close(fd)
    ch.parent_side()
    try:
        while True:
            msg = ch.recv()
            if msg is None:
                break       # EOF: P2 exec'd (the channel is O_CLOEXEC) or died
            t = msg.get("type")
            if t == protocol.LOG:
                log.emit(msg.get("level", "info"), msg.get("msg", ""))
            elif t == protocol.ERROR:
                raise InitError("unable to start container process: " + msg.get("msg", "unknown error"),
                                msg.get("errno", 0))
            elif t == protocol.SECCOMP_FD:
                _hand_over_listener(a, pid, int(msg["fd"]), hooks_state)
                ch.send(protocol.SECCOMP_DONE)
            elif t == JOINING:
                break       # --ignore-paused: set up; it freezes as it joins and runs on resume
            else:
                raise InitError(f"protocol error: unexpected {t!r}")
    except BaseException:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        _reap(pid)
        raise
    finally:
        ch.close()
    return pid


JOINING = "joining"


def _open_namespaces(init_pid: int) -> list[tuple[str, int]]:
    """fds of init's namespaces that are not ours, in join order (user first, mount last)."""
    fds: list[tuple[str, int]] = []
    try:
        for t in namespaces.JOIN_ORDER:
            name = namespaces.PROC_NAMES[t]
            try:
                fd = os.open(f"/proc/{init_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                if not os.path.exists(f"/proc/{init_pid}"):
                    raise PyociError("cannot exec in a stopped container") from None
                continue        # the kernel has no such namespace type
            st, mine = os.fstat(fd), os.stat(f"/proc/self/ns/{name}")
            if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                os.close(fd)    # shared with the host (setns to our own user namespace is EINVAL)
                continue
            fds.append((t, fd))
    except BaseException:
        for _, fd in fds:
            os.close(fd)
        raise
    return fds


def _setns(sc, t: str, fd: int) -> None:
    try:
        sc.setns(fd, namespaces.FLAGS[t])
    except OSError as e:
        raise OSError(e.errno, f"failed to setns to {t} namespace: {os.strerror(e.errno).lower()}") from None


def _hand_over_listener(a: ExecArgs, pid: int, remote_fd: int, hooks_state) -> None:
    from .. import hooks
    from .. import seccomp as sec

    state, spec = hooks_state
    fd = sec.take_listener_fd(pid, remote_fd)
    try:
        a.seccomp.send_listener(fd, hooks.state_dict(a.container_id, "running", state.pid, spec.bundle,
                                                     spec.annotations), pid=pid)
    finally:
        os.close(fd)


# --- P2 -------------------------------------------------------------------------------------------

def _child(a: ExecArgs) -> None:
    sc, proc, ch = a.sc, a.proc, a.channel
    sc.set_name("pyoci:[2:EXEC]")
    for cg_path, fd in a.cg_early:
        execcg.join_cgroup(cg_path, fd)
    limits = None
    if proc.rlimits or proc.oom_score_adj is not None:
        from .. import limits   # before setns(mnt): afterwards our files are out of reach
    if proc.oom_score_adj is not None:
        # Through the host's /proc, before joining the mount namespace: a bind mount the container
        # placed over /proc/self/oom_score_adj must not receive the write (CVE-2025-52881 class).
        limits.set_oom_score_adj(proc.oom_score_adj)
    for t, fd in a.ns_fds:
        if t not in ("pid", "time"):
            _setns(sc, t, fd)
            if t == "user":
                # Root of the container's user namespace, as its init is.
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
        os.close(fd)
    os.setsid()     # runc's nsexec does the same for exec: a session of its own
    if a.keyring:   # the caller's keyring stays when create was given --no-new-keyring (runc)
        _join_keyring(sc, a.container_id)
    procattrs.set_initial_affinity(a.spec, proc)
    if a.console_fd >= 0:
        from .. import console

        console.setup_in_container(a.console_fd, proc.console_size)
        os.close(a.console_fd)
    env = list(proc.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={identity.home_of(proc.user.uid)}")
    if a.listen_fds:
        env.append(f"LISTEN_PID={os.getpid()}")     # our pid in the container's pid namespace
    path = finalize.lookup(proc.args[0], tuple(env))
    if limits is not None:
        limits.apply_rlimits(proc.rlimits)

    procattrs.apply_privileged(a.spec, proc, exec_process=True)
    first_closed = 3 + a.extra_fds
    finalize.mark_cloexec_from(first_closed, sc)
    for fd in range(3, first_closed):
        os.set_inheritable(fd, True)

    def hand_over_listener(fd: int) -> None:
        ch.send(protocol.SECCOMP_FD, fd=fd)
        ch.expect(protocol.SECCOMP_DONE)

    finalize.become_user(sc, proc, a.seccomp, hand_over_listener)
    procattrs.apply_before_exec(a.spec, proc, exec_process=True)
    if a.cg_late:
        ch.send(JOINING)
        for cg_path, fd in a.cg_late:
            execcg.join_cgroup(cg_path, fd)   # a frozen cgroup: we stop here until `resume`
    signals.reset_for_exec()
    os.execve(path, list(proc.args), dict(e.split("=", 1) for e in env))


def _join_keyring(sc, container_id: str) -> None:
    """The container's session keyring ("_ses.<id>", made by its init), not the caller's: runc's
    setns init joins it the same way."""
    try:
        sc.keyctl(C.KEYCTL_JOIN_SESSION_KEYRING, f"_ses.{container_id}".encode())
    except OSError as e:
        if e.errno not in (38, 1, 13):   # ENOSYS, EPERM, EACCES: no keyrings here; runc carries on too
            raise
