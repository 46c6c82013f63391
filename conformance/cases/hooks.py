"""config.md POSIX-platform Hooks and runtime.md Lifecycle steps 3-13: when each hook runs, in
which namespace, with what on stdin, and what a failing hook does to the lifecycle."""

from __future__ import annotations

import json
import os
import time

from ..harness import MUST, Ctx, case
from .common import SLEEP, host_ns, out_mount, pid_of, read

CFG, RT = "config.md", "runtime.md"
ALL = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def hook(d: str, name: str, rc: int = 0, tag: str | None = None, delay: str = "") -> dict:
    """A hook that records its stdin, its mount namespace and its run in `d`/order.
    startContainer runs inside the container (its path resolves there): `d` is then /hooks."""
    tag = tag or name
    pre = f"sleep {delay}; " if delay else ""
    script = (f"{pre}cat > {d}/{tag}.json; echo {tag} >> {d}/order; "
              f"readlink /proc/self/ns/mnt > {d}/{tag}.mnt; hostname > {d}/{tag}.host; exit {rc}")
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def hooked_config(t: Ctx, args=SLEEP, fail: str | None = None, slow_start: bool = False) -> tuple[dict, str]:
    """A config with one recording hook of every kind (`fail` makes that one exit 1, and adds a
    second hook of the same kind after it); returns (config, host dir of the records)."""
    cfg = t.config(args)
    d = out_mount(t, cfg, dest="/hooks", name="hooks")
    hooks = {}
    for name in ALL:
        where = "/hooks" if name == "startContainer" else d
        delay = "0.3" if slow_start and name == "startContainer" else ""
        hooks[name] = [hook(where, name, rc=1 if name == fail else 0, delay=delay)]
        if name == fail:
            hooks[name].append(hook(where, name, tag=name + "2"))
    cfg["hooks"] = hooks
    return cfg, d


def order(d: str) -> list[str]:
    return read(os.path.join(d, "order"), "").split()


@case("hooks-create", CFG, "Hooks", MUST, "prestart, createRuntime, createContainer run during create, in that order",
      """The `createRuntime` hooks MUST be called as part of the `create` operation after the runtime
      environment has been created ... The `prestart` hooks MUST be called before the
      `createRuntime` hooks. The `createContainer` hooks MUST be called after the `createRuntime`
      hooks.""")
def hooks_create(t: Ctx):
    cfg, d = hooked_config(t)
    t.create(t.bundle(config=cfg))
    got = order(d)
    t.expect(got[:3] == ALL[:3] and "startContainer" not in got, f"hooks run by create: {got}")


@case("hooks-start", CFG, "Hooks", MUST, "startContainer then poststart run during start (not create), before it returns",
      """The `startContainer` hooks MUST be called before the user-specified process is executed as
      part of the `start` operation. The `poststart` hooks MUST be called after the user-specified
      process is executed but before the `start` operation returns.""",
      notes={"runc": "runc 1.1 runs poststart hooks during create, before the process is executed",
             "crun": "crun 1.8 runs poststart hooks without waiting for the container's "
                     "startContainer hooks (and so for the process to be executed)"})
def hooks_start(t: Ctx):
    # startContainer takes 0.3 s: a runtime that does not wait for it runs poststart first.
    cfg, d = hooked_config(t, slow_start=True)
    cid = t.create(t.bundle(config=cfg))
    early = [h for h in order(d) if h in ("startContainer", "poststart")]
    t.expect(not early, f"{early} ran during create")
    t.start(cid)
    got = [h for h in order(d) if h in ("startContainer", "poststart")]
    t.expect(got == ["startContainer", "poststart"], f"hooks run by start, in order: {got}")


@case("hooks-poststop", CFG, "Hooks", MUST, "poststop runs during delete, not before",
      """The `poststop` hooks MUST be called after the container is deleted but before the `delete`
      operation returns.""")
def hooks_poststop(t: Ctx):
    cfg, d = hooked_config(t, args=["true"])
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.wait_status(cid, "stopped")
    t.expect("poststop" not in order(d), "poststop ran before delete")
    t.delete(cid)
    got = order(d)
    t.expect(got[-1:] == ["poststop"], f"hooks run over the lifecycle: {got}")


