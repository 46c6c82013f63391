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
from . import finalize, protocol, signals
from .channel import Channel
from .spawn import _child_main, _reap

# Process fields a --process file does not inherit from the container: a terminal needs a
# console socket of its own, and the container's size is not this terminal's.
_OWN_FIELDS = ("terminal", "consoleSize")


class ExecArgs:
    """What P2 needs; inherited across fork, never serialised."""

    __slots__ = ("cg_early", "cg_late", "channel", "console_fd", "container_id", "extra_fds", "init_pid",
                 "listen_fds", "ns_fds", "proc", "sc", "seccomp", "spec")

    def __init__(self, **kw: object) -> None:
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


# --- the process object -------------------------------------------------------------------------

def process_from_file(path: str, base: dict) -> dict:
    """A runtime-spec `process` object from --process, every absent field taken from the container's
    (runc does so for capabilities, rlimits, apparmorProfile and selinuxLabel; pyoci for all but
    terminal and consoleSize, where runc's Go zero values -- uid 0, no env, empty cwd -- would be
    an error or a surprise). Sub-objects are replaced whole: a given `user` brings its own gids."""
    try:
        with open(path, "rb") as f:
            doc = jsonio.loads(f.read())
    except OSError as e:
        raise PyociError(f"open {path}: {os.strerror(e.errno).lower()}") from None
    except ValueError as e:
        raise PyociError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise PyociError(f"{path}: a process object is a JSON object")
    merged = {k: v for k, v in base.items() if k not in _OWN_FIELDS}
    merged.update(doc)
    return merged


def process_from_flags(base: dict, args: tuple[str, ...], cwd: str | None = None, env: tuple[str, ...] = (),
                       tty: bool = False, user: str | None = None, additional_gids: tuple[str, ...] = (),
                       cap: tuple[str, ...] = (), no_new_privs: bool = False, apparmor: str | None = None,
                       process_label: str | None = None) -> dict:
    """runc's getProcess for the command-line form: the container's process with args replaced and
    the flags applied on top."""
    p = {k: v for k, v in base.items() if k not in _OWN_FIELDS}
    p["args"] = list(args)
    p["terminal"] = bool(tty)
    if cwd:
        p["cwd"] = cwd
    if apparmor:
        p["apparmorProfile"] = apparmor
    if process_label:
        p["selinuxLabel"] = process_label
    if cap:
        caps = {k: list(v) for k, v in (p.get("capabilities") or {}).items()}
        # runc (since 1.1.6) adds to every set but inheritable.
        for s in ("bounding", "effective", "permitted", "ambient"):
            caps[s] = caps.get(s, []) + list(cap)
        p["capabilities"] = caps
    if env:
        p["env"] = list(p.get("env") or ()) + list(env)
    if no_new_privs:
        p["noNewPrivileges"] = True
    u = dict(p.get("user") or {})
    if user:
        uid, sep, gid = user.partition(":")
        u["uid"] = _int(uid, "uid")
        if sep:
            u["gid"] = _int(gid, "gid")
    for g in additional_gids:
        n = _int(g, "additional-gids")
        if n < 0:
            raise PyociError(f"additional-gids must be a positive number {n}")
        u["additionalGids"] = list(u.get("additionalGids") or ()) + [n]
    p["user"] = u
    return p


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PyociError(f'parsing {text} as int for {what} failed: strconv.Atoi: parsing "{text}": '
                         "invalid syntax") from None


def build(raw: dict):
    """The Process record for raw, checked as runc's validateProcessSpec does (+ names pyoci knows)."""
    from ..capabilities import unknown
    from ..config.load import build_process

    try:
        proc = build_process(raw)
    except (KeyError, TypeError, AttributeError) as e:
        raise PyociError(f"process: malformed field {e}") from None
    if not proc.cwd or raw.get("cwd") == "":
        raise PyociError("Cwd property must not be empty")
    if not proc.cwd.startswith("/"):
        raise PyociError("Cwd must be an absolute path")
    if not proc.args:
        raise PyociError("args must not be empty")
    if proc.capabilities is not None:
        for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            bad = unknown(getattr(proc.capabilities, s))
            if bad:
                raise PyociError(f"process.capabilities.{s}: unknown capability {bad[0]!r}")
    for r in proc.rlimits:
        from ..limits import RLIMITS

        if r.type not in RLIMITS:
            raise PyociError(f"process.rlimits: unknown rlimit {r.type!r}")
    for e in proc.env:
        if "=" not in e:
            raise PyociError(f"process.env: {e!r} is not of the form KEY=value")
    if proc.selinux_label and not procattrs.selinux_enabled():
        # runc's validateProcessSpec, word for word.
        raise PyociError("selinux label is specified in config, but selinux is disabled or not supported")
    return proc


