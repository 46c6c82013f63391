"""runtime.md: State, Query State and Create."""

from __future__ import annotations

import json
import os
import re
import time

from ..harness import MUST, SHOULD, Ctx, Fail, case
from .common import SLEEP, alive, cgroup_dirs, cmdline, create_running, host_ns, out_mount, pid_of, read, working

RT = "runtime.md"
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
SPEC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "spec")


def check_state_schema(st: dict) -> list[str]:
    """Problems of `st` against spec/state-schema.json (required, types, status enum, annotations)."""
    with open(os.path.join(SPEC_DIR, "state-schema.json")) as f:
        schema = json.load(f)
    errs = [f"missing required {k!r}" for k in schema["required"] if k not in st]
    types = {"string": str, "integer": int}
    for k, prop in schema["properties"].items():
        if k not in st:
            continue
        t = prop.get("type")
        if t in types and (not isinstance(st[k], types[t]) or isinstance(st[k], bool)):
            errs.append(f"{k} is {type(st[k]).__name__}, not {t}")
        if "enum" in prop and st[k] not in prop["enum"]:
            errs.append(f"{k}={st[k]!r} not one of {prop['enum']}")
        if "minimum" in prop and isinstance(st[k], int) and st[k] < prop["minimum"]:
            errs.append(f"{k}={st[k]} below {prop['minimum']}")
    ann = st.get("annotations")
    if ann is not None and not (isinstance(ann, dict) and all(isinstance(v, str) for v in ann.values())):
        errs.append(f"annotations is not a map of strings: {ann!r}")
    return errs


@case("state-created", RT, "State", MUST, 'status is "created" after create',
      """`created`: the runtime has finished the create operation (after step 2 in the lifecycle),
      and the container process has neither exited nor executed the user-specified program (runtime.md Query State: This operation MUST return the state of a container as specified in the State section.)""")
def state_created(t: Ctx):
    cid = t.create(t.bundle(SLEEP))
    st = t.status(cid)
    t.expect(st == "created", f"status is {st!r}")


@case("state-ociversion", RT, "State", MUST, "ociVersion is a SemVer string",
      """`ociVersion` (string, REQUIRED) is version of the Open Container Initiative Runtime
      Specification with which the state complies.""")
def state_ociversion(t: Ctx):
    v = t.state(t.create(t.bundle(SLEEP))).get("ociVersion")
    t.expect(isinstance(v, str) and SEMVER.match(v) is not None, f"ociVersion is {v!r}")


@case("state-id", RT, "State", MUST, "id is the container's ID",
      """`id` (string, REQUIRED) is the container's ID. This MUST be unique across all containers
      on this host.""")
def state_id(t: Ctx):
    cid = t.create(t.bundle(SLEEP))
    got = t.state(cid).get("id")
    t.expect(got == cid, f"id is {got!r}, expected {cid!r}")


@case("state-pid-created", RT, "State", MUST, "pid of a created container is its process, as seen by the host",
      """`pid` (int, REQUIRED when `status` is `created` or `running` on Linux) is the ID of the
      container process.""")
def state_pid_created(t: Ctx):
    pid = pid_of(t, t.create(t.bundle(SLEEP)))
    t.expect(alive(pid), f"pid {pid} is not a live process")
    t.expect(os.readlink(f"/proc/{pid}/ns/pid") != host_ns("pid"),
             f"pid {pid} is not in the container's new pid namespace")


@case("state-bundle", RT, "State", MUST, "bundle is the absolute path of the bundle (created with a relative --bundle)",
      """`bundle` (string, REQUIRED) is the absolute path to the container's bundle directory.""")
def state_bundle(t: Ctx):
    b = t.bundle(SLEEP, name="relbundle")
    cid = t.create("relbundle")  # the CLI runs in t.dir: a relative path
    got = t.state(cid).get("bundle")
    t.expect(isinstance(got, str) and os.path.isabs(got), f"bundle is {got!r}, not absolute")
    t.expect(os.path.realpath(got) == os.path.realpath(b), f"bundle is {got!r}, expected {b!r}")


@case("state-annotations", RT, "State", SHOULD, "annotations of config.json are in the state",
      """`annotations` (map, OPTIONAL) contains the list of annotations associated with the
      container. If no annotations were provided then this property MAY either be absent or an
      empty map. (runtime.md Query State: This operation MUST return the state of a container as specified in the State section.)""")
def state_annotations(t: Ctx):
    cfg = t.config(SLEEP)
    want = {"org.example.conformance": "yes", "com.example.empty": ""}
    cfg["annotations"] = want
    got = t.state(t.create(t.bundle(config=cfg))).get("annotations")
    t.expect(got == want, f"annotations are {got!r}, expected {want!r}")


@case("state-running", RT, "State", MUST, 'status is "running" after start, pid runs process.args',
      """`running`: the container process has executed the user-specified program but has not
      exited (after step 8 in the lifecycle) (runtime.md Query State: This operation MUST return the state of a container as specified in the State section.)""")