@case("hooks-listed-order", CFG, "Hooks", MUST, "hooks of one kind run in the listed order",
      """Hooks MUST be called in the listed order.""")
def hooks_listed_order(t: Ctx):
    cfg = t.config(SLEEP)
    d = t.hostdir("hooks")
    cfg["hooks"] = {"createRuntime": [hook(d, f"h{i}") for i in (3, 1, 2)]}
    t.create(t.bundle(config=cfg))
    got = order(d)
    t.expect(got == ["h3", "h1", "h2"], f"createRuntime hooks ran as {got}")


@case("hooks-stdin-state", CFG, "Hooks", MUST, "every hook gets the container's state on stdin",
      """The state of the container MUST be passed to hooks over stdin so that they may do work
      appropriate to the current state of the container.""",
      notes={"crun": 'crun 1.8 gives startContainer hooks `"bundle": "/"` (and status "starting")'})
def hooks_stdin_state(t: Ctx):
    cfg, d = hooked_config(t, args=["true"])
    b = t.bundle(config=cfg)
    cid = t.create(b)
    t.start(cid)
    t.wait_status(cid, "stopped")
    t.delete(cid)
    bad = []
    for name in ALL:
        try:
            st = json.loads(read(os.path.join(d, name + ".json"), ""))
        except ValueError:
            bad.append(f"{name}: stdin was not JSON")
            continue
        if st.get("id") != cid or os.path.realpath(str(st.get("bundle"))) != os.path.realpath(b) \
                or "ociVersion" not in st or "status" not in st:
            bad.append(f"{name}: {json.dumps(st)[:160]}")
    t.expect(not bad, "; ".join(bad))


@case("hooks-state-pid", RT, "State", MUST, "createRuntime and poststart get the container pid as seen by the runtime",
      """The state of the container MUST be passed to hooks over stdin ... (runtime.md State) For hooks
      executed in the runtime namespace, it is the pid as seen by the runtime.""")
def hooks_state_pid(t: Ctx):
    cfg, d = hooked_config(t)
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    pid = pid_of(t, cid)
    got = {n: json.loads(read(os.path.join(d, n + ".json"), "{}")).get("pid") for n in ("createRuntime", "poststart")}
    t.expect(all(v == pid for v in got.values()), f"pids in hook states {got}, container pid {pid}")


@case("hooks-namespaces", CFG, "Hooks", MUST, "createRuntime/poststart/poststop run in the runtime namespace, "
      "createContainer/startContainer in the container's",
      """The `createRuntime` hooks MUST be executed in the runtime namespace. The `createContainer`
      hooks MUST be executed in the container namespace. The `startContainer` hooks MUST be executed
      in the container namespace. The `poststart` hooks MUST be executed in the runtime namespace.""")
def hooks_namespaces(t: Ctx):
    cfg, d = hooked_config(t)
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.wait_file(os.path.join(d, "startContainer.host"))  # timing is hooks-start's business
    time.sleep(0.05)
    cmnt = os.readlink(f"/proc/{pid_of(t, cid)}/ns/mnt")
    want = {"createRuntime": host_ns("mnt"), "createContainer": cmnt, "startContainer": cmnt,
            "poststart": host_ns("mnt")}
    got = {n: read(os.path.join(d, n + ".mnt"), "?").strip() for n in want}
    bad = [f"{n} ran in {got[n]}, expected {w}" for n, w in want.items() if got[n] != w]
    host = read(os.path.join(d, "startContainer.host"), "").strip()
    if host != cfg["hostname"]:
        bad.append(f"startContainer saw hostname {host!r}")
    t.expect(not bad, "; ".join(bad))


@case("hooks-args-env", CFG, "Hooks", MUST, "a hook runs with its args (argv) and env",
      """`args` (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008
      `execv`'s argv. `env` (array of strings, OPTIONAL) with the same semantics as IEEE Std
      1003.1-2008's `environ`. (runtime.md Lifecycle 4: The `createRuntime` hooks MUST be invoked by
      the runtime.)""")
