"""config-linux.md Namespaces, User namespace mappings and Offset for Time Namespace: the
container's /proc/self/ns/* compared with the runtime's own, and the id maps and clock offsets
seen from inside."""

from __future__ import annotations

import os

from ..harness import MUST, Ctx, case
from ..host import proc_status
from .common import SLEEP, holder, host_ns, pid_of

LNX = "config-linux.md"
APPLY = "(runtime.md Create: All of the properties configured in config.json except for process MUST be applied.)"
PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
             "cgroup": "cgroup", "user": "user", "time": "time"}
Q_NEW = """If `path` is not specified, the runtime MUST create a new container namespace of type `type`."""
Q_JOIN = """The runtime MUST place the container process in the namespace associated with that `path`."""
TIME_NOTES = {"runc": "runc 1.1 does not support time namespaces",
              "crun": "crun 1.8 fails to create a container with both a pid and a time namespace "
                      "(\"write to sync socket\")"}
USER_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def set_ns(cfg: dict, ns: str, path: str | None = None, present: bool = True) -> None:
    spaces = [n for n in cfg["linux"]["namespaces"] if n["type"] != ns]
    if present:
        spaces.append({"type": ns, **({"path": path} if path else {})})
    cfg["linux"]["namespaces"] = spaces


def userns_config(t: Ctx, args=("true",)) -> dict:
    cfg = t.config(args)
    set_ns(cfg, "user")
    cfg["linux"]["uidMappings"] = USER_MAP
    cfg["linux"]["gidMappings"] = USER_MAP
    return cfg


def ns_inside(t: Ctx, cfg: dict, names: list[str]) -> dict[str, str]:
    out = t.sh("; ".join(f"readlink /proc/self/ns/{n}" for n in names), cfg).split()
    t.expect(len(out) == len(names), f"could not read the container's namespaces: {out}")
    return dict(zip(names, out))


def _new_ns_case(ns: str):
    @case(f"ns-new-{ns}", LNX, "Namespaces", MUST, f"a {ns} namespace without path is new",
          Q_NEW, notes=TIME_NOTES if ns == "time" else None)
    def check(t: Ctx):
        if not os.path.exists(f"/proc/self/ns/{PROC_NAME[ns]}"):
            t.skip(f"this kernel has no {ns} namespaces")
        cfg = userns_config(t) if ns == "user" else t.config()
        set_ns(cfg, ns)
        got = ns_inside(t, cfg, [PROC_NAME[ns]])[PROC_NAME[ns]]
        t.expect(got != host_ns(PROC_NAME[ns]), f"the container is in the runtime's {ns} namespace {got}")


for _ns in ("pid", "network", "mount", "ipc", "uts", "cgroup", "user", "time"):
    _new_ns_case(_ns)


@case("ns-inherit", LNX, "Namespaces", MUST, "a namespace type not listed is the runtime's (network, ipc, cgroup)",
      """If a namespace type is not specified in the `namespaces` array, the container MUST inherit
      the runtime namespace of that type.""")
def ns_inherit(t: Ctx):
    cfg = t.config()
    for ns in ("network", "ipc", "cgroup"):
        set_ns(cfg, ns, present=False)
    got = ns_inside(t, cfg, ["net", "ipc", "cgroup"])
    bad = [n for n, v in got.items() if v != host_ns(n)]
    t.expect(not bad, f"new namespaces although not configured: {bad}")


def _join_case(ns: str, flag: str):
    @case(f"ns-join-{ns}", LNX, "Namespaces", MUST, f"a {ns} namespace with path is joined", Q_JOIN)
    def check(t: Ctx):
        extra = ["--fork", "--mount-proc"] if ns == "pid" else []
        pid = holder(t, [flag, *extra])
        name = PROC_NAME[ns]
        want = os.readlink(f"/proc/{pid}/ns/{name}")
        cfg = t.config()
        if ns == "uts":
            del cfg["hostname"]
        set_ns(cfg, ns, path=f"/proc/{pid}/ns/{name}")
        got = ns_inside(t, cfg, [name])[name]
        t.expect(got == want, f"the container is in {got}, not the {ns} namespace {want} of {cfg['linux']['namespaces'][-1]['path']}")


