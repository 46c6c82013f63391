"""The OCI lifecycle (runtime.md "Operations"): create, start, state, kill, delete (`run` is foreground.py).

Orchestration only: the concern modules do the work. Each operation takes the container's
lock (flock on its state dir) when it changes something, so a concurrent kill and delete of
one id are serialised.
"""

from __future__ import annotations

import os

from . import SPEC_VERSION, jsonio, log
from .errors import InitError, PyociError, SetupError, WrongState
from .state import ContainerDir, State, StateStore, derive_status, proc_start_time

SECCOMP_CACHE = "/var/cache/pyoci/seccomp"


def _cgroup_manager(spec, container_id: str, systemd: bool):
    from . import cgroups

    if not hasattr(cgroups, "for_container"):  # cgroups package still landing
        return None
    return cgroups.for_container(container_id, spec.linux.cgroups_path or None, spec.linux.resources,
                                 systemd=systemd)


def _write_pid_file(path: str, pid: int) -> None:
    # conmon and the shim read it as soon as we exit: write aside and rename, no newline (runc).
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Created:
    __slots__ = ("cdir", "state", "spec", "manager")

    def __init__(self, cdir: ContainerDir, state: State, spec, manager) -> None:
        self.cdir, self.state, self.spec, self.manager = cdir, state, spec, manager


