"""Every command and flag of pyoci, declared once as data.

Both parsers read this table: `fastparse` (no click import, for the argv shapes podman and
containerd send on every container) and `clickapp` (help, usage errors, unusual spellings).
Flag names and help texts follow runc 1.1 so runc's users find what they know.
"""

from __future__ import annotations

FLAG, VALUE, INT, MULTI = "flag", "value", "int", "multi"


class Opt:
    __slots__ = ("name", "short", "kind", "default", "help", "metavar")

    def __init__(self, name: str, kind: str = FLAG, help: str = "", short: str | None = None,
                 default: object = None, metavar: str = "value") -> None:
        self.name, self.kind, self.help, self.short, self.metavar = name, kind, help, short, metavar
        self.default = default if default is not None else ((False if kind == FLAG else
                                                            () if kind == MULTI else None))

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


class Cmd:
    """A command: `args` are positional names; a trailing '*' name takes the rest of argv verbatim
    (exec's command, ps's options); a leading '?' marks an optional one."""

    __slots__ = ("name", "handler", "args", "opts", "help", "description")

    def __init__(self, name: str, handler: str, args: tuple[str, ...], opts: tuple[Opt, ...],
                 help: str, description: str = "") -> None:
        self.name, self.handler, self.args, self.opts = name, handler, args, opts
        self.help, self.description = help, description


GLOBAL_OPTS = (
    Opt("debug", FLAG, "enable debug logging"),
    Opt("log", VALUE, "set the log file to write pyoci logs to (default is '/dev/stderr')"),
    Opt("log-format", VALUE, "set the log format ('text' (default), or 'json')", default="text"),
    Opt("root", VALUE, "root directory for storage of container state (this should be located in tmpfs)",
        default="/run/pyoci"),
    Opt("criu", VALUE, "path to the criu binary used for checkpoint and restore", default="criu"),
    Opt("systemd-cgroup", FLAG, "enable systemd cgroup support, expects cgroupsPath to be of form "
        '"slice:prefix:name"'),
    Opt("rootless", VALUE, "ignore cgroup permission errors ('true', 'false', or 'auto')", default="auto"),
)

_BUNDLE = Opt("bundle", VALUE, "path to the root of the bundle directory, defaults to the current directory",
              short="b", default=".")
_CONSOLE = Opt("console-socket", VALUE, "path to an AF_UNIX socket which will receive a file descriptor "
               "referencing the master end of the console's pseudoterminal")
_PIDFILE = Opt("pid-file", VALUE, "specify the file to write the process id to")
_NOPIVOT = Opt("no-pivot", FLAG, "do not use pivot root to jail process inside rootfs. This should be "
               "used whenever the rootfs is on top of a ramdisk")
_NOKEYRING = Opt("no-new-keyring", FLAG, "do not create a new session keyring for the container")
_PRESERVE = Opt("preserve-fds", INT, "Pass N additional file descriptors to the container (stdio + "
                "$LISTEN_FDS + N in total)", default=0)
_FORMAT = Opt("format", VALUE, "select one of: table or json", short="f", default="table")

_ID = "container-id"