def state_running(t: Ctx):
    _, pid = create_running(t, t.config(SLEEP))
    t.expect(cmdline(pid) == SLEEP, f"pid {pid} runs {cmdline(pid)!r}, not {SLEEP!r}")


@case("state-stopped", RT, "State", MUST, 'status is "stopped" once the process has exited',
      """`stopped`: the container process has exited (step 10 in the lifecycle) (runtime.md Query State: This operation MUST return the state of a container as specified in the State section.)""")
def state_stopped(t: Ctx):
    cid = t.create(t.bundle(["true"]))
    t.start(cid)
    st = t.wait_status(cid, "stopped")
    t.expect(st == "stopped", f"status is {st!r} after the process exited")


@case("state-schema", RT, "Query State", MUST, "state output matches state-schema.json when created, running and stopped",
      """This operation MUST return the state of a container as specified in the State section.""")
def state_schema(t: Ctx):
    cfg = t.config(["sh", "-c", "read x < /out/go"])
    out = out_mount(t, cfg)
    os.mkfifo(os.path.join(out, "go"))
    cid = t.create(t.bundle(config=cfg))
    errs = [f"created: {e}" for e in check_state_schema(t.state(cid))]
    t.start(cid)
    errs += [f"running: {e}" for e in check_state_schema(t.state(cid))]
    release_fifo(t, os.path.join(out, "go"))  # let the process finish
    t.wait_status(cid, "stopped")
    errs += [f"stopped: {e}" for e in check_state_schema(t.state(cid))]
    t.expect(not errs, "; ".join(errs))