def create(g: dict, container_id: str, bundle: str, pid_file: str | None = None,
           console_socket: str | None = None, no_pivot: bool = False, preserve_fds: int = 0,
           no_new_keyring: bool = False) -> Created:
    """Everything but the user's process; init is left blocked on the exec fifo."""
    from .config import load_bundle
    from .log import rfc3339
    from .process import execfifo, spawn

    store = StateStore(g.get("root"))
    from .state import check_id

    check_id(container_id)
    import resource

    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if not 0 <= preserve_fds <= fd_limit - 3:
        # init marks fds 3..3+N-1 inheritable one by one: a huge N would spin for hours.
        raise PyociError(f"--preserve-fds {preserve_fds}: must be between 0 and {fd_limit - 3} "
                         "(the open files limit)")
    if os.geteuid() != 0:
        from .errors import Unsupported

        raise Unsupported("rootless containers are not supported by pyoci yet: run it as root")
    spec = load_bundle(bundle)
    proc = spec.process
    if proc.terminal and not console_socket:
        raise PyociError("cannot allocate tty if runc will detach without setting console socket"
                         .replace("runc", "pyoci"))
    if console_socket and not proc.terminal:
        raise PyociError("cannot use console socket if the container has no terminal (process.terminal is false)")
    if "LISTEN_FDS" in os.environ:
        from .process.exec import listen_fds

        n_listen = listen_fds()
        if n_listen:
            # systemd socket activation, as runc passes it on: the sockets become the process's
            # fds 3.., before the --preserve-fds ones, and LISTEN_PID names init (pid 1).
            proc.env = proc.env + (f"LISTEN_FDS={n_listen}", "LISTEN_PID=1")
            preserve_fds += n_listen
    seccomp = None
    if spec.linux.seccomp is not None:
        from . import seccomp as sec

        # Compiling a large profile (podman's) costs ~20 ms; the cache makes repeats ~2 ms. It lives
        # outside --root, which holds containers and nothing else.
        seccomp = sec.prepare(spec.linux.seccomp, cache_dir=SECCOMP_CACHE)

    cdir = store.new(container_id)
    cdir.lock(must_exist=False)
    state = State(container_id, spec.bundle, spec.root.path, rfc3339(nanos=True),
                  annotations=spec.annotations or {}, creator=[os.getpid(), proc_start_time(os.getpid())],
                  hooks=_late_hooks(spec), extra={"no_new_keyring": True} if no_new_keyring else {})
    manager = None
    console_fd = -1
    fifo_fd = status_fd = -1
    idmapped: dict[int, int] = {}
    try:
        cdir.write_file("config.json", jsonio.dumps(spec.raw).encode())
        state.config = cdir.file("config.json")
        manager = _cgroup_manager(spec, container_id, bool(g.get("systemd_cgroup")))
        if manager is not None:
            state.cgroup = manager.describe()
        # Before anything is made: a runtime killed from here on leaves a trail delete can follow.
        cdir.write(state)
        fifo_fd, status_fd = execfifo.create(cdir.fifo)
        if manager is not None:
            manager.create()
            state.cgroup = manager.describe()   # written with the pid, below
        if console_socket:
            from . import console

            console_fd = console.connect(console_socket)
        if any(m.uid_mappings or m.gid_mappings or "idmap" in m.options or "ridmap" in m.options
               for m in spec.mounts):
            from .rootfs import idmap

            idmapped = idmap.prepare(spec)

        def on_pid(pid: int) -> None:
            state.pid, state.pid_start = pid, proc_start_time(pid) or 0
            cdir.write(state)
            if spec.linux.net_devices:
                from . import network

                network.move_devices(spec.linux.net_devices, pid)

        def on_hooks(pid: int) -> None:
            from . import hooks

            st = hooks.state_dict(container_id, "creating", pid, spec.bundle, spec.annotations)
            hooks.run("prestart", spec.hooks.prestart, st)
            hooks.run("createRuntime", spec.hooks.create_runtime, st)

        def on_seccomp_fd(pid: int, remote_fd: int) -> None:
            from . import hooks
            from . import seccomp as sec

            fd = sec.take_listener_fd(pid, remote_fd)
            try:
                seccomp.send_listener(fd, hooks.state_dict(container_id, "creating", pid, spec.bundle,
                                                           spec.annotations))
            finally:
                os.close(fd)

        spawn.spawn(spec, container_id, manager,
                    dict(fifo_fd=fifo_fd, status_fd=status_fd, console_fd=console_fd, cgroup=state.cgroup, no_pivot=no_pivot,
                         preserve_fds=preserve_fds, seccomp=seccomp, idmapped=idmapped,
                         no_new_keyring=no_new_keyring),
                    on_pid, on_hooks, child_close=(cdir._lock_fd,), on_seccomp_fd=on_seccomp_fd)
        state.phase, state.creator = "created", []
        cdir.write(state)
        if pid_file:
            _write_pid_file(pid_file, state.pid)
    except BaseException as e:
        if spec.linux.net_devices and state.pid:
            # Virtual devices would die with the namespace: give them back to the host first.
            from . import network

            try:
                network.return_devices(spec.linux.net_devices, state.pid)
            except Exception as ne:  # noqa: BLE001 - the original error is the one to report
                log.warning(f"returning netDevices to the host: {ne}")
        _destroy(cdir, state, manager)
        if state.hooks.get("poststop") and (getattr(e, "hook", False) or type(e).__name__ == "HookError"):
            # A failed create-time hook "continues the lifecycle at step 12": destroy, then poststop.
            _run_late_hooks("poststop", state, "stopped", warn_only=True)
        if isinstance(e, OSError) and not isinstance(e, PyociError):
            from .errors import oserror_text

            raise SetupError(oserror_text(e)) from e
        raise
    finally:
        for fd in (fifo_fd, status_fd, console_fd, *idmapped.values()):
            if fd >= 0:
                os.close(fd)
    return Created(cdir, state, spec, manager)


def _late_hooks(spec) -> dict:
    """poststart and poststop hooks, kept in state.json so start and delete need no config parse."""
    out = {}
    for kind in ("poststart", "poststop"):
        hooks = getattr(spec.hooks, kind)
        if hooks:
            out[kind] = [{"path": h.path, "args": list(h.args), "env": list(h.env), "timeout": h.timeout}
                         for h in hooks]
    return out


def _destroy(cdir: ContainerDir, state: State, manager=None) -> None:
    """Kill every process of the container and remove its cgroup and state dir."""
    from .process.spawn import kill_and_wait

    if manager is None and state.cgroup:
        from . import cgroups

        manager = cgroups.reopen(state.cgroup)
    if manager is not None:
        try:
            manager.kill(9)   # SIGKILL
            if manager.is_frozen():
                manager.thaw()   # frozen tasks die only once thawed
        except (OSError, PyociError):
            pass
    if state.pid and proc_start_time(state.pid) == state.pid_start:
        kill_and_wait(state.pid)
    if manager is not None:
        try:
            manager.destroy()
        except (OSError, PyociError) as e:
            log.warning(f"removing cgroup of {state.id}: {e}")
    cdir.remove()