for _ns, _flag in (("network", "--net"), ("ipc", "--ipc"), ("uts", "--uts"), ("pid", "--pid")):
    _join_case(_ns, _flag)


@case("ns-path-wrong-type", LNX, "Namespaces", MUST, "a path to a namespace of another type is an error",
      """The runtime MUST generate an error if `path` is not associated with a namespace of type `type`.""")
def ns_wrong_type(t: Ctx):
    pid = holder(t, ["--uts", "--ipc"])
    cfg = t.config()
    set_ns(cfg, "ipc", path=f"/proc/{pid}/ns/ipc")
    t.control(cfg)
    set_ns(cfg, "ipc", path=f"/proc/{pid}/ns/uts")
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a uts namespace path was accepted as the ipc namespace")


@case("ns-duplicate", LNX, "Namespaces", MUST, "the same namespace type twice is an error",
      """If a `namespaces` field contains duplicated namespaces with same `type`, the runtime MUST
      generate an error.""",
      notes={"crun": "crun 1.8 accepts duplicate namespace entries"})
def ns_duplicate(t: Ctx):
    cfg = t.config()
    t.control(cfg)
    cfg["linux"]["namespaces"].append({"type": "ipc"})
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a config with two ipc namespaces ran")


@case("ns-invalid-type", "config.md", "Valid values", MUST, "an unknown namespace type is an error",
      """Runtimes MUST generate an error when invalid or unsupported values are encountered.""")
def ns_invalid(t: Ctx):
    cfg = t.config()
    t.control(cfg)
    cfg["linux"]["namespaces"].append({"type": "cf-bogus"})
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a config with namespace type cf-bogus ran")


@case("user-mappings", LNX, "User namespace mappings", MUST, "uidMappings and gidMappings are the container's id maps",
      """`uidMappings` (array of objects, OPTIONAL) describes the user namespace uid mappings from the
      host to the container. `gidMappings` (array of objects, OPTIONAL) describes the user namespace
      gid mappings from the host to the container. """ + APPLY)
def user_mappings(t: Ctx):
    out = t.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g", userns_config(t)).split()
    want = ["0", "100000", "65536"] * 2 + ["0", "0"]
    t.expect(out == want, f"uid_map, gid_map, uid, gid are {out}")


@case("user-mappings-host", LNX, "User namespace mappings", MUST, "the host sees the container's uid 0 as the mapped hostID",
      """`hostID` (uint32, REQUIRED) - is the starting uid/gid on the host to be mapped to
      *containerID*. """ + APPLY)
def user_mappings_host(t: Ctx):
    cid = t.create(t.bundle(config=userns_config(t, SLEEP)))
    with open(f"/proc/{pid_of(t, cid)}/status") as f:
        st = proc_status(f.read())
    t.expect(st.get("Uid", "").split()[:1] == ["100000"], f"host view Uid: {st.get('Uid')}")
    t.expect(st.get("Gid", "").split()[:1] == ["100000"], f"host view Gid: {st.get('Gid')}")


@case("time-offsets", LNX, "Offset for Time Namespace", MUST, "timeOffsets are the time namespace's clock offsets",
      """`timeOffsets` (object, OPTIONAL) sets the offset for Time Namespace. ... `secs` (int64,
      OPTIONAL) - is the offset of clock (in seconds) in the container. """ + APPLY,
      notes={"runc": TIME_NOTES["runc"],
             "crun": TIME_NOTES["crun"] + "; without a pid namespace it leaves the offsets at 0"})
def time_offsets(t: Ctx):
    if not os.path.exists("/proc/self/ns/time"):
        t.skip("this kernel has no time namespaces")
    cfg = t.config()
    set_ns(cfg, "time")
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 5},
                                   "boottime": {"secs": 172800, "nanosecs": 0}}
    got = sorted(line.split() for line in t.sh("cat /proc/self/timens_offsets", cfg).splitlines())
    want = sorted([["boottime", "172800", "0"], ["monotonic", "86400", "5"]])
    t.expect(got == want, f"timens_offsets: {got}")
