"""Where containers live between pyoci calls: <root>/<id>/ holding state.json and exec.fifo.

Status is never trusted from the file alone: `derive_status` looks at the facts each time
(init's pid *and* its start time, whether the exec fifo still exists, the freezer), so a
container whose processes were killed from outside reads as stopped.
"""

from __future__ import annotations

import fcntl
import os

from . import jsonio
from .errors import ContainerExists, ContainerNotFound, PyociError

DEFAULT_ROOT = "/run/pyoci"
STATE_FILE = "state.json"
FIFO = "exec.fifo"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")


def check_id(container_id: str) -> None:
    """runc's rule (^[\\w+-.]+$, not . or ..): the id becomes a directory name under --root."""
    if (not container_id or container_id in (".", "..") or len(container_id) > 1024
            or not _ID_CHARS.issuperset(container_id)):
        raise PyociError(f"invalid container id {container_id!r}: use letters, digits and _+-. only")


class State:
    """What pyoci remembers about a container; everything else is derived."""

    __slots__ = ("id", "bundle", "rootfs", "pid", "pid_start", "created", "owner", "annotations",
                 "phase", "creator", "cgroup", "hooks", "config", "extra")

    def __init__(self, id: str, bundle: str, rootfs: str, created: str, **kw: object) -> None:
        self.id, self.bundle, self.rootfs, self.created = id, bundle, rootfs, created
        self.pid: int = 0                 # init's host pid, 0 until create has forked it
        self.pid_start: int = 0           # its start time (clock ticks since boot): defeats pid reuse
        self.owner: str = ""
        self.annotations: dict = {}
        self.phase: str = "creating"      # "creating" until create returns, then "created"
        self.creator: list[int] = []      # [pid, start time] of the create process, while creating
        self.cgroup: dict = {}            # cgroups.Manager.describe(), reopened by later commands
        self.hooks: dict = {}             # only poststart/poststop: later commands need no config.json
        self.config: str = ""             # path of the config copy kept for exec
        self.extra: dict = {}             # small per-feature facts (e.g. namespaces paths)
        for k, v in kw.items():
            setattr(self, k, v)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict) -> "State":
        known = {k: v for k, v in d.items() if k in cls.__slots__}
        return cls(**known)


def proc_start_time(pid: int) -> int | None:
    """Start time of pid (field 22 of /proc/PID/stat), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def alive(pid: int, start: int) -> bool:
    return pid > 0 and proc_start_time(pid) == start


class ContainerDir:
    def __init__(self, path: str, container_id: str) -> None:
        self.path, self.id = path, container_id
        self._lock_fd: int | None = None

    @property
    def fifo(self) -> str:
        return os.path.join(self.path, FIFO)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def read(self) -> State:
        try:
            with open(self.file(STATE_FILE), "rb") as f:
                return State.from_dict(jsonio.loads(f.read()))
        except FileNotFoundError:
            raise ContainerNotFound(self.id) from None
        except ValueError as e:
            raise PyociError(f"corrupt state file {self.file(STATE_FILE)}: {e}") from None

    def write(self, state: State) -> None:
        self.write_file(STATE_FILE, jsonio.dumps(state.to_dict()).encode())

    def write_file(self, name: str, data: bytes) -> None:
        # Readers never see a half-written file: write aside, then rename over. An error (a full
        # --root) names the file: os.write's own OSError has no file name.
        path, tmp = self.file(name), self.file(f".{name}.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as e:
            raise OSError(e.errno, os.strerror(e.errno), path) from None

    def lock(self, must_exist: bool = True) -> "ContainerDir":
        """Take the container's exclusive lock (flock on the directory) until release()/exit.
        Serialises mutating commands on one id, e.g. a concurrent kill and delete."""
        if self._lock_fd is None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                # Removed by a delete that ran between our look-up and here.
                raise ContainerNotFound(self.id) from None
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_fd = fd
            if must_exist and not os.path.exists(self.file(STATE_FILE)):
                # Deleted by whoever held the lock before us.
                self.release()
                raise ContainerNotFound(self.id)
        return self

    def __enter__(self) -> "ContainerDir":
        return self.lock()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove(self) -> None:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return
        # state.json last: a delete killed half-way leaves a container that `list` still shows
        # and the next `delete` finishes.
        names.sort(key=lambda n: n == STATE_FILE)
        try:
            for name in names:
                try:
                    os.unlink(self.file(name))
                except FileNotFoundError:
                    pass
            try:
                os.rmdir(self.path)
            except FileNotFoundError:
                pass
        except OSError as e:   # a read-only or failing --root: say so in one line
            raise PyociError(f"cannot remove state directory {self.path}: {os.strerror(e.errno).lower()}") from None


class StateStore:
    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or DEFAULT_ROOT)

    def _dir(self, container_id: str) -> ContainerDir:
        check_id(container_id)
        return ContainerDir(os.path.join(self.root, container_id), container_id)

    def new(self, container_id: str) -> ContainerDir:
        d = self._dir(container_id)
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.mkdir(d.path, 0o700)
        except FileExistsError:
            raise ContainerExists(container_id) from None
        except OSError as e:
            raise PyociError(f"cannot create state directory {d.path}: {os.strerror(e.errno).lower()}") from None
        return d

    def open(self, container_id: str) -> ContainerDir:
        try:
            d = self._dir(container_id)
        except PyociError:
            # An id that cannot exist does not exist: the same answer runc gives.
            raise ContainerNotFound(container_id) from None
        if not os.path.isfile(d.file(STATE_FILE)):
            raise ContainerNotFound(container_id)
        return d

    def remove_aborted(self, container_id: str) -> None:
        """Remove <root>/<id> if it holds no state.json: what a create killed between making the
        directory and writing its first state leaves (runc's delete does the same). The lock
        waits out a create that is still running."""
        try:
            d = self._dir(container_id)
            d.lock(must_exist=False)
        except (PyociError, OSError):
            return
        try:
            if not os.path.exists(d.file(STATE_FILE)):
                d.remove()
        finally:
            d.release()

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if os.path.isfile(os.path.join(self.root, n, STATE_FILE)))
        except FileNotFoundError:
            return []


def derive_status(state: State, cdir: ContainerDir) -> str:
    """creating | created | running | paused | stopped, from facts (runtime.md "State")."""
    if state.phase == "creating":
        if state.creator and alive(*state.creator):
            return "creating"
        # The create process died half-way: nothing can start this container any more.
        return "stopped"
    if not alive(state.pid, state.pid_start):
        return "stopped"
    if state.cgroup:
        from .cgroups import is_frozen

        # Before the fifo: a frozen created container is "paused", as runc says.
        if is_frozen(state.cgroup):
            return "paused"
    if os.path.exists(cdir.fifo):
        return "created"
    return "running"