# --- cgroups ------------------------------------------------------------------------------------

def parse_cgroup_args(args: tuple[str, ...]) -> dict[str, str]:
    """--cgroup [<controller>[,<controller>...]:]<path> as runc's getSubCgroupPaths: {ctrl or "": path}."""
    paths: dict[str, str] = {}
    for a in args:
        parts = a.split(":")
        if len(parts) > 2:
            raise PyociError(f"invalid --cgroup argument: {a}")
        if len(parts) == 1:
            if len(args) != 1:
                raise PyociError(f"invalid --cgroup argument: {a} (missing <controller>: prefix)")
            paths[""] = a
            continue
        for ctrl in parts[0].split(","):
            if not ctrl:
                raise PyociError(f"invalid --cgroup argument: {a} (empty <controller> prefix)")
            if ctrl in paths:
                raise PyociError(f"invalid --cgroup argument(s): controller {ctrl} specified multiple times")
            paths[ctrl] = parts[1]
    return paths


class CgroupPlan:
    """Where the exec'd process goes: a directory per v1 hierarchy, the cgroup2 one (if any), and
    which of them holds the freezer (v1 freezer.state, else cgroup2's cgroup.freeze)."""

    __slots__ = ("freezer", "unified", "v1")

    def __init__(self, v1: list[str], unified: str | None, freezer: str | None) -> None:
        self.v1, self.unified, self.freezer = v1, unified, freezer


def cgroup_plan(d: dict, subs: dict[str, str]) -> CgroupPlan:
    """The container's own directories, or a sub-cgroup of one where --cgroup names it for a
    controller of that hierarchy ("" = every hierarchy), checked to exist and stay inside.
    d is the cgroup manager's describe() kept in state.json (read directly: importing the
    manager to reopen it would cost more than this needs)."""
    hier: list[tuple[str, set[str], bool]] = []
    for name, base in (d.get("v1") or {}).items():
        ctrls = set((d.get("v1opts") or {}).get(name, name).split(","))
        ctrls |= {c[5:] for c in ctrls if c.startswith("name=")}
        hier.append((base, ctrls, False))
    if d.get("unified"):
        hier.append((d["unified"], set(d.get("uctl") or ()) | {"unified"}, True))
    known = set().union(*(c for _, c, _ in hier)) if hier else set()
    for ctrl in subs:
        if ctrl and ctrl not in known:
            raise PyociError(f"unknown controller {ctrl} in --cgroup argument")
    freeze_dir = os.path.dirname(d["freeze"]) if d.get("freeze") else None
    plan = CgroupPlan([], None, None)
    for base, ctrls, unified in hier:
        sub = subs.get("")
        for c in ctrls:
            if c in subs:
                if sub is not None and sub != subs[c]:
                    raise PyociError(f"conflicting --cgroup paths for the controllers of {base}")
                sub = subs[c]
        path = base
        if sub is not None:
            path = os.path.normpath(os.path.join(base, sub.lstrip("/")))
            if path != base and not path.startswith(base + "/"):
                raise PyociError(f"bad sub cgroup path: {sub}")
            if not os.path.isdir(path):
                raise PyociError(f"--cgroup {sub}: no such cgroup {path}")
        if unified:
            plan.unified = path
        else:
            plan.v1.append(path)
        if base == freeze_dir:
            plan.freezer = path
    return plan


def _open_cgroup_file(d: str, name: str) -> tuple[str, int]:
    path = os.path.join(d, name)
    try:
        return path, os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PyociError(f"error adding the process to cgroups: {path}: {os.strerror(e.errno).lower()}") from None


def _join_cgroup(path: str, fd: int) -> None:
    """In P2: move ourselves ("0") through an fd the runtime opened (the opener's rights count)."""
    try:
        os.write(fd, b"0")
    except OSError as e:
        # runc: "error adding pid N to cgroups: failed to write N: openat2 <path>: ..."
        pid = os.getpid()
        raise OSError(e.errno, f"error adding pid {pid} to cgroups: failed to write {pid}: {path}: "
                      f"{os.strerror(e.errno).lower()}") from None
    finally:
        os.close(fd)


CLONE_INTO_CGROUP = 0x200000000
SYS_CLONE3 = 435        # the same on every architecture (the unified table)


