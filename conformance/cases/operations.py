"""runtime.md: the Start, Kill and Delete operations and the errors they must generate."""

from __future__ import annotations

import os
import time

from ..harness import MUST, Ctx, case
from .common import SLEEP, alive, cgroup_dirs, create_running, holder, host_ns, out_mount, pid_of, read, working

RT = "runtime.md"


@case("start-runs", RT, "Start", MUST, "start of a created container runs process.args",
      """This operation MUST run the user-specified program as specified by process.""")
def start_runs(t: Ctx):
    cfg = t.config(["sh", "-c", "echo ran >> /out/marker"])
    out = out_mount(t, cfg)
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.expect(t.wait_file(os.path.join(out, "marker")), "the process did not run after start")


@case("start-running", RT, "Start", MUST, "start of a running container fails and changes nothing",
      """Attempting to `start` a container that is not `created` MUST have no effect on the
      container and MUST generate an error.""")
def start_running(t: Ctx):
    cfg = t.config(["sh", "-c", "echo ran >> /out/marker; exec sleep 300"])
    out = out_mount(t, cfg)
    cid, pid = create_running(t, cfg)
    t.wait_file(os.path.join(out, "marker"))
    r = t.start(cid, ok=False)
    t.expect(r.rc != 0, "a second start exited 0")
    time.sleep(0.2)
    st = t.state(cid)
    t.expect(st.get("status") == "running" and st.get("pid") == pid and alive(pid), f"the container changed: {st}")
    runs = read(os.path.join(out, "marker")).count("ran")
    t.expect(runs == 1, f"the process ran {runs} times")


@case("start-stopped", RT, "Start", MUST, "start of a stopped container fails and does not run the process again",
      """Attempting to `start` a container that is not `created` MUST have no effect on the
      container and MUST generate an error.""")
def start_stopped(t: Ctx):
    cfg = t.config(["sh", "-c", "echo ran >> /out/marker"])
    out = out_mount(t, cfg)
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.expect(t.wait_status(cid, "stopped") == "stopped", "the container did not stop")
    r = t.start(cid, ok=False)
    t.expect(r.rc != 0, "start of a stopped container exited 0")
    time.sleep(0.2)
    runs = read(os.path.join(out, "marker")).count("ran")
    t.expect(runs == 1, f"the process ran {runs} times")
    t.expect(t.status(cid) == "stopped", "the container is no longer stopped")


@case("start-unknown", RT, "Start", MUST, "start of an unknown id is an error",
      """Attempting to `start` a container that is not `created` MUST have no effect on the
      container and MUST generate an error.""")
def start_unknown(t: Ctx):
    t.start(working(t))
    t.expect(t.cli("start", "cf-does-not-exist").rc != 0, "start of a missing container exited 0")


@case("start-noid", RT, "Start", MUST, "start without an id is an error",
      """This operation MUST generate an error if it is not provided the container ID.""")
def start_noid(t: Ctx):
    t.start(working(t))
    t.expect(t.cli("start").rc != 0, "start with no id exited 0")


@case("start-no-process", RT, "Start", MUST, "start of a container whose config has no process is an error",
      """This operation MUST generate an error if `process` was not set.""")
def start_no_process(t: Ctx):
    cfg = t.config()
    t.control(cfg)
    del cfg["process"]
    cid = t.new_id()
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False)
    if r.rc != 0:
        t.note("create already refused the config without process (start has nothing to run)")
        return
    t.expect(t.start(cid, ok=False).rc != 0, "start with no process exited 0")


# ----- kill -----

@case("kill-created", RT, "Kill", MUST, "kill KILL of a created container stops it",
      """This operation MUST send the specified signal to the container process.""")
def kill_created(t: Ctx):
    cid = t.create(t.bundle(SLEEP))
    t.kill(cid, "KILL")
    st = t.wait_status(cid, "stopped")
    t.expect(st == "stopped", f"status is {st!r} after kill KILL")


@case("kill-running", RT, "Kill", MUST, "kill delivers the named signal (USR1) to a running container's process",
      """This operation MUST send the specified signal to the container process.""")
def kill_running(t: Ctx):
    script = "trap 'echo USR1 > /out/sig' USR1; echo > /out/ready; while :; do sleep 0.05; done"
    cfg = t.config(["sh", "-c", script])
    out = out_mount(t, cfg)
    cid, _ = create_running(t, cfg)
    t.expect(t.wait_file(os.path.join(out, "ready")), "the process did not start")
    t.kill(cid, "USR1")
    t.expect(t.wait_file(os.path.join(out, "sig")), "the process did not receive SIGUSR1")
    t.kill(cid, "KILL")
    st = t.wait_status(cid, "stopped")
    t.expect(st == "stopped", f"status is {st!r} after kill KILL")


@case("kill-stopped", RT, "Kill", MUST, "kill of a stopped container is an error",
      """Attempting to send a signal to a container that is neither `created` nor `running` MUST
      have no effect on the container and MUST generate an error.""")
def kill_stopped(t: Ctx):
    cid = t.create(t.bundle(["true"]))
    t.start(cid)
    t.expect(t.wait_status(cid, "stopped") == "stopped", "the container did not stop")
    r = t.kill(cid, "KILL", ok=False)
    t.expect(r.rc != 0, "kill of a stopped container exited 0")
    t.expect(t.status(cid) == "stopped", "the container is no longer stopped")


