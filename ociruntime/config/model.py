"""config.json as plain typed records, built once per create/run/exec.

`Record` is a deliberately small stand-in for @dataclass: importing `dataclasses` costs ~8 ms
here (it pulls in `inspect`), more than a third of a whole `runc run`, and create is on every
container's critical path. Fields are the class annotations; defaults are class attributes and
are immutable (tuples, None), so sharing them is safe. Sub-trees owned by another module
(linux.resources -> cgroups, linux.seccomp -> seccomp, netDevices -> network) stay raw dicts.
"""

from __future__ import annotations


class Record:
    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        cls._fields = tuple(cls.__dict__.get("__annotations__", ()))

    def __init__(self, **kw: object) -> None:
        for k, v in kw.items():
            if k not in self._fields:
                raise TypeError(f"{type(self).__name__} has no field {k!r}")
            setattr(self, k, v)

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields)


class IDMapping(Record):
    container_id: int = 0
    host_id: int = 0
    size: int = 0


class User(Record):
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()


class Capabilities(Record):
    """Capability names per set; None means the set was absent (left empty, as runc does)."""
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class Rlimit(Record):
    type: str = ""
    soft: int = 0
    hard: int = 0


class Process(Record):
    terminal: bool = False
    console_size: tuple[int, int] | None = None      # (height, width)
    user: User = User()
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    cwd: str = "/"
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    selinux_label: str = ""
    oom_score_adj: int | None = None
    scheduler: dict | None = None
    io_priority: dict | None = None
    exec_cpu_affinity: dict | None = None


class Root(Record):
    path: str = ""          # absolute once loaded (resolved against the bundle)
    readonly: bool = False


class Mount(Record):
    destination: str = ""
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


class Hook(Record):
    path: str = ""
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


class Hooks(Record):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


class Namespace(Record):
    type: str = ""
    path: str = ""


class Device(Record):
    type: str = ""
    path: str = ""
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class Linux(Record):
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    time_offsets: dict | None = None
    devices: tuple[Device, ...] = ()
    net_devices: dict | None = None
    cgroups_path: str = ""
    resources: dict | None = None
    rootfs_propagation: str = ""
    seccomp: dict | None = None
    sysctl: dict | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str = ""
    intel_rdt: dict | None = None
    personality: dict | None = None
    memory_policy: dict | None = None

    def namespace(self, ns_type: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == ns_type:
                return ns
        return None


class Spec(Record):
    oci_version: str = ""
    root: Root = Root()
    mounts: tuple[Mount, ...] = ()
    process: Process | None = None
    hostname: str | None = None
    domainname: str | None = None
    hooks: Hooks = Hooks()
    annotations: dict | None = None
    linux: Linux = Linux()
    bundle: str = ""        # absolute bundle directory
    raw: dict | None = None  # the document as read, for the state dir's copy and for exec