def clone_into_cgroup(cgroup_fd: int) -> int:
    """fork(), but the child starts in the cgroup2 directory cgroup_fd: clone3(CLONE_INTO_CGROUP),
    Linux 5.7. Moving a running process instead (a cgroup.procs write) takes the global
    cgroup_threadgroup_rwsem for writing, an RCU grace period: 10-20 ms here, most of an exec.

    Called through PyDLL so the GIL stays held: the runtime is single-threaded and the child, like
    os.fork()'s, resumes with the interpreter in a consistent state. What os.fork() adds
    (PyOS_AfterFork_Child) re-initialises other threads' state and at-fork hooks, of which this
    process has none; the child only runs our code and then execve()s or _exit()s."""
    import ctypes

    class CloneArgs(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal",
                                                   "stack", "stack_size", "tls", "set_tid", "set_tid_size",
                                                   "cgroup")]

    args = CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=signals.SIGCHLD, cgroup=cgroup_fd)
    syscall = ctypes.PyDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    pid = syscall(ctypes.c_long(SYS_CLONE3), ctypes.byref(args), ctypes.c_long(ctypes.sizeof(args)))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone3: {os.strerror(err)}")
    return pid


# --- file descriptors ---------------------------------------------------------------------------

def listen_fds() -> int:
    """Socket activation (sd_listen_fds): LISTEN_FDS counts only when LISTEN_PID is us."""
    n, pid = os.environ.get("LISTEN_FDS", ""), os.environ.get("LISTEN_PID", "")
    if n.isdigit() and pid == str(os.getpid()):
        return int(n)
    return 0


def check_fds(n_listen: int, preserve: int) -> None:
    if not (n_listen or preserve):
        return
    import resource

    # Each fd is checked (and later made inheritable) one by one: refuse what cannot be open.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if n_listen > limit - 3:
        raise PyociError(f"LISTEN_FDS={n_listen}: more than the open files limit")
    if not 0 <= preserve <= limit - 3 - n_listen:
        raise PyociError(f"--preserve-fds {preserve}: must be between 0 and {limit - 3 - n_listen} "
                         "(the open files limit)")
    for fd in range(3, 3 + n_listen):
        try:
            os.fstat(fd)
        except OSError:
            raise PyociError(f"LISTEN_FDS={n_listen}: fd {fd} is not open") from None
    base = 3 + n_listen
    for fd in range(base, base + preserve):
        try:
            os.fstat(fd)
        except OSError as e:
            raise PyociError(f"unable to stat preserved-fd {fd - base} (of {preserve}): "
                             f"stat /proc/self/fd/{fd}: {os.strerror(e.errno).lower()}") from None


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
    proc = build(make_process(doc.get("process") or {}))

    if detach and proc.terminal and not console_socket:
        raise PyociError("cannot allocate tty if pyoci will detach without setting console socket")
    if console_socket and (not detach or not proc.terminal):
        raise PyociError("cannot use console socket if pyoci will not detach or allocate tty")
    n_listen = listen_fds()
    check_fds(n_listen, preserve_fds)
    if n_listen:
        proc.env = proc.env + (f"LISTEN_FDS={n_listen}",)   # LISTEN_PID: P2 knows its pid
    subs = parse_cgroup_args(cgroup)
    if subs and not state.cgroup:
        raise PyociError("--cgroup: the container has no cgroup")
    cg = cgroup_plan(state.cgroup, subs) if state.cgroup else CgroupPlan([], None, None)
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
                              seccomp=seccomp),
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


def _spawn(a: ExecArgs, cg: CgroupPlan, frozen: bool, hooks_state) -> int:
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
            path, fd = _open_cgroup_file(d, "tasks")
            opened.append(fd)
            (a.cg_late if frozen and d == cg.freezer else a.cg_early).append((path, fd))
        born_in = -1
        if cg.unified and not (frozen and cg.unified == cg.freezer):
            born_in = os.open(cg.unified, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            opened.append(born_in)
        elif cg.unified:
            path, fd = _open_cgroup_file(cg.unified, "cgroup.procs")
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
                pid = clone_into_cgroup(born_in)
            except OSError:
                # Before Linux 5.7 (or refused): fork, and P2 joins like the v1 hierarchies.
                path, fd = _open_cgroup_file(cg.unified, "cgroup.procs")
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
        _join_cgroup(cg_path, fd)
    for t, fd in a.ns_fds:
        if t not in ("pid", "time"):
            _setns(sc, t, fd)
            if t == "user":
                # Root of the container's user namespace, as its init is.
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
        os.close(fd)
    os.setsid()     # runc's nsexec does the same for exec: a session of its own
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
    if proc.rlimits or proc.oom_score_adj is not None:
        from .. import limits

        if proc.oom_score_adj is not None:
            limits.set_oom_score_adj(proc.oom_score_adj)
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
            _join_cgroup(cg_path, fd)   # a frozen cgroup: we stop here until `resume`
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