def hooks_args_env(t: Ctx):
    cfg = t.config(SLEEP)
    d = t.hostdir("hooks")
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f'echo "$0|$1|$CF_VAR" > {d}/out',
                                                                  "zero", "one two"],
                                       "env": ["CF_VAR=hook value", "PATH=/usr/bin:/bin"]}]}
    t.create(t.bundle(config=cfg))
    got = read(os.path.join(d, "out"), "").strip()
    t.expect(got == "zero|one two|hook value", f"the hook saw {got!r}")


@case("hooks-timeout", CFG, "Hooks", MUST, "a hook that outlives its timeout is aborted and fails create",
      """`timeout` (int, OPTIONAL) is the number of seconds before aborting the hook. ... (runtime.md)
      If any `createRuntime` hook fails, the runtime MUST generate an error""")
def hooks_timeout(t: Ctx):
    cfg = t.config(SLEEP)
    t.control(cfg)
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}
    cid = t.new_id()
    t0 = time.monotonic()
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False, timeout=15)
    took = time.monotonic() - t0
    t.expect(r.rc != 0, "create exited 0 although its hook ran past its timeout")
    t.expect(took < 10, f"create took {took:.1f}s with a 1 s hook timeout")


@case("hooks-path-resolution", CFG, "Hooks", MUST, "hook paths resolve in the runtime namespace, startContainer's in the container's",
      """The value of `path` MUST resolve in the runtime namespace. (createRuntime, createContainer,
      poststart, poststop) ... The `startContainer` hooks' path MUST resolve in the container
      namespace.""")
def hooks_path_resolution(t: Ctx):
    cfg = t.config(["true"])
    d = out_mount(t, cfg, dest="/hooks", name="hooks")
    host_hook = os.path.join(t.dir, "host-only-hook")  # exists on the host, not in the rootfs
    with open(host_hook, "w") as f:
        f.write(f"#!/bin/sh\necho $1 >> {d}/order\n")
    os.chmod(host_hook, 0o755)
    cfg["hooks"] = {n: [{"path": host_hook, "args": ["hook", n]}]
                    for n in ("createRuntime", "createContainer", "poststart", "poststop")}
    cfg["hooks"]["startContainer"] = [{"path": "/cf-container-only-hook", "args": ["hook", "startContainer"]}]
    b = t.bundle(config=cfg)
    with open(os.path.join(b, "rootfs", "cf-container-only-hook"), "w") as f:
        f.write("#!/bin/sh\necho $1 >> /hooks/order\n")
    os.chmod(os.path.join(b, "rootfs", "cf-container-only-hook"), 0o755)
    cid = t.create(b)
    t.start(cid)
    t.wait_status(cid, "stopped")
    t.delete(cid)
    got = sorted(order(d))
    t.expect(got == sorted(ALL[1:]), f"hooks that ran: {got}")


@case("hooks-timeout-zero", CFG, "Hooks", MUST, "a hook timeout of 0 is an error",
      """`timeout` (int, OPTIONAL) is the number of seconds before aborting the hook. If set,
      `timeout` MUST be greater than zero. ... Runtimes MUST generate an error when invalid or
      unsupported values are encountered.""",
      notes={"crun": "crun 1.8 accepts timeout 0 (and runs the hook without a timeout)"})
def hooks_timeout_zero(t: Ctx):
    cfg = t.config(["true"])
    t.control(cfg)
    # The hook takes 0.2 s, so a runtime that reads 0 as "time out at once" also fails, every time.
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "0.2"], "timeout": 0}]}
    r = t.run(t.bundle(config=cfg))
    t.expect(r.rc != 0, "a config with a hook timeout of 0 ran")


@case("hooks-fail-createRuntime", RT, "Lifecycle", MUST, "a failing createRuntime hook fails create and the container is not left",
      """If any `createRuntime` hook fails, the runtime MUST generate an error, stop the container,
      and continue the lifecycle at step 12.""")
def hooks_fail_create_runtime(t: Ctx):
    t.control(hooked_config(t)[0])
    cfg, d = hooked_config(t, fail="createRuntime")
    cid = t.new_id()
    r = t.create(t.bundle(config=cfg), cid=cid, ok=False)
    t.expect(r.rc != 0, "create exited 0 although a createRuntime hook failed")
    s = t.cli("state", cid)
    st = json.loads(s.out).get("status") if s.rc == 0 and s.out.strip().startswith("{") else None
    t.expect(s.rc != 0 or st == "stopped", f"the container is still {st!r}")
    t.expect("createRuntime2" not in order(d), "the next createRuntime hook ran after one failed")