def release_fifo(t: Ctx, path: str, timeout: float = 5.0) -> None:
    """Write a line to a fifo the container reads, without blocking if it never opened it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise Fail("the container never opened its fifo")
            time.sleep(0.02)
    os.write(fd, b"go\n")
    os.close(fd)


@case("state-unknown", RT, "Query State", MUST, "state of an unknown id is an error",
      """Attempting to query a container that does not exist MUST generate an error.""")
def state_unknown(t: Ctx):
    working(t)
    r = t.cli("state", "cf-does-not-exist")
    t.expect(r.rc != 0, "state of a missing container exited 0")


@case("state-noid", RT, "Query State", MUST, "state without an id is an error",
      """This operation MUST generate an error if it is not provided the ID of a container.""")
def state_noid(t: Ctx):
    working(t)
    r = t.cli("state")
    t.expect(r.rc != 0, "state with no id exited 0")


# ----- create -----

@case("create-noid", RT, "Create", MUST, "create without an id is an error",
      """This operation MUST generate an error if it is not provided a path to the bundle and the
      container ID to associate with the container.""")
def create_noid(t: Ctx):
    working(t)
    r = t.cli("create", "--bundle", t.bundle(SLEEP))
    t.expect(r.rc != 0, "create with no id exited 0")


@case("create-empty-id", RT, "Create", MUST, "create with an empty id is an error",
      """This operation MUST generate an error if it is not provided a path to the bundle and the
      container ID to associate with the container.""")
def create_empty_id(t: Ctx):
    working(t)
    r = t.cli("create", "--bundle", t.bundle(SLEEP), "")
    t.expect(r.rc != 0, "create with id '' exited 0")


@case("create-path-id", RT, "Create", SHOULD, "create with an id that is a path ('a/b', '..') is an error",
      """If the ID provided is not unique across all containers within the scope of the runtime, or
      is not valid in any other way, the implementation MUST generate an error and a new container
      MUST NOT be created.""")
def create_path_id(t: Ctx):
    working(t)
    b = t.bundle(SLEEP)
    accepted = []
    for bad in ("a/b", ".."):
        if t.cli("create", "--bundle", b, bad).rc == 0:
            accepted.append(bad)
            r = t.cli("state", bad)  # clean up by pid: `delete ..` could remove the state root
            try:
                os.kill(json.loads(r.out)["pid"], 9)
            except (ValueError, KeyError, TypeError, OSError):
                pass
    t.expect(not accepted, f"create accepted the ids {accepted}")


@case("create-duplicate", RT, "Create", MUST, "create with an id in use fails and leaves the first container alone",
      """If the ID provided is not unique across all containers within the scope of the runtime ...
      the implementation MUST generate an error and a new container MUST NOT be created.""")
def create_duplicate(t: Ctx):
    b = t.bundle(SLEEP)
    cid = t.create(b)
    pid = pid_of(t, cid)
    r = t.create(b, cid=cid, ok=False)
    t.expect(r.rc != 0, "a second create with the same id exited 0")
    st = t.state(cid)
    t.expect(st.get("status") == "created" and st.get("pid") == pid and alive(pid),
             f"the first container changed: {st}")


@case("create-missing-bundle", RT, "Create", MUST, "create with a bundle path that does not exist fails, no container",
      """If the runtime cannot apply a property as specified in the configuration, it MUST generate
      an error and a new container MUST NOT be created.""")
def create_missing_bundle(t: Ctx):
    working(t)
    cid = t.new_id()
    r = t.create(os.path.join(t.dir, "no-such-bundle"), cid=cid, ok=False)
    t.expect(r.rc != 0, "create of a missing bundle exited 0")
    t.expect(t.cli("state", cid).rc != 0, "a container exists after the failed create")


@case("create-missing-config", RT, "Create", MUST, "create of a bundle without config.json fails, no container",
      """If the runtime cannot apply a property as specified in the configuration, it MUST generate
      an error and a new container MUST NOT be created.""")
def create_missing_config(t: Ctx):
    working(t)
    b = t.bundle(SLEEP)
    os.unlink(os.path.join(b, "config.json"))
    cid = t.new_id()
    r = t.create(b, cid=cid, ok=False)
    t.expect(r.rc != 0, "create without config.json exited 0")
    t.expect(t.cli("state", cid).rc != 0, "a container exists after the failed create")


@case("create-not-run", RT, "Create", MUST, "create does not run process.args",
      """process.args MUST NOT be applied until triggered by the start operation.""")
def create_not_run(t: Ctx):
    cfg = t.config(["sh", "-c", "echo ran >> /out/marker"])
    out = out_mount(t, cfg)
    cid = t.create(t.bundle(config=cfg))
    time.sleep(0.3)
    t.expect(not os.path.exists(os.path.join(out, "marker")), "the process ran before start")
    t.expect(t.status(cid) == "created", "not created")


@case("create-applies-config", RT, "Create", MUST, "create applies the config (namespaces, rootfs, mounts) before start",
      """All of the properties configured in config.json except for process MUST be applied.""")
def create_applies_config(t: Ctx):
    cfg = t.config(SLEEP)
    cfg["mounts"].append({"destination": "/cftmp", "type": "tmpfs", "source": "tmpfs"})
    b = t.bundle(config=cfg)
    open(os.path.join(b, "rootfs", "cf-marker"), "w").close()
    pid = pid_of(t, t.create(b))
    bad = [ns for ns in ("pid", "mnt", "uts", "ipc", "net") if os.readlink(f"/proc/{pid}/ns/{ns}") == host_ns(ns)]
    t.expect(not bad, f"namespaces not created at create: {bad}")
    t.expect(os.path.exists(f"/proc/{pid}/root/cf-marker"), "the process is not in the rootfs after create")
    mi = read(f"/proc/{pid}/mountinfo")
    t.expect(" /cftmp " in mi, "the tmpfs mount at /cftmp is not there after create")


@case("create-config-frozen", RT, "Lifecycle", MUST, "changing config.json after create does not affect the container",
      """Any updates to config.json after this step MUST NOT affect the container.""")
def create_config_frozen(t: Ctx):
    cfg = t.config(["sh", "-c", "echo original > /out/marker"])
    out = out_mount(t, cfg)
    b = t.bundle(config=cfg)
    cid = t.create(b)
    cfg["process"]["args"] = ["sh", "-c", "echo changed > /out/marker"]
    t.write_config(b, cfg)
    t.start(cid)
    t.wait_status(cid, "stopped")
    got = read(os.path.join(out, "marker"), "").strip()
    t.expect(got == "original", f"the process wrote {got!r}")


@case("create-error-clean", RT, "Errors", MUST, "a failed create leaves no container and no cgroup",
      """Unless otherwise stated, generating an error MUST leave the state of the environment as if
      the operation were never attempted - modulo any possible trivial ancillary changes such as
      logging.""")
def create_error_clean(t: Ctx):
    cid = t.new_id()
    cfg = t.config(SLEEP)
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    t.control(cfg)
    cfg["mounts"].append({"destination": "/missing", "type": "bind",
                          "source": os.path.join(t.dir, "no-such-dir"), "options": ["rbind"]})
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False)
    t.expect(r.rc != 0, "create with a missing bind source exited 0")
    t.expect(t.cli("state", cid).rc != 0, "a container exists after the failed create")
    left = [d for d in cgroup_dirs(cid) if os.path.isdir(d)]
    t.expect(not left, f"cgroups left behind in {len(left)} hierarchies, e.g. {left[:1]}")



@case("create-error-clean-cgroup", RT, "Errors", MUST, "a create that fails applying resources leaves no cgroup",
      """Unless otherwise stated, generating an error MUST leave the state of the environment as if
      the operation were never attempted - modulo any possible trivial ancillary changes such as
      logging.""",
      notes={"crun": "crun 1.8 leaves the container's cgroups behind when create fails on a resource"})
def create_error_clean_cgroup(t: Ctx):
    cid = t.new_id()
    cfg = t.config(SLEEP)
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    t.control(cfg)
    cfg["linux"]["resources"] = {"cpu": {"cpus": str(os.cpu_count() + 4000)}}  # no such CPU
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False)
    t.expect(r.rc != 0, "create with a cpuset of a CPU that does not exist exited 0")
    t.expect(t.cli("state", cid).rc != 0, "a container exists after the failed create")
    left = [d for d in cgroup_dirs(cid) if os.path.isdir(d)]
    t.expect(not left, f"cgroups left behind in {len(left)} hierarchies, e.g. {left[:1]}")
