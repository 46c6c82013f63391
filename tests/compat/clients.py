"""podman and containerd set up privately under one temp dir, and per-test drivers for both.

Nothing here touches /etc/containers, the host's container storage or a system containerd:
podman gets its own containers.conf/storage.conf/registries.conf (via CONTAINERS_* env) and
containerd its own config.toml, root, state and socket. The runtime-specific part of both
configs is the snippet of docs/clients.md (see docsnip.py); the rest is test plumbing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

from . import docsnip
from .harness import (TIMEOUT, cgroup_dirs_named, check, mounts_under, run, run_pty,
                      scrub_cgroups, unmount_all_under, wait_for)
from .image import IMAGE_REF

# podman lowers its own RLIMIT_NPROC to 32768 at start-up (CLIENTS.md §5), so a larger
# container nproc could not be set by any runtime; nofile can go up to our hard limit.
PODMAN_NPROC_CAP = 32768


def _init_binary() -> str | None:
    """podman --init bind-mounts this as /run/podman-init; it must be static (busybox image)."""
    for candidate in ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit",
                      "/usr/bin/tini-static"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# --- podman ----------------------------------------------------------------------------------

class PodmanSession:
    """A podman whose every file lives under `home`, with the test image loaded."""

    def __init__(self, home: Path, runtime: str) -> None:
        self.home, self.runtime = home, runtime
        self.podman = shutil.which("podman") or "podman"
        self.graphroot = home / "graph"
        self.events_log = home / "events.log"
        for d in ("graph", "run", "tmp", "volumes", "imgtmp", "networks", "conf"):
            (home / d).mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ,
                        CONTAINERS_CONF=str(home / "conf/containers.conf"),
                        CONTAINERS_STORAGE_CONF=str(home / "conf/storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=str(home / "conf/registries.conf"),
                        TMPDIR=str(home / "tmp"))
        self.driver = os.environ.get("PYOCI_COMPAT_STORAGE_DRIVER") or "overlay"
        self.write_configs()
        self.baseline_mounts: set[str] = set()

    def containers_conf(self) -> dict:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], PODMAN_NPROC_CAP)
        h = self.home
        plumbing: dict = {
            "containers": {
                # No CAP_SYS_RESOURCE here: ask for exactly the limits we already have.
                "default_ulimits": [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"],
                "netns": "none",
            },
            "network": {"network_config_dir": str(h / "networks")},
            "engine": {
                "cgroup_manager": "cgroupfs",
                "events_logger": "file",
                "events_logfile_path": str(self.events_log),
                "tmp_dir": str(h / "tmp"),
                "volume_path": str(h / "volumes"),
                "image_copy_tmp_dir": str(h / "imgtmp"),
            },
        }
        init = _init_binary()
        if init:
            plumbing["containers"]["init_path"] = init
        doc = docsnip.toml_snippet("podman-containers.conf", self.runtime)
        return docsnip.merge(doc, plumbing)

    def write_configs(self) -> None:
        conf = self.home / "conf"
        (conf / "containers.conf").write_text(docsnip.toml_dumps(self.containers_conf()))
        (conf / "storage.conf").write_text(docsnip.toml_dumps({"storage": {
            "driver": self.driver, "graphroot": str(self.graphroot),
            "runroot": str(self.home / "run")}}))
        (conf / "registries.conf").write_text("unqualified-search-registries = []\n")

    def __call__(self, *args: str, input: str | None = None,
                 timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
        return run([self.podman, *args], env=self.env, input=input, timeout=timeout)

    def start(self, archive: Path) -> None:
        info = self("info", "--format", "{{.Store.GraphDriverName}}")
        if info.returncode != 0 and self.driver == "overlay":
            self.reset()
            self.driver = "vfs"  # overlay unusable on this kernel/filesystem
            self.write_configs()
            info = self("info", "--format", "{{.Store.GraphDriverName}}")
        check(info)
        check(self("load", "-q", "-i", str(archive)))
        self.baseline_mounts = set(mounts_under(self.home))

    def reset(self) -> None:
        """Remove every container and image, then storage; unmount what podman left mounted."""
        self("rm", "-a", "-f", "-t", "0", timeout=120)
        self("system", "reset", "--force", timeout=120)
        unmount_all_under(self.home)

    def container_ids_created_since(self, offset: int) -> tuple[list[str], int]:
        """IDs of containers created since byte `offset` of the events log, and the new offset."""
        try:
            with open(self.events_log, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        ids = []
        for line in data.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("Type") == "container" and ev.get("Status") == "create" and ev.get("ID"):
                ids.append(ev["ID"])
        return ids, offset + len(data)

    def events_offset(self) -> int:
        try:
            return self.events_log.stat().st_size
        except FileNotFoundError:
            return 0


class Podman:
    """One test's view of the session's podman: unique names, cleanup and a leak audit."""

    def __init__(self, session: PodmanSession, tmp: Path) -> None:
        self.s, self.tmp = session, tmp
        self.image = IMAGE_REF
        self.names: list[str] = []
        self._events_at = session.events_offset()

    def __call__(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.s(*args, **kw)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return check(self.s(*args, **kw))

    def name(self) -> str:
        n = f"compat-{uuid.uuid4().hex[:10]}"
        self.names.append(n)
        return n

    def run(self, *args: str, input: str | None = None, **kw) -> subprocess.CompletedProcess:
        """`podman run --rm [args]` where args end with the command (the image is inserted)."""
        opts, cmd = _split_cmd(args)
        return self.s("run", "--rm", "--name", self.name(), *opts, self.image, *cmd,
                      input=input, **kw)

    def run_d(self, *args: str) -> str:
        """`podman run -d [opts] IMAGE cmd...`; returns the container's name."""
        opts, cmd = _split_cmd(args)
        name = self.name()
        self.ok("run", "-d", "--name", name, *opts, self.image, *cmd)
        return name

    def pty(self, *args: str, steps=(), timeout: float = 30) -> tuple[int, str]:
        env = dict(self.s.env, TERM="xterm")
        return run_pty([self.s.podman, *args], env=env, steps=steps, timeout=timeout)

    def inspect(self, name: str, fmt: str) -> str:
        return self.ok("inspect", "--format", fmt, name).stdout.strip()

    def pid(self, name: str) -> int:
        pid = int(self.inspect(name, "{{.State.Pid}}"))
        assert pid > 0, f"{name} has no pid"
        return pid

    def status(self, name: str) -> str:
        return self.inspect(name, "{{.State.Status}}")

    def cleanup(self) -> list[str]:
        """Force-remove this test's containers; return the leaks found afterwards."""
        if self.names:
            self.s("rm", "-f", "--ignore", "-t", "0", *self.names, timeout=120)
        leaks = []
        left = self.s("ps", "-a", "--format", "{{.Names}}").stdout.split()
        if left:
            leaks.append(f"podman containers left: {left}")
        ids, self._events_at = self.s.container_ids_created_since(self._events_at)
        for cid in ids:  # the runtime's `delete` must remove the container's cgroups
            try:
                wait_for(lambda: not cgroup_dirs_named(f"libpod-{cid}"), timeout=5)
            except AssertionError:
                left_cg = cgroup_dirs_named(f"libpod-{cid}")
                leaks.append(f"cgroups left for {cid[:12]}: {left_cg}")
                run([self.s.runtime, "delete", "--force", cid])  # podman's own last resort
                scrub_cgroups(left_cg)
        # graph/<driver> itself is c/storage's private bind mount, made and undone by each podman
        # process as it comes and goes (the cleanup process may still be running): not a leak.
        driver_home = str(self.s.graphroot / self.s.driver)
        extra = set(mounts_under(self.s.home)) - self.s.baseline_mounts - {driver_home}
        if extra:
            leaks.append(f"mounts left under podman's storage: {sorted(extra)}")
        return leaks