@case("hooks-fail-poststop", RT, "Lifecycle", MUST, "after a failed createRuntime hook the poststop hooks run (step 12-13)",
      """If any `createRuntime` hook fails, the runtime MUST generate an error, stop the container,
      and continue the lifecycle at step 12. ... 13. The `poststop` hooks MUST be invoked by the
      runtime.""",
      notes={"crun": "crun 1.8 does not run poststop hooks when create fails"})
def hooks_fail_then_poststop(t: Ctx):
    cfg, d = hooked_config(t, fail="createRuntime")
    cid = t.new_id()
    t.create(t.bundle(config=cfg), cid=cid, ok=False)
    t.expect("poststop" in order(d), f"poststop did not run; hooks run: {order(d)}")


@case("hooks-fail-startContainer", RT, "Lifecycle", MUST, "a failing startContainer hook fails start; the process does not run",
      """If any `startContainer` hook fails, the runtime MUST generate an error, stop the container,
      and continue the lifecycle at step 12.""",
      notes={"runc": "runc 1.1 runs startContainer hooks in the container after start has released it: "
                     "start exits 0",
             "crun": "crun 1.8 runs startContainer hooks in the container after start has released it: "
                     "start exits 0"})
def hooks_fail_start_container(t: Ctx):
    cfg, d = hooked_config(t, args=["sh", "-c", "echo ran > /hooks/process; sleep 300"], fail="startContainer")
    cid = t.create(t.bundle(config=cfg))
    r = t.start(cid, ok=False)
    t.expect(r.rc != 0, "start exited 0 although a startContainer hook failed")
    st = t.wait_status(cid, "stopped", timeout=2) if t.cli("state", cid).rc == 0 else "deleted"
    t.expect(st in ("stopped", "deleted"), f"the container is {st!r}")
    t.expect(not os.path.exists(os.path.join(d, "process")), "the process ran")


@case("hooks-fail-poststart", RT, "Lifecycle", MUST, "a failing poststart hook fails start and the container is stopped (v1.3.0)",
      """9. The `poststart` hooks MUST be invoked by the runtime. If any `poststart` hook fails, the
      runtime MUST generate an error, stop the container, and continue the lifecycle at step 12.
      (v1.3.0; up to v1.2 a failing poststart hook was only a warning.)""",
      notes={"runc": "runc 1.1 runs poststart hooks during create, so create fails instead",
             "crun": "crun 1.8 follows the pre-1.3 rule: it logs a warning, start exits 0 and the container runs"})
def hooks_fail_poststart(t: Ctx):
    cfg, _ = hooked_config(t, fail="poststart")
    cid = t.create(t.bundle(config=cfg))
    r = t.start(cid, ok=False)
    t.expect(r.rc != 0, "start exited 0 although a poststart hook failed")
    st = t.wait_status(cid, "stopped", timeout=2) if t.cli("state", cid).rc == 0 else "deleted"
    t.expect(st in ("stopped", "deleted"), f"the container is {st!r} after the failed poststart hook")


@case("hooks-fail-poststop-warn", RT, "Lifecycle", MUST, "a failing poststop hook is only a warning: delete succeeds, the next hook runs",
      """If any `poststop` hook fails, the runtime MUST log a warning, but the remaining hooks and
      lifecycle continue as if the hook had succeeded.""",
      notes={"runc": "runc 1.1 stops at the first failing poststop hook (the next one does not run)"})
def hooks_fail_poststop(t: Ctx):
    cfg, d = hooked_config(t, args=["true"], fail="poststop")
    cid = t.create(t.bundle(config=cfg))
    t.start(cid)
    t.wait_status(cid, "stopped")
    r = t.delete(cid, ok=False)
    t.expect(r.rc == 0, "delete failed because of the poststop hook: " + r.brief())
    t.expect("poststop2" in order(d), "the next poststop hook did not run")
    t.expect(t.cli("state", cid).rc != 0, "the container still exists")