@case("kill-unknown", RT, "Kill", MUST, "kill of an unknown id is an error",
      """Attempting to send a signal to a container that is neither `created` nor `running` MUST
      have no effect on the container and MUST generate an error.""")
def kill_unknown(t: Ctx):
    t.kill(working(t), "KILL")
    t.expect(t.cli("kill", "cf-does-not-exist", "KILL").rc != 0, "kill of a missing container exited 0")


@case("kill-noid", RT, "Kill", MUST, "kill without an id is an error",
      """This operation MUST generate an error if it is not provided the container ID.""")
def kill_noid(t: Ctx):
    t.kill(working(t), "KILL")
    t.expect(t.cli("kill").rc != 0, "kill with no id exited 0")


# ----- delete -----

@case("delete-running", RT, "Delete", MUST, "delete (no --force) of a running container fails and changes nothing",
      """Attempting to `delete` a container that is not `stopped` MUST have no effect on the
      container and MUST generate an error.""")
def delete_running(t: Ctx):
    cid, pid = create_running(t, t.config(SLEEP))
    r = t.delete(cid, ok=False)
    t.expect(r.rc != 0, "delete of a running container exited 0")
    st = t.state(cid)
    t.expect(st.get("status") == "running" and st.get("pid") == pid and alive(pid), f"the container changed: {st}")


@case("delete-created", RT, "Delete", MUST, "delete (no --force) of a created container fails and changes nothing",
      """Attempting to `delete` a container that is not `stopped` MUST have no effect on the
      container and MUST generate an error.""",
      notes={"runc": "runc deletes a created container without --force (delete.go kills it)",
             "crun": "crun deletes a created container without --force"})
def delete_created(t: Ctx):
    cid = t.create(t.bundle(SLEEP))
    pid = pid_of(t, cid)
    r = t.delete(cid, ok=False)
    t.expect(r.rc != 0, "delete of a created container exited 0")
    st = t.state(cid)
    t.expect(st.get("status") == "created" and alive(pid), f"the container changed: {st}")


@case("delete-stopped", RT, "Delete", MUST, "delete of a stopped container removes it (state then fails)",
      """Deleting a container MUST delete the resources that were created during the `create`
      step.""")
def delete_stopped(t: Ctx):
    cid = t.create(t.bundle(["true"]))
    t.start(cid)
    t.expect(t.wait_status(cid, "stopped") == "stopped", "the container did not stop")
    t.delete(cid)
    t.expect(t.cli("state", cid).rc != 0, "state still works after delete")


@case("delete-cgroup", RT, "Delete", MUST, "delete removes the container's cgroup",
      """Deleting a container MUST delete the resources that were created during the `create`
      step.""")
def delete_cgroup(t: Ctx):
    cid = t.new_id()
    cfg = t.config(SLEEP)
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    t.create(t.bundle(config=cfg), cid=cid)
    made = [d for d in cgroup_dirs(cid) if os.path.isdir(d)]
    t.expect(bool(made), f"no cgroup /{cid} was created")
    t.kill(cid, "KILL")
    t.expect(t.wait_status(cid, "stopped") == "stopped", "the container did not stop")
    t.delete(cid)
    left = [d for d in made if os.path.isdir(d)]
    t.expect(not left, f"cgroups left after delete in {len(left)} hierarchies, e.g. {left[:1]}")


@case("delete-keeps-foreign", RT, "Delete", MUST, "delete keeps what the container used but did not create (joined netns, bind source)",
      """Note that resources associated with the container, but not created by this container,
      MUST NOT be deleted.""")
def delete_keeps_foreign(t: Ctx):
    hpid = holder(t, ["--net"])
    netns = os.readlink(f"/proc/{hpid}/ns/net")
    t.expect(netns != host_ns("net"), "could not make a network namespace to join")
    cfg = t.config(["sh", "-c", "echo data > /out/file"])
    out = out_mount(t, cfg)
    for ns in cfg["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = f"/proc/{hpid}/ns/net"
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.expect(t.wait_status(cid, "stopped") == "stopped", "the container did not stop")
    t.delete(cid)
    t.expect(alive(hpid) and os.readlink(f"/proc/{hpid}/ns/net") == netns,
             "the joined network namespace's holder was killed")
    t.expect(read(os.path.join(out, "file"), "") == "data\n", "the bind-mount source or its file is gone")


def _deleted_one(t: Ctx) -> None:
    """Positive control: delete works on a stopped container."""
    cid = working(t)
    t.kill(cid, "KILL")
    t.wait_status(cid, "stopped")
    t.delete(cid)


@case("delete-unknown", RT, "Delete", MUST, "delete of an unknown id is an error",
      """Attempting to `delete` a container that is not `stopped` MUST have no effect on the
      container and MUST generate an error.""")
def delete_unknown(t: Ctx):
    _deleted_one(t)
    t.expect(t.cli("delete", "cf-does-not-exist").rc != 0, "delete of a missing container exited 0")


@case("delete-noid", RT, "Delete", MUST, "delete without an id is an error",
      """This operation MUST generate an error if it is not provided the container ID.""")
def delete_noid(t: Ctx):
    _deleted_one(t)
    t.expect(t.cli("delete").rc != 0, "delete with no id exited 0")