COMMANDS: dict[str, Cmd] = {c.name: c for c in (
    Cmd("create", "create:create", (_ID,), (_BUNDLE, _CONSOLE, _PIDFILE, _NOPIVOT, _NOKEYRING, _PRESERVE),
        "create a container",
        "The create command creates an instance of a container for a bundle. The bundle is a "
        "directory with a specification file named \"config.json\" and a root filesystem."),
    Cmd("start", "start:start", (_ID,), (), "executes the user defined process in a created container"),
    Cmd("state", "state:state", (_ID,), (), "output the state of a container"),
    Cmd("kill", "kill:kill", (_ID, "?signal"),
        (Opt("all", FLAG, "send the specified signal to all processes inside the container", short="a"),),
        "kill sends the specified signal (default: SIGTERM) to the container's init process"),
    Cmd("delete", "delete:delete", (_ID,),
        (Opt("force", FLAG, "Forcibly deletes the container if it is still running (uses SIGKILL)",
             short="f"),),
        "delete any resources held by the container often used with detached container"),
    Cmd("run", "run:run", (_ID,),
        (_BUNDLE, _CONSOLE,
         Opt("detach", FLAG, "detach from the container's process", short="d"),
         Opt("keep", FLAG, "do not delete the container after it exits"),
         _PIDFILE,
         Opt("no-subreaper", FLAG, "disable the use of the subreaper used to reap reparented processes"),
         _NOPIVOT, _NOKEYRING, _PRESERVE),
        "create and run a container"),
    Cmd("exec", "exec:exec", (_ID, "*command"),
        (_CONSOLE,
         Opt("cwd", VALUE, "current working directory in the container"),
         Opt("env", MULTI, "set environment variables", short="e"),
         Opt("tty", FLAG, "allocate a pseudo-TTY", short="t"),
         Opt("user", VALUE, "UID (format: <uid>[:<gid>])", short="u"),
         Opt("additional-gids", MULTI, "additional gids", short="g"),
         Opt("process", VALUE, "path to the process.json", short="p"),
         Opt("detach", FLAG, "detach from the container's process", short="d"),
         _PIDFILE,
         Opt("process-label", VALUE, "set the asm process label for the process commonly used with selinux"),
         Opt("apparmor", VALUE, "set the apparmor profile for the process"),
         Opt("no-new-privs", FLAG, "set the no new privileges value for the process"),
         Opt("cap", MULTI, "add a capability to the bounding set for the process", short="c"),
         _PRESERVE,
         Opt("cgroup", MULTI, "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."),
         Opt("ignore-paused", FLAG, "allow exec in a paused container")),
        "execute new process inside the container"),
    Cmd("list", "list:list_", (), (_FORMAT, Opt("quiet", FLAG, "display only container IDs", short="q")),
        "lists containers started by pyoci with the given root"),
    Cmd("ps", "ps:ps", (_ID, "*ps-options"), (_FORMAT,),
        "ps displays the processes running inside a container"),
    Cmd("pause", "pause:pause", (_ID,), (), "pause suspends all processes inside the container"),
    Cmd("resume", "pause:resume", (_ID,), (),
        "resumes all processes that have been previously paused"),
    Cmd("update", "update:update", (_ID,), tuple(
        [Opt("resources", VALUE, "path to the file containing the resources to update or '-' to read "
             "from the standard input", short="r")] +
        [Opt(n, VALUE, h) for n, h in (
            ("blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"),
            ("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
            ("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
            ("cpu-share", "CPU shares (relative weight vs. other containers)"),
            ("cpu-burst", "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst in a given period"),
            ("cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
            ("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs)"),
            ("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs)"),
            ("cpuset-cpus", "CPU(s) to use"),
            ("cpuset-mems", "Memory node(s) to use"),
            ("kernel-memory", "Kernel memory limit (in bytes)"),
            ("kernel-memory-tcp", "Kernel memory limit (in bytes) for tcp buffer"),
            ("memory", "Memory limit (in bytes)"),
            ("memory-reservation", "Memory reservation or soft_limit (in bytes)"),
            ("memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
            ("pids-limit", "Maximum number of pids allowed in the container"),
            ("l3-cache-schema", "The string of Intel RDT/CAT L3 cache schema"),
            ("mem-bw-schema", "The string of Intel RDT/MBA memory bandwidth schema"))]),
        "update container resource constraints"),
    Cmd("events", "events:events", (_ID,),
        (Opt("interval", VALUE, "set the stats collection interval", default="5s"),
         Opt("stats", FLAG, "display the container's stats then exit")),
        "display container events such as OOM notifications, cpu, memory, and IO usage statistics"),
    Cmd("features", "features:features", (), (), "show the enabled features"),
    Cmd("spec", "spec:spec", (),
        (_BUNDLE, Opt("rootless", FLAG, "generate a configuration for a rootless container")),
        "create a new specification file",
        "The spec command creates a starter specification file named \"config.json\" in the bundle, the same "
        "as `runc spec` writes: edit it before use (process.args is \"sh\"). It refuses to overwrite an "
        "existing one. --rootless maps the current user to root in a new user namespace, drops the "
        "network namespace and cgroup resources, and bind-mounts /sys."),
    Cmd("checkpoint", "unsupported:unsupported", ("?container-id",), (), "checkpoint a running container"),
    Cmd("restore", "unsupported:unsupported", ("?container-id",), (), "restore a container from a previous checkpoint"),
)}