def start(g: dict, container_id: str) -> None:
    from .process import execfifo

    cdir = StateStore(g.get("root")).open(container_id)
    with cdir:
        state = cdir.read()
        status = derive_status(state, cdir)
        if status != "created":
            raise WrongState(f"cannot start a container that is {status}" if status != "stopped"
                             else "cannot start a container that has stopped")
        try:
            execfifo.release(cdir.fifo)
        except InitError:
            # A startContainer hook (or the exec) failed: runtime.md step 7, stop the container
            # and continue at step 12 (destroy, then poststop).
            _destroy(cdir, state)
            _run_late_hooks("poststop", state, "stopped", warn_only=True)
            raise
        if state.hooks.get("poststart"):
            _poststart(cdir, state)


def _poststart(cdir: ContainerDir, state: State) -> None:
    """runtime.md (v1.3.0) step 9: a failing poststart hook is an error: stop the container,
    destroy it (step 12) and run the poststop hooks (step 13)."""
    try:
        _run_late_hooks("poststart", state, "running")
    except PyociError:
        _destroy(cdir, state)
        _run_late_hooks("poststop", state, "stopped", warn_only=True)
        raise


def _run_late_hooks(kind: str, state: State, status: str, warn_only: bool = False) -> None:
    from . import hooks
    from .config.model import Hook

    hs = tuple(Hook(path=h["path"], args=tuple(h["args"]), env=tuple(h["env"]), timeout=h["timeout"])
               for h in state.hooks.get(kind, ()))
    st = hooks.state_dict(state.id, status, state.pid if status != "stopped" else 0, state.bundle, state.annotations)
    hooks.run(kind, hs, st, on_error=(lambda e: log.warning(str(e))) if warn_only else None)


def state_json(g: dict, container_id: str) -> dict:
    cdir = StateStore(g.get("root")).open(container_id)
    st = cdir.read()
    status = derive_status(st, cdir)
    out = {"ociVersion": SPEC_VERSION, "id": st.id, "pid": st.pid if status not in ("stopped",) else 0,
           "status": status, "bundle": st.bundle, "rootfs": st.rootfs, "created": st.created, "owner": st.owner}
    if st.annotations:
        out["annotations"] = st.annotations
    return out


def kill(g: dict, container_id: str, sig: int, all_: bool = False) -> None:
    cdir = StateStore(g.get("root")).open(container_id)
    with cdir:
        state = cdir.read()
        status = derive_status(state, cdir)
        if status in ("stopped", "creating") and not all_:
            raise WrongState("container not running")
        if all_ and state.cgroup:
            from . import cgroups

            cgroups.reopen(state.cgroup).kill(sig)
            return
        if status == "stopped":
            raise WrongState("container not running")
        try:
            os.kill(state.pid, sig)
        except ProcessLookupError:
            raise WrongState("container not running") from None


def delete(g: dict, container_id: str, force: bool = False) -> None:
    store = StateStore(g.get("root"))
    try:
        cdir = store.open(container_id)
        cdir.lock()
    except PyociError as e:
        if type(e).__name__ == "ContainerNotFound":
            # A create killed before its first state.json leaves a directory nothing else sees.
            store.remove_aborted(container_id)
            if force:
                return  # runc and crun: delete --force of a missing container succeeds
        raise
    state = cdir.read()
    status = derive_status(state, cdir)
    # runtime.md: deleting a container whose process is still running is an error; a created
    # container's init is such a process (runc and crun delete it anyway; use --force).
    if status in ("created", "running", "paused", "creating") and not force:
        raise WrongState(f"cannot delete container {container_id} that is not stopped: {status}")
    _destroy(cdir, state)
    if state.hooks.get("poststop"):
        # v1.3.0: a failing poststop hook is a warning; the container is gone either way.
        _run_late_hooks("poststop", state, "stopped", warn_only=True)