def _split_cmd(args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Options before "--", the command after it (no "--": everything is the command)."""
    if "--" in args:
        i = args.index("--")
        return list(args[:i]), list(args[i + 1:])
    return [], list(args)


# --- containerd ------------------------------------------------------------------------------

class ContainerdInstance:
    """A private containerd (own config, root, state, socket; CRI disabled), started and
    stopped by pid, with the test image imported in a namespace of its own."""

    def __init__(self, home: Path, runtime: str) -> None:
        self.home, self.runtime = home, runtime
        self.socket = home / "containerd.sock"
        self.namespace = f"pyoci-compat-{uuid.uuid4().hex[:6]}"
        self.fifo_dir = home / "fifo"
        self.log_path = home / "containerd.log"
        self.ctr = shutil.which("ctr") or "ctr"
        self.proc: subprocess.Popen | None = None
        self.env = dict(os.environ)
        doc = docsnip.toml_snippet("containerd-config.toml", runtime)
        runtimes = doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
        assert len(runtimes) == 1, f"expected one runtime in the doc snippet: {list(runtimes)}"
        (self.runtime_name, rt), = runtimes.items()
        # What the CRI plugin would put in the task request for this runtime:
        self.runtime_type = rt["runtime_type"]
        self.binary_name = rt["options"]["BinaryName"]
        self.config = docsnip.merge(doc, {
            "root": str(home / "root"),
            "state": str(home / "state"),
            "disabled_plugins": ["io.containerd.grpc.v1.cri"],
            "grpc": {"address": str(self.socket)},
            "ttrpc": {"address": str(home / "containerd.sock.ttrpc")},
            "debug": {"address": ""},
            "metrics": {"address": ""},
            "plugins": {"io.containerd.internal.v1.opt": {"path": str(home / "opt")}},
        })
        # Host paths the shim/ctr use whatever the config says; cleaned at the end if ours.
        self.host_dirs = ["/run/containerd", "/run/containerd/s", "/run/containerd/fifo",
                          "/run/containerd/runc", f"/run/containerd/runc/{self.namespace}"]
        self.preexisting = {d for d in self.host_dirs if os.path.exists(d)}

    def __call__(self, *args: str, input: str | None = None,
                 timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
        return run([self.ctr, "--address", str(self.socket), "--namespace", self.namespace,
                    *args], env=self.env, input=input, timeout=timeout)

    def start(self, archive: Path) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.fifo_dir.mkdir(exist_ok=True)
        cfg = self.home / "config.toml"
        cfg.write_text(docsnip.toml_dumps(self.config))
        containerd = shutil.which("containerd") or "containerd"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([containerd, "--config", str(cfg)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited {self.proc.returncode}:\n{self.log()}")
            return self.socket.exists() and self("version").returncode == 0

        wait_for(up, timeout=30, what="containerd to serve its socket")
        check(self("images", "import", str(archive), timeout=120))

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> list[str]:
        """Remove what is left in our namespace, stop containerd by pid, clean host paths."""
        problems = []
        if self.proc is not None and self.proc.poll() is None:
            for cid in self("tasks", "ls", "-q").stdout.split():
                self("tasks", "delete", "-f", cid)
            for cid in self("containers", "ls", "-q").stdout.split():
                self("containers", "rm", cid)
            self("images", "rm", IMAGE_REF)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                problems.append("containerd ignored SIGTERM for 20s; killed")
                self.proc.kill()
                self.proc.wait()
        left = unmount_all_under(self.home)
        if left:
            problems.append(f"mounts left under {self.home}: {left}")
        for d in cgroup_dirs_named(self.namespace):  # shims leave the namespace's parent cgroup
            try:
                os.rmdir(d)
            except OSError as e:
                problems.append(f"cgroup {d} not removable: {e}")
        for d in reversed(self.host_dirs):
            if d not in self.preexisting:
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError:
                    if d.endswith(self.namespace):
                        problems.append(f"{d} not empty: {os.listdir(d)}")
        return problems


class Ctr:
    """One test's ctr: unique container ids in the session namespace, cleanup and audit."""

    def __init__(self, inst: ContainerdInstance, tmp: Path) -> None:
        self.i, self.tmp = inst, tmp
        self.image = IMAGE_REF
        self.ids: list[str] = []

    def __call__(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.i(*args, **kw)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return check(self.i(*args, **kw))

    def new_id(self) -> str:
        cid = f"compat-{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid

    def run_argv(self, args: tuple[str, ...], *, cid: str, rm: bool = True,
                 detach: bool = False) -> list[str]:
        opts, cmd = _split_cmd(args)
        # --runtime/--runc-binary are the doc's runtime_type/options.BinaryName (see docsnip).
        return ["run", "--runtime", self.i.runtime_type, "--runc-binary", self.i.binary_name,
                "--fifo-dir", str(self.i.fifo_dir), *(["--rm"] if rm else []),
                *(["-d"] if detach else []), *opts, self.image, cid, *cmd]

    def run(self, *args: str, input: str | None = None, **kw) -> subprocess.CompletedProcess:
        """`ctr run --rm [opts] IMAGE ID cmd...` (args: opts, "--", cmd)."""
        return self.i(*self.run_argv(args, cid=self.new_id()), input=input, **kw)

    def run_d(self, *args: str) -> str:
        cid = self.new_id()
        self.ok(*self.run_argv(args, cid=cid, rm=False, detach=True))
        return cid

    def pty(self, *args: str, steps=(), timeout: float = 30) -> tuple[int, str]:
        env = dict(self.i.env, TERM="xterm")
        argv = [self.i.ctr, "--address", str(self.i.socket), "--namespace", self.i.namespace, *args]
        return run_pty(argv, env=env, steps=steps, timeout=timeout)

    def tasks(self) -> dict[str, tuple[int, str]]:
        """`ctr task ls`: {id: (pid, STATUS)}."""
        out = self.ok("tasks", "ls").stdout.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (line.split() for line in out) if len(f) >= 3}

    def task_status(self, cid: str) -> str | None:
        t = self.tasks().get(cid)
        return t[1] if t else None

    def pid(self, cid: str) -> int:
        return self.tasks()[cid][0]

    def exec_argv(self, cid: str, *cmd: str, opts: tuple[str, ...] = ()) -> list[str]:
        return ["tasks", "exec", "--fifo-dir", str(self.i.fifo_dir),
                "--exec-id", f"e{uuid.uuid4().hex[:8]}", *opts, cid, *cmd]

    def cleanup(self) -> list[str]:
        leaks = []
        for cid in self.ids:
            if self.task_status(cid) is not None:
                self.i("tasks", "delete", "-f", cid)
            self.i("containers", "rm", cid)
        left = set(self.i("containers", "ls", "-q").stdout.split()) & set(self.ids)
        if left:
            leaks.append(f"ctr containers left: {sorted(left)}")
        for cid in self.ids:
            try:
                wait_for(lambda: not cgroup_dirs_named(cid), timeout=5)
            except AssertionError:
                leaks.append(f"cgroups left for {cid}: {cgroup_dirs_named(cid)}")
                scrub_cgroups(cgroup_dirs_named(cid))
            state = Path(f"/run/containerd/runc/{self.i.namespace}/{cid}")  # the shim's --root
            if state.exists():
                leaks.append(f"runtime state left: {state}")
                shutil.rmtree(state, ignore_errors=True)
        return leaks

